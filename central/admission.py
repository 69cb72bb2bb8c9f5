"""Whether one received record may enter the central: the checks, in order, as pure code.

Decoding, camera lookup, topic/record agreement, signature and clock skew. Kept apart from
the MQTT plumbing so each rejection path is tested directly and named by its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from central.cameras import Camera, CameraRegistry
from wire import Heartbeat, Passage, Unverified, Verified, WireError, decode_heartbeat
from wire import decode_passage as _decode_passage
from wire.errors import MalformedRecord


@dataclass(eq=False)
class Refused(Exception):
    reason: str
    detail: str
    camera_id: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def admit_passage(
    payload: bytes,
    topic_camera: str,
    registry: CameraRegistry,
    now: datetime,
    max_future_skew: timedelta,
) -> Verified[Passage]:
    verified = verify_passage(payload, topic_camera, registry.get(topic_camera))
    check_skew(verified, now, max_future_skew)
    return verified


def verify_passage(payload: bytes, topic_camera: str, camera: Camera | None) -> Verified[Passage]:
    """Decode and verify against the camera's keys: the expensive part, free of I/O, so it
    can run in a worker process."""
    try:
        unverified = _decode_passage(payload)
    except WireError as exc:
        raise Refused(exc.reason, str(exc), topic_camera) from None
    return _verify(unverified, topic_camera, camera)


def check_skew(verified: Verified[Passage], now: datetime, max_future_skew: timedelta) -> None:
    if verified.record.captured_at > now + max_future_skew:
        raise Refused(
            "clock_skew",
            f"captured_at {verified.record.captured_at.isoformat()} is more than "
            f"{int(max_future_skew.total_seconds())} s ahead of the central's clock",
            verified.record.camera_id,
            verified.record.seq,
        )


def admit_heartbeat(
    payload: bytes, topic_camera: str, registry: CameraRegistry
) -> Verified[Heartbeat]:
    try:
        unverified = decode_heartbeat(payload)
    except WireError as exc:
        raise Refused(exc.reason, str(exc), topic_camera) from None
    return _verify(unverified, topic_camera, registry.get(topic_camera))


def _verify(unverified: Unverified, topic_camera: str, camera: Camera | None) -> Verified:
    if unverified.camera_id != topic_camera:
        raise Refused(
            "topic_mismatch",
            f"record of camera {unverified.camera_id} published under camera {topic_camera}",
            topic_camera,
            unverified.seq,
        )
    if camera is None:
        raise Refused(
            "unknown_camera",
            f"camera {unverified.camera_id} is not registered",
            unverified.camera_id,
            unverified.seq,
        )
    key = camera.key(unverified.key_id)
    if key is None:
        raise Refused(
            "bad_signature",
            f"key {unverified.key_id} is not an active key of camera {camera.camera_id}",
            unverified.camera_id,
            unverified.seq,
        )
    try:
        return unverified.verify(key)
    except WireError as exc:
        raise Refused(exc.reason, str(exc), unverified.camera_id, unverified.seq) from None


__all__ = ["MalformedRecord", "Refused", "admit_heartbeat", "admit_passage"]
