"""Ingest over a real broker: what is stored, what is refused and why, and what is acknowledged."""

import base64
import json
import queue
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from central.ingest.rejections import RejectionLog
from central.ingest.service import IngestWorker
from central.store import open_store
from node.keyfiles import load_signing_key, load_verify_key
from tests.conftest import make_passage, register_camera, wait_until
from wire import SigningKey, decode_ack, encode_passage
from wire.topics import ack_topic, passage_topic

pytestmark = pytest.mark.slow


class Peer:
    """A raw MQTT client standing in for a camera: publishes payloads, collects acks."""

    def __init__(self, port: int, camera_id: str) -> None:
        self.acks: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"peer-{camera_id}")
        self.client.on_message = lambda c, u, m: self.acks.put(m.payload)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(ack_topic(camera_id), qos=1)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def next_ack(self, key, timeout: float = 10.0):
        return decode_ack(self.acks.get(timeout=timeout)).verify(key).record

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client._reset_sockets()


@pytest.fixture
def ingest(central_setup):
    key = load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    worker = IngestWorker(central_setup.config, key)
    worker.start()
    assert worker.subscribed.wait(10)
    yield worker
    worker.stop()


@pytest.fixture
def peer(mosquitto, camera):
    peer = Peer(mosquitto.port, camera.camera_id)
    yield peer
    peer.close()


@pytest.fixture
def ack_key(central_setup):
    return load_verify_key(central_setup.ack_public_key)


def rejection_reasons(central_setup) -> list[str]:
    log = RejectionLog(central_setup.config.rejections_path)
    try:
        return [row["reason"] for row in log.latest(100)]
    finally:
        log.close()


def recent_time() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_same_record_twice_is_stored_once_and_acknowledged_twice(
    ingest, peer, camera, central_setup, ack_key
):
    payload = encode_passage(make_passage(camera.key, seq=7, captured_at=recent_time()), camera.key)
    peer.publish(passage_topic(camera.camera_id), payload)
    assert peer.next_ack(ack_key).seqs == (7,)
    peer.publish(passage_topic(camera.camera_id), payload)
    assert peer.next_ack(ack_key).seqs == (7,)
    assert open_store(central_setup.config).count(camera.camera_id) == 1
    assert ingest.counters["stored"] == 1 and ingest.counters["duplicate"] == 1


def test_used_sequence_number_with_other_content_is_an_integrity_alert(
    ingest, peer, camera, central_setup, ack_key
):
    when = recent_time()
    first = encode_passage(make_passage(camera.key, seq=3, captured_at=when), camera.key)
    second = encode_passage(
        make_passage(camera.key, seq=3, captured_at=when, plate="ZZ999Z"), camera.key
    )
    peer.publish(passage_topic(camera.camera_id), first)
    assert peer.next_ack(ack_key).seqs == (3,)
    peer.publish(passage_topic(camera.camera_id), second)
    ack = peer.next_ack(ack_key)
    assert ack.seqs == () and [(r.seq, r.reason) for r in ack.rejected] == [(3, "seq_conflict")]
    store = open_store(central_setup.config)
    assert [p.plate for p in store.recent(camera.camera_id)] == ["GBL12X"]
    log = RejectionLog(central_setup.config.rejections_path)
    assert log.latest(1)[0]["integrity"] == 1


def _with_envelope(payload: bytes, change) -> bytes:
    envelope = json.loads(payload)
    change(envelope)
    return json.dumps(envelope).encode()


def _good(camera, **changes) -> bytes:
    changes.setdefault("captured_at", recent_time())
    return encode_passage(make_passage(camera.key, **changes), camera.key)


REJECTIONS = {
    "malformed": lambda camera: b"\x00 not json at all",
    "oversized": lambda camera: b"{" + b" " * (3 * 1024 * 1024 + 10) + b"}",
    "unknown_version": lambda camera: _with_envelope(
        _good(camera), lambda e: e["record"].update(v=9)
    ),
    "unsigned": lambda camera: _with_envelope(_good(camera), lambda e: e.pop("sig")),
    "bad_signature": lambda camera: _with_envelope(
        _good(camera), lambda e: e["record"].update(plate="XX000X")
    ),
    "image_digest_mismatch": lambda camera: _with_envelope(
        _good(camera),
        lambda e: e.update(overview_jpeg=base64.b64encode(b"\xff\xd8\xff other").decode()),
    ),
    "clock_skew": lambda camera: _good(camera, captured_at=recent_time() + timedelta(minutes=6)),
}


@pytest.mark.parametrize("reason", sorted(REJECTIONS))
def test_each_rejection_is_logged_with_its_reason_and_nothing_is_stored(
    reason, ingest, peer, camera, central_setup
):
    peer.publish(passage_topic(camera.camera_id), REJECTIONS[reason](camera))
    wait_until(lambda: reason in rejection_reasons(central_setup), what=f"rejection {reason}")
    assert ingest.counters[f"rejected_{reason}"] == 1
    assert open_store(central_setup.config).count() == 0


def test_rejection_with_known_sequence_is_reported_to_the_camera(ingest, peer, camera, ack_key):
    payload = _good(camera, seq=5, captured_at=recent_time() + timedelta(hours=1))
    peer.publish(passage_topic(camera.camera_id), payload)
    ack = peer.next_ack(ack_key)
    assert [(r.seq, r.reason) for r in ack.rejected] == [(5, "clock_skew")]


