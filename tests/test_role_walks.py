"""Each role's main task walked end to end in a real headless Chromium (#23).

One demo instance for the module, configured and seeded as `make demo` does it
(`scripts/demo.py`'s configuration, `central.demo_accounts`):
one account per role, a prosecutor-approved hotlist that hits, an order confirmed and
accepted by the demo officer; beside it two cameras' health, passages on the order's
camera, a hotlist and an order that still wait for a prosecutor. Each walk starts where a
newcomer starts, on the start page: it follows that role's link, logs in with password and
second factor, and does the role's work through the pages alone. A screenshot of every
step is kept in var/test-artefacts/role-walks/.
"""

from __future__ import annotations

import re
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from central import create_app, demo_accounts
from central.accounts import totp
from central.audit import AuditTrail
from central.cameras import CameraRegistry
from central.config import load_config
from central.health.records import HealthRecords, hour_key
from central.hotlists.lists import Hotlists
from central.plan.registry import CameraPlan
from central.requests.forms import ZONE
from central.requests.store import Requests
from central.store import open_store
from central.web.labels import label
from scripts.demo import write_central_config as demo_central_config
from tests.browser import ARTEFACTS, browser_page, serve, wait_for_true
from tests.conftest import free_port, make_passage, verified_passage
from tests.test_health import _hb
from tests.test_plan import entry
from tests.test_searches import noise_jpeg
from wire import SigningKey
from wire.canonical import canonical_bytes

pytestmark = pytest.mark.slow

PASSWORD = "demo password 2026"
PLATE = "GBL12X"  # on the demo hotlist and the demo order
SHOTS = ARTEFACTS / "role-walks"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@dataclass
class World:
    url: str
    config: object
    secrets: dict[str, str]
    demo_request: int
    pending_request: int
    pending_list: int
    key: SigningKey


def local(moment: datetime) -> str:
    """What a datetime-local picker takes: Dutch wall-clock time."""
    return moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def _fleet(config) -> None:
    """cam-a reads well with a fresh heartbeat; cam-b's camera source fails (DEGRADED)."""
    plan = CameraPlan(config.plan_path, CameraRegistry(config.cameras_path))
    plan.draft(NOW.year, "demo-plan-admin", NOW)
    for camera_id in ("cam-a", "cam-b"):
        plan.add_entry(entry(camera_id, year=NOW.year), "demo-plan-admin", NOW)
    plan.close()
    records = HealthRecords(config.health_path)
    records.count_passages([("cam-a", hour_key(NOW - timedelta(hours=2)), 40, 40 * 900)])
    records.health_change("cam-b", NOW - timedelta(hours=1), "DEGRADED", "camera source failing")
    records.close()
    _heartbeats(config)


def _heartbeats(config) -> None:
    """Both units' latest heartbeat, now: a unit is OFFLINE 120 s after its last one, and a
    loaded machine can take that long to reach the health walks (NOW is the module's start)."""
    records = HealthRecords(config.health_path)
    now = datetime.now(UTC)
    for camera_id, changes in (("cam-a", {}), ("cam-b", {"source_ok": False})):
        beat = _hb(camera_id, now, **changes)
        records.record_heartbeat(beat, canonical_bytes(beat.signed_fields()), now)
    records.close()


def _passages(config, key: SigningKey) -> None:
    """On the order's camera within its window: the listed plate twice, three other cars."""
    store = open_store(config)
    plates = (PLATE, "XT456B", PLATE, "HN33KP", "ZZ901Q")
    store.insert_batch([verified_passage(
        key, seq=seq, camera_id="cam-a", plate=plate,
        captured_at=NOW - timedelta(minutes=100 - 10 * seq),
        plate_box=(60, 60, 30, 8), overview_jpeg=noise_jpeg(160, 90, seed=seq),
        crop_jpeg=noise_jpeg(120, 30, seed=10 + seq),
    ) for seq, plate in enumerate(plates, 1)], NOW)  # fmt: skip
    store.close()


