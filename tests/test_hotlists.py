"""Hotlists: matching (exact, wildcard, tolerant), approval before going live, alerts at
ingest for every camera, and the control room's page."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from central import create_app
from central.hotlists.alerts import AlertFilter, HotlistError
from central.hotlists.listener import HotlistListener
from central.hotlists.lists import Hotlists
from central.hotlists.matching import PatternError, match, validate_pattern
from central.ingest.service import IngestWorker
from central.store import open_store
from node.keyfiles import load_signing_key
from tests.conftest import JPEG, logged_in, make_passage, register_camera, wait_until
from tests.test_ingest import Peer, recent_time
from wire import SigningKey, encode_passage
from wire.topics import passage_topic

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


@pytest.mark.parametrize(
    "plate, pattern, expected",
    [
        ("GBL12X", "GBL12X", False),
        ("GBL12X", "GB?12X", False),
        ("GBL12X", "GBL*", False),
        ("G8L12X", "GBL12X", True),  # 8 read for B: a near match
        ("G8L1ZX", "GBL12X", None),  # two confusions: no match
        ("GXL12X", "GBL12X", None),  # X and B are not confused
        ("G8L12X", "GBL*", None),  # no near matches on open patterns
    ],
)
def test_matching(plate, pattern, expected):
    result = match(plate, pattern)
    assert (None if result is None else result.tolerant) == expected


@pytest.mark.parametrize("pattern", ["**", "A?", "AB_12", ""])
def test_patterns_must_be_specific(pattern):
    with pytest.raises(PatternError):
        validate_pattern(pattern)


@pytest.fixture
def lists(store_location):
    """A list with one entry, not yet approved, on each backend (#21)."""
    store = Hotlists(store_location("hotlists"))
    list_id = store.create_list("Stolen vehicles", "desk-12", "art. 311 Sr, report 2026-1",
                                "stolen_vehicle", 1, LATER, NOW)  # fmt: skip
    store.add_entry(list_id, "GBL12X", "NL", "stolen 2026-11-20", "do not stop alone", LATER,
                    "desk-12", NOW)  # fmt: skip
    yield store, list_id
    store.close()


def test_a_list_is_live_only_once_approved_and_until_it_expires(lists):
    store, list_id = lists
    assert store.hits("GBL12X", "NL", NOW) == []
    store.approve(list_id, "mr. De Boer (OvJ)", NOW)
    (hit,) = store.hits("GBL12X", "NL", NOW)
    assert hit.instructions == "do not stop alone" and not hit.tolerant
    assert store.hits("GBL12X", "BE", NOW) == [], "another country's plate"
    assert store.hits("GBL12X", "NL", LATER + timedelta(days=1)) == []


@pytest.mark.slow
def test_alert_at_ingest_for_a_camera_outside_the_plan_and_the_control_room(
    tmp_path, mosquitto, central_setup
):
    outsider = register_camera(central_setup, "traffic-cam-07", tmp_path / "o", designate=False)
    store = Hotlists(central_setup.config.hotlists_path)
    now, until = datetime.now(UTC), datetime.now(UTC) + timedelta(days=2)
    list_id = store.create_list("Missing person", "desk-3", "order 2026-77", "missing_person", 1,
                                until, now)  # fmt: skip
    store.add_entry(list_id, "GBL12X", "", "missing since Friday", "call the family officer",
                    until, "desk-3", now)  # fmt: skip
    store.approve(list_id, "OvJ", datetime.now(UTC))
    store.close()

    worker = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    listener = HotlistListener(
        central_setup.config.hotlists_path,
        publish=lambda topic, data: worker.client.publish(topic, data, qos=1),
    )
    worker.passage_listeners.append(listener)
    worker.start()
    peer = Peer(mosquitto.port, outsider.camera_id)
    console = Peer(mosquitto.port, "control-room")
    console.client.subscribe("anpr/v1/alerts/#", qos=1)
    try:
        assert worker.subscribed.wait(10)
        payload = encode_passage(make_passage(outsider.key, camera_id=outsider.camera_id,
                                              plate="G8L12X", captured_at=recent_time()),
                                 outsider.key)  # fmt: skip
        peer.publish(passage_topic(outsider.camera_id), payload)
        peer.publish(passage_topic(outsider.camera_id), payload)  # delivered twice
        wait_until(lambda: worker.counters["not_in_plan_discarded"] == 2, what="both handled")
        message = json.loads(console.acks.get(timeout=10))
        assert (message["plate"], message["near_match"]) == ("G8L12X", True)
        assert message["instructions"] == "call the family officer"
    finally:
        console.close()
        peer.close()
        worker.stop()
        listener.close()
    assert listener.alerts_raised == 1, "one alert for one passage, however often delivered"
    assert open_store(central_setup.config).count() == 0, "never in the 28-day store"

    app = create_app(central_setup.config)
    assert logged_in(app.test_client(), central_setup.config).get("/alerts").status_code == 403
    operator = logged_in(app.test_client(), central_setup.config, roles=("operator",),
                         username="c.operator")  # fmt: skip
    page = operator.get("/alerts").data
    assert b"G8L12X" in page and b"near match" in page and b"call the family officer" in page
    (alert,) = operator.get("/api/v1/alerts").get_json()["alerts"]
    crop = operator.get(f"/alerts/{alert['alert_id']}/crop.jpg")
    assert crop.data.startswith(b"\xff\xd8\xff")
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
    handle = f"/alerts/{alert['alert_id']}/handle"
    assert operator.post(handle, data={"csrf": csrf, "state": "acknowledged"}).status_code == 302
    assert operator.post(handle, data={"csrf": csrf, "state": "closed"}).status_code == 400
    closed = operator.post(handle, data={"csrf": csrf, "state": "closed", "outcome": "found"})
    assert closed.status_code == 302
    assert operator.get("/api/v1/alerts?state=closed").get_json()["alerts"][0]["handled_by"] == (
        "c.operator"
    )


def test_alerts_expire_with_their_images(lists):
    store, list_id = lists
    store.approve(list_id, "OvJ", NOW)
    passage = make_passage(SigningKey.generate(), plate="GBL12X", captured_at=NOW)
    (hit,) = store.hits("GBL12X", "NL", NOW)
    store.raise_alert(hit, passage, NOW)
    page_cursor = store.change_cursor()  # an open desk's, from before the expiry
    assert store.expire_alerts(NOW + timedelta(days=27), timedelta(days=28)) == 0
    assert not store.expired_since(page_cursor)
    assert store.expire_alerts(NOW + timedelta(days=29), timedelta(days=28)) == 1
    assert store.alerts() == []
    assert store.expired_since(page_cursor), "the open desk must reload to drop it"
    assert not store.expired_since(store.change_cursor())


@pytest.mark.slow
def test_new_alerts_appear_on_the_open_page_without_a_reload(tmp_path, web_setup, app):
    from tests.browser import ARTEFACTS, browser_page, serve
    from tests.conftest import current_code, make_user

    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC)
    list_id = store.create_list("Fugitives", "desk-1", "order 2026-5", "fugitive", 1,
                                now + timedelta(days=1), now)  # fmt: skip
    store.add_entry(list_id, "XT456B", "", "escaped", "armed: keep distance",
                    now + timedelta(days=1), "desk-1", now)  # fmt: skip
    store.approve(list_id, "OvJ", now)
    username, password, secret = make_user(web_setup.config, "c.operator", ("operator",))
    with serve(app) as url, browser_page(tmp_path) as page:
        page.goto(f"{url}/alerts")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.fill("input[name=code]", current_code(secret))
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/alerts")
        page.wait_for_selector("#live:text('live')")
        page.evaluate("window.stillTheSamePage = true")
        (hit,) = store.hits("XT456B", "", now)
        store.raise_alert(hit, make_passage(SigningKey.generate(), plate="XT456B",
                                            char_confidence_pm=(900,) * 6), now)  # fmt: skip
        page.wait_for_selector("text=armed: keep distance", timeout=5000)
        assert page.evaluate("window.stillTheSamePage") is True
        page.screenshot(path=str(ARTEFACTS / "alerts-live.png"), full_page=True)
    store.close()


