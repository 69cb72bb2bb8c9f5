"""Destruction under the 28-day rule of art. 126jj Sv, as a thread (the rule: `expiry.py`).

A passage is invisible to every read path the moment its capture time is more than 28 days
in the past (read paths filter on `expiry.cutoff(now)`), and physically destroyed within the
hour: `RetentionWorker` wakes every few minutes, securely deletes the expired part of the oldest
day, and removes whole expired days: first their data key (crypto-shredding), then their
file. Passages held for an open request are kept, and the hold is logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from central.databases import ScrubIncomplete
from central.expiry import complete, cutoff, fully_expired, partly_expired
from central.statistics import summarise
from node import wallclock

log = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    days_destroyed: list[date] = field(default_factory=list)
    rows_deleted: int = 0
    days_held: list[date] = field(default_factory=list)
    # Keys of expired days this host held without storing the day (several nodes).
    keys_destroyed: list[date] = field(default_factory=list)
    statistics_written: list[date] = field(default_factory=list)
    # Days whose deleted rows may still sit in the write-ahead log (a reader held it); the
    # next pass scrubs them again.
    scrub_incomplete: list[date] = field(default_factory=list)


def run_retention(store, statistics, registry, health, now: datetime) -> RetentionReport:
    """One retention pass over every day file.

    `store` is a DayPartitionedStore, `statistics` a DailyStatistics, `registry` a
    CameraRegistry, `health` the HealthRecords; passed in (not imported) so this module
    stays free of storage code.
    Order per day: statistics first (while the rows exist), then deletion; for a whole
    expired day the data key goes before the file.
    """
    report = RetentionReport()
    for day in store.days():
        if complete(day, now) and _statistics_stale(store, statistics, day, now):
            _write_statistics(store, statistics, registry, health, day, now)
            report.statistics_written.append(day)
        try:
            _expire_day(store, day, now, report)
        except ScrubIncomplete as exc:
            report.scrub_incomplete.append(day)
            log.error("retention: %s", exc)
    _expire_keys(store, now, report)
    if report.rows_deleted or report.days_destroyed:
        log.info(
            "retention: destroyed days=%s rows=%d held_days=%s",
            [d.isoformat() for d in report.days_destroyed],
            report.rows_deleted,
            [d.isoformat() for d in report.days_held],
        )
    return report


def _expire_day(store, day: date, now: datetime, report: RetentionReport) -> None:
    if fully_expired(day, now):
        held = store.custody.held_in(day)
        if held:
            report.rows_deleted += store.purge_expired(day, now)
            report.days_held.append(day)
            store.custody.event(
                now, "hold_honoured", day, f"{len(held)} passage(s) kept for open requests"
            )
        else:
            store.destroy_day(day, now)
            report.days_destroyed.append(day)
    elif partly_expired(day, now):
        report.rows_deleted += store.purge_expired(day, now)


def _expire_keys(store, now: datetime, report: RetentionReport) -> None:
    """This host's own keys of expired days go too, stored here or not (another node
    dropped the day, or this host only read it), and the hosts' key chain steps past the
    last expired day: nothing left on this host opens an expired day. Held days keep
    their keys."""
    last_expired = cutoff(now).date() - timedelta(days=1)
    store.keys.pass_chain_through(last_expired, keep=lambda day: bool(store.custody.held_in(day)))
    for day in store.keys.days():
        if fully_expired(day, now) and not store.custody.held_in(day):
            if store.keys.destroy(day) and day not in report.days_destroyed:
                report.keys_destroyed.append(day)


def _statistics_stale(store, statistics, day: date, now: datetime) -> bool:
    """Figures are (re)made until the day starts to expire, so late deliveries count."""
    made_from = statistics.source_received_at(day)
    if made_from is None:
        return True
    if partly_expired(day, now) or fully_expired(day, now):
        return False
    return (store.latest_received(day) or "") > made_from


def _write_statistics(store, statistics, registry, health, day: date, now: datetime) -> None:
    figures = summarise(
        day,
        store.statistics_rows(day),
        [camera.camera_id for camera in registry.all()],
        health.heartbeat_hours(day),
    )
    statistics.write(figures, store.latest_received(day), now)


class RetentionWorker:
    """Runs `run_once` every `interval_s` in its own named thread until stopped (retention,
    and other periodic jobs such as alert escalation)."""

    def __init__(
        self,
        run_once: Callable[[datetime], RetentionReport],
        interval_s: float = 300.0,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
        name: str = "retention",
    ) -> None:
        self.run_once = run_once
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.last_report: RetentionReport | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.last_report = self.run_once(self.clock())
            except Exception:  # retention must keep trying: a skipped run is a legal breach
                log.exception("retention: run failed; retrying at the next interval")
            self._stop.wait(self.interval_s)
