"""Passages held past 28 days for an open, lawful request, and the log of every destruction.

The law allows keeping a passage that is part of an open request until the request is
closed. A hold names the passage and the request; placing and releasing it is logged. The
retention log records every day destroyed and every hold honoured, and is kept longer
than the data (it holds no plates).
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from central.databases import StoreLocation, open_database
from wire.fields import format_timestamp

log = logging.getLogger(__name__)

MIGRATIONS = [
    (
        "0001_custody",
        """
        CREATE TABLE holds (
            camera_id    TEXT NOT NULL,
            seq          INTEGER NOT NULL,
            day          TEXT NOT NULL,
            request_ref  TEXT NOT NULL,
            held_at      TEXT NOT NULL,
            held_by      TEXT NOT NULL,
            released_at  TEXT,
            PRIMARY KEY (camera_id, seq, request_ref)
        );
        CREATE TABLE retention_events (
            id      INTEGER PRIMARY KEY,
            at      TEXT NOT NULL,
            event   TEXT NOT NULL,
            day     TEXT,
            detail  TEXT NOT NULL
        )
        """,
    ),
]


class HoldError(Exception):
    """A hold cannot be placed or released as asked."""


class Custody:
    def __init__(self, path: StoreLocation) -> None:
        self.db = open_database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def hold(
        self, camera_id: str, seq: int, day: date, request_ref: str, by: str, now: datetime
    ) -> None:
        if not request_ref.strip():
            raise HoldError("a hold needs the reference of the open request it serves")
        self.db.execute(
            "INSERT OR IGNORE INTO holds (camera_id, seq, day, request_ref, held_at, held_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (camera_id, seq, day.isoformat(), request_ref, format_timestamp(now), by),
        )
        self.event(now, "hold_placed", day, f"{camera_id}/{seq} for {request_ref} by {by}")

    def release(self, request_ref: str, now: datetime) -> int:
        count = self.db.execute(
            "UPDATE holds SET released_at = ? WHERE request_ref = ? AND released_at IS NULL",
            (format_timestamp(now), request_ref),
        ).rowcount
        self.event(now, "holds_released", None, f"{count} passage(s) of {request_ref}")
        return count

    def held_in(self, day: date) -> set[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT camera_id, seq FROM holds WHERE day = ? AND released_at IS NULL",
            (day.isoformat(),),
        )
        return {(row[0], row[1]) for row in rows}

    def event(self, now: datetime, event: str, day: date | None, detail: str) -> None:
        log.info("retention: %s day=%s %s", event, day, detail)
        self.db.execute(
            "INSERT INTO retention_events (at, event, day, detail) VALUES (?, ?, ?, ?)",
            (format_timestamp(now), event, day.isoformat() if day else None, detail),
        )

    def events(self, limit: int = 100) -> list[dict]:
        rows = self.db.execute(
            "SELECT at, event, day, detail FROM retention_events ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [dict(zip(("at", "event", "day", "detail"), row, strict=True)) for row in rows]