def test_csv_import_reports_every_bad_row_and_imports_nothing_until_fixed(lists):
    store, list_id = lists
    text = (
        "plate,country,reason,instructions,expires\n"
        "XT456B,NL,stolen,stop,2027-01-01T00:00Z\n"
        "A?,NL,stolen,stop,2027-01-01T00:00Z\n"
        "ZZ999Z,NLD,stolen,stop,2027-01-01T00:00Z\n"
        "KL123M,,stolen,,2027-01-01T00:00Z\n"
        "PR888T,BE,stolen,stop,2020-01-01T00:00Z\n"
    )
    report = store.import_csv(list_id, text, "desk-12", NOW)
    assert report.imported == 0
    assert [line for line, _ in report.errors] == [3, 4, 5, 6]
    report = store.import_csv(list_id, text, "desk-12", NOW, skip_invalid=True)
    assert report.imported == 1
    bad_header = store.import_csv(list_id, "plate;country\n", "desk-12", NOW)
    assert bad_header.errors[0][0] == 1


def test_unacknowledged_alerts_are_escalated_by_their_priority(lists, store_location, caplog):
    from central.hotlists.listener import escalation_run

    store, list_id = lists
    store.approve(list_id, "OvJ", NOW)
    (hit,) = store.hits("GBL12X", "NL", NOW)
    store.raise_alert(hit, make_passage(SigningKey.generate(), plate="GBL12X"), NOW)
    assert store.escalate(NOW + timedelta(seconds=50)) == [], "priority 1: one minute"
    published = []
    run = escalation_run(store_location("hotlists"), lambda topic, data: published.append(topic))
    (alert_id,) = run(NOW + timedelta(seconds=61))
    assert published == ["anpr/v1/alerts/escalated"]
    assert "ESCALATION" in caplog.text
    assert store.escalate(NOW + timedelta(minutes=5)) == [], "escalated once"
    assert store.alerts()[0]["escalated_at"] is not None


