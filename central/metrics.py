"""The central's Prometheus metrics: one registry, read fresh from the files at each scrape.

Ingest may run in another process than the web (`anpr-central ingest` beside gunicorn), so
nothing here reads another thread's memory: ingest, hotlist matching and retention write
their running totals to metrics.sqlite (`central.tally`), camera health lives in
health.sqlite, and certificates and CRLs are files. Collecting reads those, so the same
figures come out of `serve` (one process) and of ingest and web apart, and a restart does
not set a counter back to zero. What each metric means and what to alert on:
docs/operations.md ("Metrics").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from central.accounts.users import Accounts
from central.cameras import CameraRegistry
from central.config import CentralConfig
from central.expiry import cutoff, day_start
from central.health.certificates import tls_expiries, tls_files
from central.health.monitor import survey
from central.health.records import HealthRecords
from central.health.rules import State
from central.tally import Ledger, Tally
from node import wallclock

log = logging.getLogger(__name__)

# Ingest's counts in the ledger -> (metric name without _total, help).
INGEST_COUNTERS = {
    "received": ("anpr_ingest_received", "MQTT messages received (passages, heartbeats, tests)."),
    "stored": ("anpr_ingest_stored", "Passages written to the 28-day store."),
    "duplicate": ("anpr_ingest_duplicates", "Passages received again: acknowledged, kept once."),
    "expired_on_arrival": (
        "anpr_ingest_expired_on_arrival",
        "Passages older than 28 days on arrival: acknowledged, never stored.",
    ),
    "not_in_plan_discarded": (
        "anpr_ingest_not_in_plan_discarded",
        "Passages of cameras outside the camera plan: matched against hotlists, never stored.",
    ),
    "heartbeats": ("anpr_ingest_heartbeats", "Signed heartbeats recorded."),
    "selftests": ("anpr_ingest_selftests", "On-site self-test records answered."),
    "commissioning_reports": (
        "anpr_ingest_commissioning_reports",
        "Signed commissioning reports verified and kept with the plan entry.",
    ),
    "batch_failures": (
        "anpr_ingest_batch_failures",
        "Batches that failed as a whole and were left unacknowledged for redelivery.",
    ),
    "backpressure_waits": (
        "anpr_ingest_backpressure_waits",
        "Half-second waits of the MQTT thread on a full receive queue.",
    ),
    "storage_waits": (
        "anpr_ingest_storage_waits",
        "Half-second waits of admission on a busy store stage.",
    ),
}
INGEST_GAUGES = {
    "queue_depth": ("anpr_ingest_queue_depth", "Received messages waiting for admission."),
    "admitted_queue_depth": (
        "anpr_ingest_admitted_queue_depth",
        "Admitted batches waiting for the store stage.",
    ),
    "flushed_at": (
        "anpr_ingest_last_flush_timestamp_seconds",
        "When ingest last wrote its figures (at least every second while it runs).",
    ),
}
HISTOGRAMS = {
    "admission_seconds": (
        "anpr_ingest_admission_seconds",
        "Time to admit one batch: decode, verify, plan and age checks, listeners.",
    ),
    "store_seconds": ("anpr_ingest_store_seconds", "Time to commit one batch to the store."),
    "alert_latency_seconds": (
        "anpr_hotlist_alert_latency_seconds",
        "From a passage's capture on the unit to its hotlist alert raised at the central.",
    ),
}
CAMERA_GAUGES = {
    "anpr_camera_last_heartbeat_seconds": ("last_heartbeat_s_ago", "Seconds since last heartbeat."),
    "anpr_camera_clock_offset_seconds": ("clock_offset_s", "Unit clock minus central clock."),
    "anpr_camera_spool_depth": ("spool_depth", "Records waiting on the unit."),
    "anpr_camera_spool_oldest_age_seconds": ("spool_oldest_age_s", "Age of the oldest."),
    "anpr_camera_frames_dropped": ("frames_dropped", "Frames dropped since agent start."),
}


def registry(config: CentralConfig, clock: Callable[[], datetime] | None = None):
    """A registry for one web application: its own figures and this process's."""
    found = CollectorRegistry(auto_describe=False)
    found.register(CentralCollector(config, clock or wallclock.now))
    ProcessCollector(registry=found)
    PlatformCollector(registry=found)
    return found


