"""Result sets: what a consultation supplied, kept with the request for paging and review.

A 30,000-row time/place result is paged from here, not searched again, so every page shows
exactly what the audit trail says was supplied. Rows also record which crops were shown
to whom: a plate-search row can be verified only after its crop has been displayed (no
"bulk-approved without looking"). Result sets belong to the request and are destroyed with
its package material when the request is closed, or when their passages pass 28 days.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from central.store.records import SUMMARY_COLUMNS, StoredPassage, summary_columns_sql
from wire.fields import format_timestamp

MIGRATIONS = [
    (
        "0002_result_sets",
        f"""
        CREATE TABLE result_sets (
            audit_seq      INTEGER PRIMARY KEY,
            request_id     INTEGER NOT NULL REFERENCES requests (id),
            kind           TEXT NOT NULL,
            verify         INTEGER NOT NULL,
            gaps           TEXT NOT NULL,
            query          TEXT NOT NULL,
            created_at     TEXT NOT NULL,
            row_count      INTEGER NOT NULL,
            withheld       TEXT NOT NULL
        );
        CREATE TABLE result_rows (
            audit_seq     INTEGER NOT NULL REFERENCES result_sets (audit_seq),
            idx           INTEGER NOT NULL,
{summary_columns_sql()}
            PRIMARY KEY (audit_seq, idx)
        ) WITHOUT ROWID;
        CREATE TABLE crops_shown (
            audit_seq  INTEGER NOT NULL,
            camera_id  TEXT NOT NULL,
            seq        INTEGER NOT NULL,
            username   TEXT NOT NULL,
            shown_at   TEXT NOT NULL,
            PRIMARY KEY (audit_seq, camera_id, seq, username)
        ) WITHOUT ROWID
        """,
    ),
    (
        # How many rows the search withheld because they differ from their signed record:
        # the officer sees the gap on the results page, not only the auditor in the trail.
        "0005_result_integrity_withheld",
        "ALTER TABLE result_sets ADD COLUMN integrity_withheld INTEGER NOT NULL DEFAULT 0",
    ),
]


@dataclass(frozen=True)
class ResultSet:
    audit_seq: int
    request_id: int
    kind: str
    needs_verification: bool
    gaps: list[dict]
    query: dict
    created_at: str
    row_count: int
    withheld: str  # why this search's rows were withheld ('' when supplied)
    integrity_withheld: int = 0  # rows left out: they differ from their signed record


class ResultSets:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def save(
        self, audit_seq: int, request_id: int, kind: str, verify: bool, gaps: list[dict],
        query: dict, rows: list[StoredPassage], now: datetime, withheld: str = "",
        integrity_withheld: int = 0,
    ) -> None:  # fmt: skip
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "INSERT INTO result_sets (audit_seq, request_id, kind, verify, gaps, query, "
                "created_at, row_count, withheld, integrity_withheld) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (audit_seq, request_id, kind, int(verify), json.dumps(gaps), json.dumps(query),
                 format_timestamp(now), len(rows), withheld, integrity_withheld),
            )  # fmt: skip
            self.db.executemany(
                f"INSERT INTO result_rows (audit_seq, idx, {SUMMARY_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((audit_seq, i, r.camera_id, r.seq, r.captured_at, r.received_at, r.plate,
                  r.country, r.confidence_pm, r.lat_e7, r.lon_e7, r.direction, r.lane)
                 for i, r in enumerate(rows)),
            )  # fmt: skip
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def get(self, audit_seq: int) -> ResultSet | None:
        row = self.db.execute(
            "SELECT audit_seq, request_id, kind, verify, gaps, query, created_at, row_count, "
            "withheld, integrity_withheld FROM result_sets WHERE audit_seq = ?",
            (audit_seq,),
        ).fetchone()
        if row is None:
            return None
        return ResultSet(row[0], row[1], row[2], bool(row[3]), json.loads(row[4]),
                         json.loads(row[5]), row[6], row[7], row[8], row[9])  # fmt: skip

    def for_request(self, request_id: int) -> list[ResultSet]:
        seqs = self.db.execute(
            "SELECT audit_seq FROM result_sets WHERE request_id = ? ORDER BY audit_seq",
            (request_id,),
        )
        return [self.get(seq) for (seq,) in seqs.fetchall()]

    def rows(self, audit_seq: int, offset: int = 0, limit: int = -1) -> list[StoredPassage]:
        """Rows from `offset` on, at most `limit` of them (all when negative)."""
        # No `LIMIT -1` for "all": PostgreSQL refuses a negative limit.
        bounded = limit >= 0
        found = self.db.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM result_rows WHERE audit_seq = ? AND idx >= ? "
            f"ORDER BY idx{' LIMIT ?' if bounded else ''}",
            (audit_seq, offset, limit) if bounded else (audit_seq, offset),
        )
        return [StoredPassage(*row) for row in found]

    def contains(self, audit_seq: int, camera_id: str, seq: int) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM result_rows WHERE audit_seq = ? AND camera_id = ? AND seq = ?",
                (audit_seq, camera_id, seq),
            ).fetchone()
            is not None
        )

    def request_has(self, request_id: int, camera_id: str, seq: int) -> bool:
        """Was this passage supplied on this request (in any of its result sets)?"""
        return (
            self.db.execute(
                "SELECT 1 FROM result_rows JOIN result_sets USING (audit_seq) "
                "WHERE request_id = ? AND camera_id = ? AND seq = ? LIMIT 1",
                (request_id, camera_id, seq),
            ).fetchone()
            is not None
        )

    def crop_shown(self, audit_seq: int, camera_id: str, seq: int, username: str,
                   now: datetime) -> None:  # fmt: skip
        self.db.execute(
            "INSERT OR IGNORE INTO crops_shown VALUES (?, ?, ?, ?, ?)",
            (audit_seq, camera_id, seq, username, format_timestamp(now)),
        )

    def was_shown(self, audit_seq: int, camera_id: str, seq: int, username: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM crops_shown WHERE audit_seq = ? AND camera_id = ? AND seq = ? "
                "AND username = ?",
                (audit_seq, camera_id, seq, username),
            ).fetchone()
            is not None
        )

    def destroy_for_request(self, request_id: int) -> int:
        """Remove a request's supplied rows (after closing): the trail keeps what was
        supplied by reference, the rows themselves are personal data."""
        seqs = [s for (s,) in self.db.execute(
            "SELECT audit_seq FROM result_sets WHERE request_id = ?", (request_id,))]  # fmt: skip
        removed = 0
        for seq in seqs:
            removed += self.db.execute(
                "DELETE FROM result_rows WHERE audit_seq = ?", (seq,)
            ).rowcount
            self.db.execute("DELETE FROM crops_shown WHERE audit_seq = ?", (seq,))
        return removed
