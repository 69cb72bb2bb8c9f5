"""Every (camera, sequence number) the store holds, across all day files.

A day file can only see its own day; this index catches a sequence number reused with a
record of another day (a cloned or tampered unit). Entries carry the day and go with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from central.databases import StoreLocation, open_database

MIGRATIONS = [
    (
        "0001_sequences",
        """
        CREATE TABLE sequences (
            camera_id     TEXT NOT NULL,
            seq           INTEGER NOT NULL,
            day           TEXT NOT NULL,
            record_sha256 TEXT NOT NULL,
            PRIMARY KEY (camera_id, seq)
        ) WITHOUT ROWID;
        CREATE INDEX sequences_day ON sequences (day)
        """,
    ),
]


class SequenceIndex:
    def __init__(self, path: StoreLocation) -> None:
        self.db = open_database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def lookup(self, camera_id: str, seq: int) -> tuple[date, str] | None:
        row = self.db.execute(
            "SELECT day, record_sha256 FROM sequences WHERE camera_id = ? AND seq = ?",
            (camera_id, seq),
        ).fetchone()
        return None if row is None else (date.fromisoformat(row[0]), row[1])

    def add(self, entries: Iterable[tuple[str, int, date, str]]) -> None:
        rows = [(c, s, d.isoformat(), h) for c, s, d, h in entries]
        if not rows:
            return
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT INTO sequences VALUES (?, ?, ?, ?) ON CONFLICT (camera_id, seq) "
            "DO UPDATE SET day = excluded.day, record_sha256 = excluded.record_sha256",
            rows,
        )
        self.db.execute("COMMIT")

    def forget_day(self, day: date) -> int:
        count = self.db.execute("DELETE FROM sequences WHERE day = ?", (day.isoformat(),)).rowcount
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count
