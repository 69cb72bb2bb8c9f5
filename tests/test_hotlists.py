"""Hotlists: matching (exact, wildcard, tolerant), approval before going live, alerts at
ingest for every camera, and the control room's page."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from central import create_app
from central.hotlists.listener import HotlistListener
from central.hotlists.lists import Hotlists
from central.hotlists.matching import PatternError, match, validate_pattern
from central.ingest.service import IngestWorker
from central.store import open_store
from node.keyfiles import load_signing_key
from tests.conftest import logged_in, make_passage, register_camera, wait_until
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
def lists(tmp_path):
    store = Hotlists(tmp_path / "hotlists.sqlite")
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
    assert store.expire_alerts(NOW + timedelta(days=27), timedelta(days=28)) == 0
    assert store.expire_alerts(NOW + timedelta(days=29), timedelta(days=28)) == 1
    assert store.alerts() == []


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


def test_unacknowledged_alerts_are_escalated_by_their_priority(lists, tmp_path, caplog):
    from central.hotlists.listener import escalation_run

    store, list_id = lists
    store.approve(list_id, "OvJ", NOW)
    (hit,) = store.hits("GBL12X", "NL", NOW)
    store.raise_alert(hit, make_passage(SigningKey.generate(), plate="GBL12X"), NOW)
    assert store.escalate(NOW + timedelta(seconds=50)) == [], "priority 1: one minute"
    published = []
    run = escalation_run(tmp_path / "hotlists.sqlite", lambda topic, data: published.append(topic))
    (alert_id,) = run(NOW + timedelta(seconds=61))
    assert published == ["anpr/v1/alerts/escalated"]
    assert "ESCALATION" in caplog.text
    assert store.escalate(NOW + timedelta(minutes=5)) == [], "escalated once"
    assert store.alerts()[0]["escalated_at"] is not None


def test_wildcard_entries_follow_changes_and_expiry(lists):
    store, list_id = lists
    store.approve(list_id, "OvJ", NOW)
    assert store.hits("XT456B", "", NOW) == []
    entry = store.add_entry(list_id, "XT4*", "", "gang", "report", NOW + timedelta(hours=1),
                            "d", NOW)  # fmt: skip
    assert store.hits("XT456B", "", NOW) == [], "added after the list's approval: it waits"
    store.approve_entry(entry, "p.prosecutor", NOW)
    assert len(store.hits("XT456B", "", NOW)) == 1, "approved, it counts at once"
    assert store.hits("XT456B", "", NOW + timedelta(hours=2)) == [], "and stops at its expiry"


def test_approval_lapses_until_the_prosecutor_approves_again(lists):
    store, list_id = lists
    store.approve(list_id, "OvJ", NOW, timedelta(days=7))
    assert store.hits("GBL12X", "NL", NOW + timedelta(days=6))
    assert store.hits("GBL12X", "NL", NOW + timedelta(days=8)) == []
    assert [d["list_id"] for d in store.due_for_approval(NOW, timedelta(days=14))] == [list_id]
    store.approve(list_id, "OvJ", NOW + timedelta(days=8), timedelta(days=7))
    assert store.hits("GBL12X", "NL", NOW + timedelta(days=9))


def test_scope_by_time_window_and_cameras(tmp_path):
    store = Hotlists(tmp_path / "scoped.sqlite")
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
