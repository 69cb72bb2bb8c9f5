"""Sends spooled records over MQTT and deletes them on the central's signed acknowledgement.

A broker PUBACK only says the broker has the message, not that the central stored it, so
the spool keeps every record until an ack signed by the central's key names its sequence
number. Acks that do not verify are counted and ignored: a forged ack must never delete data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from edge_agent.config import MqttConfig
from edge_agent.research_queue import ResearchQueue
from edge_agent.spool import Spool
from node.tls import configure_tls
from wire import VerifyKey, WireError, decode_ack
from wire.topics import (
    ack_topic,
    heartbeat_topic,
    hotlist_topic,
    passage_topic,
    research_key_topic,
    research_topic,
    status_topic,
)

log = logging.getLogger(__name__)
RESEARCH_INFLIGHT = 16  # research batches published and not yet PUBACKed
RESEARCH_RESEND_S = 60.0  # a batch without PUBACK this long is sent again


@dataclass
class PublisherStats:
    published: int = 0
    acknowledged: int = 0
    rejected_by_central: int = 0
    bad_acks: int = 0
    connects: int = 0
    research_published: int = 0


class Publisher:
    def __init__(
        self,
        camera_id: str,
        spool: Spool,
        central_key: VerifyKey,
        mqtt_config: MqttConfig,
        max_inflight: int = 32,
    ) -> None:
        self.camera_id = camera_id
        self.spool = spool
        self.central_key = central_key
        self.config = mqtt_config
        self.max_inflight = max_inflight
        self.stats = PublisherStats()
        # Matching on the unit: given each hotlist the central pushes (raw, unverified).
        self.on_hotlist: Callable[[bytes], None] | None = None
        # Traffic research: batches to send (deleted on PUBACK), and the day keys pushed to
        # the unit (raw; the key ring checks them).
        self.research: ResearchQueue | None = None
        self.on_research_keys: Callable[[bytes], None] | None = None
        self._research_inflight: list[tuple[mqtt.MQTTMessageInfo, int]] = []
        self._research_reset = threading.Event()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spool-sender", daemon=True)
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"anpr-agent-{self.camera_id}",
            clean_session=True,
        )
        configure_tls(client, self.config)
        client.will_set(status_topic(self.camera_id), b"offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=self.config.reconnect_max_s)
        client.max_inflight_messages_set(self.max_inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        log.info("mqtt: connecting to %s:%d", self.config.host, self.config.port)
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self.client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.connected:
            self.client.publish(status_topic(self.camera_id), b"offline", qos=1, retain=True)
        self.client.disconnect()
        self.client.loop_stop()
        # paho keeps its wake-up socket pair open until garbage collection; close it now.
        self.client._reset_sockets()

    def wake(self) -> None:
        """Tell the sender a new record is waiting, so it goes out without polling delay."""
        self._wake.set()

    def publish_heartbeat(self, payload: bytes) -> bool:
        """Heartbeats are not spooled: a missing heartbeat is itself the news."""
        if not self.connected:
            return False
        self.client.publish(heartbeat_topic(self.camera_id), payload, qos=1)
        return True

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("mqtt: broker refused connection: %s", reason_code)
            return
        self.stats.connects += 1
        client.subscribe(ack_topic(self.camera_id), qos=1)
        if self.on_hotlist is not None:
            client.subscribe(hotlist_topic(self.camera_id), qos=1)
        if self.on_research_keys is not None:
            client.subscribe(research_key_topic(self.camera_id), qos=1)
        self._research_reset.set()
        client.publish(status_topic(self.camera_id), b"online", qos=1, retain=True)
        requeued = self.spool.requeue_all_inflight()
        log.info("mqtt: connected; %d unacknowledged record(s) will be resent", requeued)
        self._connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("mqtt: disconnected (%s); records stay in the spool", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if message.topic == hotlist_topic(self.camera_id):
            if self.on_hotlist is not None:
                self.on_hotlist(bytes(message.payload))
            return
        if message.topic == research_key_topic(self.camera_id):
            if self.on_research_keys is not None:
                try:
                    self.on_research_keys(bytes(message.payload))
                except Exception:  # an exception here would stop the MQTT loop for all
                    log.exception("research: day keys not taken in")
            return
        try:
            ack = decode_ack(message.payload).verify(self.central_key).record
        except WireError as exc:
            self.stats.bad_acks += 1
            log.warning("ack: ignored (%s): %s", exc.reason, exc)
            return
        if ack.camera_id != self.camera_id:
            self.stats.bad_acks += 1
            log.warning("ack: ignored, addressed to camera %s", ack.camera_id)
            return
        removed = self.spool.acknowledge(ack.seqs)
        self.stats.acknowledged += removed
        for rejection in ack.rejected:
            self.stats.rejected_by_central += 1
            log.error(
                "central rejected seq=%d reason=%s; kept in spool, will resend",
                rejection.seq,
                rejection.reason,
            )
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            if self._stop.is_set() or not self.connected:
                continue
            try:
                self._send_due()
            except Exception:  # a broken send loop would silently stop all delivery
                log.exception("spool sender failed; retrying")

    def _send_due(self) -> None:
        self._send_research()
        self.spool.requeue_due()
        room = self.max_inflight - self.spool.inflight()
        topic = passage_topic(self.camera_id)
        for outgoing in self.spool.take_ready(room):
            info = self.client.publish(topic, outgoing.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                log.warning("mqtt: publish of seq=%d failed rc=%s", outgoing.seq, info.rc)
                continue
            self.stats.published += 1

    def _send_research(self) -> None:
        """Research batches: out with QoS 1, deleted from their queue on the broker's PUBACK.

        After a reconnect nothing in flight is trusted to have arrived: all is sent again
        (the research store drops a batch whose sequence number it has seen).
        """
        queue = self.research
        if queue is None:
            return
        if self._research_reset.is_set():
            self._research_reset.clear()
            self._research_inflight = []
            queue.requeue()
        pending = []
        for info, seq in self._research_inflight:
            if info.is_published():
                queue.delivered(seq)
            else:
                pending.append((info, seq))
        self._research_inflight = pending
        queue.requeue(older_than_s=RESEARCH_RESEND_S)
        topic = research_topic(self.camera_id)
        for batch in queue.take_ready(RESEARCH_INFLIGHT - len(pending)):
            info = self.client.publish(topic, batch.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                log.warning("mqtt: publish of research batch seq=%d failed rc=%s", batch.seq,
                            info.rc)  # fmt: skip
                continue
            self.stats.research_published += 1
            self._research_inflight.append((info, batch.seq))
