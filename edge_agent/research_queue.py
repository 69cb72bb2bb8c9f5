"""Durable queue of signed research batches: they survive a broker outage and a restart.

Its own small SQLite file, apart from the passage spool: a research-only camera has no
passages, and the research side's data must never sit in the police side's file. It holds
only signed batches of pseudonymised sightings (no plate, ever). States, sequence
numbers and reopening as in the spool (`queue_file.QueueFile`); a batch is deleted when the
broker acknowledges it (PUBACK), since the research service has no signed acknowledgement
and drops replays by sequence number.

Bounded: beyond `max_batches` the oldest batch is dropped, counted in `dropped_sightings`.
Sequence numbers come from a counter table, never reused, so the research store can refuse
a replayed batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.queue_file import QueueFile
from node import wallclock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedBatch:
    seq: int
    payload: bytes
    sightings: int


class ResearchQueue:
    def __init__(
        self,
        path: Path,
        max_batches: int = 10_000,
        clock: Callable[[], float] = wallclock.timestamp,
    ) -> None:
        self.path, self.max_batches, self.clock = path, max_batches, clock
        self.dropped_sightings = 0
        self.sent_sightings = 0
        self._file = QueueFile(path, "batches", "sightings INTEGER NOT NULL, sent_at REAL",
                               ("sent_at",), "research queue")  # fmt: skip

    def close(self) -> None:
        self._file.close()

    def append(self, build: Callable[[int], tuple[bytes, int]]) -> int:
        """Allocate the next sequence number; `build(seq)` gives (signed payload, sightings)."""
        depth = self._file.depth

        def row(seq: int) -> dict:
            payload, sightings = build(seq)
            return {"payload": payload, "sightings": sightings, "created_at": self.clock()}

        seq, dropped = self._file.append(row, self.max_batches, "seq, sightings")
        if dropped:
            lost = sum(n for _, n in dropped)
            self.dropped_sightings += lost
            log.error("research queue full at %d batches: oldest %d batch(es), %d "
                      "sighting(s) dropped", depth, len(dropped), lost)  # fmt: skip
        return seq

    def take_ready(self, limit: int) -> list[QueuedBatch]:
        now = self.clock()
        rows = self._file.take_ready(limit, "payload, sightings", "sent_at = ?", lambda _: (now,))
        return [QueuedBatch(*row) for row in rows]

    def delivered(self, seq: int) -> None:
        """The broker has the batch (PUBACK): it leaves the unit."""
        rows = self._file.query("SELECT sightings FROM batches WHERE seq = ?", (seq,))
        self._file.delete([seq])
        if rows:
            self.sent_sightings += rows[0][0]

    def requeue(self, older_than_s: float = 0.0) -> int:
        """Return in-flight batches to `ready` (all of them after a reconnect)."""
        return self._file.requeue("sent_at <= ?", (self.clock() - older_than_s,))

    def queued_sightings(self) -> int:
        return self._file.query("SELECT coalesce(sum(sightings), 0) FROM batches")[0][0]

    def depth(self) -> int:
        return self._file.depth

    def payloads(self) -> list[bytes]:
        """Every queued payload, for diagnostics and tests."""
        return [row[0] for row in self._file.query("SELECT payload FROM batches ORDER BY seq")]
