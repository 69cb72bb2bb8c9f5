"""Hotlist matching at ingest: every admitted passage, from every camera, plan or not.

Runs in the ingest's admission thread as a passage listener, with its own database handle.
A hit becomes an alert with the passage's images, or one more pass of the same entry's
open alert (`AlertDesk.record_pass`), published again under that alert's id. The log line
names the alert and its priority but never the plate (logs outlive the 28 days).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from central.databases import StoreLocation
from central.hotlists.alerts import Recorded
from central.hotlists.lists import Hit, Hotlists, LiveEntries
from central.tally import Tally
from node import wallclock
from wire import Passage, Verified
from wire.fields import format_timestamp
from wire.topics import ESCALATED_ALERTS, alert_topic, investigation_alerts_topic

log = logging.getLogger("central.alerts")


def topic_for(hit) -> str | None:
    """Investigation hits go to their owner only, never to the control room's topics."""
    return (
        investigation_alerts_topic(hit.owner) if hit.for_owner_only else alert_topic(hit.priority)
    )


class HotlistListener:
    def __init__(
        self,
        path: StoreLocation,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
        publish: Callable[[str, bytes], None] | None = None,
        tally: Tally | None = None,
    ) -> None:
        self.path = path
        self.clock = clock
        self.publish = publish
        # Alerts by priority and capture-to-alert latency, for /metrics; the ingest worker's
        # tally, which writes them to metrics.sqlite with the batch they came in.
        self.tally = tally
        self._store: Hotlists | None = None
        self.alerts_raised = 0
        # Called with (alert_id, hit, passage) after each alert (the signed webhook); each
        # must return at once and never raise (ingest waits for the listeners).
        self.notifiers: list[Callable[[int, Hit, Passage], None]] = []

    def __call__(self, verified: Verified[Passage]) -> None:
        self.batch([verified])

    def batch(self, admitted: list[Verified[Passage]]) -> None:
        """Match a batch's passages (ingest attaches this as a batch listener): the live
        entries are read once for the batch, then every passage matched in memory."""
        if self._store is None:
            self._store = Hotlists(self.path)  # opened in the thread that calls it
        entries = self._store.live_entries()
        for verified in admitted:
            self._match(entries, verified.record)

    def _match(self, entries: LiveEntries, passage: Passage) -> None:
        now = self.clock()
        hits = entries.hits(passage.plate, passage.country, passage.captured_at, passage.camera_id)
        for hit in hits:
            recorded = self._store.record_pass(hit, passage, now)
            if recorded is None:
                continue  # the same passage delivered again: recorded once
            self._announce(recorded, hit, passage, now)

    def _announce(self, recorded: Recorded, hit: Hit, passage: Passage, now: datetime) -> None:
        """Count, publish, notify and log a pass: a new alert, or one more pass of an open
        alert (same id, `passes` above 1), so a console can update the alert it shows."""
        alert_id = recorded.alert_id
        if self.tally is not None:
            if recorded.new:
                self.tally.add("alerts", label=str(hit.priority))
            latency = (now - passage.captured_at).total_seconds()
            self.tally.observe("alert_latency_seconds", max(latency, 0.0))
        if recorded.new:
            self.alerts_raised += 1
        topic = topic_for(hit)
        if topic is None:
            log.error("ALERT id=%d: list %d's owner %r cannot be told over MQTT (not a "
                      "user name); see /alerts", alert_id, hit.list_id, hit.owner)  # fmt: skip
        elif self.publish is not None:
            self.publish(topic, _message(alert_id, hit, passage, recorded.passes))
        for notify in self.notifiers:
            notify(alert_id, hit, passage)
        log.warning(
            "ALERT id=%d priority=%d list=%d camera=%s tolerant=%s pass=%d%s",
            alert_id, hit.priority, hit.list_id, passage.camera_id, hit.tolerant,
            recorded.passes, f" for owner {hit.owner}" if hit.for_owner_only else "",
        )  # fmt: skip

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _message(alert_id: int, hit: Hit, passage: Passage, passes: int) -> bytes:
    """The alert for consoles (over TLS, readable only by the control room's identity)."""
    document = alert_document(alert_id, hit, passage, passes)
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def alert_document(alert_id: int, hit: Hit, passage: Passage, passes: int | None = None) -> dict:
    """An alert as JSON-ready fields, for the MQTT message and the webhook alike; `passes`
    (MQTT) counts the passes grouped under the alert so far, this one included."""
    document = {
        "alert_id": alert_id,
        "priority": hit.priority,
        "list_id": hit.list_id,
        "near_match": hit.tolerant,
        "camera_id": passage.camera_id,
        "seq": passage.seq,
        "captured_at": format_timestamp(passage.captured_at),
        "plate": passage.plate,
        "country": passage.country,
        "reason": hit.reason,
        "instructions": hit.instructions,
        "category": hit.category,
    }
    if passes is not None:
        document["passes"] = passes
    return document


def escalation_run(path: StoreLocation, publish: Callable[[str, bytes], None] | None = None):
    """A periodic job: escalate alerts nobody acknowledged in time; log and announce them."""
    opened: dict = {}

    def run_once(now: datetime) -> list[int]:
        if "store" not in opened:
            opened["store"] = Hotlists(path)
        escalated = opened["store"].escalate(now)
        for alert_id in escalated:
            log.error("ESCALATION alert id=%d not acknowledged in time", alert_id)
            if publish is not None:
                publish(ESCALATED_ALERTS, json.dumps({"alert_id": alert_id}).encode())
        return escalated

    return run_once
