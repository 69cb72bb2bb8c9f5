"""Plate-free daily figures per camera that outlive the 28 days.

The law's evaluation and the yearly report need volumes and quality per camera long after
the passages are gone; the current national system loses exactly these when its data
expires. Written from a day's file before it is destroyed; they hold counts only: no
plate, no crop, no photo, nothing that identifies a vehicle.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from central.databases import open_database
from central.plate_formats import matches_layout
from wire.fields import format_timestamp

MIGRATIONS = [
    (
        "0001_daily_camera",
        """
        CREATE TABLE daily_camera (
            day                 TEXT NOT NULL,
            camera_id           TEXT NOT NULL,
            passages            INTEGER NOT NULL,
            distinct_plates     INTEGER NOT NULL,
            countries           TEXT NOT NULL,
            mean_confidence_pm  INTEGER NOT NULL,
            layout_match_pm     INTEGER NOT NULL,
            hours_down          INTEGER NOT NULL,
            written_at          TEXT NOT NULL,
            source_received_at  TEXT,
            PRIMARY KEY (day, camera_id)
        )
        """,
    ),
]


@dataclass(frozen=True)
class CameraDay:
    day: str
    camera_id: str
    passages: int
    distinct_plates: int
    countries: dict[str, int]
    mean_confidence_pm: int
    layout_match_pm: int
    hours_down: int


def summarise(
    day: date,
    rows: Iterable[tuple[str, str, str, int]],
    cameras: Iterable[str],
    heartbeat_hours: dict[str, int],
) -> list[CameraDay]:
    """Aggregate (camera, plate, country, confidence) rows; plates are counted, never kept."""
    counts: Counter[str] = Counter()
    plates: dict[str, set[str]] = defaultdict(set)
    countries: dict[str, Counter[str]] = defaultdict(Counter)
    confidence: Counter[str] = Counter()
    matching: Counter[str] = Counter()
    for camera_id, plate, country, confidence_pm in rows:
        counts[camera_id] += 1
        plates[camera_id].add(f"{country}:{plate}")
        countries[camera_id][country or "??"] += 1
        confidence[camera_id] += confidence_pm
        matching[camera_id] += matches_layout(plate, country)
    result = []
    for camera_id in sorted(set(cameras) | set(counts)):
        n = counts[camera_id]
        result.append(
            CameraDay(
                day=day.isoformat(),
                camera_id=camera_id,
                passages=n,
                distinct_plates=len(plates[camera_id]),
                countries=dict(sorted(countries[camera_id].items())),
                mean_confidence_pm=round(confidence[camera_id] / n) if n else 0,
                layout_match_pm=round(1000 * matching[camera_id] / n) if n else 0,
                hours_down=24 - min(24, heartbeat_hours.get(camera_id, 0)),
            )
        )
    return result


class DailyStatistics:
    def __init__(self, path: Path) -> None:
        self.db = open_database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def source_received_at(self, day: date) -> str | None:
        """Latest ingest time the day's figures were made from; None if not made yet."""
        row = self.db.execute(
            "SELECT max(coalesce(source_received_at, '')) FROM daily_camera WHERE day = ?",
            (day.isoformat(),),
        ).fetchone()
        return row[0]

    def has(self, day: date) -> bool:
        return self.source_received_at(day) is not None

    def write(
        self, figures: list[CameraDay], source_received_at: str | None, now: datetime
    ) -> None:
        if not figures:
            return
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT INTO daily_camera VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (day, camera_id) DO UPDATE SET passages = excluded.passages, "
            "distinct_plates = excluded.distinct_plates, countries = excluded.countries, "
            "mean_confidence_pm = excluded.mean_confidence_pm, "
            "layout_match_pm = excluded.layout_match_pm, hours_down = excluded.hours_down, "
            "written_at = excluded.written_at, source_received_at = excluded.source_received_at",
            [
                (
                    f.day,
                    f.camera_id,
                    f.passages,
                    f.distinct_plates,
                    json.dumps(f.countries, sort_keys=True),
                    f.mean_confidence_pm,
                    f.layout_match_pm,
                    f.hours_down,
                    format_timestamp(now),
                    source_received_at,
                )
                for f in figures
            ],
        )
        self.db.execute("COMMIT")

    def for_day(self, day: date) -> list[CameraDay]:
        rows = self.db.execute(
            "SELECT day, camera_id, passages, distinct_plates, countries, mean_confidence_pm, "
            "layout_match_pm, hours_down FROM daily_camera WHERE day = ? ORDER BY camera_id",
            (day.isoformat(),),
        )
        return [CameraDay(r[0], r[1], r[2], r[3], json.loads(r[4]), *r[5:]) for r in rows]