def _waiting_for_a_prosecutor(config) -> tuple[int, int]:
    """A hotlist an operator made and an order a requester registered, neither decided."""
    from central.accounts.register import Register
    from central.accounts.users import Accounts
    from central.requests.forms import order_from_form
    from central.requests.workflow import Workflow

    hotlists = Hotlists(config.hotlists_path)
    until = NOW + timedelta(days=30)
    list_id = hotlists.create_list("Missing person Zeist", "demo-operator", "report 2026-77",
                                   "missing_person", 1, until, NOW)  # fmt: skip
    hotlists.add_entry(list_id, "KL123M", "NL", "missing since Monday", "report, do not stop",
                       until, "demo-operator", NOW)  # fmt: skip
    hotlists.close()
    accounts, requests = Accounts(config.accounts_path), Requests(config.requests_path)
    trail = AuditTrail(config.audit_path)
    form = MultiDict({
        "reference": "OM-2026-0099", "prosecutor": "demo prosecutor",
        "order_time": local(NOW - timedelta(minutes=5)), "order_form": "written",
        "legal_basis": "detention_crime", "investigation": "Reiger",
        "case_number": "PL0900-2026-99", "crime": "burglary series", "crime_type": "burglary",
        "description": "grey van", "necessity": "where the van went", "plates": "XT456B",
        "window_start": local(NOW - timedelta(hours=3)), "window_end": local(NOW),
    })  # fmt: skip
    try:
        workflow = Workflow(requests, Register(accounts), trail)
        request_id = workflow.submit(order_from_form(form), "demo-requester", "demo-unit", NOW)
    finally:
        trail.close()
        requests.close()
        accounts.close()
    return list_id, request_id


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    folder = tmp_path_factory.mktemp("role-walks")
    # The demo's own configuration (its audit key signs packages and the trail, #23), with
    # English pages: the walks read English; test_readable_pages walks the Dutch ones.
    path = demo_central_config(folder, broker_port=1883, web_port=free_port())
    path.write_text(path.read_text() + 'language = "en"\n')
    config = load_config(path)
    key = SigningKey.generate()
    registry = CameraRegistry(config.cameras_path)  # rows are served only verified
    for camera_id in ("cam-a", "cam-b"):
        registry.add(camera_id, key.verify_key if camera_id == "cam-a" else
                     SigningKey.generate().verify_key, NOW - timedelta(days=40))  # fmt: skip
    registry.close()
    secrets = demo_accounts.seed(config, PASSWORD, "cam-a", [PLATE], NOW)
    _fleet(config)
    _passages(config, key)
    pending_list, pending_request = _waiting_for_a_prosecutor(config)
    store = Requests(config.requests_path)
    (demo_request,) = [r.id for r in store.all() if r.order.reference == "DEMO-OM-0001"]
    store.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve(create_app(config)) as url:
        yield World(url, config, secrets, demo_request, pending_request, pending_list, key)


# --- walking ---------------------------------------------------------------------------------

_LAST_STEP: dict[str, int] = {}  # a code's time step is good once per account, module-wide


def _code(secret: str, name: str) -> str:
    while True:
        current = int(time.time() // totp.STEP_S)
        step = max(current, _LAST_STEP.get(name, 0) + 1)
        if step <= current + 1:
            _LAST_STEP[name] = step
            return totp.code_at(secret, step)
        time.sleep(1)


class Walk:
    """One role's walk: the page, where it is served, and numbered screenshots."""

    def __init__(self, page, world: World, role: str) -> None:
        self.page, self.world, self.role, self.shots = page, world, role, 0

    def shot(self, what: str) -> None:
        self.shots += 1
        name = f"{self.role}-{self.shots:02d}-{what}.png"
        self.page.screenshot(path=str(SHOTS / name), full_page=True)

    def start(self, role: str | None = None) -> str:
        """From the start page by the role's link, through the login form; returns the
        path landed on (the role's main page)."""
        role = role or self.role
        page, url = self.page, self.world.url
        page.goto(f"{url}/")
        row = page.locator(f"#demo-roles tr[data-role={role}]")
        name = row.locator("code").inner_text()
        path = row.locator("a").inner_text()
        self.shot(f"start-{role}")
        row.locator("a").click()
        page.wait_for_url(re.compile(r".*/login\?next=.*"))
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=code]", _code(self.world.secrets[name], name))
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{url}{path}")
        self.shot(f"landed-{role}")
        return path

    def log_out(self) -> None:
        self.page.click("form[action='/logout'] button")
        self.page.wait_for_url(f"{self.world.url}/login")

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.world.url}{path}")