class CentralCollector(Collector):
    """Reads every figure from its file at each scrape; holds no handle between scrapes."""

    def __init__(self, config: CentralConfig, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        ledger = Ledger(self.config.metrics_path)
        try:
            counts, gauges = ledger.counters(), ledger.gauges()
            yield from _ingest(ledger, counts, gauges, self.config)
            yield from _hotlists(ledger, counts)
        finally:
            ledger.close()
        yield from _retention(counts, gauges, now)
        yield from _tls(tls_files(self.config), now)
        yield from self._cameras(now)
        yield from _security(self.config)

    def _cameras(self, now: datetime) -> Iterator[Metric]:
        cameras = CameraRegistry(self.config.cameras_path)
        records = HealthRecords(self.config.health_path)
        try:
            surveyed = survey(cameras, records, now, self.config.health.limits())
        finally:
            cameras.close()
            records.close()
        state = GaugeMetricFamily(
            "anpr_camera_state", "Camera health: 0 OK, 1 DEGRADED, 2 OFFLINE.", labels=["camera"]
        )
        for health in surveyed:
            state.add_metric([health.camera_id], int(health.assessment.state))
        yield state
        for name, (key, help_text) in CAMERA_GAUGES.items():
            family = GaugeMetricFamily(name, help_text, labels=["camera"])
            for health in surveyed:
                if key in health.assessment.figures:
                    family.add_metric([health.camera_id], float(health.assessment.figures[key]))
            yield family
        per_state = GaugeMetricFamily("anpr_cameras", "Cameras per state.", labels=["state"])
        for each in State:
            count = sum(1 for h in surveyed if h.assessment.state is each)
            per_state.add_metric([each.name], count)
        yield per_state


def _ingest(ledger: Ledger, counts: dict, gauges: dict, config: CentralConfig) -> Iterator[Metric]:
    for key, (name, help_text) in INGEST_COUNTERS.items():
        yield CounterMetricFamily(name, help_text, value=counts.get((key, ""), 0.0))
    refused = CounterMetricFamily(
        "anpr_ingest_refused",
        "Records refused at ingest, by reason (each also in the rejection log).",
        labels=["reason"],
    )
    for (key, reason), value in sorted(counts.items()):
        if key == "rejected":
            refused.add_metric([reason], value)
    yield refused
    for key, (name, help_text) in INGEST_GAUGES.items():
        if (key, "") in gauges:
            yield GaugeMetricFamily(name, help_text, value=gauges[(key, "")])
    yield GaugeMetricFamily(
        "anpr_ingest_queue_capacity",
        "Size of the receive queue (ingest.queue_size); full means back-pressure.",
        value=config.ingest.queue_size,
    )
    for key in ("admission_seconds", "store_seconds"):
        yield _histogram(ledger, counts, key)


def _hotlists(ledger: Ledger, counts: dict) -> Iterator[Metric]:
    alerts = CounterMetricFamily(
        "anpr_hotlist_alerts", "Hotlist alerts raised, by priority (1: act now).",
        labels=["priority"],
    )  # fmt: skip
    for (key, priority), value in sorted(counts.items()):
        if key == "alerts":
            alerts.add_metric([priority], value)
    yield alerts
    yield _histogram(ledger, counts, "alert_latency_seconds")


def _histogram(ledger: Ledger, counts: dict, key: str) -> HistogramMetricFamily:
    name, help_text = HISTOGRAMS[key]
    read = ledger.histogram(key, counts)
    return HistogramMetricFamily(name, help_text, buckets=read.buckets, sum_value=read.total)


# --- retention ---------------------------------------------------------------------------


def record_retention(
    ledger: Ledger, store, rows_deleted: int, days_destroyed: int, now: datetime
) -> None:
    """After a retention run (in its thread): when it ran, what it destroyed, and the
    oldest passage it left that no hold keeps, from which /metrics derives the lag."""
    tally = Tally()
    tally.add("retention_runs")
    tally.add("retention_rows_deleted", rows_deleted)
    tally.add("retention_days_destroyed", days_destroyed)
    oldest, held = oldest_unheld_capture(store, now)
    tally.set("retention_last_run", now.timestamp())
    tally.set("retention_oldest_unheld_capture", oldest.timestamp() if oldest else 0.0)
    tally.set("retention_held_expired", held)
    tally.flush(ledger, now)


def oldest_unheld_capture(store, now: datetime) -> tuple[datetime | None, int]:
    """The capture time of the oldest stored passage no hold keeps, and how many held
    passages sit in days reaching past 28 days.

    Reads the day files oldest first (normally the first has it). Held passages are kept
    for open requests, lawfully: they are counted apart instead of showing as lag. The
    store answers from the day file itself (it alone holds the day's key).
    """
    oldest, held_expired, limit = None, 0, cutoff(now)
    for day in store.days():
        if oldest is not None and day_start(day) >= limit:
            break
        held = store.custody.held_in(day)
        if day_start(day) < limit:
            held_expired += len(held)
        if oldest is not None:
            continue
        captured = store.oldest_captured(day, except_held=held)
        oldest = _parse(captured) if captured is not None else None
    return oldest, held_expired


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _retention(counts: dict, gauges: dict, now: datetime) -> Iterator[Metric]:
    for key, name, help_text in (
        ("retention_runs", "anpr_retention_runs", "Retention runs completed."),
        ("retention_rows_deleted", "anpr_retention_rows_deleted",
         "Passages securely deleted from partly expired days."),
        ("retention_days_destroyed", "anpr_retention_days_destroyed",
         "Whole days destroyed (key, then file)."),
    ):  # fmt: skip
        yield CounterMetricFamily(name, help_text, value=counts.get((key, ""), 0.0))
    last_run = gauges.get(("retention_last_run", ""))
    if last_run is None:
        return
    yield GaugeMetricFamily(
        "anpr_retention_last_run_timestamp_seconds",
        "When retention last completed a run (it runs every retention.interval_s).",
        value=last_run,
    )
    oldest = gauges.get(("retention_oldest_unheld_capture", ""), 0.0)
    lag = max(0.0, cutoff(now).timestamp() - oldest) if oldest else 0.0
    yield GaugeMetricFamily(
        "anpr_retention_lag_seconds",
        "How long the oldest passage no hold keeps has been past 28 days (0: none).",
        value=lag,
    )
    yield GaugeMetricFamily(
        "anpr_retention_held_expired_passages",
        "Passages past 28 days kept by a hold for an open request.",
        value=gauges.get(("retention_held_expired", ""), 0.0),
    )


# --- certificates and CRLs -----------------------------------------------------------------


def _security(config: CentralConfig) -> Iterator[Metric]:
    """Security events by kind, from the accounts file's append-only log of them."""
    events = CounterMetricFamily(
        "anpr_security_events",
        "Security events recorded: refused logins, lock-outs, address blocks, role violations.",
        labels=["event"],
    )
    accounts = Accounts(config.accounts_path)
    try:
        for event, count in accounts.event_counts(datetime(1970, 1, 1, tzinfo=UTC)).items():
            events.add_metric([event], count)
    finally:
        accounts.close()
    yield events


def _tls(paths: Iterable[Path], now: datetime) -> Iterator[Metric]:
    expiry = GaugeMetricFamily(
        "anpr_tls_expiry_seconds",
        "Seconds until a certificate's notAfter or a CRL's nextUpdate (negative once past).",
        labels=["file", "kind", "subject"],
    )
    readable = GaugeMetricFamily(
        "anpr_tls_file_readable", "1 when the file could be read as PEM certificates or a CRL.",
        labels=["file"],
    )  # fmt: skip
    for path in paths:
        try:
            found = tls_expiries(path)
        except (OSError, ValueError) as exc:
            log.warning("metrics: cannot read %s as certificates or a CRL: %s", path, exc)
            readable.add_metric([str(path)], 0)
            continue
        readable.add_metric([str(path)], 1 if found else 0)
        for kind, subject, moment in found:
            expiry.add_metric([str(path), kind, subject], (moment - now).total_seconds())
    yield expiry
    yield readable
