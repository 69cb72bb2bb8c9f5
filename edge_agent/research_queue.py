"""Durable queue of signed research batches: they survive a broker outage and a restart.

Its own small SQLite file, apart from the passage spool: a research-only camera has no
passages, and the research side's data must never sit in the police side's file. It holds
only signed batches of pseudonymised sightings (no plate, ever). States as in the spool:
`ready` and `inflight`; a batch is deleted when the broker acknowledges it (PUBACK), since
the research service has no signed acknowledgement and drops replays by sequence number.
Opening the queue returns in-flight batches to `ready`.

Bounded: beyond `max_batches` the oldest batch is dropped, counted in `dropped_sightings`.
Sequence numbers come from a counter table, never reused, so the research store can refuse
a replayed batch.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.spool import SpoolError, open_queue_file

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('last_seq', 0);
CREATE TABLE IF NOT EXISTS batches (
    seq        INTEGER PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('ready', 'inflight')),
    payload    BLOB NOT NULL,
    sightings  INTEGER NOT NULL,
    created_at REAL NOT NULL,
    sent_at    REAL
);
"""


@dataclass(frozen=True)
class QueuedBatch:
    seq: int
    payload: bytes
    sightings: int


class ResearchQueue:
    def __init__(
        self, path: Path, max_batches: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.path, self.max_batches, self.clock = path, max_batches, clock
        self.dropped_sightings = 0
        self.sent_sightings = 0
        self._lock = threading.Lock()
        self._db = open_queue_file(path, _SCHEMA, "research queue")
        try:
            self._db.execute("UPDATE batches SET state = 'ready', sent_at = NULL")
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open research queue {path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, build: Callable[[int], tuple[bytes, int]]) -> int:
        """Allocate the next sequence number; `build(seq)` gives (signed payload, sightings)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (count,) = self._db.execute("SELECT count(*) FROM batches").fetchone()
                if count >= self.max_batches:
                    rows = self._db.execute(
                        "SELECT seq, sightings FROM batches ORDER BY seq LIMIT ?",
                        (count - self.max_batches + 1,),
                    ).fetchall()
                    self._db.executemany("DELETE FROM batches WHERE seq = ?",
                                         ((seq,) for seq, _ in rows))  # fmt: skip
                    lost = sum(n for _, n in rows)
                    self.dropped_sightings += lost
                    log.error("research queue full at %d batches: oldest %d batch(es), %d "
                              "sighting(s) dropped", count, len(rows), lost)  # fmt: skip
                (last,) = self._db.execute(
                    "SELECT value FROM counters WHERE name = 'last_seq'"
                ).fetchone()
                seq = last + 1
                payload, sightings = build(seq)
                self._db.execute("UPDATE counters SET value = ? WHERE name = 'last_seq'", (seq,))
                self._db.execute(
                    "INSERT INTO batches (seq, state, payload, sightings, created_at) "
                    "VALUES (?, 'ready', ?, ?, ?)",
                    (seq, payload, sightings, self.clock()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return seq

    def take_ready(self, limit: int) -> list[QueuedBatch]:
        if limit <= 0:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, payload, sightings FROM batches WHERE state = 'ready' "
                "ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            self._db.executemany(
                "UPDATE batches SET state = 'inflight', sent_at = ? WHERE seq = ?",
                ((self.clock(), seq) for seq, _, _ in rows),
            )
        return [QueuedBatch(*row) for row in rows]

    def delivered(self, seq: int) -> None:
        """The broker has the batch (PUBACK): it leaves the unit."""
        with self._lock:
            row = self._db.execute("SELECT sightings FROM batches WHERE seq = ?", (seq,)).fetchone()
            self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
        if row is not None:
            self.sent_sightings += row[0]

    def requeue(self, older_than_s: float = 0.0) -> int:
        """Return in-flight batches to `ready` (all of them after a reconnect)."""
        with self._lock:
            return self._db.execute(
                "UPDATE batches SET state = 'ready', sent_at = NULL "
                "WHERE state = 'inflight' AND sent_at <= ?",
                (self.clock() - older_than_s,),
            ).rowcount

    def queued_sightings(self) -> int:
        with self._lock:
            (total,) = self._db.execute(
                "SELECT coalesce(sum(sightings), 0) FROM batches"
            ).fetchone()
        return total

    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM batches").fetchone()[0]

    def payloads(self) -> list[bytes]:
        """Every queued payload, for diagnostics and tests."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT payload FROM batches ORDER BY seq")]
