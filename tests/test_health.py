"""Camera health: the rules, the recorded history of changes, the pages, and real heartbeats."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from central.cameras import CameraRegistry
from central.health.monitor import HealthMonitor, record_changes, survey
from central.health.records import HealthRecords, Traffic
from central.health.rules import Limits, State, assess
from central.ingest.service import IngestWorker
from edge_agent.agent import Agent
from edge_agent.config import load_config
from node.keyfiles import load_signing_key
from tests.conftest import (
    current_code,
    make_user,
    wait_until,
    write_agent_config,
)
from wire import Heartbeat, SigningKey

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
KEY = SigningKey.from_seed(bytes(32))


def heartbeat(sent: datetime, received: datetime, **figures) -> dict:
    record = {"source_ok": True, "spool_depth": 0, "spool_oldest_age_s": 0,
              "frames_captured": 100, "frames_dropped": 0, "agent_version": "t"}  # fmt: skip
    record.update(figures)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"  # noqa: E731
    return {"sent_at": stamp(sent), "received_at": stamp(received), "record": json.dumps(record)}


def test_no_heartbeat_is_offline():
    assert assess(None, NOW).state is State.OFFLINE


def test_fresh_healthy_heartbeat_is_ok():
    result = assess(heartbeat(NOW, NOW), NOW + timedelta(seconds=30))
    assert (result.state, result.reasons) == (State.OK, ())


def test_silence_beyond_the_limit_is_offline():
    result = assess(heartbeat(NOW, NOW), NOW + timedelta(seconds=121))
    assert result.state is State.OFFLINE and "121 s" in result.reasons[0]


@pytest.mark.parametrize(
    "sent_offset, figures, reason",
    [
        (timedelta(seconds=2), {}, "clock off by +2.0 s"),
        (timedelta(0), {"source_ok": False}, "camera source"),
        (timedelta(0), {"spool_depth": 40, "spool_oldest_age_s": 900}, "spool backing up"),
        (timedelta(0), {"frames_dropped": 30}, "30 of 100 frames dropped"),
        (timedelta(0), {"clock_sync": "unsynced"}, "clock not synchronised"),
        (timedelta(0), {"disk_free_mb": 120}, "disk nearly full: 120 MB"),
        (timedelta(0), {"cpu_temp_mc": 91000}, "CPU at 91"),
    ],
)
def test_each_degradation_is_named(sent_offset, figures, reason):
    result = assess(heartbeat(NOW + sent_offset, NOW, **figures), NOW)
    assert result.state is State.DEGRADED
    assert any(reason in r for r in result.reasons)


def test_low_read_confidence_and_thin_traffic_are_degraded():
    fresh = heartbeat(NOW, NOW)
    assert assess(fresh, NOW, traffic=Traffic(50, 0.95, 60.0)).state is State.OK
    low = assess(fresh, NOW, traffic=Traffic(50, 0.62, 60.0))
    assert low.state is State.DEGRADED and "read quality down" in low.reasons[0]
    thin = assess(fresh, NOW, traffic=Traffic(9, 0.95, 60.0))
    assert thin.state is State.DEGRADED and "usually 60" in thin.reasons[0]
    quiet_road = assess(fresh, NOW, traffic=Traffic(1, 0.95, 8.0))
    assert quiet_road.state is State.OK, "too little history to call it thin"


def test_hourly_traffic_figures_compare_with_the_same_hour_of_earlier_weeks(store_location):
    records = HealthRecords(store_location("health"))
    last_hour = "2026-11-22T11"
    weeks = ["2026-11-15T11", "2026-11-08T11", "2026-11-01T11", "2026-10-25T11"]
    records.count_passages(
        [("cam", h, n, n * 900) for h, n in zip(weeks, (80, 100, 90, 70), strict=True)]
    )
    records.count_passages([("cam", last_hour, 10, 10 * 500)])
    records.count_passages([("cam", last_hour, 10, 10 * 500)])
    traffic = records.traffic("cam", NOW)
    records.close()
    assert traffic.passages == 20 and traffic.mean_confidence == pytest.approx(0.5)
    assert traffic.usual == 90


def _hb(camera_id: str, sent: datetime, **changes) -> Heartbeat:
    values = dict(camera_id=camera_id, key_id=KEY.key_id, sent_at=sent, boot_id="0" * 16,
                  uptime_s=1, source_ok=True, frames_captured=10, frames_dropped=0, last_seq=0,
                  spool_depth=0, spool_oldest_age_s=0, agent_version="t")  # fmt: skip
    values.update(changes)
    return Heartbeat(**values)


@pytest.fixture
def registry(tmp_path):
    registry = CameraRegistry(tmp_path / "cameras.sqlite")
    for camera_id in ("cam-ok", "cam-bad", "cam-gone"):
        registry.add(camera_id, SigningKey.generate().verify_key, NOW)
    yield registry
    registry.close()


@pytest.fixture
def records(store_location):
    records = HealthRecords(store_location("health"))
    yield records
    records.close()


def test_the_history_is_read_back_by_hour_day_and_change(records):
    from wire.canonical import canonical_bytes

    day = NOW.date()
    for at in (
        NOW - timedelta(hours=13),
        NOW,
        NOW + timedelta(minutes=5),
        NOW + timedelta(hours=12),
    ):
        hb = _hb("cam", at)
        records.record_heartbeat(hb, canonical_bytes(hb.signed_fields()), at)
    older = _hb("cam", NOW - timedelta(hours=1))
    records.record_heartbeat(older, canonical_bytes(older.signed_fields()), NOW)
    assert records.heartbeat_hours(day) == {"cam": 1}, "only the hours of that UTC day"
    assert records.heartbeat_hours(day - timedelta(days=1)) == {"cam": 1}
    assert records.last_heartbeat("cam")["sent_at"] == "2026-11-23T00:00:00.000Z", "newest wins"
    assert records.heartbeat_hours_between("cam", NOW - timedelta(hours=13), NOW) == {
        "2026-11-21T23"
    }

    records.count_passages([
        ("cam", "2026-11-21T23", 4, 3600), ("cam", "2026-11-22T00", 2, 1800),
        ("cam", "2026-11-22T11", 1, 900), ("cam2", "2026-11-22T11", 3, 2700),
    ])  # fmt: skip
    assert records.passages_by_hour("cam", NOW - timedelta(hours=12), NOW) == {
        "2026-11-22T00": (2, 1800), "2026-11-22T11": (1, 900)}  # fmt: skip
    assert records.passages_by_camera_day(day - timedelta(days=1), day + timedelta(days=1)) == {
        ("cam", "2026-11-21"): (4, 3600), ("cam", "2026-11-22"): (3, 2700),
        ("cam2", "2026-11-22"): (3, 2700)}  # fmt: skip

    for minutes, state in ((0, "OK"), (10, "DEGRADED"), (20, "OFFLINE")):
        records.health_change("cam", NOW + timedelta(minutes=minutes), state, "why")
    during = records.states_during("cam", NOW + timedelta(minutes=5), NOW + timedelta(minutes=20))
    assert [c["state"] for c in during] == ["OK", "DEGRADED"]
    assert [c["state"] for c in records.changes_until(NOW + timedelta(minutes=11))] == [
        "OK", "DEGRADED"]  # fmt: skip


def test_changes_are_recorded_with_reasons_and_worst_comes_first(registry, records):
    from wire.canonical import canonical_bytes

    for camera_id, changes in (("cam-ok", {}), ("cam-bad", {"source_ok": False})):
        hb = _hb(camera_id, NOW, **changes)
        records.record_heartbeat(hb, canonical_bytes(hb.signed_fields()), NOW)
    changed = record_changes(registry, records, NOW + timedelta(seconds=5), Limits())
    assert {h.camera_id: h.assessment.state for h in changed} == {
        "cam-ok": State.OK, "cam-bad": State.DEGRADED, "cam-gone": State.OFFLINE,
    }  # fmt: skip
    assert record_changes(registry, records, NOW + timedelta(seconds=10), Limits()) == []
    order = [h.camera_id for h in survey(registry, records, NOW + timedelta(seconds=10), Limits())]
    assert order == ["cam-gone", "cam-bad", "cam-ok"]

    later = NOW + timedelta(seconds=200)
    changed = record_changes(registry, records, later, Limits())
    assert [h.camera_id for h in changed] == ["cam-bad", "cam-ok"]
    history = records.health_history("cam-ok")
    assert [h["state"] for h in history] == ["OFFLINE", "OK"]
    assert "no heartbeat for 200 s" in history[0]["reasons"]


def test_pages_json_and_metrics(web_setup, app):
    registry = CameraRegistry(web_setup.config.cameras_path)
    registry.add("cam-gone", SigningKey.generate().verify_key, NOW)
    registry.close()
    client = app.test_client()
    username, password, secret = make_user(web_setup.config)
    form = {"username": username, "password": password, "code": current_code(secret)}
    assert client.post("/login", data=form).status_code == 302
    body = client.get("/api/v1/health").get_json()
    assert body["cameras"][0]["camera_id"] == "cam-gone"
    assert body["cameras"][0]["state"] == "OFFLINE"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'anpr_camera_state{camera="cam-gone"} 2' in metrics
    assert 'anpr_cameras{state="OFFLINE"} 1' in metrics
    page = client.get("/health").get_data(as_text=True)
    assert "cam-gone" in page and "OFFLINE" in page


@pytest.mark.slow
def test_states_follow_real_heartbeats_as_they_stop_and_resume(
    tmp_path, mosquitto, central_setup, camera
):
    ingest = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    ingest.start()
    monitor = HealthMonitor(
        central_setup.config.cameras_path,
        central_setup.config.health_path,
        Limits(offline_after_s=2.0),
        interval_s=0.2,
    )
    monitor.start()
    registry = HealthRecords(central_setup.config.health_path)

    def states() -> list[str]:
        return [h["state"] for h in reversed(registry.health_history(camera.camera_id))]

    def run_agent(name: str):
        config = load_config(
            write_agent_config(tmp_path, camera, central_setup, mosquitto.port, name=name)
        )
        agent = Agent(config)
        thread = threading.Thread(target=agent.run)
        thread.start()
        return agent, thread

    try:
        agent, thread = run_agent("agent1.toml")
        wait_until(lambda: states()[-1:] == ["OK"], what="OK from heartbeats")
        agent.stop_event.set()
        thread.join(timeout=10)
        wait_until(lambda: states()[-1:] == ["OFFLINE"], timeout=10, what="OFFLINE")
        agent, thread = run_agent("agent2.toml")
        wait_until(lambda: states()[-1:] == ["OK"], timeout=10, what="OK again")
        agent.stop_event.set()
        thread.join(timeout=10)
        assert states()[-3:] == ["OK", "OFFLINE", "OK"]
    finally:
        registry.close()
        monitor.stop()
        ingest.stop()


def test_certificates_and_the_crl_warn_fourteen_days_ahead_on_the_health_page(web_setup, tmp_path):
    from central import create_app
    from tests.conftest import logged_in
    from tests.test_metrics import _certificate

    soon, later = tmp_path / "broker.crt", tmp_path / "central.crt"
    _certificate(soon, "broker.example", datetime.now(UTC) + timedelta(days=10))
    _certificate(later, "central.example", datetime.now(UTC) + timedelta(days=400))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    files = (soon, soon.with_suffix(".crl"), later, junk)
    config = web_setup.config.model_copy(
        update={"metrics": web_setup.config.metrics.model_copy(update={"tls_files": files})}
    )
    client = logged_in(create_app(config).test_client(), config)
    found = {
        (c["file"], c["kind"]): c for c in client.get("/api/v1/health").get_json()["certificates"]
    }
    assert found[(str(soon), "certificate")]["state"] == "DEGRADED"
    assert "cert-renew" in found[(str(soon), "certificate")]["reason"]
    assert found[(str(soon.with_suffix(".crl")), "crl")]["state"] == "OK", "30 days left"
    assert found[(str(later), "certificate")]["state"] == "OK"
    assert found[(str(junk), "")]["state"] == "UNREADABLE"
    page = client.get("/health").get_data(as_text=True)
    assert 'id="certificates"' in page and "DEGRADED" in page.split('id="certificates"')[1]
