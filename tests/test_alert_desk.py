"""The control room's alert desk (#23): one alert per hit with its passes grouped under it,
every open alert shown (paged, with the total), priority in words, photo and map per pass,
only what changed sent to the live page, and nobody outside the roles seeing any of it."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from central.hotlists.alerts import PRIORITY_WORDS
from central.hotlists.listener import HotlistListener
from central.hotlists.lists import Hotlists
from central.hotlists.schema import MIGRATIONS
from tests.conftest import JPEG, logged_in, make_passage, verified_passage
from wire import SigningKey

KEY = SigningKey.generate()


def listed(store: Hotlists, now: datetime, plate: str = "GBL12X", priority: int = 1) -> int:
    """An approved stolen-vehicle list holding `plate`; returns the list's id."""
    until = now + timedelta(days=60)
    list_id = store.create_list(f"Stolen {plate}", "desk-12", "report 2026-1", "stolen_vehicle",
                                priority, until, now)  # fmt: skip
    store.add_entry(list_id, plate, "", "stolen", "stop and check", until, "desk-12", now)
    store.approve(list_id, "OvJ", now)
    return list_id


def passes_by(store: Hotlists, plate: str, now: datetime, *cameras: tuple[str, int, int]):
    """A pass of `plate` by each (camera, seq, minutes after `now`), at its own place."""
    recorded = []
    for camera, seq, minutes in cameras:
        at = now + timedelta(minutes=minutes)
        passage = make_passage(KEY, seq=seq, camera_id=camera, plate=plate, captured_at=at,
                               lat_e7=520907000 + seq * 100000, lon_e7=51214000 + seq * 100000,
                               crop_jpeg=JPEG + bytes([seq]))  # fmt: skip
        for hit in store.hits(plate, "NL", at):
            recorded.append(store.record_pass(hit, passage, at))
    return recorded


def operator(app, config, username: str = "c.operator"):
    return logged_in(app.test_client(), config, ("operator",), username)


def test_repeated_passes_of_a_listed_plate_are_one_alert_until_it_is_closed(web_setup, app):
    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC).replace(microsecond=0)
    listed(store, now)
    first, second, again = passes_by(store, "GBL12X", now, ("cam-a", 1, 0), ("cam-b", 2, 7),
                                     ("cam-b", 2, 7))  # fmt: skip
    assert (first.new, second.new, second.passes) == (True, False, 2)
    assert again is None, "the same pass delivered twice is recorded once"
    store.close()

    desk = operator(app, web_setup.config)
    (alert,) = desk.get("/api/v1/alerts").get_json()["alerts"]
    assert alert["alert_id"] == first.alert_id == second.alert_id
    assert alert["pass_count"] == 2
    assert [p["camera_id"] for p in alert["passes"]] == ["cam-a", "cam-b"]
    assert alert["first_seen"] < alert["last_seen"] and alert["last_camera"] == "cam-b"
    (crop_a, crop_b) = (
        desk.get(f"/alerts/{alert['alert_id']}/passes/{p['pass_id']}/crop.jpg").data
        for p in alert["passes"]
    )
    assert (crop_a, crop_b) == (JPEG + b"\x01", JPEG + b"\x02"), "every pass keeps its photo"
    assert desk.get(f"/alerts/{alert['alert_id']}/crop.jpg").data == crop_b, "latest pass"

    page = desk.get("/alerts").get_data(as_text=True)
    assert page.count('class="pass"') == 2 and '<svg class="alert-map"' in page
    assert page.count('class="pass-dot"') == 2, "each pass's camera on the inline map"
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    handled = desk.post(f"/alerts/{alert['alert_id']}/handle",
                        data={"csrf": csrf, "state": "closed", "outcome": "stopped"})  # fmt: skip
    assert handled.status_code == 302

    store = Hotlists(web_setup.config.hotlists_path)
    (later,) = passes_by(store, "GBL12X", now, ("cam-c", 3, 60))
    store.close()
    assert later.new and later.alert_id != first.alert_id, "a closed alert takes no more passes"
    (fresh,) = desk.get("/api/v1/alerts?state=new").get_json()["alerts"]
    assert fresh["pass_count"] == 1


