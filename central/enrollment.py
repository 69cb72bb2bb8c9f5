"""One-time enrollment tokens: how a unit on the roadside registers its keys at the central.

An administrator issues a token for one camera id; the technician's provisioning tool
presents it once, with the unit's public signing key and TLS certificate fingerprint. Only
the token's SHA-256 is stored; a token is single-use, expires, and is bound to its camera.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from central.cameras import CameraRegistry, CameraRegistryError
from wire import VerifyKey
from wire.fields import CAMERA_ID, format_timestamp

log = logging.getLogger(__name__)


class EnrollmentRefused(Exception):
    """The enrollment request is not allowed; the message is safe to show the technician."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    registry: CameraRegistry, camera_id: str, by: str, now: datetime, valid: timedelta
) -> str:
    if not CAMERA_ID.fullmatch(camera_id):
        raise CameraRegistryError(f"camera id {camera_id!r} is not valid")
    # Hex, not URL-safe base64: a token starting with "-" was read by `register --token` as
    # an option (1 token in 64; found by the full suite).
    token = secrets.token_hex(32)
    registry.db.execute(
        "INSERT INTO enrollment_tokens (token_sha256, camera_id, created_by, created_at, "
        "expires_at) VALUES (?, ?, ?, ?, ?)",
        (_digest(token), camera_id, by, format_timestamp(now), format_timestamp(now + valid)),
    )
    return token


def enroll(
    registry: CameraRegistry,
    token: str,
    camera_id: str,
    public_key_b64: str,
    tls_fingerprint: str,
    now: datetime,
) -> VerifyKey:
    """Register the unit's key (or add it as a rotation) if the token allows it."""
    row = registry.db.execute(
        "SELECT token_sha256, camera_id, expires_at, used_at FROM enrollment_tokens "
        "WHERE token_sha256 = ?",
        (_digest(token),),
    ).fetchone()
    if row is None or not hmac.compare_digest(row[1], camera_id):
        log.warning("enrollment: refused an unknown token for camera %s", camera_id)
        raise EnrollmentRefused("unknown enrollment token for this camera")
    if row[3] is not None:
        log.warning("enrollment: token for %s presented again", camera_id)
        raise EnrollmentRefused("this enrollment token has already been used")
    if row[2] <= format_timestamp(now):
        raise EnrollmentRefused("this enrollment token has expired; ask for a new one")
    if len(tls_fingerprint) != 64 or any(c not in "0123456789abcdef" for c in tls_fingerprint):
        raise EnrollmentRefused("tls_fingerprint must be the certificate's SHA-256 in hex")
    key = VerifyKey.from_b64(public_key_b64)
    registry.db.execute("BEGIN IMMEDIATE")
    try:
        # Used once, whichever node or process is first: the check above was outside
        # the write lock, so the mark says whether this call is the one.
        marked = registry.db.execute(
            "UPDATE enrollment_tokens SET used_at = ? WHERE token_sha256 = ? AND used_at IS NULL",
            (format_timestamp(now), row[0]),
        ).rowcount
        if marked != 1:
            log.warning("enrollment: token for %s used twice at once", camera_id)
            raise EnrollmentRefused("this enrollment token has already been used")
        if registry.get(camera_id) is None:
            registry.insert_camera(camera_id, key, now, "enrolled with a one-time token")
        else:
            registry.insert_key(camera_id, key, now)
        registry.db.execute(
            "UPDATE cameras SET tls_fingerprint = ? WHERE camera_id = ?",
            (tls_fingerprint, camera_id),
        )
        registry.db.execute("COMMIT")
    except BaseException:
        registry.db.execute("ROLLBACK")
        raise
    log.info("enrollment: camera %s enrolled with key %s", camera_id, key.key_id)
    return key
