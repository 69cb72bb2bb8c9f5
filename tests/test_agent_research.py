"""Purposes on a real agent with a real Mosquitto: what each purpose makes the camera emit.

A research-only camera sends pseudonymised sightings and nothing with a plate; a police
camera sends passages and no research; a camera with both sends both. Day keys come over
MQTT, sealed to the unit, and survive a restart; research batches survive an outage.
"""

import os
import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge_agent.agent import Agent
from edge_agent.config import load_config
from edge_agent.research_keys import DayKeyRing
from node.keyfiles import load_sealing_key
from provisioning.keys import make_research_key
from tests.conftest import SAMPLES, free_port, wait_until, write_agent_config
from wire import SigningKey, decode_heartbeat
from wire.research import DayKey, decode_batch, encode_day_keys, seal_day_key, vehicle_hash
from wire.topics import research_key_topic

pytestmark = pytest.mark.slow
AREA = "utrecht-oost"
RESEARCH = f"""
[purposes.traffic_research]
area = "{AREA}"
owner = "Provincie Utrecht"
legal_basis = "Provinciewet art. 158"
valid_from = 2026-01-01
flush_s = 0.5
"""
RESEARCH_ONLY = "\n[purposes]\nhotlist = false\nstore = false\n" + RESEARCH


class Listener:
    """Everything the broker delivers under anpr/v1/, as a subscriber on the broker sees it."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="listener")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("anpr/v1/#", qos=1)
        self.client.loop_start()

    def payloads(self, suffix: str) -> list[bytes]:
        return [payload for topic, payload in list(self.messages) if topic.endswith(suffix)]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client._reset_sockets()


class Research:
    """The research service's side, made with the wire module: its key and today's and
    tomorrow's day keys for the area, sealed to one unit."""

    def __init__(self, tmp_path: Path, camera_id: str) -> None:
        self.camera_id = camera_id
        self.signer = SigningKey.generate()
        self.public_path = tmp_path / "research-service.pub"
        self.public_path.write_text(self.signer.verify_key.b64 + "\n")
        self.unit_key_path, unit_public = make_research_key(camera_id, tmp_path / "unit-keys")
        self.unit_public = base64_raw(unit_public)
        today = datetime.now(UTC).date()
        self.keys = {day: DayKey(AREA, day, os.urandom(32))
                     for day in (today, today + timedelta(days=1))}  # fmt: skip

    def payload(self) -> bytes:
        return encode_day_keys([seal_day_key(key, self.camera_id, self.unit_public, self.signer)
                                for key in self.keys.values()])  # fmt: skip

    def hashes(self, plates: list[str]) -> set[str]:
        key = self.keys[datetime.now(UTC).date()].key
        return {vehicle_hash(key, plate) for plate in plates}


def base64_raw(path: Path) -> bytes:
    import base64

    return base64.b64decode(path.read_text().strip())


def agent_config(tmp_path, camera, central, port, research, purposes: str, source=SAMPLES):
    path = write_agent_config(tmp_path, camera, central, port, source=source)
    keys = (f'research_key = "{research.unit_key_path}"\n'
            f'research_service_public_key = "{research.public_path}"\n')  # fmt: skip
    text = path.read_text().replace("\n[source]", f"\n{keys}\n[source]", 1) + purposes
    path.write_text(text)
    return load_config(path)


def plates_in(folder: Path) -> list[str]:
    return [line.split("\t")[-1].strip() for txt in sorted(folder.glob("*.txt"))
            for line in txt.read_text().splitlines() if line.strip()]  # fmt: skip


def hold_keys(config, research: Research) -> None:
    """Keys received earlier (the same path as over MQTT): saved in the unit's state dir."""
    unit = load_sealing_key(config.keys.research_key)
    ring = DayKeyRing(config.research_dir, research.camera_id, AREA, unit,
                      research.signer.verify_key)  # fmt: skip
    assert ring.receive(research.payload()) == 2


def start(agent: Agent, **kwargs) -> threading.Thread:
    runner = threading.Thread(target=agent.run, kwargs=kwargs, name="agent-under-test")
    runner.start()
    return runner


def stop(agent: Agent, runner: threading.Thread) -> None:
    agent.stop_event.set()
    runner.join(timeout=15)
    assert not runner.is_alive()