def test_wildcard_entries_follow_changes_and_expiry(lists, store_location):
    store, list_id = lists
    ingest = Hotlists(store_location("hotlists"))  # matching with its own handle (and cache)
    store.approve(list_id, "OvJ", NOW)
    assert ingest.hits("XT456B", "", NOW) == []
    entry = store.add_entry(list_id, "XT4*", "", "gang", "report", NOW + timedelta(hours=1),
                            "d", NOW)  # fmt: skip
    assert ingest.hits("XT456B", "", NOW) == [], "added after the list's approval: it waits"
    store.approve_entry(entry, "p.prosecutor", NOW)
    assert len(ingest.hits("XT456B", "", NOW)) == 1, "approved, it counts at once"
    assert ingest.hits("XT456B", "", NOW + timedelta(hours=2)) == [], "and stops at its expiry"
    ingest.close()


def test_approval_lapses_until_the_prosecutor_approves_again(lists):
    store, list_id = lists
    store.approve(list_id, "OvJ", NOW, timedelta(days=7))
    assert store.hits("GBL12X", "NL", NOW + timedelta(days=6))
    assert store.hits("GBL12X", "NL", NOW + timedelta(days=8)) == []
    assert [d["list_id"] for d in store.due_for_approval(NOW, timedelta(days=14))] == [list_id]
    store.approve(list_id, "OvJ", NOW + timedelta(days=8), timedelta(days=7))
    assert store.hits("GBL12X", "NL", NOW + timedelta(days=9))


