"""A request's searches walked in a real headless Chromium: a search outside the order
refused, a plate search verified crop by crop with one mismatching row withheld, a
time/place search across a camera outage that the results report, a photo approved with an
added blur box, all approved through the bulk review, the package downloaded (after its
progress page) and verified, and the request closed; then every step is in the audit trail
with the decree's fields (a)-(i)."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, date, datetime, timedelta

from central.__main__ import main
from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit import AuditTrail
from central.health.records import HealthRecords
from central.requests.forms import ZONE
from central.store import open_store
from node.keyfiles import load_signing_key
from tests.browser import ARTEFACTS, Logins, browser_page, serve, wait_for_true
from tests.conftest import verified_passage
from tests.test_searches import noise_jpeg
from wire import SigningKey

PASSWORD = "correct horse battery staple"
DECREE = ("executing_officer", "requesting_officer", "order_reference", "investigation",
          "request_time", "consultation_time", "query", "supplied", "supply_time")  # fmt: skip


def prepare(config, t: datetime) -> dict[str, str]:
    accounts = Accounts(config.accounts_path)
    now = datetime.now(UTC)
    secrets = {
        name: accounts.add(name, name, unit, [role], PASSWORD, now)
        for name, unit, role in (("r.requester", "unit-midden", "requester"),
                                 ("o.north", "unit-noord", "officer"),
                                 ("p.prosecutor", "om-midden", "prosecutor"))
    }  # fmt: skip
    Register(accounts).authorise(
        "o.north", "unit-noord", "chief", date.today() + timedelta(90), now
    )
    accounts.close()
    key, store = SigningKey.generate(), open_store(config)
    for seq, (camera, minutes) in enumerate((("cam-a", 0), ("cam-b", 30), ("cam-a", 5)), 1):
        plate = "GBL12X" if seq < 3 else "KL123M"
        store.insert_batch([verified_passage(
            key, seq=seq, camera_id=camera, plate=plate, captured_at=t + timedelta(minutes=minutes),
            char_confidence_pm=(950,) * 6, plate_box=(280, 250, 80, 20),
            crop_jpeg=noise_jpeg(160, 40, seed=seq), overview_jpeg=noise_jpeg(seed=10 + seq),
        )], now)  # fmt: skip
    store.close()
    put_on_the_map(config, now, key)
    health = HealthRecords(config.health_path)
    for camera in ("cam-a", "cam-b"):
        health.health_change(camera, t - timedelta(days=1), "OK", "")
    health.health_change("cam-b", t + timedelta(minutes=40), "OFFLINE", "no heartbeat for 125 s")
    health.close()
    return secrets


def put_on_the_map(config, now: datetime, key: SigningKey | None = None) -> None:
    """cam-a and cam-b as fixed cameras in this year's (draft) camera plan, under `key` (the
    one their passages were signed with: served rows are checked against it)."""
    from central.cameras import CameraRegistry
    from central.plan.registry import CameraPlan
    from tests.test_plan import entry

    registry = CameraRegistry(config.cameras_path)
    plan = CameraPlan(config.plan_path, registry)
    plan.draft(now.year, "p.admin", now)
    for camera_id, lon_e7 in (("cam-a", 51214000), ("cam-b", 59000000)):
        registry.add(camera_id, (key or SigningKey.generate()).verify_key, now)
        plan.add_entry(entry(camera_id, year=now.year, lon_e7=lon_e7), "p.admin", now)
    plan.close()
    registry.close()


def test_searches_verification_photos_package_and_close(tmp_path, web_setup, app):
    t = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    secrets = prepare(web_setup.config, t)
    # What a datetime-local picker takes: Dutch wall-clock time (#23).
    utc = lambda moment: moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")  # noqa: E731
    window = {"start": utc(t - timedelta(hours=1)), "end": utc(t + timedelta(hours=2))}

    with serve(app) as url, browser_page(tmp_path) as page:
        log_in = Logins(page, url, secrets, PASSWORD)

        def count(**fields) -> None:
            form = page.locator("#search-form")
            for name in ("plate", "cameras", "convoy_minutes"):
                form.locator(f"[name={name}]").fill(fields.get(name, ""))
            for name in ("start", "end"):
                form.locator(f"[name={name}]").fill(fields.get(name, window[name]))
            form.locator("button[type=submit]").click()
            page.wait_for_load_state()

        log_in("r.requester")
        page.goto(f"{url}/requests/new")
        for name, value in {
            "reference": "OM-2026-0077", "prosecutor": "mr. B. Smit", "order_time": utc(t),
            "investigation": "Merel", "case_number": "PL0900-2026-77", "crime": "ram raid",
            "description": "GBL12X and its company", "necessity": "routes on the night",
            "plates": "GBL12X", "cameras": "cam-a cam-b",
            "window_start": utc(t - timedelta(hours=2)), "window_end": utc(t + timedelta(hours=3)),
        }.items():  # fmt: skip
            page.fill(f"[name={name}]", value)
        page.select_option("select[name=order_form]", "written")
        page.select_option("select[name=legal_basis]", "detention_crime")
        page.select_option("select[name=crime_type]", "robbery")
        page.check("input[name=photos_wanted]")
        page.click("form[action='/requests'] button[type=submit]")
        request_url = page.url
        page.click("form[action$='/logout'] button")

        log_in("p.prosecutor", "/prosecutor")  # a written order waits for a prosecutor (#20)
        page.click("form[action$='/confirm'] button")
        page.wait_for_url(f"{url}/prosecutor")
        page.click("form[action$='/logout'] button")

        log_in("o.north")
        page.goto(request_url)
        page.check("input[name=declaration]")
        page.click("form[action$='/accept'] button")

        count(cameras="cam-c")
        assert "cameras outside the order's scope: cam-c" in page.inner_text("[role=alert]")

        count(plate="GBL12X")
        assert page.inner_text("#match-count") == "2"
        page.click("#open-results")
        page.click("#verify-link")
        wait_for_true(page, "[...document.querySelectorAll('.crop img')].every(i => i.complete)")
        page.keyboard.press("y")  # cam-a: the crop shows GBL12X
        page.wait_for_selector(".crop.correct")
        page.keyboard.press("n")  # cam-b: the crop shows another plate
        page.wait_for_selector(".crop.wrong")
        page.screenshot(path=str(ARTEFACTS / "verify-crops.png"), full_page=True)
        page.click("text=Results")
        assert "withheld: crop does not match" in page.inner_text("#rows")

        page.goto(request_url)
        page.check("#search-form input[name=camera][value=cam-a]")  # from the list
        page.click("#search-map circle[data-camera=cam-b]")  # on the map
        assert page.is_checked("#search-form input[name=camera][value=cam-b]")
        count(start=utc(t), end=utc(t + timedelta(hours=1)))
        assert "cam-b: Offline" in page.inner_text("#camera-gaps")
        page.click("#open-results")
        assert "cam-b: Offline" in page.inner_text("#camera-gaps")
        assert "Not verified" in page.inner_text("#rows")
        page.click("#photos-link")
        photo = page.locator(".photo").first
        wait_for_true(page, "document.querySelector('.photo img').naturalWidth > 0")
        box = photo.locator("img").bounding_box()
        page.mouse.move(box["x"] + 10, box["y"] + 10)
        page.mouse.down()
        page.mouse.move(box["x"] + 60, box["y"] + 50)
        page.mouse.up()
        assert photo.locator("input[name=boxes]").input_value().count(",") == 3
        photo.locator("button[type=submit]").click()
        page.wait_for_selector(".photo.approved")
        page.screenshot(path=str(ARTEFACTS / "photos-approved.png"), full_page=True)
        page.click("#review-all-set")  # bulk (#23): reviewed as they will leave, then approved
        assert "3 photos chosen" in page.inner_text("#review-count")
        wait_for_true(page, "[...document.querySelectorAll('.photo img')].every(i => i.complete"
                            " && i.naturalWidth > 0)")  # fmt: skip
        assert page.locator(".photo input.boxes").first.input_value().count(",") == 3
        page.screenshot(path=str(ARTEFACTS / "photos-review.png"), full_page=True)
        page.click("#approve-reviewed")
        page.wait_for_selector(".photo.approved")
        assert page.locator(".photo.approved").count() == 3

        page.goto(request_url)
        page.click("form[action$='/deliver'] button")
        assert page.inner_text("#state") == "Delivered"
        page.click("form[action$='/logout'] button")

        log_in("r.requester")
        page.goto(request_url)
        with page.expect_download() as download:
            page.click("#issue-package")
        package = tmp_path / "package.zip"
        download.value.save_as(package)
        page.goto(request_url)
        page.fill("form[action$='/close'] input[name=reason]", "results delivered")
        page.click("form[action$='/close'] button")
        assert page.inner_text("#state") == "Closed"

    assert main(["--config", str(web_setup.config_path), "package", "verify", str(package)]) == 0
    archive = zipfile.ZipFile(package)
    rows = json.loads(archive.read("passages.json"))
    assert {(r["camera_id"], r["plate"], r["verification"]) for r in rows} == {
        ("cam-a", "GBL12X", "correct"), ("cam-a", "KL123M", "not verified")}  # fmt: skip
    assert [n for n in archive.namelist() if n.startswith("photos/")], "the approved photo"

    trail = AuditTrail(web_setup.config.audit_path)
    actions = [e["action"] for e in trail.records()]
    for action in ("request_registered", "order_confirmed", "request_accepted",
                   "consultation_refused",
                   "consultation_counted", "consultation", "verification", "photo_approved",
                   "request_delivered", "package_issued", "package_downloaded",
                   "request_closed"):  # fmt: skip
        assert action in actions, action
    (downloaded,) = trail.records({"package_downloaded"})
    supplied = downloaded["details"]["supplied"]  # decree (h): what was handed out
    assert supplied["rows"] == len(rows) and supplied["bytes"] == package.stat().st_size
    assert supplied["withheld"] == 1, "the row judged wrong against its crop"
    assert supplied["integrity_withheld"] == []
    for entry in trail.records({"consultation", "consultation_refused"}):
        missing = [f for f in DECREE if f not in entry["details"]]
        assert entry["action"] == "consultation_refused" or not missing, missing
    key = load_signing_key(web_setup.config.secrets.audit_signing_key_file)
    assert trail.verify(key.verify_key) == []
    trail.close()