def heartbeats(listener: Listener, camera) -> list:
    return [decode_heartbeat(p).verify(camera.key.verify_key).record
            for p in listener.payloads("/heartbeat")]  # fmt: skip


def sightings(listener: Listener, camera) -> list:
    batches = [decode_batch(p, lambda c, k: camera.key.verify_key)
               for p in listener.payloads("/research")]  # fmt: skip
    return [s for b in batches for s in b.sightings]


class FramesWhen:
    """A replay that starts once a condition holds (the unit waiting for its day keys)."""

    live = False

    def __init__(self, folder: Path, ready, stop: threading.Event) -> None:
        from edge_agent.capture.folder import FolderSource

        self.inner, self.ready, self.stop = FolderSource(folder, 50.0, stop=stop), ready, stop
        self.healthy = True

    def frames(self):
        while not self.ready():
            if self.stop.wait(0.05):
                return
        yield from self.inner.frames()


def test_research_only_camera_sends_sightings_without_any_plate_and_its_keys_survive_restart(
    tmp_path, mosquitto, central_setup, camera
):
    replay = tmp_path / "replay"
    shutil.copytree(SAMPLES, replay)
    # The first vehicle passes again later today.
    shutil.copy(replay / "scene-000.jpg", replay / "scene-900.jpg")
    sidecar = (replay / "scene-000.txt").read_text()
    (replay / "scene-900.txt").write_text(sidecar.replace("scene-000.jpg", "scene-900.jpg"))
    plates = plates_in(replay)
    assert len(plates) == 9 and len(set(plates)) == 8
    research = Research(tmp_path, camera.camera_id)
    listener = Listener(mosquitto.port)
    # The research service pushes the keys while the unit is away: the broker retains them.
    listener.publish(research_key_topic(camera.camera_id), research.payload(), retain=True)
    config = agent_config(tmp_path, camera, central_setup, mosquitto.port, research,
                          RESEARCH_ONLY, replay)  # fmt: skip
    try:
        stop_first = threading.Event()
        first = Agent(config, stop=stop_first)
        today = datetime.now(UTC).date()
        first.source = FramesWhen(replay, lambda: today in first.research.keys.held_days(),
                                  stop_first)  # fmt: skip
        runner = start(first, exit_when_drained=True)
        runner.join(timeout=30)
        assert not runner.is_alive(), "the first run did not drain its research batches"
        assert first.stats.sightings == 9 and first.stats.passages == 0
        # The service withdraws the retained keys: the restarted unit has only its own copy.
        listener.publish(research_key_topic(camera.camera_id), b"", retain=True)

        second = Agent(config)
        assert second.research.keys.held_days() == [today, today + timedelta(days=1)]
        runner = start(second)
        wait_until(lambda: any(h.research and h.research.sightings_sent == 9
                               for h in heartbeats(listener, camera)),
                   timeout=20, what="a heartbeat reporting the sightings sent")  # fmt: skip
        stop(second, runner)
        # The heartbeat can overtake the last batch on its way to this listener (a flake
        # under a loaded CI run saw 9 of 18): wait for them, then count exactly.
        wait_until(lambda: len(sightings(listener, camera)) >= 18, timeout=10,
                   what="both runs' sightings at the listener")  # fmt: skip
    finally:
        listener.close()

    seen = sightings(listener, camera)
    assert len(seen) == 18
    assert {s.vehicle for s in seen} == research.hashes(plates), "one key, linked across runs"
    again = [s.vehicle for s in seen].count(vehicle_hash(research.keys[today].key, plates[0]))
    assert again == 4, "the returning vehicle links within the day (twice per run)"
    assert {s.direction for s in seen} == {"N"}
    assert listener.payloads("/passage") == [], "a research-only camera sends no passage"
    spool = sqlite3.connect(config.spool.path)
    assert spool.execute("SELECT count(*) FROM records").fetchone() == (0,)
    assert spool.execute("SELECT value FROM counters").fetchone() == (0,)
    spool.close()
    status = next(h.research for h in heartbeats(listener, camera)
                  if h.research and h.research.sightings_sent == 9)  # fmt: skip
    assert status.area == AREA and status.key_today and status.key_tomorrow
    assert status.valid_today and status.sightings_dropped == 0 and status.keys_refused == 0
    # Nothing the unit sent, nor anything it keeps for research, holds a plate.
    sent = b"".join(p for t, p in listener.messages if not t.endswith("/research-key"))
    kept = b"".join(f.read_bytes() for f in config.research_dir.rglob("*") if f.is_file())
    for plate in plates:
        assert plate.encode() not in sent and plate.encode() not in kept


