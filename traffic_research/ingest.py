"""Research ingest: signed batches from the research topics into the research store.

Subscribes to `anpr/v1/+/research` only, with its own client id and (in production) its
own certificate, whose broker ACL allows nothing else. Each batch is checked: the topic's
camera is the batch's camera, the camera is registered for the batch's area, its signature
verifies, and it names a day key this service made for that area and day. Messages are
acknowledged to the broker only after the transaction holding them has committed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from node.tls import configure_tls
from traffic_research.config import ResearchConfig
from traffic_research.registry import Registry, ResearchCamera
from traffic_research.store import ResearchStore
from wire.errors import WireError
from wire.research import ResearchBatch, decode_batch
from wire.topics import RESEARCH_SUBSCRIPTION, camera_of

log = logging.getLogger("traffic_research.ingest")
BATCH_WAIT_S = 0.05
MAX_PER_COMMIT = 200


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int


def check_batch(registry: Registry, topic: str, payload: bytes) -> ResearchBatch:
    """The verified batch, or WireError/ValueError saying why it is refused."""
    cameras: dict[str, ResearchCamera | None] = {}

    def key_for(camera_id: str, key_id: str):
        camera = cameras.setdefault(camera_id, registry.camera(camera_id))
        return camera.verify_key if camera and camera.verify_key.key_id == key_id else None

    batch = decode_batch(payload, key_for)
    if camera_of(topic) != batch.camera_id:
        raise WireError(f"batch of {batch.camera_id} arrived on {topic}")
    camera = cameras[batch.camera_id]  # looked up once, for its key
    if camera.area != batch.area:
        raise WireError(f"{batch.camera_id} is not registered for area {batch.area}")
    if not registry.known_key_id(batch.area, batch.day, batch.day_key_id):
        raise WireError(f"day key {batch.day_key_id} was not made for {batch.area} {batch.day}")
    return batch


class ResearchIngest:
    def __init__(self, config: ResearchConfig) -> None:
        self.config = config
        self.counters: Counter[str] = Counter()
        self._incoming: queue.Queue[Incoming] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self.subscribed = threading.Event()
        self._thread = threading.Thread(target=self._store_loop, name="research-store", daemon=True)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.mqtt.client_id, clean_session=False, manual_ack=True,
        )  # fmt: skip
        configure_tls(self.client, config.mqtt)
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.on_message = self._on_message

    def start(self) -> None:
        self._thread.start()
        mqtt_config = self.config.mqtt
        log.info("research ingest: connecting to %s:%d", mqtt_config.host, mqtt_config.port)
        self.client.connect_async(mqtt_config.host, mqtt_config.port, mqtt_config.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()
        self.client._reset_sockets()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("research ingest: broker refused the connection: %s", reason_code)
            return
        client.subscribe(RESEARCH_SUBSCRIPTION, qos=1)

    def _on_message(self, client, userdata, message) -> None:
        self._incoming.put(Incoming(message.topic, bytes(message.payload), message.mid))

    def _store_loop(self) -> None:
        # The registry and store are used by this thread only.
        registry = Registry(self.config.registry_path)
        store = ResearchStore(self.config.store_path)
        try:
            while not self._stop.is_set():
                pending = self._drain()
                if pending:
                    self._store(registry, store, pending)
        finally:
            registry.close()
            store.close()

    def _drain(self) -> list[Incoming]:
        try:
            pending = [self._incoming.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(pending) < MAX_PER_COMMIT:
            try:
                pending.append(self._incoming.get(timeout=BATCH_WAIT_S))
            except queue.Empty:
                break
        return pending

    def _store(self, registry: Registry, store: ResearchStore, pending: list[Incoming]) -> None:
        good = []
        for item in pending:
            try:
                good.append(check_batch(registry, item.topic, item.payload))
            except (WireError, ValueError) as exc:
                self.counters["rejected"] += 1
                log.warning("research ingest: refused a batch on %s: %s", item.topic, exc)
        stored, replays = store.add_batches(good)
        self.counters["batches"] += len(good) - replays
        self.counters["sightings"] += stored
        self.counters["replays"] += replays
        for item in pending:
            self.client.ack(item.mid, 1)
