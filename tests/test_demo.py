"""`make demo` runs scripts/demo.py: a broker, the central and four cameras' agents come up;
each camera replays a rendered traffic clip and delivers one passage per vehicle; the hotlist
hits; the demo accounts reach their pages."""

import base64
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime

import pytest

from central.accounts.totp_code import current, main
from central.demo_accounts import ACCOUNTS
from central.demo_plan import DEMO_CAMERAS
from scripts import demo_clips
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow
CLIPS = REPO / "var" / "demo" / "clips"  # the demo's own cache: rendered once, reused


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def settled(urls: dict[str, str]) -> dict[str, list[str]]:
    """Each camera's delivered plates, once they stayed the same for 6 s (at most 90 s)."""
    seen, stable_since, deadline = None, time.monotonic(), time.monotonic() + 90
    while time.monotonic() < deadline:
        now = {camera: [p["plate"] for p in fetch(url)["passages"]] for camera, url in urls.items()}
        if now != seen:
            seen, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= 6:
            break
        time.sleep(1)
    return seen


# Rendering, four agents and a whole central on two cores, beside another test worker: longer
# than the suite's 120 s per test (about 60-115 s measured, the order's wait included).
@pytest.mark.timeout(300)
def test_each_demo_camera_delivers_one_passage_per_vehicle_and_the_hotlist_hits(tmp_path):
    """Every clip played once through its own agent and the shipped models: each camera
    delivers passages; each vehicle, in view for many frames, is one passage (the tracker
    links its reads and votes), never one per frame; the cameras are on the published plan's
    map; then the demo accounts' checks below."""
    web_port = free_port()
    root = tmp_path / "demo"
    process = subprocess.Popen(
        [
            sys.executable,
            "scripts/demo.py",
            "--seconds",
            "600",
            "--once",
            "--root",
            str(root),
            "--clips",
            str(CLIPS),
            "--web-port",
            str(web_port),
        ],  # fmt: skip
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = process.stdout.readline()
            assert line, f"demo ended early:\n{banner}"
            banner += line
        assert re.search(r"started in \d+\.\d s \(clips (rendered|cached)", banner), banner
        urls = {u.split("/")[-2]: u for u in banner.split() if u.endswith("/passages")}
        assert set(urls) == {camera.camera_id for camera in DEMO_CAMERAS}, banner
        home = next(iter(urls.values())).split("/api/")[0] + "/"
        plan = fetch(f"{home}plan/{datetime.now(UTC).year}/cameras.geojson")
        on_map = {f["properties"]["camera_id"] for f in plan["features"]}
        assert on_map == set(urls), plan
        finished = {camera_id: root / f"agent-{camera_id}.log" for camera_id in urls}
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline and not all(
            "source finished" in log.read_text() for log in finished.values()
        ):
            time.sleep(2)
        assert all("source finished" in log.read_text() for log in finished.values()), banner
        delivered = settled(urls)  # the last vehicles' passages arrive after the clip ends
        specs = demo_clips.specs(list(urls))
        for spec in specs:
            truth = json.loads((CLIPS / spec.key / "vehicles.json").read_text())
            assert [v["plate"] for v in truth] == spec.plates()
            assert all(v["frames_in_view"] >= 20 for v in truth), truth  # many frames each
            plates = delivered[spec.camera_id]
            read = [v["plate"] for v in truth if v["plate"] in plates]
            assert len(read) >= len(truth) - 1, (spec.camera_id, truth, plates)
            assert all(plates.count(plate) == 1 for plate in read), (spec.camera_id, plates)
            # Misreads of a vehicle that start a track of their own stay rare.
            assert len(plates) <= 2 * len(truth), (spec.camera_id, truth, plates)
        start = urllib.request.urlopen(home, timeout=5).read().decode()
        assert any(plate in start for spec in specs for plate in spec.plates())
        the_demo_accounts_open_their_pages(banner, home, start)
        the_demo_order_finds_its_plate(root)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # never leave a demo running past the test
            process.kill()
            process.communicate()


def test_clips_are_rendered_once_and_stale_ones_tidied(tmp_path, monkeypatch):
    """The clip cache: a clip is rendered with progress said, found again at the next start
    without rendering; a clip no camera uses and a render cut off by a dead process go."""
    monkeypatch.setattr(demo_clips, "VEHICLES", 1)
    monkeypatch.setattr(demo_clips, "CLIP_FPS", 3)
    root = tmp_path / "clips"
    (root / "gone-camera-0123456789ab").mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / f"demo-x-1-0123456789ab.partial-{dead.pid}").mkdir()
    said: list[str] = []
    wanted = demo_clips.specs(["demo-x-1"])
    folders = demo_clips.ensure(root, wanted, said.append)
    folder = folders["demo-x-1"]
    assert folder.name == wanted[0].key and sorted(p.name for p in root.iterdir()) == [folder.name]
    frames = sorted(folder.glob("*.jpg"))
    assert len(frames) == wanted[0].traffic()[1] and len(list(folder.glob("*.txt"))) == len(frames)
    labelled = [p for p in folder.glob("*.txt") if p.read_text().strip()]
    assert labelled and all(wanted[0].plates()[0] in p.read_text() for p in labelled)
    assert "rendering 1 clip(s)" in said[0] and "rendered in" in said[-1]
    stamp = os.stat(frames[0]).st_mtime_ns
    said.clear()
    assert demo_clips.ensure(root, wanted, said.append) == folders
    assert said == [f"traffic clips: 1 cached in {root}"]
    assert os.stat(frames[0]).st_mtime_ns == stamp