def role_of(test_name: str) -> str:
    """The role a walk is for, from its name: test_<role>_<what it does>."""
    roles = sorted((role for role, _name, _page in demo_accounts.ACCOUNTS), key=len, reverse=True)
    return next(r for r in roles if test_name.startswith(f"test_{r}_"))


@pytest.fixture
def walk(world, tmp_path, request):
    role = role_of(request.node.name)
    with browser_page(tmp_path) as page:
        yield Walk(page, world, role)


def trail_actions(config) -> list[tuple[str, str]]:
    trail = AuditTrail(config.audit_path)
    try:
        return [(e["actor"], e["action"]) for e in trail.records(None)]
    finally:
        trail.close()


# --- the walks -------------------------------------------------------------------------------


def test_operator_sees_a_hit_come_in_acknowledges_and_closes_it(world, walk):
    page = walk.page
    assert walk.start() == "/alerts"
    page.wait_for_selector("#live:text('live')")
    assert page.locator("#desk tbody.alert").count() == 0
    hotlists = Hotlists(world.config.hotlists_path)  # the listed plate passes cam-a now
    passage = make_passage(
        world.key,
        seq=900,
        camera_id="cam-a",
        plate=PLATE,
        captured_at=datetime.now(UTC),
        crop_jpeg=noise_jpeg(160, 40, 5),
    )
    (hit,) = hotlists.hits(PLATE, "NL", datetime.now(UTC))
    alert_id = hotlists.record_pass(hit, passage, datetime.now(UTC)).alert_id
    hotlists.close()
    row = f"#alert-{alert_id}"
    wait_for_true(page, f"document.querySelector('{row}') !== null")
    assert PLATE in page.inner_text(f"{row} .plate")
    assert page.inner_text(f"{row} .priority") == label("urgent", "priority")
    walk.shot("alert-in")
    page.click(f"{row} button[value=acknowledged]")
    page.wait_for_load_state()
    assert label("acknowledged", "alert_state") in page.inner_text(f"{row} .state")
    page.fill(f"{row} input[name=outcome]", "stopped on the A12 by unit 7")
    page.click(f"{row} button[value=closed]")
    page.wait_for_load_state()
    walk.shot("closed")
    hotlists = Hotlists(world.config.hotlists_path)
    try:
        state = hotlists.db.execute("SELECT state, outcome FROM alerts WHERE alert_id = ?",
                                    (alert_id,)).fetchone()  # fmt: skip
    finally:
        hotlists.close()
    assert tuple(state) == ("closed", "stopped on the A12 by unit 7")


