"""Durable store-and-forward queue: a record leaves only on the central's signed ack.

A table of explicit states: `ready` (to send) and `inflight` (sent, not yet acknowledged,
with the time after which it is sent again). Acknowledged rows are deleted. Opening the
spool returns every in-flight row to `ready`, because after a restart nobody knows whether
those ever reached the central; the central deduplicates what arrives twice.

Sequence numbers are allocated here, in the same transaction that stores the payload, and
the counter lives in its own table, so a number is never reused even after rows are gone.
Payloads are the signed wire bytes, never pickles.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('last_seq', 0);
CREATE TABLE IF NOT EXISTS records (
    seq        INTEGER PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('ready', 'inflight')),
    payload    BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    resend_at  REAL
);
CREATE INDEX IF NOT EXISTS records_state ON records (state, seq);
"""


class SpoolError(Exception):
    """The spool file cannot be opened or written; the agent must not go on without it."""


def open_queue_file(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """A durable SQLite queue file: WAL, every commit synced, deleted rows overwritten (sent
    records must not linger in free pages), `schema` applied. Shared by the spool and the
    research queue."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA secure_delete=ON")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise SpoolError(f"cannot open {what} {path}: {exc}") from None
    return db


@dataclass(frozen=True)
class Outgoing:
    seq: int
    payload: bytes
    attempts: int


class Spool:
    def __init__(
        self,
        path: Path,
        ack_timeout_s: float = 20.0,
        max_backoff_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        max_records: int = 2_000_000,
    ) -> None:
        self.path = path
        self.ack_timeout_s = ack_timeout_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.max_records = max_records
        self.dropped_full = 0
        self._lock = threading.Lock()
        self._db = open_queue_file(path, _SCHEMA, "spool")
        self._depth = self._count()
        requeued = self._execute(
            "UPDATE records SET state = 'ready', resend_at = NULL WHERE state = 'inflight'"
        ).rowcount
        if requeued:
            log.info("spool: %d in-flight record(s) requeued on open", requeued)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(params))

    def append(self, build_payload: Callable[[int], bytes]) -> int:
        """Allocate the next sequence number, build the payload with it, store both atomically.

        When the spool is full (`max_records`), the oldest record is destroyed to make room:
        it is the closest to its 28-day end and the least useful to hotlists. Counted in
        `dropped_full` and logged, never silent.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                depth = self._depth
                if depth >= self.max_records:
                    dropped = self._db.execute(
                        "DELETE FROM records WHERE seq IN "
                        "(SELECT seq FROM records ORDER BY seq LIMIT ?)",
                        (depth - self.max_records + 1,),
                    ).rowcount
                    self.dropped_full += dropped
                    self._depth -= dropped
                    log.error("spool: full at %d records; oldest %d destroyed", depth, dropped)
                (last,) = self._db.execute(
                    "SELECT value FROM counters WHERE name = 'last_seq'"
                ).fetchone()
                seq = last + 1
                payload = build_payload(seq)
                self._db.execute("UPDATE counters SET value = ? WHERE name = 'last_seq'", (seq,))
                self._db.execute(
                    "INSERT INTO records (seq, state, payload, created_at) "
                    "VALUES (?, 'ready', ?, ?)",
                    (seq, payload, self.clock()),
                )
                self._db.execute("COMMIT")
                self._depth += 1
            except BaseException:
                self._db.execute("ROLLBACK")
                self._depth = self._count()
                raise
        return seq

    def take_ready(self, limit: int) -> list[Outgoing]:
        """Mark up to `limit` ready records in flight, oldest first, and return them."""
        if limit <= 0:
            return []
        now = self.clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT seq, payload, attempts FROM records WHERE state = 'ready' "
                    "ORDER BY seq LIMIT ?",
                    (limit,),
                ).fetchall()
                for seq, _, attempts in rows:
                    self._db.execute(
                        "UPDATE records SET state = 'inflight', attempts = ?, resend_at = ? "
                        "WHERE seq = ?",
                        (attempts + 1, now + self._backoff(attempts + 1), seq),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [Outgoing(seq, payload, attempts + 1) for seq, payload, attempts in rows]

    def _backoff(self, attempts: int) -> float:
        return min(self.ack_timeout_s * 2 ** (attempts - 1), self.max_backoff_s)

    def requeue_due(self) -> int:
        """Return in-flight records whose ack is overdue to `ready`; returns how many."""
        return self._execute(
            "UPDATE records SET state = 'ready' WHERE state = 'inflight' AND resend_at <= ?",
            (self.clock(),),
        ).rowcount

    def requeue_all_inflight(self) -> int:
        """After a lost connection nothing in flight can be trusted to have arrived."""
        return self._execute("UPDATE records SET state = 'ready' WHERE state = 'inflight'").rowcount

    def acknowledge(self, seqs: Iterable[int]) -> int:
        seqs = list(seqs)
        with self._lock:
            # One transaction (one fsync) for the whole ack, not one per record.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = self._db.executemany(
                    "DELETE FROM records WHERE seq = ?", ((seq,) for seq in seqs)
                ).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth -= removed
            return removed

    def _count(self) -> int:
        return self._db.execute("SELECT count(*) FROM records").fetchone()[0]

    def depth(self) -> int:
        return self._depth

    def inflight(self) -> int:
        return self._execute("SELECT count(*) FROM records WHERE state = 'inflight'").fetchone()[0]

    def oldest_age_s(self) -> int:
        (oldest,) = self._execute("SELECT min(created_at) FROM records").fetchone()
        return 0 if oldest is None else max(0, int(self.clock() - oldest))

    def last_seq(self) -> int:
        return self._execute("SELECT value FROM counters WHERE name = 'last_seq'").fetchone()[0]

    def expire(self, max_age_s: float) -> int:
        """Destroy records older than the law's 28 days that could never be delivered.

        A unit cut off for weeks must not hold passages longer than the central may.
        Deleted with secure_delete, and the write-ahead log truncated after.
        """
        cutoff = self.clock() - max_age_s
        with self._lock:
            removed = self._db.execute(
                "DELETE FROM records WHERE created_at < ?", (cutoff,)
            ).rowcount
            if removed:
                self._depth -= removed
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if removed:
            log.warning("spool: %d undelivered record(s) older than 28 days destroyed", removed)
        return removed

    def states(self) -> dict[int, str]:
        """Sequence number -> state, for diagnostics and tests."""
        return dict(self._execute("SELECT seq, state FROM records ORDER BY seq").fetchall())
