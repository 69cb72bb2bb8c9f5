"""The research store: pseudonymous sightings only (research.sqlite).

A row is (area, day, camera, direction, second, vehicle) where vehicle is the first 64
bits of the day's HMAC of the plate: enough to link one vehicle's sightings within a day
(collisions among a day's few million vehicles are negligible), nothing to reverse once
the day key is gone. No plate, crop or photo ever reaches this file.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np

from wire.fields import DIRECTIONS
from wire.research import ResearchBatch

SCHEMA = """
CREATE TABLE IF NOT EXISTS cameras (
    idx       INTEGER PRIMARY KEY,
    camera_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS sightings (
    area      TEXT NOT NULL,
    day       TEXT NOT NULL,
    camera    INTEGER NOT NULL REFERENCES cameras (idx),
    direction INTEGER NOT NULL,  -- index into wire.fields.DIRECTIONS
    at        INTEGER NOT NULL,
    vehicle   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sightings_day ON sightings (area, day);
CREATE TABLE IF NOT EXISTS figures_cache (
    area      TEXT NOT NULL,
    day       TEXT NOT NULL,
    settings  TEXT NOT NULL,
    figures   TEXT NOT NULL,
    PRIMARY KEY (area, day, settings)
);
CREATE TABLE IF NOT EXISTS batches (
    camera_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (camera_id, seq)
) WITHOUT ROWID;
"""


DIRECTION_INDEX = {d: i for i, d in enumerate(DIRECTIONS)}


def vehicle_id(vehicle_hash: str) -> int:
    return int.from_bytes(bytes.fromhex(vehicle_hash[:16]), "big", signed=True)


class ResearchStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._cameras: dict[str, int] = {}

    def close(self) -> None:
        self.db.close()

    def add_batches(self, batches: Iterable[ResearchBatch]) -> tuple[int, int]:
        """Store in one transaction; a batch seen before (same camera and seq) is skipped.
        Returns (sightings stored, batches skipped as replays)."""
        stored = replays = 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for batch in batches:
                fresh = self.db.execute(
                    "INSERT OR IGNORE INTO batches VALUES (?, ?)", (batch.camera_id, batch.seq)
                ).rowcount
                if not fresh:
                    replays += 1
                    continue
                day, camera = batch.day.isoformat(), self._camera_index(batch.camera_id)
                # A late batch changes its day's figures: forget what was computed.
                self.db.execute("DELETE FROM figures_cache WHERE area = ? AND day = ?",
                                (batch.area, day))  # fmt: skip
                self.db.executemany(
                    "INSERT INTO sightings VALUES (?, ?, ?, ?, ?, ?)",
                    ((batch.area, day, camera, DIRECTION_INDEX[s.direction], s.at,
                      vehicle_id(s.vehicle)) for s in batch.sightings),
                )  # fmt: skip
                stored += len(batch.sightings)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return stored, replays

    def _camera_index(self, camera_id: str) -> int:
        if camera_id not in self._cameras:
            self.db.execute("INSERT OR IGNORE INTO cameras (camera_id) VALUES (?)", (camera_id,))
            self._cameras[camera_id] = self.db.execute(
                "SELECT idx FROM cameras WHERE camera_id = ?", (camera_id,)
            ).fetchone()[0]
        return self._cameras[camera_id]

    def day_arrays(self, area: str, day: date) -> dict[str, np.ndarray]:
        """The day's sightings as columns: `camera` and `direction` (indexes into `cameras`
        and `directions`), `at` and `vehicle`."""
        cursor = self.db.execute(
            "SELECT camera, direction, at, vehicle FROM sightings WHERE area = ? AND day = ?",
            (area, day.isoformat()),
        )
        # Integers straight into one array: no Python object per sighting survives.
        table = np.fromiter(itertools.chain.from_iterable(cursor), np.int64).reshape(-1, 4)
        used = np.unique(table[:, 0])
        names = dict(self.db.execute("SELECT idx, camera_id FROM cameras"))
        return {
            "cameras": np.array([names[int(i)] for i in used], dtype=object),
            "directions": np.array(DIRECTIONS, dtype=object),
            "camera": np.searchsorted(used, table[:, 0]).astype(np.int32),
            "direction": table[:, 1].astype(np.int8),
            "at": table[:, 2].copy(),
            "vehicle": table[:, 3].copy(),
        }

    def cached_figures(self, area: str, day: date, settings: str) -> str | None:
        row = self.db.execute(
            "SELECT figures FROM figures_cache WHERE area = ? AND day = ? AND settings = ?",
            (area, day.isoformat(), settings),
        ).fetchone()
        return None if row is None else row[0]

    def cache_figures(self, area: str, day: date, settings: str, figures: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO figures_cache VALUES (?, ?, ?, ?)",
                        (area, day.isoformat(), settings, figures))  # fmt: skip

    def days(self, area: str) -> list[date]:
        rows = self.db.execute(
            "SELECT DISTINCT day FROM sightings WHERE area = ? ORDER BY day", (area,)
        )
        return [date.fromisoformat(r[0]) for r in rows]

    def areas(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT area FROM sightings ORDER BY area")]