def test_scope_by_time_window_and_cameras(store_location):
    store = Hotlists(store_location("hotlists"))
    weekend = NOW + timedelta(days=2)
    list_id = store.create_list("Event weekend", "desk-9", "order 2026-90", "investigation", 2,
                                weekend + timedelta(days=2), NOW, starts_at=weekend,
                                cameras=("a12-cam-1",))  # fmt: skip
    store.add_entry(list_id, "GBL12X", "", "r", "i", weekend + timedelta(days=2), "d", NOW)
    store.approve(list_id, "OvJ", NOW)
    during = weekend + timedelta(hours=5)
    assert store.hits("GBL12X", "", during, "a12-cam-1")
    assert store.hits("GBL12X", "", during, "a2-cam-9") == [], "another camera"
    assert store.hits("GBL12X", "", NOW + timedelta(hours=1), "a12-cam-1") == [], "before"
    store.close()


def test_every_node_sees_each_change_to_an_alert(lists, store_location):
    """Two web nodes on one database (#21): the alert desk's stream on each polls
    state_version, so a change made through either node's handle moves the other's: a new
    alert, another pass of it, its assignment, escalation and handling."""
    store, list_id = lists
    other = Hotlists(store_location("hotlists"))  # the second node's own handle
    try:
        store.approve(list_id, "OvJ", NOW)
        key = SigningKey.generate()
        (hit,) = other.hits("GBL12X", "NL", NOW)

        def seen_on_both(by: Hotlists, change):
            watcher = other if by is store else store
            before = watcher.state_version()
            result = change(by)
            assert watcher.state_version() != before, "the other node missed the change"
            assert watcher.state_version() == by.state_version()
            return result

        def passed(seq: int):
            return lambda s: s.raise_alert(hit, make_passage(key, seq=seq, plate="GBL12X"), NOW)

        alert_id = seen_on_both(store, passed(1))
        assert [a["alert_id"] for a in other.alerts()] == [alert_id]
        assert seen_on_both(other, passed(2)) == alert_id, "another pass of the same alert"
        assert store.alerts()[0]["pass_count"] == 2
        version = other.state_version()
        assert store.raise_alert(hit, make_passage(key, seq=2, plate="GBL12X"), NOW) is None
        assert other.state_version() == version, "a pass delivered twice changes nothing"
        seen_on_both(store, lambda s: s.assign(alert_id, "c.operator", "c.chief", NOW))
        assert seen_on_both(other, lambda s: s.escalate(NOW + timedelta(minutes=2))) == [alert_id]
        since = store.change_cursor()
        seen_on_both(store, lambda s: s.handle(alert_id, "acknowledged", "c.operator", "", NOW))
        (changed,) = other.alerts(which=AlertFilter(changed_since=since))
        assert (changed["alert_id"], changed["state"]) == (alert_id, "acknowledged")
        assert changed["assigned_to"] == "c.operator" and changed["escalated_at"] is not None
    finally:
        other.close()