def test_every_open_alert_is_shown_a_page_at_a_time_with_the_total(web_setup, app):
    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC)
    plates = [f"AB{n:03d}C" for n in range(130)]
    for plate in plates:
        listed(store, now, plate, priority=3)
    for seq, plate in enumerate(plates, start=1):
        passes_by(store, plate, now, ("cam-a", seq, 0))
    store.close()
    desk = operator(app, web_setup.config)

    seen, page_number = [], 0
    while True:
        page = desk.get(f"/alerts?page={page_number}").get_data(as_text=True)
        assert '<strong id="total">130</strong>' in page
        assert 'id="total-word">open alerts</span>' in page
        rows = re.findall(r'<span class="plate">([A-Z0-9]+)</span>', page)
        if not rows:
            break
        seen += rows
        page_number += 1
    assert sorted(seen) == plates, "no open alert silently left out"
    assert page_number == 3

    body = desk.get("/api/v1/alerts?per_page=100&page=1").get_json()
    assert (body["total"], len(body["alerts"])) == (130, 30)
    assert desk.get("/api/v1/alerts?per_page=0").status_code == 400
    assert desk.get("/alerts?page=x").status_code == 400


def test_priority_is_shown_in_words_and_colour_with_a_legend(web_setup, app):
    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC)
    for plate, priority in (("GBL12X", 1), ("XT456B", 4)):
        listed(store, now, plate, priority)
        passes_by(store, plate, now, ("cam-a", priority, 0))
    store.close()
    desk = operator(app, web_setup.config)
    alerts = desk.get("/api/v1/alerts").get_json()["alerts"]
    assert [(a["priority"], a["priority_word"]) for a in alerts] == [(1, "urgent"), (4, "low")]
    page = desk.get("/alerts").get_data(as_text=True)
    legend = page[page.index('id="legend"') :]
    for number, word in PRIORITY_WORDS.items():
        assert f'<span class="priority p{number}">{word}</span>' in legend
    assert 'class="priority p1" title="priority 1">urgent</span>' in page
    assert 'id="sound-enable"' in page, "sound waits for the operator's gesture"


def test_the_live_page_is_sent_only_what_changed(web_setup, app):
    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC)
    listed(store, now, "GBL12X")
    listed(store, now, "XT456B", priority=2)
    passes_by(store, "GBL12X", now, ("cam-a", 1, 0))
    passes_by(store, "XT456B", now, ("cam-a", 2, 0))
    desk = operator(app, web_setup.config)
    page = desk.get("/alerts")
    cursor = int(re.search(r'data-cursor="(\d+)"', page.get_data(as_text=True)).group(1))
    assert "script-src 'self' 'nonce-" in page.headers["Content-Security-Policy"]
    assert '<script src="/alerts/desk.js" defer></script>' in page.get_data(as_text=True)
    assert b"fetch(`/alerts/changes" in desk.get("/alerts/desk.js").data

    (again,) = passes_by(store, "GBL12X", now, ("cam-b", 3, 5))
    store.close()
    changes = desk.get(f"/alerts/changes?since={cursor}").get_json()
    (changed,) = changes["alerts"]
    assert (changed["alert_id"], changed["pass_count"]) == (again.alert_id, 2)
    html = changed["html"]
    assert f'id="alert-{again.alert_id}"' in html and 'data-live="count"' in html
    assert changes["total"] == 2 and changes["complete"]
    assert desk.get(f"/alerts/changes?since={changes['cursor']}").get_json()["alerts"] == []
    assert desk.get("/alerts/changes?since=-1").status_code == 400


def test_people_outside_the_roles_see_no_alert_photo_or_change(web_setup, app):
    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC)
    listed(store, now)
    (recorded,) = passes_by(store, "GBL12X", now, ("cam-a", 1, 0))
    (pass_id,) = [p["pass_id"] for p in store.passes([recorded.alert_id])[recorded.alert_id]]
    store.close()
    photo = f"/alerts/{recorded.alert_id}/passes/{pass_id}/crop.jpg"
    assert operator(app, web_setup.config).get(photo).data.startswith(b"\xff\xd8\xff")

    maintainer = logged_in(app.test_client(), web_setup.config, ("maintainer",))
    for path in (photo, "/alerts/changes?since=0", "/alerts"):
        assert maintainer.get(path).status_code == 403, path
        assert app.test_client().get(path).status_code == 302, "anonymous: to the login"
    requester = logged_in(app.test_client(), web_setup.config, ("requester",), "r.other")
    assert requester.get(photo).status_code == 404, "not their investigation's alert"
    assert requester.get("/alerts/changes?since=0").get_json()["alerts"] == []
    assert requester.get(f"/alerts/{recorded.alert_id}/passes/{pass_id}/x.jpg").status_code == 404