def test_small_clock_drift_is_accepted(ingest, peer, camera, ack_key):
    payload = _good(camera, seq=2, captured_at=recent_time() + timedelta(minutes=4))
    peer.publish(passage_topic(camera.camera_id), payload)
    assert peer.next_ack(ack_key).seqs == (2,)


def test_unknown_camera_is_refused(ingest, mosquitto, central_setup):
    stranger = SigningKey.generate()
    peer = Peer(mosquitto.port, "stranger-cam")
    try:
        payload = encode_passage(
            make_passage(stranger, camera_id="stranger-cam", captured_at=recent_time()), stranger
        )
        peer.publish(passage_topic("stranger-cam"), payload)
        wait_until(lambda: "unknown_camera" in rejection_reasons(central_setup))
        assert peer.acks.empty()
    finally:
        peer.close()


def test_record_under_another_cameras_topic_is_refused(
    ingest, peer, camera, central_setup, tmp_path
):
    other = register_camera(central_setup, "other-cam-02", tmp_path / "other")
    payload = encode_passage(
        make_passage(other.key, camera_id="other-cam-02", captured_at=recent_time()), other.key
    )
    peer.publish(passage_topic(camera.camera_id), payload)
    wait_until(lambda: "topic_mismatch" in rejection_reasons(central_setup))
    assert open_store(central_setup.config).count() == 0


def test_key_of_another_registered_camera_does_not_verify(
    ingest, peer, camera, central_setup, tmp_path
):
    other = register_camera(central_setup, "other-cam-03", tmp_path / "other")
    payload = encode_passage(
        make_passage(other.key, camera_id=camera.camera_id, captured_at=recent_time()), other.key
    )
    peer.publish(passage_topic(camera.camera_id), payload)
    wait_until(lambda: "bad_signature" in rejection_reasons(central_setup))


def test_camera_outside_the_plan_is_offered_to_hotlists_but_never_stored(
    mosquitto, central_setup, tmp_path, ack_key
):
    outsider = register_camera(central_setup, "traffic-cam-07", tmp_path / "o", designate=False)
    key = load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    worker = IngestWorker(central_setup.config, key)
    offered = []
    worker.passage_listeners.append(lambda verified: offered.append(verified.record.seq))
    worker.start()
    peer = Peer(mosquitto.port, outsider.camera_id)
    try:
        assert worker.subscribed.wait(10)
        payload = encode_passage(
            make_passage(outsider.key, camera_id=outsider.camera_id, captured_at=recent_time()),
            outsider.key,
        )
        peer.publish(passage_topic(outsider.camera_id), payload)
        assert peer.next_ack(ack_key).seqs == (1,), "dealt with, so acknowledged"
    finally:
        peer.close()
        worker.stop()
    assert offered == [1]
    assert worker.counters["not_in_plan_discarded"] == 1
    assert open_store(central_setup.config).count() == 0
    assert not list((central_setup.config.storage.data_dir / "passages").glob("*.sqlite"))


def test_designation_applies_at_capture_time(central_setup, camera):
    from central.cameras import CameraRegistry

    registry = CameraRegistry(central_setup.config.cameras_path)
    now = datetime.now(UTC)
    registry.add("new-cam-09", SigningKey.generate().verify_key, now)
    registry.designate("new-cam-09", now - timedelta(days=2), now - timedelta(days=1), "p", now)
    assert registry.designated("new-cam-09", now - timedelta(days=1, hours=12))
    assert not registry.designated("new-cam-09", now - timedelta(days=3))
    assert not registry.designated("new-cam-09", now - timedelta(hours=1))
    registry.close()


def test_passage_older_than_28_days_on_arrival_is_acknowledged_not_stored(
    ingest, peer, camera, central_setup, ack_key
):
    old = recent_time() - timedelta(days=28, minutes=1)
    peer.publish(passage_topic(camera.camera_id), _good(camera, seq=4, captured_at=old))
    assert peer.next_ack(ack_key).seqs == (4,)
    assert ingest.counters["expired_on_arrival"] == 1
    assert open_store(central_setup.config).count() == 0


def test_verification_in_worker_processes_gives_the_same_outcomes(
    mosquitto, central_setup, camera, ack_key
):
    config = central_setup.config.model_copy(
        update={"ingest": central_setup.config.ingest.model_copy(update={"verify_workers": 1})}
    )
    worker = IngestWorker(config, load_signing_key(config.secrets.ack_signing_key_file))
    worker.start()
    peer = Peer(mosquitto.port, camera.camera_id)
    try:
        assert worker.subscribed.wait(10)
        good = encode_passage(
            make_passage(camera.key, seq=1, captured_at=recent_time()), camera.key
        )
        peer.publish(passage_topic(camera.camera_id), good)
        assert peer.next_ack(ack_key, timeout=30).seqs == (1,)
        peer.publish(passage_topic(camera.camera_id), REJECTIONS["bad_signature"](camera))
        wait_until(lambda: worker.counters["rejected_bad_signature"] == 1, timeout=30)
    finally:
        peer.close()
        worker.stop()
    assert open_store(config).count() == 1
