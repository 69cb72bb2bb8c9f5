"""Durable store-and-forward queue of passages: a record leaves only on the central's signed ack.

The states, sequence numbers and reopening rules are `queue_file.QueueFile`'s. What is the
spool's own: an in-flight record carries the time after which it is sent again (doubling
back-off per attempt), rows leave on the central's acknowledgement, not the broker's, and
records older than the law's 28 days are destroyed undelivered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.queue_file import QueueFile, SpoolError
from node import wallclock

log = logging.getLogger(__name__)

__all__ = ["Outgoing", "Spool", "SpoolError"]


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
        clock: Callable[[], float] = wallclock.timestamp,
        max_records: int = 2_000_000,
    ) -> None:
        self.path = path
        self.ack_timeout_s = ack_timeout_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.max_records = max_records
        self.dropped_full = 0
        self._file = QueueFile(path, "records", "attempts INTEGER NOT NULL DEFAULT 0, "
                               "resend_at REAL", ("resend_at",), "spool")  # fmt: skip
        if self._file.requeued_on_open:
            log.info("spool: %d in-flight record(s) requeued on open", self._file.requeued_on_open)

    def close(self) -> None:
        self._file.close()

    def append(self, build_payload: Callable[[int], bytes]) -> int:
        """Allocate the next sequence number, build the payload with it, store both atomically.

        When the spool is full (`max_records`), the oldest record is destroyed to make room:
        it is the closest to its 28-day end and the least useful to hotlists. Counted in
        `dropped_full` and logged, never silent.
        """
        depth = self._file.depth
        seq, dropped = self._file.append(
            lambda seq: {"payload": build_payload(seq), "created_at": self.clock()},
            self.max_records,
        )
        if dropped:
            self.dropped_full += len(dropped)
            log.error("spool: full at %d records; oldest %d destroyed", depth, len(dropped))
        return seq

    def take_ready(self, limit: int) -> list[Outgoing]:
        """Mark up to `limit` ready records in flight, oldest first, and return them."""
        now = self.clock()
        rows = self._file.take_ready(
            limit, "payload, attempts", "attempts = ?, resend_at = ?",
            lambda row: (row[2] + 1, now + self._backoff(row[2] + 1)),
        )  # fmt: skip
        return [Outgoing(seq, payload, attempts + 1) for seq, payload, attempts in rows]

    def _backoff(self, attempts: int) -> float:
        return min(self.ack_timeout_s * 2 ** (attempts - 1), self.max_backoff_s)

    def requeue_due(self) -> int:
        """Return in-flight records whose ack is overdue to `ready`; returns how many."""
        return self._file.requeue("resend_at <= ?", (self.clock(),))

    def requeue_all_inflight(self) -> int:
        """After a lost connection nothing in flight can be trusted to have arrived."""
        return self._file.requeue()

    def acknowledge(self, seqs: Iterable[int]) -> int:
        """The central has them: delete, in one transaction (one fsync) for the whole ack."""
        return self._file.delete(seqs)

    def depth(self) -> int:
        return self._file.depth

    def inflight(self) -> int:
        return self._file.query("SELECT count(*) FROM records WHERE state = 'inflight'")[0][0]

    def oldest_age_s(self) -> int:
        ((oldest,),) = self._file.query("SELECT min(created_at) FROM records")
        return 0 if oldest is None else max(0, int(self.clock() - oldest))

    def last_seq(self) -> int:
        return self._file.last_seq()

    def expire(self, max_age_s: float) -> int:
        """Destroy records older than the law's 28 days that could never be delivered.

        A unit cut off for weeks must not hold passages longer than the central may.
        Deleted with secure_delete, and the write-ahead log truncated after.
        """
        removed = self._file.delete_where("created_at < ?", (self.clock() - max_age_s,))
        if removed:
            self._file.query("PRAGMA wal_checkpoint(TRUNCATE)")
            log.warning("spool: %d undelivered record(s) older than 28 days destroyed", removed)
        return removed

    def states(self) -> dict[int, str]:
        """Sequence number -> state, for diagnostics and tests."""
        return dict(self._file.query("SELECT seq, state FROM records ORDER BY seq"))
