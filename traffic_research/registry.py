"""The research side's own register of cameras and the day keys of each research area.

Cameras are entered with their signing key (to check their batches) and their research
key (X25519, to seal day keys to them alone). A day key is made per area and UTC day ahead
of time, handed to the units sealed, and destroyed once its day has closed: after that no
hash of that day can be linked to a plate, even by someone holding the list of all plates.
"""

from __future__ import annotations

import base64
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from wire import VerifyKey
from wire.fields import CAMERA_ID, format_timestamp
from wire.research import AREA, DayKey

log = logging.getLogger("traffic_research.registry")
SCHEMA = """
CREATE TABLE IF NOT EXISTS cameras (
    camera_id    TEXT PRIMARY KEY,
    area         TEXT NOT NULL,
    verify_key   TEXT NOT NULL,
    research_key TEXT NOT NULL,
    added_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS day_keys (
    area       TEXT NOT NULL,
    day        TEXT NOT NULL,
    key        BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (area, day)
);
CREATE TABLE IF NOT EXISTS destroyed_day_keys (
    area         TEXT NOT NULL,
    day          TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    destroyed_at TEXT NOT NULL
);
"""


class RegistryError(Exception):
    """A camera or key cannot be entered as asked."""


@dataclass(frozen=True)
class ResearchCamera:
    camera_id: str
    area: str
    verify_key: VerifyKey
    research_key: bytes  # the unit's X25519 public key


class Registry:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA secure_delete=ON")
        self.db.executescript(SCHEMA)
        os.chmod(path, 0o600)

    def close(self) -> None:
        self.db.close()

    def add_camera(
        self, camera_id: str, area: str, verify_key: VerifyKey, research_key: bytes,
        now: datetime,
    ) -> None:  # fmt: skip
        if not CAMERA_ID.fullmatch(camera_id):
            raise RegistryError(f"camera id {camera_id!r} is not valid")
        if not AREA.fullmatch(area):
            raise RegistryError(f"area {area!r}: lower-case letters, digits and '-'")
        if len(research_key) != 32:
            raise RegistryError("a research key is an X25519 public key of 32 bytes")
        self.db.execute(
            "INSERT OR REPLACE INTO cameras VALUES (?, ?, ?, ?, ?)",
            (camera_id, area, verify_key.b64, base64.b64encode(research_key).decode(),
             format_timestamp(now)),
        )  # fmt: skip

    def cameras(self, area: str | None = None) -> list[ResearchCamera]:
        rows = self.db.execute(
            "SELECT camera_id, area, verify_key, research_key FROM cameras "
            "WHERE ? IS NULL OR area = ? ORDER BY camera_id",
            (area, area),
        )
        return [ResearchCamera(c, a, VerifyKey.from_b64(v), base64.b64decode(r))
                for c, a, v, r in rows]  # fmt: skip

    def camera(self, camera_id: str) -> ResearchCamera | None:
        row = self.db.execute(
            "SELECT camera_id, area, verify_key, research_key FROM cameras WHERE camera_id = ?",
            (camera_id,),
        ).fetchone()
        if row is None:
            return None
        return ResearchCamera(row[0], row[1], VerifyKey.from_b64(row[2]), base64.b64decode(row[3]))

    def areas(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT area FROM cameras ORDER BY area")]

    # --- day keys ----------------------------------------------------------------------------

    def ensure_day_keys(self, today: date, now: datetime) -> list[DayKey]:
        """Keys for today and tomorrow in every area (made when missing)."""
        made = []
        for area in self.areas():
            for day in (today, today + timedelta(days=1)):
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO day_keys VALUES (?, ?, ?, ?)",
                    (area, day.isoformat(), os.urandom(32), format_timestamp(now)),
                )
                if cursor.rowcount:
                    log.info("research: day key made for %s %s", area, day)
            made += [k for k in self.day_keys(area) if k.day >= today]
        return made

    def day_keys(self, area: str) -> list[DayKey]:
        rows = self.db.execute("SELECT day, key FROM day_keys WHERE area = ? ORDER BY day", (area,))
        return [DayKey(area, date.fromisoformat(d), bytes(k)) for d, k in rows]

    def day_key(self, area: str, day: date) -> DayKey | None:
        return next((k for k in self.day_keys(area) if k.day == day), None)

    def destroy_closed_day_keys(self, today: date, now: datetime) -> list[DayKey]:
        """Destroy every key of a day before `today`: its hashes can never be linked again."""
        closed = [
            DayKey(area, date.fromisoformat(day), bytes(key))
            for area, day, key in self.db.execute(
                "SELECT area, day, key FROM day_keys WHERE day < ?", (today.isoformat(),)
            ).fetchall()
        ]
        for key in closed:
            self.db.execute("DELETE FROM day_keys WHERE area = ? AND day = ?",
                            (key.area, key.day.isoformat()))  # fmt: skip
            self.db.execute(
                "INSERT INTO destroyed_day_keys VALUES (?, ?, ?, ?)",
                (key.area, key.day.isoformat(), key.key_id, format_timestamp(now)),
            )
            log.info("research: day key of %s %s destroyed", key.area, key.day)
        if closed:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return closed

    def known_key_id(self, area: str, day: date, key_id: str) -> bool:
        """A batch must name a key this service made for that area and day."""
        current = self.day_key(area, day)
        if current is not None:
            return current.key_id == key_id
        return (
            self.db.execute(
                "SELECT 1 FROM destroyed_day_keys WHERE area = ? AND day = ? AND key_id = ?",
                (area, day.isoformat(), key_id),
            ).fetchone()
            is not None
        )
