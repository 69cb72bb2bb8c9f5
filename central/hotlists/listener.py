"""Hotlist matching at ingest: every admitted passage, from every camera, plan or not.

Runs in the ingest's admission thread as a passage listener, with its own database handle.
A hit becomes an alert with the passage's images; the log line names the alert and its
priority but never the plate (logs outlive the 28 days).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from central.hotlists.store import Hotlists
from wire import Passage, Verified

log = logging.getLogger("central.alerts")


class HotlistListener:
    def __init__(
        self, path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.path = path
        self.clock = clock
        self._store: Hotlists | None = None
        self.alerts_raised = 0

    def __call__(self, verified: Verified[Passage]) -> None:
        if self._store is None:
            self._store = Hotlists(self.path)  # opened in the thread that calls it
        passage = verified.record
        now = self.clock()
        for hit in self._store.hits(passage.plate, passage.country, passage.captured_at):
            alert_id = self._store.raise_alert(hit, passage, now)
            if alert_id is None:
                continue  # the same passage delivered again: one alert
            self.alerts_raised += 1
            log.warning(
                "ALERT id=%d priority=%d list=%d camera=%s tolerant=%s",
                alert_id, hit.priority, hit.list_id, passage.camera_id, hit.tolerant,
            )  # fmt: skip

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
