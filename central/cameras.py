"""Which cameras may deliver, and with which public key.

The seed of the camera plan registry: a camera id, its Ed25519 public key, when it was
registered, and its latest signed heartbeat. A record from a camera not registered here is
refused; a record naming a key other than the registered one does not verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from central.store.migrations import apply_migrations, connect
from wire import Heartbeat, VerifyKey
from wire.fields import CAMERA_ID, format_timestamp

MIGRATIONS = [
    (
        "0001_cameras",
        """
        CREATE TABLE cameras (
            camera_id     TEXT PRIMARY KEY,
            public_key    TEXT NOT NULL,
            key_id        TEXT NOT NULL,
            registered_at TEXT NOT NULL,
            note          TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE heartbeats (
            camera_id   TEXT PRIMARY KEY REFERENCES cameras (camera_id),
            sent_at     TEXT NOT NULL,
            received_at TEXT NOT NULL,
            record      TEXT NOT NULL
        )
        """,
    ),
]


class CameraRegistryError(Exception):
    """A camera registration request cannot be carried out."""


@dataclass(frozen=True)
class Camera:
    camera_id: str
    key: VerifyKey
    registered_at: str
    note: str


class CameraRegistry:
    def __init__(self, path: Path, readonly: bool = False) -> None:
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = connect(path, readonly=readonly)
        if not readonly:
            apply_migrations(self.db, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def add(self, camera_id: str, key: VerifyKey, now: datetime, note: str = "") -> Camera:
        if not CAMERA_ID.fullmatch(camera_id):
            raise CameraRegistryError(
                f"camera id {camera_id!r}: use lower-case letters, digits and '-', 3-64 chars"
            )
        if self.get(camera_id) is not None:
            raise CameraRegistryError(f"camera {camera_id} is already registered")
        registered = format_timestamp(now)
        self.db.execute(
            "INSERT INTO cameras (camera_id, public_key, key_id, registered_at, note) "
            "VALUES (?, ?, ?, ?, ?)",
            (camera_id, key.b64, key.key_id, registered, note),
        )
        return Camera(camera_id, key, registered, note)

    def get(self, camera_id: str) -> Camera | None:
        row = self.db.execute(
            "SELECT camera_id, public_key, registered_at, note FROM cameras WHERE camera_id = ?",
            (camera_id,),
        ).fetchone()
        if row is None:
            return None
        return Camera(row[0], VerifyKey.from_b64(row[1]), row[2], row[3])

    def all(self) -> list[Camera]:
        rows = self.db.execute(
            "SELECT camera_id, public_key, registered_at, note FROM cameras ORDER BY camera_id"
        )
        return [Camera(r[0], VerifyKey.from_b64(r[1]), r[2], r[3]) for r in rows]

    def record_heartbeat(self, heartbeat: Heartbeat, canonical: bytes, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO heartbeats (camera_id, sent_at, received_at, record) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (camera_id) DO UPDATE SET sent_at = excluded.sent_at, "
            "received_at = excluded.received_at, record = excluded.record "
            "WHERE excluded.sent_at > heartbeats.sent_at",
            (
                heartbeat.camera_id,
                format_timestamp(heartbeat.sent_at),
                format_timestamp(now),
                canonical.decode("ascii"),
            ),
        )

    def last_heartbeat(self, camera_id: str) -> dict | None:
        row = self.db.execute(
            "SELECT sent_at, received_at, record FROM heartbeats WHERE camera_id = ?",
            (camera_id,),
        ).fetchone()
        if row is None:
            return None
        return {"sent_at": row[0], "received_at": row[1], "record": row[2]}