def test_each_person_sees_the_alerts_they_may_see_with_their_passes(store_location):
    """The desk's queries on each backend: who sees which alert, a page of them and their
    count, the filters, each alert's passes and images, and the volume chart's numbers."""
    store = Hotlists(store_location("hotlists"))
    stolen = store.create_list("Stolen", "desk-12", "report 1", "stolen_vehicle", 2, LATER, NOW)
    heron = store.create_list("Op. Heron", "i.owner", "order 44", "investigation", 3, LATER, NOW)
    for list_id in (stolen, heron):
        store.add_entry(list_id, "GBL12X", "", "wanted", "observe", LATER, "d", NOW)
        store.approve(list_id, "OvJ", NOW)
    key = SigningKey.generate()
    first = make_passage(key, seq=1, plate="GBL12X", captured_at=NOW, crop_jpeg=JPEG + b"one")
    later = make_passage(key, seq=2, plate="GBL12X", captured_at=NOW + timedelta(minutes=3),
                         crop_jpeg=JPEG + b"two")  # fmt: skip
    hits = store.hits("GBL12X", "NL", NOW)
    control, own = (store.raise_alert(hit, first, NOW) for hit in hits)
    store.raise_alert(hits[0], later, NOW + timedelta(minutes=3))
    try:
        assert [a["alert_id"] for a in store.alerts()] == [control, own], "by priority"
        assert [a["alert_id"] for a in store.alerts(viewer="c.operator")] == [control]
        assert [a["alert_id"] for a in store.alerts(viewer="i.owner", control_room=False)] == [own]
        assert store.alerts(viewer="r.other", control_room=False) == []
        assert store.count_alerts(viewer="c.operator") == 1 and store.count_alerts() == 2
        assert store.may_see(own, "i.owner", False) and not store.may_see(own, "c.operator")
        (shown,) = store.alerts(viewer="c.operator")
        assert (shown["pass_count"], shown["priority_word"], shown["list"]) == (2, "high", "Stolen")
        assert shown["last_seen"] > shown["first_seen"]
        assert [p["seq"] for p in store.passes([control])[control]] == [1, 2]
        assert store.pass_image(control, None, "crop") == JPEG + b"two", "the latest pass's"
        first_pass = store.passes([control])[control][0]["pass_id"]
        assert store.pass_image(control, first_pass, "crop") == JPEG + b"one"
        assert store.volume_per_day(NOW.date().isoformat()) == {
            (NOW.date().isoformat(), 2): 1, (NOW.date().isoformat(), 3): 1
        }  # fmt: skip
        store.handle(control, "closed", "c.operator", "stopped, not the car", NOW)
        assert [a["alert_id"] for a in store.alerts(which=AlertFilter(open_only=True))] == [own]
        assert store.count_alerts(which=AlertFilter(state="closed")) == 1
        with pytest.raises(HotlistError, match="closed"):
            store.assign(control, "c.second", "c.chief", NOW)
        after = store.raise_alert(hits[0], make_passage(key, seq=3, plate="GBL12X"), NOW)
        assert after not in (control, own), "a pass after closing raises a new alert"
    finally:
        store.close()


def test_the_prosecutor_decides_lists_and_entries_added_later(store_location):
    store = Hotlists(store_location("hotlists"))
    soon = store.create_list("Soon due", "desk-1", "report 1", "stolen_vehicle", 1, LATER, NOW)
    new = store.create_list("New", "desk-2", "report 2", "stolen_vehicle", 1, LATER, NOW)
    store.add_entry(soon, "GBL12X", "", "r", "i", LATER, "d", NOW)
    store.approve(soon, "OvJ", NOW, timedelta(days=5))
    due = store.due_for_approval(NOW)
    assert [d["list_id"] for d in due] == [new, soon], "never approved first, then by date"
    assert due[1]["entries"] == 1
    late = store.add_entry(soon, "XT456B", "", "r", "i", LATER, "d", NOW)
    refused = store.add_entry(soon, "KL123M", "", "r", "i", LATER, "d", NOW)
    waiting = store.waiting_entries(NOW)
    assert [(w["entry_id"], w["list_name"]) for w in waiting] == [
        (late, "Soon due"), (refused, "Soon due")
    ]  # fmt: skip
    assert store.hits("XT456B", "", NOW) == [], "waits for its own approval"
    assert store.approve_entry(late, "OvJ", NOW) == soon
    assert store.refuse_entry(refused, "OvJ", "no grounds given", NOW) == soon
    assert store.waiting_entries(NOW) == []
    with pytest.raises(HotlistError, match="decided already"):
        store.approve_entry(refused, "OvJ", NOW)
    assert store.hits("XT456B", "", NOW) and store.hits("KL123M", "", NOW) == []
    store.refuse_list(soon, "OvJ", "the report was withdrawn", NOW + timedelta(hours=1))
    assert store.hits("GBL12X", "", NOW + timedelta(hours=2)) == [], "refused: stops matching"
    with pytest.raises(HotlistError, match="refused"):
        store.approve(soon, "OvJ", NOW)
    store.close()