def test_requester_registers_a_request_and_sees_it_open(world, walk):
    page = walk.page
    assert walk.start() == "/requests"
    page.click("text=Register a request")
    fields = {
        "reference": "OM-2026-0123", "prosecutor": "demo prosecutor",
        "order_time": local(NOW - timedelta(minutes=30)), "investigation": "Kievit",
        "case_number": "PL0900-2026-123", "crime": "ram raid", "description": "white Audi",
        "necessity": "the route before the raid", "plates": "HN33KP",
        "window_start": local(NOW - timedelta(hours=3)), "window_end": local(NOW),
    }  # fmt: skip
    for name, value in fields.items():
        page.fill(f"[name={name}]", value)
    page.select_option("select[name=order_form]", "written")
    page.select_option("select[name=legal_basis]", "detention_crime")
    page.select_option("select[name=crime_type]", "robbery")
    walk.shot("form")
    page.click("form[action='/requests'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    walk.shot("registered")
    assert "OM-2026-0123" in page.inner_text("h1")
    page.click("nav >> text=Requests")
    assert "OM-2026-0123" in page.inner_text("#open")
    walk.shot("overview")


def test_prosecutor_confirms_an_order_and_approves_a_hotlist(world, walk):
    page = walk.page
    assert walk.start() == "/prosecutor"
    order = f"#order-{world.pending_request}"
    assert "OM-2026-0099" in page.inner_text(order)
    walk.shot("desk")
    page.click(f"{order} form[action$='/confirm'] button")
    page.wait_for_url(f"{world.url}/prosecutor")
    assert page.locator(order).count() == 0
    hotlist = f"#new-lists #list-{world.pending_list}"
    page.fill(f"{hotlist} input[name=valid_days]", "30")
    page.click(f"{hotlist} form[action$='/approve'] button")
    page.wait_for_url(f"{world.url}/prosecutor")
    assert page.locator(hotlist).count() == 0
    walk.shot("decided")
    acts = trail_actions(world.config)
    assert ("demo-prosecutor", "order_confirmed") in acts
    assert ("demo-prosecutor", "hotlist_approved") in acts
    hotlists = Hotlists(world.config.hotlists_path)
    try:
        assert hotlists.hits("KL123M", "NL", datetime.now(UTC)), "the list is live"
    finally:
        hotlists.close()


def test_officer_searches_verifies_approves_photos_and_the_requester_downloads(world, walk):
    page = walk.page
    assert walk.start() == "/requests"
    page.click(f"#open a[href='/requests/{world.demo_request}']")
    request_url = page.url
    window = {"start": local(NOW - timedelta(hours=2)), "end": local(NOW - timedelta(minutes=1))}

    def count(**fields) -> None:
        form = page.locator("#search-form")
        for name, value in fields.items():
            form.locator(f"[name={name}]").fill(value)
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()

    # A plate search: counted, opened, each row judged against its crop.
    count(plate=PLATE, **window)
    assert page.inner_text("#match-count") == "2"
    walk.shot("plate-counted")
    page.click("#open-results")
    assert page.inner_text("#row-count") == "2"
    page.click("#verify-link")
    for judged in (1, 2):  # each judgement answered before the next crop is judged
        page.wait_for_selector(".crop.current img")
        wait_for_true(page, "document.querySelector('.crop.current img').complete")
        page.keyboard.press("y")
        wait_for_true(page, f"document.querySelectorAll('.crop.correct').length === {judged}")
    walk.shot("verified")

    # A time and place search over the order's camera: its photos approved in one review.
    page.goto(request_url)
    page.check("#search-form input[name=camera][value=cam-a]")
    count(plate="", **window)
    assert page.inner_text("#match-count") == "5"
    page.click("#open-results")
    page.click("#photos-link")
    walk.shot("photos")
    page.click("#review-all-set")
    assert "5 photos chosen" in page.inner_text("#review-count")
    wait_for_true(page, "[...document.querySelectorAll('.review img')]"
                        ".every(i => i.complete && i.naturalWidth > 0)")  # fmt: skip
    walk.shot("review")
    page.click("#approve-reviewed")
    page.wait_for_load_state()
    assert page.locator(".photo.approved").count() == 5
    walk.shot("approved")
    page.goto(request_url)
    page.click("form[action$='/deliver'] button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#state") == label("delivered", "state")
    walk.shot("delivered")
    walk.log_out()

    # The requester takes the package: built with progress, then downloaded.
    walk.start("requester")
    page.goto(request_url)
    with page.expect_download(timeout=30_000) as download:
        page.click("#issue-package")
        page.wait_for_selector("#package-build")
        walk.shot("package-progress")
    with zipfile.ZipFile(download.value.path()) as archive:
        names = archive.namelist()
    assert len([n for n in names if n.startswith("photos/")]) == 5, names
    acts = trail_actions(world.config)
    for act in ("consultation_counted", "consultation", "verification", "photo_approved",
                "request_delivered"):  # fmt: skip
        assert ("demo-officer", act) in acts, act
    assert ("demo-requester", "package_downloaded") in acts


def test_maintainer_finds_the_failing_camera_and_opens_its_history(world, walk):
    _heartbeats(world.config)
    page = walk.page
    assert walk.start() == "/health"
    assert page.locator("#cameras tr[data-camera]").count() == 2
    page.select_option("#camera-filter select[name=state]", "DEGRADED")
    page.click("#camera-filter button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("#cameras tr[data-camera]")
    assert rows.count() == 1 and rows.get_attribute("data-camera") == "cam-b"
    walk.shot("filtered")
    rows.locator("a").click()
    page.wait_for_url(f"{world.url}/health/cameras/cam-b")
    wait_for_true(page, "[...document.querySelectorAll('img[src$=\".svg?days=7\"]')]"
                        ".every(i => i.complete && i.naturalWidth > 0)")  # fmt: skip
    assert page.locator("img[src*='/health/cameras/cam-b/']").count() == 3
    assert "camera source failing" in page.inner_text("#changes")
    walk.shot("history")


def test_technician_checks_the_unit_just_installed_reports_in(world, walk):
    _heartbeats(world.config)
    page = walk.page
    assert walk.start() == "/health"
    page.fill("#camera-filter input[name=q]", "cam-a")
    page.click("#camera-filter button[type=submit]")
    page.wait_for_load_state()
    row = page.locator("#cameras tr[data-camera=cam-a]")
    assert page.locator("#cameras tr[data-camera]").count() == 1
    assert label("OK", "health") in row.inner_text() and "never" not in row.inner_text()
    walk.shot("unit-ok")
    row.locator("a").click()
    page.wait_for_url(f"{world.url}/health/cameras/cam-a")
    walk.shot("unit-history")


def test_auditor_verifies_the_chain_and_reads_the_yearly_report(world, walk):
    page = walk.page
    assert walk.start() == "/audit"
    page.wait_for_selector("#audit-intact")
    assert label("request_registered", "audit_action") in page.inner_text("#entries")
    walk.shot("chain-intact")
    page.click("a[href^='/report/']:not([href$='/csv'])")
    page.wait_for_url(re.compile(r".*/report/\d{4}$"))
    wait_for_true(page, "[...document.querySelectorAll('img.chart')]"
                        ".every(i => i.complete && i.naturalWidth > 0)")  # fmt: skip
    assert page.locator("img.chart").count() == 4
    walk.shot("report")


def test_plan_admin_drafts_a_plan_and_adds_a_camera_for_the_prosecutor_to_sign(world, walk):
    page, year = walk.page, str(NOW.year + 1)
    assert walk.start() == "/plan/admin"
    page.fill("form[action='/plan/admin/draft'] input[name=year]", year)
    page.click("form[action='/plan/admin/draft'] button")
    page.wait_for_load_state()
    add = page.locator(f"form[action='/plan/admin/add']:has(input[name=year][value='{year}'])")
    for name, value in (("camera_id", "a2-vianen-s-1"), ("owner", "Politie Midden"),
                        ("controller", "Politie Midden"), ("road", "A2"), ("lat", "51.99"),
                        ("lon", "5.09"),
                        ("motivation", "Main north-south route, ram raids in 2025.")):  # fmt: skip
        add.locator(f"[name={name}]").fill(value)
    add.locator("select[name=kind]").select_option("fixed")
    add.locator("select[name=direction]").select_option("S")
    add.locator("select[name=criterion]").select_option(index=1)
    walk.shot("entry-form")
    add.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "a2-vianen-s-1" in page.inner_text("body")
    assert "awaiting a prosecutor" in page.inner_text("body")
    walk.shot("entry-added")
    plan = CameraPlan(world.config.plan_path, CameraRegistry(world.config.cameras_path))
    try:
        assert [e.camera_id for e in plan.entries(int(year))] == ["a2-vianen-s-1"]
    finally:
        plan.close()


def test_calamity_coordinator_declares_searches_and_ends_a_calamity(world, walk):
    from central.calamity.buffer import CalamityBuffer

    buffer = CalamityBuffer(world.config.calamity_path, world.config.audit_path)
    buffer.add(make_passage(world.key, 1, plate="KL123M", captured_at=datetime.now(UTC)),
               datetime.now(UTC))  # fmt: skip
    buffer.close()
    page = walk.page
    assert walk.start() == "/calamity"
    page.wait_for_selector("#calamity-none")
    page.fill("form[action='/calamity/declare'] input[name=reason]", "attack on the A12")
    page.fill("input[name=chief_prosecutor]", "mr. Visser")
    page.click("form[action='/calamity/declare'] button")
    page.wait_for_selector("#calamity-active")
    walk.shot("declared")
    page.fill("input[name=plate]", "KL1*")
    page.click("form[action='/calamity/search'] button")
    page.wait_for_selector("#results >> text=KL123M")
    walk.shot("found")
    page.fill("form[action='/calamity/end'] input[name=reason]", "suspects arrested")
    page.click("form[action='/calamity/end'] button")
    page.wait_for_selector("#calamity-none")
    walk.shot("ended")


def test_every_role_on_the_start_page_has_a_walk():
    walked = {role_of(name) for name in globals()
              if name.startswith("test_") and not name.startswith("test_every")}  # fmt: skip
    assert walked == {role for role, _name, _page in demo_accounts.ACCOUNTS}
