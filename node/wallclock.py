"""The wall clock of every process: the system's, or a simulated one for soak tests.

Whatever asks "what time is it" for the law (capture times, the 28 days, day keys, order
deadlines, backups, spool expiry) asks here, so a soak test can carry the real processes
weeks forward (`tests/soak.py`): with `ANPR_SIMULATED_CLOCK` naming a file, the clock is the
system's plus the number of seconds written in that file, re-read whenever the file
changes. Unset (every shipped unit), it is the system clock. Durations and timeouts use
`time.monotonic()` and are never simulated.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

UTC = timezone.utc  # datetime.UTC is 3.11's; the unit runs on 3.10 (JetPack 6)

log = logging.getLogger(__name__)
_FILE = os.environ.get("ANPR_SIMULATED_CLOCK")
_seen: tuple[int, float] = (-1, 0.0)


def _offset() -> float:
    """Seconds the simulated clock is ahead; 0 without a simulation file."""
    global _seen
    if not _FILE:
        return 0.0
    try:
        stamp = os.stat(_FILE).st_mtime_ns
        if stamp != _seen[0]:
            _seen = (stamp, float(Path(_FILE).read_text().strip() or 0))
            log.warning("simulated clock: %.0f s ahead of the system clock", _seen[1])
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"ANPR_SIMULATED_CLOCK={_FILE} cannot be read: {exc}") from None
    return _seen[1]


def timestamp() -> float:
    """Seconds since the epoch, like `time.time()`."""
    return time.time() + _offset()


def now() -> datetime:
    """The current moment in UTC, like `datetime.now(UTC)`."""
    return datetime.fromtimestamp(timestamp(), UTC)
