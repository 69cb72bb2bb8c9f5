"""Work a page starts and then watches (a package build, a long count or search): how far it
is, whether it ended and how. The page polls `as_json()`; the work's thread calls
`progress()` and, at its end, sets `finished`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass(kw_only=True)
class BackgroundWork:
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def as_json(self) -> dict:
        return {"done": self.done, "total": self.total, "ready": self.finished.is_set(),
                "error": self.error}  # fmt: skip

    def stale(self, kept_s: float) -> bool:
        """Ended more than `kept_s` after it started: its answer need not be kept."""
        return self.finished.is_set() and time.monotonic() - self.started > kept_s
