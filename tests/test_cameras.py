"""Camera keys: a rotation keeps spooled records verifiable until the old key is retired;
the camera plan's designations say when a camera may fill the 28-day store. On each backend
of the central's stores (#21)."""

from datetime import UTC, datetime, timedelta

import pytest

from central.cameras import CameraRegistry, CameraRegistryError
from central.ingest.admission import admit_passage
from central.ingest.refusal import Refusal
from central.periods import FOREVER
from tests.conftest import make_passage
from wire import SigningKey, encode_passage

NOW = datetime(2026, 11, 22, 12, 0, 5, tzinfo=UTC)
SKEW = timedelta(minutes=5)


@pytest.fixture
def registry(store_location):
    registry = CameraRegistry(store_location("cameras"))
    yield registry
    registry.close()


def admit(registry, key, seq):
    payload = encode_passage(make_passage(key, seq=seq), key)
    return admit_passage(payload, "test-cam-01", registry, NOW, SKEW)


def test_rotation_accepts_both_keys_then_only_the_new_one(registry):
    old, new = SigningKey.generate(), SigningKey.generate()
    registry.add("test-cam-01", old.verify_key, NOW)
    registry.add_key("test-cam-01", new.verify_key, NOW)
    assert admit(registry, old, 1).record.seq == 1
    assert admit(registry, new, 2).record.seq == 2

    registry.retire_key("test-cam-01", old.key_id, NOW)
    refused = admit(registry, old, 3)
    assert isinstance(refused, Refusal) and refused.reason == "bad_signature"
    assert admit(registry, new, 4).record.seq == 4


def test_rotation_mistakes_are_refused_with_advice(registry):
    first, second, third = (SigningKey.generate() for _ in range(3))
    registry.add("test-cam-01", first.verify_key, NOW)
    with pytest.raises(CameraRegistryError, match="camera-add-key"):
        registry.add("test-cam-01", second.verify_key, NOW)
    with pytest.raises(CameraRegistryError, match="only active key"):
        registry.retire_key("test-cam-01", first.key_id, NOW)
    registry.add_key("test-cam-01", second.verify_key, NOW)
    with pytest.raises(CameraRegistryError, match="two active keys"):
        registry.add_key("test-cam-01", third.verify_key, NOW)
    with pytest.raises(CameraRegistryError, match="not registered"):
        registry.add_key("no-such-cam", third.verify_key, NOW)


def test_camera_id_rules(registry):
    with pytest.raises(CameraRegistryError, match="lower-case"):
        registry.add("Cam 1", SigningKey.generate().verify_key, NOW)


def test_designations_say_when_a_camera_may_store(registry):
    key = SigningKey.generate()
    registry.add("test-cam-01", key.verify_key, NOW, note="A12 km 34")
    assert [c.camera_id for c in registry.all()] == ["test-cam-01"]
    assert registry.signing_key("test-cam-01", key.key_id).b64 == key.verify_key.b64
    registry.designate("test-cam-01", NOW, NOW + timedelta(days=2), "plan 2026 v1", NOW)
    assert registry.designated("test-cam-01", NOW + timedelta(days=1))
    assert not registry.designated("test-cam-01", NOW + timedelta(days=2))
    registry.replace_plan_designations("test-cam-01", [(NOW + timedelta(days=5), FOREVER)], NOW)
    registry.replace_plan_designations("test-cam-01", [(NOW + timedelta(days=9), FOREVER)], NOW)
    assert [(d["source"], d["valid_until"]) for d in registry.designations("test-cam-01")] == [
        ("manual", "2026-11-24T12:00:05.000Z"), ("plan", None),
    ]  # fmt: skip
    assert not registry.designated("test-cam-01", NOW + timedelta(days=6))
    assert registry.designated("test-cam-01", NOW + timedelta(days=400))
    with pytest.raises(CameraRegistryError, match="end after it starts"):
        registry.designate("test-cam-01", NOW, NOW, "plan 2026 v1", NOW)
    with pytest.raises(CameraRegistryError, match="not registered"):
        registry.designate("no-such-cam", NOW, None, "plan 2026 v1", NOW)


def test_a_batch_reads_its_cameras_at_once_and_sees_what_each_read_would(registry):
    """Ingest's batch view (two and one queries for the batch's cameras) answers as the
    per-camera reads do: active keys only, plan periods, unknown cameras absent."""
    from central.ingest.stages import BatchCameras

    old, new = SigningKey.generate(), SigningKey.generate()
    registry.add("test-cam-01", old.verify_key, NOW)
    registry.add_key("test-cam-01", new.verify_key, NOW)
    registry.retire_key("test-cam-01", old.key_id, NOW)
    registry.add("test-cam-02", old.verify_key, NOW)
    registry.designate("test-cam-01", NOW - timedelta(days=2), NOW - timedelta(days=1), "v1", NOW)
    registry.designate("test-cam-01", NOW, None, "v2", NOW)
    ids = ["test-cam-01", "test-cam-02", "unknown-cam-9"]
    batch = BatchCameras(registry, ids)
    for camera_id in ids:
        assert batch.get(camera_id) == registry.get(camera_id)
        for at in (NOW - timedelta(days=3), NOW - timedelta(hours=36), NOW - timedelta(hours=1),
                   NOW + timedelta(days=400)):  # fmt: skip
            assert batch.designated(camera_id, at) == registry.designated(camera_id, at)
    assert batch.get("test-cam-01").keys == (new.verify_key,)
