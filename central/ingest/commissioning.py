"""Admission of a commissioning report (#22): decoded and verified against the camera's
registered keys; a report that does not verify is refused, counted and never kept."""

from __future__ import annotations

from central.cameras import Camera
from central.ingest.refusal import Refusal
from wire import Verified, WireError
from wire.commissioning import CommissioningReport, decode_commissioning


def admit_report(
    payload: bytes, topic_camera: str, camera: Camera | None
) -> Verified[CommissioningReport] | Refusal:
    """Decode and verify a report against the camera's active keys; a Refusal otherwise.

    Refusals never name a sequence number: a report is not a passage, and its refusal must
    not reach the unit's passage acknowledgements."""
    try:
        unverified = decode_commissioning(payload)
    except WireError as exc:
        return Refusal.of(exc, topic_camera)
    if unverified.camera_id != topic_camera:
        return Refusal("topic_mismatch", f"report of camera {unverified.camera_id} published "
                       f"under camera {topic_camera}", topic_camera)  # fmt: skip
    if camera is None:
        return Refusal("unknown_camera", f"camera {topic_camera} is not registered", topic_camera)
    key = camera.key(unverified.key_id)
    if key is None:
        return Refusal("bad_signature", f"key {unverified.key_id} is not an active key of "
                       f"camera {topic_camera}", topic_camera)  # fmt: skip
    try:
        return unverified.verify(key)
    except WireError as exc:
        return Refusal.of(exc, topic_camera)
