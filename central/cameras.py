"""Which cameras may deliver, and with which public key.

Every camera that may deliver: its id, its Ed25519 public keys, when it was registered,
and the periods in which its passages may enter the 28-day store (written by the camera
plan, central/plan/). A record from a camera not registered here is
refused; a record naming a key that is not registered (or retired) for its camera does not
verify. A camera may hold two keys during a rotation, so records spooled under the old key
still verify until the technician retires it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.databases import StoreLocation, open_database
from central.periods import FOREVER
from wire import VerifyKey
from wire.fields import CAMERA_ID, format_timestamp

MIGRATIONS = [
    (
        "0001_cameras",
        """
        CREATE TABLE cameras (
            camera_id       TEXT PRIMARY KEY,
            registered_at   TEXT NOT NULL,
            note            TEXT NOT NULL DEFAULT '',
            tls_fingerprint TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE camera_keys (
            camera_id     TEXT NOT NULL REFERENCES cameras (camera_id),
            key_id        TEXT NOT NULL,
            public_key    TEXT NOT NULL,
            added_at      TEXT NOT NULL,
            retired_at    TEXT,
            PRIMARY KEY (camera_id, key_id)
        );
        CREATE TABLE designations (
            id            INTEGER PRIMARY KEY,
            camera_id     TEXT NOT NULL REFERENCES cameras (camera_id),
            valid_from    TEXT NOT NULL,
            valid_until   TEXT,
            plan_version  TEXT NOT NULL,
            recorded_at   TEXT NOT NULL,
            source        TEXT NOT NULL DEFAULT 'manual'
        );
        CREATE INDEX designations_camera ON designations (camera_id, valid_from);
        CREATE TABLE enrollment_tokens (
            token_sha256  TEXT PRIMARY KEY,
            camera_id     TEXT NOT NULL,
            created_by    TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            expires_at    TEXT NOT NULL,
            used_at       TEXT
        )
        """,
    ),
]


class CameraRegistryError(Exception):
    """A camera registration request cannot be carried out."""


@dataclass(frozen=True)
class Camera:
    camera_id: str
    keys: tuple[VerifyKey, ...]
    registered_at: str
    note: str

    def key(self, key_id: str) -> VerifyKey | None:
        """The active key with this id, or None."""
        return next((key for key in self.keys if key.key_id == key_id), None)


class CameraRegistry:
    def __init__(self, path: StoreLocation) -> None:
        from central.purposes import MIGRATIONS as PURPOSE_MIGRATIONS
        from central.purposes import CameraPurposes

        self.db = open_database(path, MIGRATIONS + PURPOSE_MIGRATIONS)
        self.purposes = CameraPurposes(self.db)

    def close(self) -> None:
        self.db.close()

    def add(self, camera_id: str, key: VerifyKey, now: datetime, note: str = "") -> Camera:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            camera = self.insert_camera(camera_id, key, now, note)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return camera

    def insert_camera(self, camera_id: str, key: VerifyKey, now: datetime, note: str) -> Camera:
        """Register a camera and its first key (inside the caller's transaction)."""
        if not CAMERA_ID.fullmatch(camera_id):
            raise CameraRegistryError(
                f"camera id {camera_id!r}: use lower-case letters, digits and '-', 3-64 chars"
            )
        if self.get(camera_id) is not None:
            raise CameraRegistryError(
                f"camera {camera_id} is already registered; to rotate its key use camera-add-key"
            )
        registered = format_timestamp(now)
        self.db.execute(
            "INSERT INTO cameras (camera_id, registered_at, note) VALUES (?, ?, ?)",
            (camera_id, registered, note),
        )
        self._insert_key(camera_id, key, registered)
        return Camera(camera_id, (key,), registered, note)

    def add_key(self, camera_id: str, key: VerifyKey, now: datetime) -> None:
        """Start a rotation: the new key verifies from now on, beside the old one."""
        self.insert_key(camera_id, key, now)

    def insert_key(self, camera_id: str, key: VerifyKey, now: datetime) -> None:
        camera = self._require(camera_id)
        if camera.key(key.key_id) is not None:
            raise CameraRegistryError(f"key {key.key_id} is already active for {camera_id}")
        if len(camera.keys) >= 2:
            raise CameraRegistryError(
                f"camera {camera_id} already has two active keys; retire one first"
            )
        self._insert_key(camera_id, key, format_timestamp(now))

    def retire_key(self, camera_id: str, key_id: str, now: datetime) -> None:
        """End a rotation: records signed with this key are refused from now on."""
        camera = self._require(camera_id)
        if camera.key(key_id) is None:
            raise CameraRegistryError(f"camera {camera_id} has no active key {key_id}")
        if len(camera.keys) == 1:
            raise CameraRegistryError(
                f"key {key_id} is the only active key of {camera_id}; add the new key first"
            )
        self.db.execute(
            "UPDATE camera_keys SET retired_at = ? WHERE camera_id = ? AND key_id = ?",
            (format_timestamp(now), camera_id, key_id),
        )

    def _insert_key(self, camera_id: str, key: VerifyKey, added: str) -> None:
        self.db.execute(
            "INSERT INTO camera_keys (camera_id, key_id, public_key, added_at) VALUES (?, ?, ?, ?)",
            (camera_id, key.key_id, key.b64, added),
        )

    def signing_key(self, camera_id: str, key_id: str) -> VerifyKey | None:
        """The key `key_id` of the camera, retired or not: stored records signed before a
        rotation are still checked under the key that signed them."""
        row = self.db.execute(
            "SELECT public_key FROM camera_keys WHERE camera_id = ? AND key_id = ?",
            (camera_id, key_id),
        ).fetchone()
        return None if row is None else VerifyKey.from_b64(row[0])

    def key_history(self, camera_id: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT key_id, added_at, retired_at FROM camera_keys WHERE camera_id = ? "
            "ORDER BY added_at",
            (camera_id,),
        )
        return [{"key_id": r[0], "added_at": r[1], "retired_at": r[2]} for r in rows]

    def _require(self, camera_id: str) -> Camera:
        camera = self.get(camera_id)
        if camera is None:
            raise CameraRegistryError(f"camera {camera_id} is not registered")
        return camera

    def get(self, camera_id: str) -> Camera | None:
        return self.get_many([camera_id]).get(camera_id)

    def get_many(self, camera_ids: list[str]) -> dict[str, Camera]:
        """The registered cameras among these ids with their active keys, oldest first, in
        two queries (ingest reads a whole batch's cameras so)."""
        ids = sorted(set(camera_ids))
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        keys: dict[str, list[VerifyKey]] = {}
        for camera_id, public_key in self.db.execute(
            f"SELECT camera_id, public_key FROM camera_keys WHERE camera_id IN ({marks}) "
            "AND retired_at IS NULL ORDER BY camera_id, added_at",
            ids,
        ):
            keys.setdefault(camera_id, []).append(VerifyKey.from_b64(public_key))
        rows = self.db.execute(
            f"SELECT camera_id, registered_at, note FROM cameras WHERE camera_id IN ({marks})",
            ids,
        )
        return {row[0]: Camera(row[0], tuple(keys.get(row[0], ())), row[1], row[2])
                for row in rows}  # fmt: skip

    def periods_many(self, camera_ids: list[str]) -> dict[str, list[tuple[str, str | None]]]:
        """Each camera's plan periods (valid_from, valid_until or None), in one query."""
        ids = sorted(set(camera_ids))
        found: dict[str, list[tuple[str, str | None]]] = {camera_id: [] for camera_id in ids}
        if ids:
            for camera_id, start, until in self.db.execute(
                "SELECT camera_id, valid_from, valid_until FROM designations "
                f"WHERE camera_id IN ({', '.join('?' * len(ids))})",
                ids,
            ):
                found[camera_id].append((start, until))
        return found

    def all(self) -> list[Camera]:
        rows = self.db.execute("SELECT camera_id FROM cameras ORDER BY camera_id").fetchall()
        return [self.get(row[0]) for row in rows]

    def designate(
        self,
        camera_id: str,
        valid_from: datetime,
        valid_until: datetime | None,
        plan_version: str,
        now: datetime,
    ) -> None:
        """Record that the camera plan names this camera for a period (minimal plan registry).

        Until the versioned camera plan exists, this table says which registered cameras
        may fill the 28-day store, and when.
        """
        self._require(camera_id)
        if valid_until is not None and valid_until <= valid_from:
            raise CameraRegistryError("a designation must end after it starts")
        if not plan_version.strip():
            raise CameraRegistryError("name the camera plan version that designates the camera")
        self.db.execute(
            "INSERT INTO designations (camera_id, valid_from, valid_until, plan_version, "
            "recorded_at) VALUES (?, ?, ?, ?, ?)",
            (
                camera_id,
                format_timestamp(valid_from),
                format_timestamp(valid_until) if valid_until else None,
                plan_version,
                format_timestamp(now),
            ),
        )

    def replace_plan_designations(
        self, camera_id: str, periods: list[tuple[datetime, datetime]], now: datetime
    ) -> None:
        """The camera plan's effective periods for this camera, replacing earlier ones."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "DELETE FROM designations WHERE camera_id = ? AND source = 'plan'", (camera_id,)
            )
            for start, end in periods:
                self.db.execute(
                    "INSERT INTO designations (camera_id, valid_from, valid_until, plan_version, "
                    "recorded_at, source) VALUES (?, ?, ?, 'camera plan', ?, 'plan')",
                    (
                        camera_id,
                        format_timestamp(start),
                        None if end >= FOREVER else format_timestamp(end),
                        format_timestamp(now),
                    ),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def designations(self, camera_id: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT valid_from, valid_until, plan_version, source FROM designations "
            "WHERE camera_id = ? ORDER BY valid_from",
            (camera_id,),
        )
        keys = ("valid_from", "valid_until", "plan_version", "source")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def designated(self, camera_id: str, at: datetime) -> bool:
        """Was the camera in the camera plan at this moment?"""
        moment = format_timestamp(at)
        row = self.db.execute(
            "SELECT 1 FROM designations WHERE camera_id = ? AND valid_from <= ? "
            "AND (valid_until IS NULL OR valid_until > ?) LIMIT 1",
            (camera_id, moment, moment),
        ).fetchone()
        return row is not None