def test_a_repeated_pass_is_published_under_the_same_alert(web_setup):
    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC)
    listed(store, now)
    store.close()
    published: list[tuple[str, dict]] = []
    listener = HotlistListener(
        web_setup.config.hotlists_path,
        clock=lambda: now,
        publish=lambda topic, data: published.append((topic, json.loads(data))),
    )
    try:
        for camera, seq in (("cam-a", 1), ("cam-b", 2), ("cam-b", 2)):
            listener(verified_passage(KEY, seq=seq, camera_id=camera, captured_at=now))
    finally:
        listener.close()
    assert listener.alerts_raised == 1
    assert [(m["alert_id"], m["passes"], m["camera_id"]) for _, m in published] == [
        (1, 1, "cam-a"), (1, 2, "cam-b")]  # fmt: skip


def test_passes_expire_one_by_one_and_the_alert_with_the_last(tmp_path):
    store = Hotlists(tmp_path / "hotlists.sqlite")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    listed(store, now)
    (first,) = passes_by(store, "GBL12X", now, ("cam-a", 1, 0))
    (second,) = passes_by(store, "GBL12X", now + timedelta(days=10), ("cam-b", 2, 0))
    keep = timedelta(days=28)
    assert store.expire_alerts(now + timedelta(days=29), keep) == 0, "passed again since"
    (alert,) = store.alerts()
    assert (alert["alert_id"], alert["pass_count"]) == (first.alert_id, 1)
    assert store.expire_alerts(now + timedelta(days=39), keep) == 1
    assert store.alerts() == [] and store.passes([first.alert_id]) == {first.alert_id: []}
    store.close()


def test_an_open_desk_reloads_when_its_alerts_expired(web_setup, client):
    """Expired alerts are gone, not changed: the changes a desk asks for say so, and the
    page reloads (static/alerts.js) instead of showing them on."""
    logged_in(client, web_setup.config, roles=("operator",), username="c.operator")
    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC) - timedelta(days=40)
    listed(store, now)
    passes_by(store, "GBL12X", now, ("cam-a", 1, 0))
    cursor = store.change_cursor()
    assert client.get(f"/alerts/changes?since={cursor}").get_json()["complete"]
    store.expire_alerts(datetime.now(UTC), timedelta(days=28))
    store.close()
    answer = client.get(f"/alerts/changes?since={cursor}").get_json()
    assert answer["complete"] is False and answer["total"] == 0


def test_upgrading_keeps_every_existing_alert_as_its_first_pass(tmp_path):
    path = tmp_path / "hotlists.sqlite"
    old = [m for m in MIGRATIONS if m[0] < "0007"]
    from central.databases import open_database

    db = open_database(path, old)
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    db.execute("INSERT INTO lists (list_id, name, owner, legal_basis, category, priority, "
               "expires_at, approved_by, approved_until) VALUES (1, 'Stolen', 'd', 'r', "
               "'stolen_vehicle', 2, '2099-01-01T00:00:00.000Z', 'OvJ', "
               "'2099-01-01T00:00:00.000Z')")  # fmt: skip
    db.execute("INSERT INTO entries (entry_id, list_id, pattern, country, reason, instructions, "
               "expires_at, approved_by) VALUES (1, 1, 'GBL12X', '', 'stolen', 'stop', "
               "'2099-01-01T00:00:00.000Z', 'OvJ')")  # fmt: skip
    for seq in (1, 2):  # the old code: every pass of the plate its own alert
        db.execute("INSERT INTO alerts (raised_at, list_id, entry_id, priority, tolerant, "
                   "camera_id, seq, captured_at, plate, country, crop, overview) VALUES "
                   "(?, 1, 1, 2, 0, 'cam-a', ?, ?, 'GBL12X', 'NL', ?, ?)",
                   ("2026-11-22T12:00:00.000Z", seq, "2026-11-22T11:59:00.000Z",
                    JPEG + bytes([seq]), JPEG + b"overview"))  # fmt: skip
    db.close()

    store = Hotlists(path)
    alerts = store.alerts()
    assert [a["pass_count"] for a in alerts] == [1, 1], "each old alert: one pass"
    for alert in alerts:
        image = store.pass_image(alert["alert_id"], None, "crop")
        assert image == JPEG + bytes([alert["seq"]]), "the image moved with its pass"
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM alert_passes").fetchone() == (2,)
    assert raw.execute("SELECT max(length(crop)) FROM alerts").fetchone() == (0,)
    raw.close()
    (later,) = passes_by(store, "GBL12X", now, ("cam-b", 3, 0))
    assert not later.new and later.alert_id == max(a["alert_id"] for a in alerts)
    assert store.change_cursor() > max(a["changed"] for a in alerts)
    store.close()


