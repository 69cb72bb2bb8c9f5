"""MQTT ingest: receive, admit, store in batches, then acknowledge.

Order matters for "nothing lost": a batch is committed to SQLite first; only then is each
MQTT message acknowledged to the broker (manual PUBACK, persistent session) and the signed
acks published to the cameras. A crash before the commit leaves the messages with the broker
and the records in the agents' spools; both are sent again and stored once.
Queues are bounded: when storage falls behind, the MQTT thread blocks and the broker holds
the rest (back-pressure, never unbounded memory).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime

import paho.mqtt.client as mqtt

from central.config import CentralConfig
from central.ingest.stages import (
    AckPlan,
    Admission,
    AdmittedBatch,
    Incoming,
    Storage,
)
from central.tally import Tally
from node import wallclock
from node.tls import configure_tls
from wire import Ack, Passage, SigningKey, Verified, encode_ack
from wire.fields import truncate_to_millis
from wire.records import MAX_ACK_SEQS
from wire.topics import (
    COMMISSIONING_SUBSCRIPTION,
    HEARTBEAT_SUBSCRIPTION,
    PASSAGE_SUBSCRIPTION,
    REFUSED_PUBLISH,
    SELFTEST_SUBSCRIPTION,
    ack_topic,
    selftest_ack_topic,
)

log = logging.getLogger(__name__)
STATS_INTERVAL_S = 60.0
# Counts reach metrics.sqlite after every batch and at least this often when idle.
FLUSH_INTERVAL_S = 1.0


def _client(config: CentralConfig) -> mqtt.Client:
    """One ingest worker keeps a persistent session (the broker queues while it is down);
    workers in a shared group speak MQTT v5 and split the traffic (config: shared_group)."""
    if config.ingest.shared_group:
        return mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.mqtt.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
    return mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=config.mqtt.client_id,
        clean_session=False,
        manual_ack=True,
    )


class IngestWorker:
    def __init__(
        self,
        config: CentralConfig,
        ack_key: SigningKey,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
    ) -> None:
        self.config = config
        self.ack_key = ack_key
        self.clock = clock
        # What ingest did (and the hotlist listener running in its admission thread): in
        # memory here, in metrics.sqlite after each batch (central/tally.py).
        self.counters = Tally()
        # Every admitted passage, plan camera or not, is offered here first (hotlist matching).
        self.passage_listeners: list[Callable[[Verified[Passage]], None]] = []
        # The same, a whole admitted batch at a time (the calamity buffer: one transaction).
        self.batch_listeners: list[Callable[[list[Verified[Passage]]], None]] = []
        self._received: queue.Queue[Incoming] = queue.Queue(maxsize=config.ingest.queue_size)
        self._admitted: queue.Queue[AdmittedBatch] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._threads = [
            threading.Thread(target=self._admit_loop, name="ingest-admit", daemon=True),
            threading.Thread(target=self._store_loop, name="ingest-store", daemon=True),
        ]
        self.client = _client(config)
        configure_tls(self.client, config.mqtt)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    @property
    def subscribed(self) -> threading.Event:
        return self._subscribed

    def start(self) -> None:
        # Each stage opens its own database handles; both are used by their thread only.
        self.admission = Admission(
            self.config, self.counters, self.passage_listeners, self.batch_listeners
        )
        self.storage = Storage(self.config, self.counters, self.clock)
        mqtt_config = self.config.mqtt
        log.info("ingest: connecting to %s:%d", mqtt_config.host, mqtt_config.port)
        if self.config.ingest.shared_group:  # a session that ends with the worker (see config)
            self.client.connect_async(mqtt_config.host, mqtt_config.port,
                                      mqtt_config.keepalive_s, clean_start=True)  # fmt: skip
        else:
            self.client.connect_async(mqtt_config.host, mqtt_config.port, mqtt_config.keepalive_s)
        self.client.loop_start()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()
        # paho keeps its wake-up socket pair open until garbage collection; close it now.
        self.client._reset_sockets()
        self._flush()
        self.admission.close()
        self.storage.close()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("ingest: broker refused connection: %s", reason_code)
            return
        share = self.config.ingest.shared_group
        prefix = f"$share/{share}/" if share else ""
        client.subscribe(
            [
                (prefix + topic, 1)
                for topic in (
                    PASSAGE_SUBSCRIPTION,
                    HEARTBEAT_SUBSCRIPTION,
                    SELFTEST_SUBSCRIPTION,
                    COMMISSIONING_SUBSCRIPTION,
                    REFUSED_PUBLISH,
                )
            ]
        )
        log.info("ingest: connected, session_present=%s", flags.session_present)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        # Ready only once the broker has granted the subscriptions: a passage published
        # before that reaches no subscriber and would wait for the unit's resend.
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            log.error("ingest: broker refused subscriptions: %s", refused)
            return
        log.info("ingest: subscribed")
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._subscribed.clear()
        if not self._stop.is_set():
            log.warning("ingest: disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        item = Incoming(message.topic, bytes(message.payload), message.mid, message.qos)
        self.counters.add("received")
        self._put(self._received, item, "backpressure_waits")

    def _put(self, target: queue.Queue, item, counter: str) -> bool:
        while not self._stop.is_set():
            try:
                target.put(item, timeout=0.5)
                return True
            except queue.Full:
                self.counters.add(counter)
        return False

    def _admit_loop(self) -> None:
        next_report = time.monotonic() + STATS_INTERVAL_S
        while not self._stop.is_set():
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + STATS_INTERVAL_S
                stats = " ".join(f"{k}={v}" for k, v in self.counters.snapshot().items())
                log.info("ingest: stats %s", stats)
            messages = self._collect_batch()
            if not messages:
                continue
            started = time.perf_counter()
            try:
                batch = self.admission.admit(messages, self.clock())
            except Exception:
                # Nothing was acknowledged: broker and agents will deliver these again.
                self.counters.add("batch_failures")
                log.exception("ingest: admission of %d failed; not acknowledged", len(messages))
                self._stop.wait(1.0)
                continue
            self.counters.observe("admission_seconds", time.perf_counter() - started)
            self._put(self._admitted, batch, "storage_waits")

    def _store_loop(self) -> None:
        next_flush = time.monotonic() + FLUSH_INTERVAL_S
        while not self._stop.is_set():
            if time.monotonic() >= next_flush:
                next_flush = time.monotonic() + FLUSH_INTERVAL_S
                self._flush()
            try:
                batch = self._admitted.get(timeout=0.2)
            except queue.Empty:
                continue
            started = time.perf_counter()
            try:
                plan = self.storage.store_batch(batch)
            except Exception:
                self.counters.add("batch_failures")
                log.exception("ingest: storing %d failed; not acknowledged", len(batch.messages))
                self._stop.wait(1.0)
                continue
            self.counters.observe("store_seconds", time.perf_counter() - started)
            # Counted before acknowledged: an acknowledged record is never missing from the
            # totals (a crash between the two counts a redelivered one twice, as duplicate).
            self._flush()
            for item in batch.messages:
                self.client.ack(item.mid, item.qos)
            self.counters.add("acknowledged", len(batch.messages))
            self._publish_acks(plan)

    def _flush(self) -> None:
        """Write the counts since the last flush, the queue depth and a liveness stamp to
        metrics.sqlite; a failure there is logged and never holds back an acknowledgement."""
        now = self.clock()
        self.counters.set("queue_depth", self._received.qsize())
        self.counters.set("admitted_queue_depth", self._admitted.qsize())
        self.counters.set("flushed_at", now.timestamp())
        try:
            self.counters.flush(self.storage.ledger, now)
        except Exception:
            log.exception("ingest: writing counts to %s failed", self.config.metrics_path)

    def _collect_batch(self) -> list[Incoming]:
        try:
            first = self._received.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.config.ingest.batch_wait_ms / 1000
        while len(batch) < self.config.ingest.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._received.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _publish_acks(self, plan: AckPlan) -> None:
        issued = truncate_to_millis(self.clock())
        for camera_id, seqs in plan.selftests.items():
            ack = Ack(camera_id, self.ack_key.key_id, issued, tuple(seqs[:MAX_ACK_SEQS]))
            self.client.publish(selftest_ack_topic(camera_id), encode_ack(ack, self.ack_key), qos=1)
        for camera_id in set(plan.seqs) | set(plan.refused):
            seqs = plan.seqs.get(camera_id, [])
            refused = plan.refused.get(camera_id, [])
            for start in range(0, max(len(seqs), len(refused), 1), MAX_ACK_SEQS):
                ack = Ack(
                    camera_id=camera_id,
                    key_id=self.ack_key.key_id,
                    issued_at=issued,
                    seqs=tuple(seqs[start : start + MAX_ACK_SEQS]),
                    rejected=tuple(refused[start : start + MAX_ACK_SEQS]),
                )
                self.client.publish(ack_topic(camera_id), encode_ack(ack, self.ack_key), qos=1)