def the_demo_order_finds_its_plate(root) -> None:
    """The order is filed once its plate has passed (an order covers only the past): its
    own scope finds the plate's passage at its camera, so the officer's search is not empty."""
    from central.config import load_config
    from central.requests.store import Requests
    from central.store import open_store

    config = load_config(root / "central.toml")
    requests = Requests(config.requests_path)
    try:
        (order,) = [r.order for r in requests.all() if r.order.reference == "DEMO-OM-0001"]
    finally:
        requests.close()
    (window,) = order.scope.windows
    store = open_store(config)
    try:
        found = store.search_plate(order.scope.plates[0], window.start, window.end)
    finally:
        store.close()
    assert [p.camera_id for p in found] == list(order.scope.cameras), found


def the_demo_accounts_open_their_pages(banner: str, home: str, start: str) -> None:
    """#23: each printed account logs in (password and current code) and reaches its role's
    page, listed on the start page; the operator sees the demo hotlist hit; the officer the
    accepted order."""
    assert "DEMO DATA ONLY" in banner
    password = re.search(r"password for every account\s+(\S+)", banner).group(1)
    for role, name, page in ACCOUNTS:
        assert f'data-role="{role}"' in start and name in start and f'href="{page}"' in start
        secret = re.search(rf"{name}\s+TOTP secret (\S+)\s+code now \d{{6}}", banner).group(1)
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        form = {"username": name, "password": password, "code": current(secret)}
        opener.open(home + "login", urllib.parse.urlencode(form).encode(), timeout=5).close()
        with opener.open(home + page.lstrip("/"), timeout=5) as response:
            assert response.status == 200 and response.url.endswith(page), (role, response.url)
            body = response.read().decode()
        assert "demo-password" not in body  # a password is printed, never shown on a page
        assert 'id="demo-banner"' in body, "every demo page says it is the demo"
        if role == "officer":  # filed once its plate passed in a whole minute gone
            deadline = time.monotonic() + 90
            while "DEMO-OM-0001" not in body and time.monotonic() < deadline:
                time.sleep(1)
                with opener.open(home + page.lstrip("/"), timeout=5) as response:
                    body = response.read().decode()
            assert "DEMO-OM-0001" in body, "the demo order was never filed"
        if role == "operator":
            deadline = time.monotonic() + 20
            while "Demo: stolen vehicles" not in body and time.monotonic() < deadline:
                time.sleep(0.5)
                with opener.open(home + "alerts", timeout=5) as response:
                    body = response.read().decode()
            assert "Demo: stolen vehicles" in body, "no hotlist hit on the alert desk"