@pytest.mark.slow
def test_a_live_update_keeps_the_note_being_typed_and_its_focus(tmp_path, web_setup, app):
    """In a real Chromium: an operator types a note on an alert; meanwhile the plate passes
    another camera and a new urgent alert comes in. The note and its focus stay, the pass
    count goes up, the new alert appears in its place, and the urgent one is heard."""
    from tests.browser import ARTEFACTS, browser_page, serve, wait_for_true
    from tests.conftest import current_code, make_user
    from tests.test_searches import noise_jpeg

    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC)
    listed(store, now, "GBL12X", priority=2)
    listed(store, now, "XT456B", priority=1)

    def pass_of(plate: str, camera: str, seq: int) -> int:
        passage = make_passage(KEY, seq=seq, camera_id=camera, plate=plate, captured_at=now,
                               lat_e7=520907000 + seq * 500000,
                               crop_jpeg=noise_jpeg(160, 40, seq))  # fmt: skip
        (hit,) = store.hits(plate, "NL", now)
        return store.record_pass(hit, passage, now).alert_id

    first = pass_of("GBL12X", "cam-a", 1)
    note = f"#alert-{first} input[name=outcome]"
    username, password, secret = make_user(web_setup.config, "c.operator", ("operator",))
    with serve(app) as url, browser_page(tmp_path) as page:
        page.goto(f"{url}/alerts")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.fill("input[name=code]", current_code(secret))
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/alerts")
        page.wait_for_selector("#live:text('live')")
        page.click("#sound-enable")
        wait_for_true(page, "document.body.dataset.beeps === '1'")
        page.evaluate("window.stillTheSamePage = true")
        page.click(note)
        page.keyboard.type("driver seen heading north")

        second = pass_of("GBL12X", "cam-b", 2)
        urgent = pass_of("XT456B", "cam-c", 3)
        assert second == first and urgent != first
        wait_for_true(page, f"document.querySelector('#alert-{urgent}') !== null")
        wait_for_true(page, f"document.querySelector('#alert-{first} .pass-count')"
                            ".textContent === '2'")  # fmt: skip
        assert page.input_value(note) == "driver seen heading north"
        assert page.evaluate(f"document.activeElement === document.querySelector('{note}')")
        page.keyboard.type(", fast")
        assert page.input_value(note) == "driver seen heading north, fast"
        assert page.evaluate("window.stillTheSamePage") is True, "patched, not reloaded"
        order = page.eval_on_selector_all("#desk tbody.alert", "rows => rows.map(r => r.id)")
        assert order == [f"alert-{urgent}", f"alert-{first}"], "the urgent one first"
        assert page.inner_text(f"#alert-{urgent} .priority") == "urgent"
        assert page.inner_text("#total") == "2"
        wait_for_true(page, "Number(document.body.dataset.beeps) >= 2")

        page.click(f"#alert-{first} details summary")
        assert page.locator(f"#alert-{first} tr.pass").count() == 2
        assert page.locator(f"#alert-{first} svg.alert-map circle.pass-dot").count() == 2
        wait_for_true(page, f"[...document.querySelectorAll('#alert-{first} tr.pass img')]"
                            ".every(i => i.complete && i.naturalWidth > 0)")  # fmt: skip
        page.screenshot(path=str(ARTEFACTS / "alert-desk-live.png"), full_page=True)
    store.close()
