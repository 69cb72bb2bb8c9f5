"""Counts that outlive the process: what ingest, hotlist matching and retention did.

The threads that do the work count in memory (`Tally`, cheap and thread-safe) and write what
they counted since the last time into metrics.sqlite (`Ledger`) after each batch they
commit. The web process, which may be another process (`anpr-central ingest` beside a
gunicorn web) or the same one (`anpr-central serve`), reads the ledger when Prometheus
scrapes: one way for both layouts, and counters that survive a restart instead of starting
again at zero. Plate-free by construction: names, reasons and figures only.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from central.databases import StoreLocation, open_database
from wire.fields import format_timestamp

MIGRATIONS = [
    (
        "0001_tally",
        """
        CREATE TABLE counters (
            name   TEXT NOT NULL,
            label  TEXT NOT NULL,
            value  REAL NOT NULL,
            PRIMARY KEY (name, label)
        ) WITHOUT ROWID;
        CREATE TABLE gauges (
            name        TEXT NOT NULL,
            label       TEXT NOT NULL,
            value       REAL NOT NULL,
            updated_at  TEXT NOT NULL,
            PRIMARY KEY (name, label)
        ) WITHOUT ROWID
        """,
    ),
]

# Upper bounds (seconds) of each histogram's buckets, shared by the writer and the reader.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ALERT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
HISTOGRAMS: dict[str, tuple[float, ...]] = {
    "admission_seconds": LATENCY_BUCKETS,
    "store_seconds": LATENCY_BUCKETS,
    "alert_latency_seconds": ALERT_BUCKETS,
}
INF = "+Inf"


def bucket_label(bound: float) -> str:
    return repr(float(bound))


@dataclass(frozen=True)
class Histogram:
    """A histogram as read back: cumulative bucket counts (upper bound -> count), sum, count."""

    buckets: list[tuple[str, float]]
    total: float
    count: float


class Tally:
    """Thread-safe counts of what a service did, by name (and an optional label).

    `tally[name]` is the count since this process started (what tests and the periodic log
    line read); `take()` hands over what was counted since the last take, for the ledger.
    """

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._pending: Counter[tuple[str, str]] = Counter()
        self._gauges: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def add(self, name: str, amount: float = 1, label: str = "") -> None:
        with self._lock:
            self._counts[f"{name}_{label}" if label else name] += amount
            self._pending[(name, label)] += amount

    def observe(self, name: str, value: float) -> None:
        """One observation of a histogram named in `HISTOGRAMS`."""
        bounds = HISTOGRAMS[name]
        index = bisect.bisect_left(bounds, value)
        bucket = bucket_label(bounds[index]) if index < len(bounds) else INF
        with self._lock:
            self._pending[(f"{name}_bucket", bucket)] += 1
            self._pending[(f"{name}_sum", "")] += value
            self._pending[(f"{name}_count", "")] += 1

    def set(self, name: str, value: float, label: str = "") -> None:
        """A gauge: the latest value wins."""
        with self._lock:
            self._gauges[(name, label)] = value

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def take(self) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
        """Counter deltas and gauges since the last take; both emptied."""
        with self._lock:
            counts, gauges = dict(self._pending), dict(self._gauges)
            self._pending.clear()
            self._gauges.clear()
        return counts, gauges

    def flush(self, ledger: Ledger, now: datetime) -> None:
        """Add what was counted since the last flush to the ledger (one transaction)."""
        counts, gauges = self.take()
        if not (counts or gauges):
            return
        try:
            ledger.add(counts, gauges, now)
        except BaseException:
            with self._lock:  # not written: count it again next time
                self._pending.update(counts)
                for key, value in gauges.items():
                    self._gauges.setdefault(key, value)
            raise


class Ledger:
    """metrics.sqlite: running totals and latest gauges, written by the working threads and
    read by /metrics. Each thread opens its own."""

    def __init__(self, path: StoreLocation) -> None:
        self.db = open_database(path, MIGRATIONS)
        # Figures, not evidence: a power cut may lose the last second of counts, never
        # the store's data, so commits here need not wait for the disk.
        self.db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        self.db.close()

    def add(
        self,
        counts: Mapping[tuple[str, str], float],
        gauges: Mapping[tuple[str, str], float] | None = None,
        now: datetime | None = None,
    ) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT INTO counters (name, label, value) VALUES (?, ?, ?) "
                "ON CONFLICT (name, label) DO UPDATE SET value = counters.value + excluded.value",
                [(name, label, value) for (name, label), value in counts.items()],
            )
            if gauges:
                stamp = format_timestamp(now) if now is not None else ""
                self.db.executemany(
                    "INSERT INTO gauges (name, label, value, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (name, label) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at",
                    [(name, label, value, stamp) for (name, label), value in gauges.items()],
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def set(self, gauges: Mapping[tuple[str, str], float], now: datetime) -> None:
        self.add({}, gauges, now)

    def counters(self) -> dict[tuple[str, str], float]:
        rows = self.db.execute("SELECT name, label, value FROM counters")
        return {(name, label): value for name, label, value in rows}

    def gauges(self) -> dict[tuple[str, str], float]:
        rows = self.db.execute("SELECT name, label, value FROM gauges")
        return {(name, label): value for name, label, value in rows}

    def histogram(self, name: str, counts: Mapping[tuple[str, str], float]) -> Histogram:
        """Rebuild a histogram from the `counters()` rows (buckets made cumulative)."""
        running, buckets = 0.0, []
        for bound in [*map(bucket_label, HISTOGRAMS[name]), INF]:
            running += counts.get((f"{name}_bucket", bound), 0.0)
            buckets.append((bound, running))
        return Histogram(
            buckets, counts.get((f"{name}_sum", ""), 0.0), counts.get((f"{name}_count", ""), 0.0)
        )
