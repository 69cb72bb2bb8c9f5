"""The calamity buffer at ingest: every admitted passage, plan camera or not, is offered.

Runs in the ingest's admission thread as a batch listener (each admitted batch in one
transaction, at ingest's pace), with its own database handle; a periodic job rolls out
what is older than the window. A failure to buffer is logged and counted, never allowed to
stop ingest: the 28-day store and the hotlist alerts matter more than the buffer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from central.calamity.buffer import CalamityBuffer
from central.databases import DatabaseError, StoreLocation
from node import wallclock
from wire import Passage, Verified

log = logging.getLogger("central.calamity")
PRUNE_INTERVAL_S = 60.0  # the buffer holds at most a minute more than its window


class BufferListener:
    def __init__(
        self, path: StoreLocation, clock: Callable[[], datetime] = lambda: wallclock.now()
    ) -> None:
        self.path = path
        self.clock = clock
        self._buffer: CalamityBuffer | None = None
        self.buffered = 0
        self.failures = 0

    def __call__(self, batch: list[Verified[Passage]]) -> None:
        if self._buffer is None:
            self._buffer = CalamityBuffer(self.path)  # opened in the thread that calls it
        try:
            self.buffered += self._buffer.add_many([v.record for v in batch], self.clock())
        except DatabaseError:
            self.failures += len(batch)
            log.exception("calamity buffer: a batch of %d passages not buffered", len(batch))

    def close(self) -> None:
        if self._buffer is not None:
            self._buffer.close()


def prune_run(path: StoreLocation) -> Callable[[datetime], int]:
    """A periodic job (own thread, own handle): roll out passages past the window."""
    opened: dict[str, CalamityBuffer] = {}

    def run_once(now: datetime) -> int:
        if "buffer" not in opened:
            opened["buffer"] = CalamityBuffer(path)
        return opened["buffer"].prune(now)

    return run_once
