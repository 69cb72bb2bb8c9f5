"""The research store: pseudonymous sightings only (research.sqlite).

A row is (area, day, camera, direction, second, vehicle) where vehicle is the first 64
bits of the day's HMAC of the plate: enough to link one vehicle's sightings within a day
(collisions among a day's few million vehicles are negligible), nothing to reverse once
the day key is gone. No plate, crop or photo ever reaches this file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np

from wire.research import ResearchBatch

SCHEMA = """
CREATE TABLE IF NOT EXISTS sightings (
    area      TEXT NOT NULL,
    day       TEXT NOT NULL,
    camera_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    at        INTEGER NOT NULL,
    vehicle   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sightings_day ON sightings (area, day);
CREATE TABLE IF NOT EXISTS batches (
    camera_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (camera_id, seq)
) WITHOUT ROWID;
"""


def vehicle_id(vehicle_hash: str) -> int:
    return int.from_bytes(bytes.fromhex(vehicle_hash[:16]), "big", signed=True)


class ResearchStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

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
                day = batch.day.isoformat()
                self.db.executemany(
                    "INSERT INTO sightings VALUES (?, ?, ?, ?, ?, ?)",
                    ((batch.area, day, batch.camera_id, s.direction, s.at, vehicle_id(s.vehicle))
                     for s in batch.sightings),
                )  # fmt: skip
                stored += len(batch.sightings)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return stored, replays

    def day_arrays(self, area: str, day: date) -> dict[str, np.ndarray]:
        """The day's sightings as columns: `camera` and `direction` (indexes into `cameras`
        and `directions`), `at` and `vehicle`."""
        rows = self.db.execute(
            "SELECT camera_id, direction, at, vehicle FROM sightings WHERE area = ? AND day = ?",
            (area, day.isoformat()),
        ).fetchall()
        camera_ids, direction_names, at, vehicle = zip(*rows, strict=True) if rows else ([],) * 4
        cameras = sorted(set(camera_ids))
        directions = sorted(set(direction_names))
        camera_index = {c: i for i, c in enumerate(cameras)}
        direction_index = {d: i for i, d in enumerate(directions)}
        return {
            "cameras": np.array(cameras, dtype=object),
            "directions": np.array(directions, dtype=object),
            "camera": np.array([camera_index[c] for c in camera_ids], np.int32),
            "direction": np.array([direction_index[d] for d in direction_names], np.int8),
            "at": np.array(at, np.int64),
            "vehicle": np.array(vehicle, np.int64),
        }

    def days(self, area: str) -> list[date]:
        rows = self.db.execute(
            "SELECT DISTINCT day FROM sightings WHERE area = ? ORDER BY day", (area,)
        )
        return [date.fromisoformat(r[0]) for r in rows]

    def areas(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT area FROM sightings ORDER BY area")]
