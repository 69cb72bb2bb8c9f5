"""Whether one received record may enter the central: the checks, in order, as pure code.

Decoding, camera lookup, topic/record agreement, signature and clock skew. Kept apart from
the MQTT plumbing so each rejection path is tested directly and named by its reason. Every
function returns the verified record or a `Refusal`; none raises for a bad record.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from central.cameras import Camera, CameraRegistry
from central.ingest.refusal import Refusal
from wire import Heartbeat, Passage, Unverified, Verified, WireError, decode_heartbeat
from wire import decode_passage as _decode_passage


def admit_passage(
    payload: bytes,
    topic_camera: str,
    registry: CameraRegistry,
    now: datetime,
    max_future_skew: timedelta,
) -> Verified[Passage] | Refusal:
    verified = verify_passage(payload, topic_camera, registry.get(topic_camera))
    if isinstance(verified, Refusal):
        return verified
    return check_skew(verified, now, max_future_skew) or verified


def verify_passage(
    payload: bytes, topic_camera: str, camera: Camera | None
) -> Verified[Passage] | Refusal:
    """Decode and verify against the camera's keys: the expensive part, free of I/O, so it
    can run in a worker process."""
    try:
        unverified = _decode_passage(payload)
    except WireError as exc:
        return Refusal.of(exc, topic_camera)
    return _verify(unverified, topic_camera, camera)


def check_skew(
    verified: Verified[Passage], now: datetime, max_future_skew: timedelta
) -> Refusal | None:
    if verified.record.captured_at <= now + max_future_skew:
        return None
    return Refusal(
        "clock_skew",
        f"captured_at {verified.record.captured_at.isoformat()} is more than "
        f"{int(max_future_skew.total_seconds())} s ahead of the central's clock",
        verified.record.camera_id,
        verified.record.seq,
    )


def admit_heartbeat(
    payload: bytes, topic_camera: str, registry: CameraRegistry
) -> Verified[Heartbeat] | Refusal:
    try:
        unverified = decode_heartbeat(payload)
    except WireError as exc:
        return Refusal.of(exc, topic_camera)
    return _verify(unverified, topic_camera, registry.get(topic_camera))


def _verify(unverified: Unverified, topic_camera: str, camera: Camera | None) -> Verified | Refusal:
    if unverified.camera_id != topic_camera:
        return Refusal(
            "topic_mismatch",
            f"record of camera {unverified.camera_id} published under camera {topic_camera}",
            topic_camera,
            unverified.seq,
        )
    if camera is None:
        return Refusal(
            "unknown_camera",
            f"camera {unverified.camera_id} is not registered",
            unverified.camera_id,
            unverified.seq,
        )
    key = camera.key(unverified.key_id)
    if key is None:
        return Refusal(
            "bad_signature",
            f"key {unverified.key_id} is not an active key of camera {camera.camera_id}",
            unverified.camera_id,
            unverified.seq,
        )
    try:
        return unverified.verify(key)
    except WireError as exc:
        return Refusal.of(exc, unverified.camera_id, unverified.seq)
