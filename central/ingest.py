"""MQTT ingest: receive, admit, store in batches, then acknowledge.

Order matters for "nothing lost": a batch is committed to SQLite first; only then is each
MQTT message acknowledged to the broker (manual PUBACK, persistent session) and the signed
acks published to the cameras. A crash before the commit leaves the messages with the broker
and the records in the agents' spools; both are sent again and stored once.
The receive queue is bounded: when storage falls behind, the MQTT thread blocks and the
broker holds the rest (back-pressure, never unbounded memory).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt

from central.admission import Refused, admit_heartbeat, admit_passage
from central.cameras import CameraRegistry
from central.config import CentralConfig
from central.rejections import RejectionLog
from central.retention import cutoff
from central.store import Outcome, open_store
from wire import Ack, Passage, Rejection, SigningKey, Verified, encode_ack
from wire.errors import WireError
from wire.fields import truncate_to_millis
from wire.records import MAX_ACK_SEQS
from wire.topics import HEARTBEAT_SUBSCRIPTION, PASSAGE_SUBSCRIPTION, ack_topic, camera_of

log = logging.getLogger(__name__)
STATS_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int


@dataclass
class AckPlan:
    """Per camera: sequence numbers to acknowledge and those refused, for one batch."""

    seqs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, list[Rejection]] = field(default_factory=lambda: defaultdict(list))


class IngestWorker:
    def __init__(
        self,
        config: CentralConfig,
        ack_key: SigningKey,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.ack_key = ack_key
        self.clock = clock
        self.counters: Counter[str] = Counter()
        # Every admitted passage, plan camera or not, is offered here first (hotlist matching).
        self.passage_listeners: list[Callable[[Verified[Passage]], None]] = []
        self._queue: queue.Queue[Incoming] = queue.Queue(maxsize=config.ingest.queue_size)
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.mqtt.client_id,
            clean_session=False,
            manual_ack=True,
        )
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    @property
    def subscribed(self) -> threading.Event:
        return self._subscribed

    def start(self) -> None:
        # Stores are opened here and used only by the ingest thread.
        self.store = open_store(self.config, self.clock)
        self.registry = CameraRegistry(self.config.cameras_path)
        self.rejections = RejectionLog(self.config.rejections_path)
        mqtt_config = self.config.mqtt
        log.info("ingest: connecting to %s:%d", mqtt_config.host, mqtt_config.port)
        self.client.connect_async(mqtt_config.host, mqtt_config.port, mqtt_config.keepalive_s)
        self.client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()
        # paho keeps its wake-up socket pair open until garbage collection; close it now.
        self.client._reset_sockets()
        for db in (self.store, self.registry, self.rejections):
            db.close()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("ingest: broker refused connection: %s", reason_code)
            return
        client.subscribe([(PASSAGE_SUBSCRIPTION, 1), (HEARTBEAT_SUBSCRIPTION, 1)])
        log.info("ingest: connected, session_present=%s", flags.session_present)
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._subscribed.clear()
        if not self._stop.is_set():
            log.warning("ingest: disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        item = Incoming(message.topic, bytes(message.payload), message.mid, message.qos)
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                self.counters["backpressure_waits"] += 1

    def _run(self) -> None:
        next_report = time.monotonic() + STATS_INTERVAL_S
        while not self._stop.is_set():
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + STATS_INTERVAL_S
                log.info(
                    "ingest: stats %s",
                    " ".join(f"{k}={v}" for k, v in sorted(self.counters.items())),
                )
            batch = self._collect_batch()
            if not batch:
                continue
            try:
                self.process_batch(batch)
            except Exception:
                # Nothing was acknowledged: broker and agents will deliver these again.
                self.counters["batch_failures"] += 1
                log.exception("ingest: batch of %d failed; not acknowledged", len(batch))
                self._stop.wait(1.0)

    def _collect_batch(self) -> list[Incoming]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.config.ingest.batch_wait_ms / 1000
        while len(batch) < self.config.ingest.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def process_batch(self, batch: list[Incoming]) -> None:
        now = self.clock()
        skew = timedelta(seconds=self.config.ingest.max_future_skew_s)
        plan = AckPlan()
        admitted: list[Verified[Passage]] = []
        for item in batch:
            try:
                topic_camera = camera_of(item.topic)
                if item.topic.endswith("/passage"):
                    admitted.append(
                        admit_passage(item.payload, topic_camera, self.registry, now, skew)
                    )
                elif item.topic.endswith("/heartbeat"):
                    heartbeat = admit_heartbeat(item.payload, topic_camera, self.registry)
                    self.registry.record_heartbeat(heartbeat.record, heartbeat.canonical, now)
                    self.counters["heartbeats"] += 1
            except WireError as exc:
                self._refuse(item.topic, Refused(exc.reason, str(exc)), plan, now)
            except Refused as refused:
                self._refuse(item.topic, refused, plan, now)
        to_store = self._select_for_store(admitted, now, plan)
        outcomes = self.store.insert_batch(to_store, now) if to_store else []
        for verified, outcome in zip(to_store, outcomes, strict=True):
            passage = verified.record
            if outcome is Outcome.CONFLICT:
                refused = Refused(
                    "seq_conflict",
                    f"seq {passage.seq} already stored with different content",
                    passage.camera_id,
                    passage.seq,
                )
                log.error("INTEGRITY ALERT camera=%s: %s", passage.camera_id, refused)
                self._refuse(f"anpr/v1/{passage.camera_id}/passage", refused, plan, now)
                continue
            self.counters[outcome.value] += 1
            plan.seqs[passage.camera_id].append(passage.seq)
        for item in batch:
            self.client.ack(item.mid, item.qos)
        self._publish_acks(plan)

    def _select_for_store(
        self, admitted: list[Verified[Passage]], now: datetime, plan: AckPlan
    ) -> list[Verified[Passage]]:
        """Offer every passage to the listeners; keep only plan cameras' unexpired ones.

        Passages of cameras not designated in the camera plan at capture time may only be
        matched against hotlists: they are never written to the 28-day store. Passages
        older than 28 days on arrival are not stored either. Both are acknowledged: they
        have been dealt with as the law requires.
        """
        expired_before = cutoff(now)
        kept = []
        for verified in admitted:
            passage = verified.record
            for listener in self.passage_listeners:
                listener(verified)
            if passage.captured_at < expired_before:
                self.counters["expired_on_arrival"] += 1
            elif not self.registry.designated(passage.camera_id, passage.captured_at):
                self.counters["not_in_plan_discarded"] += 1
            else:
                kept.append(verified)
                continue
            plan.seqs[passage.camera_id].append(passage.seq)
        return kept

    def _refuse(self, topic: str, refused: Refused, plan: AckPlan, now: datetime) -> None:
        self.counters[f"rejected_{refused.reason}"] += 1
        log.warning(
            "ingest: rejected topic=%s camera=%s seq=%s reason=%s detail=%s",
            topic,
            refused.camera_id,
            refused.seq,
            refused.reason,
            refused.detail,
        )
        self.rejections.record(
            now, topic, refused.camera_id, refused.seq, refused.reason, refused.detail
        )
        known = refused.camera_id and self.registry.get(refused.camera_id) is not None
        if known and refused.seq is not None:
            plan.refused[refused.camera_id].append(Rejection(refused.seq, refused.reason))

    def _publish_acks(self, plan: AckPlan) -> None:
        issued = truncate_to_millis(self.clock())
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