@pytest.mark.parametrize(
    ("purposes", "expect_passages", "expect_research"),
    [("", True, False), (RESEARCH, True, True)],
    ids=["police-only (default)", "all-three"],
)
def test_purposes_switch_what_the_camera_emits(
    tmp_path, mosquitto, central_setup, camera, purposes, expect_passages, expect_research
):
    research = Research(tmp_path, camera.camera_id)
    config = agent_config(tmp_path, camera, central_setup, mosquitto.port, research, purposes)
    if expect_research:
        hold_keys(config, research)
    listener = Listener(mosquitto.port)
    agent = Agent(config)
    runner = start(agent)
    try:
        wait_until(lambda: len(listener.payloads("/passage")) == 8, what="8 passages")
        if expect_research:
            wait_until(lambda: len(sightings(listener, camera)) == 8, what="8 sightings")
        wait_until(lambda: len(heartbeats(listener, camera)) >= 2, what="heartbeats")
    finally:
        stop(agent, runner)
        listener.close()
    assert (agent.research is not None) == expect_research
    assert all((h.research is not None) == expect_research for h in heartbeats(listener, camera))
    if expect_research:
        hashes = {s.vehicle for s in sightings(listener, camera)}
        assert hashes == research.hashes(plates_in(SAMPLES))
    else:
        assert listener.payloads("/research") == []
        assert not (config.spool.path.parent / "research").exists()


def test_without_todays_key_the_unit_emits_nothing_for_research_and_says_so(
    tmp_path, mosquitto, central_setup, camera
):
    research = Research(tmp_path, camera.camera_id)
    config = agent_config(tmp_path, camera, central_setup, mosquitto.port, research,
                          RESEARCH_ONLY)  # fmt: skip
    listener = Listener(mosquitto.port)
    agent = Agent(config)
    runner = start(agent)
    try:
        wait_until(lambda: any(h.research and h.research.sightings_unkeyed == 8
                               for h in heartbeats(listener, camera)),
                   what="a heartbeat counting 8 vehicles without a key")  # fmt: skip
    finally:
        stop(agent, runner)
        listener.close()
    status = heartbeats(listener, camera)[-1].research
    assert not status.key_today and not status.key_tomorrow and status.sightings_sent == 0
    assert listener.payloads("/research") == [] and listener.payloads("/passage") == []


def test_research_batches_wait_through_an_outage_and_a_restart(
    tmp_path, mosquitto, central_setup, camera
):
    research = Research(tmp_path, camera.camera_id)
    down = agent_config(tmp_path, camera, central_setup, free_port(), research, RESEARCH_ONLY)
    hold_keys(down, research)
    offline = Agent(down)
    runner = start(offline)
    wait_until(lambda: offline.research.queue.queued_sightings() == 8, what="8 queued")
    stop(offline, runner)
    queued = sqlite3.connect(down.research_dir / "queue.sqlite")
    (waiting,) = queued.execute("SELECT count(*) FROM batches").fetchone()
    queued.close()
    assert waiting >= 1
    on_disk = b"".join(f.read_bytes() for f in down.research_dir.rglob("*") if f.is_file())
    assert not any(plate.encode() in on_disk for plate in plates_in(SAMPLES))

    listener = Listener(mosquitto.port)
    up = down.model_copy(update={"mqtt": down.mqtt.model_copy(update={"port": mosquitto.port})})
    online = Agent(up)
    runner = start(online, exit_when_drained=True)
    runner.join(timeout=30)
    try:
        assert not runner.is_alive(), "the queue did not drain once the broker was back"
    finally:
        stop(online, runner)
        listener.close()
    batches = [decode_batch(p, lambda c, k: camera.key.verify_key)
               for p in listener.payloads("/research")]  # fmt: skip
    assert sorted(b.seq for b in batches)[:waiting] == list(range(1, waiting + 1))
    assert sum(len(b.sightings) for b in batches) == 16, "the outage's 8 and the replay's 8"
    assert len({b.seq for b in batches}) == len(batches)