def test_the_code_helper_prints_the_current_code(capsys):
    secret = "JBSWY3DPEHPK3PXP"
    assert main([secret]) == 0
    assert capsys.readouterr().out.strip() in (current(secret), current(secret, time.time() - 1))
    rfc = base64.b32encode(b"12345678901234567890").decode()
    assert current(rfc, 59) == "287082"  # RFC 6238's SHA-1 vector at T=59, to 6 digits
    assert main([]) == 2


def test_a_real_instance_names_no_demo_accounts(web_setup):
    from central import create_app

    config = web_setup.config
    web = config.web.model_copy(update={"demo_views": False, "training": False})
    real = create_app(config.model_copy(update={"web": web})).test_client()
    start = real.get("/").get_data(as_text=True)
    assert "Camera plan administration" in start  # the real start page
    assert "demo-roles" not in start and "demo-operator" not in start
    assert 'id="demo-banner"' not in start
    demo_web = config.web.model_copy(update={"demo": True})
    demo = create_app(config.model_copy(update={"web": demo_web})).test_client()
    response = demo.get("/login")
    assert 'id="demo-banner"' in response.get_data(as_text=True)
    assert response.headers["X-ANPR-Demo"] == "1"


def test_the_demo_plan_stores_from_its_ratification_and_only_on_a_demo_instance(web_setup):
    """The demo cameras enter a published plan, each motivation signed by the demo prosecutor
    (the audit trail holds each signature), and store from the ratification on; a real
    instance refuses the demo plan."""
    from datetime import timedelta

    from central.audit import AuditTrail
    from central.audit_anchor import AuditAnchor
    from central.cameras import CameraRegistry
    from central.demo_plan import seed_plan
    from central.plan.registry import CameraPlan
    from wire import SigningKey

    config = web_setup.config
    now = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    registry = CameraRegistry(config.cameras_path)
    for camera in DEMO_CAMERAS:
        registry.add(camera.camera_id, SigningKey.generate().verify_key, now)
    real = config.model_copy(update={"web": config.web.model_copy(update={"demo_views": False})})
    with pytest.raises(ValueError, match="demo or practice instance"):
        seed_plan(real, DEMO_CAMERAS, 2026, now)
    demo = config.model_copy(update={"web": config.web.model_copy(update={"demo_views": True})})
    seed_plan(demo, DEMO_CAMERAS, 2026, now)
    plan = CameraPlan(config.plan_path, registry)
    assert plan.version(2026)["state"] == "published"
    entries = plan.entries(2026)
    assert {e.camera_id for e in entries} == {c.camera_id for c in DEMO_CAMERAS}
    assert all(e.signed and e.signed_by == "demo-prosecutor" for e in entries)
    assert all(e.motivation.startswith("Demo data") for e in entries)
    places = {loc["location_id"]: loc for loc in plan.locations()}
    assert len(places) == 3 and len(places["demo-maastunnel"]["sections"]) == 2
    for camera in DEMO_CAMERAS:
        assert 50.7 < camera.lat < 53.6 and 3.3 < camera.lon < 7.3  # in the Netherlands
        assert registry.designated(camera.camera_id, now + timedelta(seconds=1))
        assert not registry.designated(camera.camera_id, now - timedelta(seconds=1))
    plan.close()
    registry.close()
    trail = AuditTrail(config.audit_path, AuditAnchor(config.audit_anchor_dir))
    signed = [e for e in trail.entries() if e["action"] == "plan_motivation_signed"]
    trail.close()
    assert len(signed) == len(DEMO_CAMERAS)
