"""Durable log of every record the central refused, with the reason.

Counters in memory vanish with the process; maintainers and auditors need to see that a
camera's records were refused, why, and how often, long after the fact.
"""

from __future__ import annotations

from datetime import datetime

from central.databases import StoreLocation, open_database
from wire.fields import format_timestamp

MIGRATIONS = [
    (
        "0001_rejections",
        """
        CREATE TABLE rejections (
            id          INTEGER PRIMARY KEY,
            at          TEXT NOT NULL,
            topic       TEXT NOT NULL,
            camera_id   TEXT,
            seq         INTEGER,
            reason      TEXT NOT NULL,
            detail      TEXT NOT NULL,
            integrity   INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX rejections_reason ON rejections (reason, at)
        """,
    ),
]

INTEGRITY_REASONS = {"seq_conflict", "bad_signature", "image_digest_mismatch"}


class RejectionLog:
    def __init__(self, path: StoreLocation) -> None:
        self.db = open_database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def record(
        self,
        at: datetime,
        topic: str,
        camera_id: str | None,
        seq: int | None,
        reason: str,
        detail: str,
    ) -> None:
        self.db.execute(
            "INSERT INTO rejections (at, topic, camera_id, seq, reason, detail, integrity) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                format_timestamp(at),
                topic[:200],
                camera_id,
                seq,
                reason,
                detail[:500],
                int(reason in INTEGRITY_REASONS),
            ),
        )

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT reason, count(*) FROM rejections GROUP BY reason")
        return dict(rows.fetchall())

    def latest(self, limit: int = 50) -> list[dict]:
        rows = self.db.execute(
            "SELECT at, topic, camera_id, seq, reason, detail, integrity FROM rejections "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        keys = ("at", "topic", "camera_id", "seq", "reason", "detail", "integrity")
        return [dict(zip(keys, row, strict=True)) for row in rows]
