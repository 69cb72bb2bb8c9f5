"""One road, two cameras, separate purposes, everything real: Mosquitto, the central's
ingest with hotlist matching, the research service, and two agents.

Camera A serves all three purposes and is in the camera plan; camera B, a province's
counting camera, serves traffic research only. The same vehicles pass A, then B. Shown:
research records hold no plate (a byte scan of the research store), one vehicle's
sightings link within the day and would not under another day's key, small cells are
suppressed, the hotlist hit still reaches the control room, and only A's passages enter
the 28-day store.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from central.hotlists.listener import HotlistListener
from central.hotlists.lists import Hotlists
from central.ingest.service import IngestWorker
from central.store import open_store
from edge_agent.agent import Agent
from node.keyfiles import load_seal_public_key, load_signing_key, load_verify_key
from provisioning.keys import make_research_key
from tests.conftest import SAMPLES, register_camera, wait_until
from tests.test_agent_research import (
    AREA,
    RESEARCH,
    RESEARCH_ONLY,
    FramesWhen,
    Listener,
    agent_config,
    plates_in,
)  # fmt: skip
from tests.test_research import research_config
from traffic_research.figures import od_matrix
from traffic_research.ingest import ResearchIngest
from traffic_research.keys import KeyKeeper
from traffic_research.registry import Registry
from traffic_research.store import ResearchStore, vehicle_id
from wire.research import vehicle_hash

pytestmark = pytest.mark.slow
ALL_THREE = RESEARCH  # research configured; hotlist and store stay on by default


def wanted(central_setup, plate: str) -> None:
    store = Hotlists(central_setup.config.hotlists_path)
    now, until = datetime.now(UTC), datetime.now(UTC) + timedelta(days=2)
    list_id = store.create_list("Missing person", "desk-3", "order 2026-90", "missing_person",
                                1, until, now)  # fmt: skip
    store.add_entry(list_id, plate, "", "missing since Friday", "call the family officer",
                    until, "desk-3", now)  # fmt: skip
    store.approve(list_id, "OvJ", now)
    store.close()


def run_agent(config, ready) -> Agent:
    stop = threading.Event()
    agent = Agent(config, stop=stop)
    agent.source = FramesWhen(config.source.path, lambda: ready(agent), stop)
    runner = threading.Thread(target=agent.run, kwargs={"exit_when_drained": True})
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), f"{config.camera.id} did not drain"
    return agent


def test_one_road_two_cameras_separate_purposes(tmp_path, mosquitto, central_setup):
    today = datetime.now(UTC).date()
    plates = plates_in(SAMPLES)
    wanted(central_setup, plates[2])
    cam_a = register_camera(central_setup, "police-cam-a", tmp_path / "a", designate=True)
    cam_b = register_camera(central_setup, "province-cam-b", tmp_path / "b", designate=False)

    research = research_config(tmp_path, mosquitto.port)
    signer = load_signing_key(research.secrets.signing_key_file)
    service_pub = tmp_path / "research-service.pub"
    service_pub.write_text(signer.verify_key.b64 + "\n")
    registry = Registry(research.registry_path)
    units = {}
    for camera in (cam_a, cam_b):
        key, pub = make_research_key(camera.camera_id, tmp_path / "unit-keys")
        registry.add_camera(camera.camera_id, AREA, load_verify_key(camera.public_path),
                            load_seal_public_key(pub), datetime.now(UTC))  # fmt: skip
        units[camera.camera_id] = SimpleNamespace(unit_key_path=key, public_path=service_pub)
    registry.close()

    ack_key = load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    worker = IngestWorker(central_setup.config, ack_key)
    hotlist = HotlistListener(central_setup.config.hotlists_path,
                              publish=lambda t, d: worker.client.publish(t, d, qos=1))  # fmt: skip
    worker.passage_listeners.append(hotlist)
    service = ResearchIngest(research)
    keeper = KeyKeeper(research.registry_path, signer,
                       lambda t, p: service.client.publish(t, p, qos=1, retain=True))  # fmt: skip
    control_room = Listener(mosquitto.port)
    control_room.client.subscribe("anpr/v1/alerts/#", qos=1)
    worker.start()
    service.start()
    try:
        assert worker.subscribed.wait(10) and service.subscribed.wait(10)
        keeper_registry = Registry(research.registry_path)
        assert keeper.run_once(keeper_registry, datetime.now(UTC)) == 2
        keeper_registry.close()
        agents = {}
        for camera, purposes in ((cam_a, ALL_THREE), (cam_b, RESEARCH_ONLY)):
            folder = tmp_path / camera.camera_id
            folder.mkdir()
            shutil.copytree(SAMPLES, folder / "replay")
            config = agent_config(folder, camera, central_setup, mosquitto.port,
                                  units[camera.camera_id], purposes, folder / "replay")  # fmt: skip
            time.sleep(1.1)  # the vehicles take a moment to drive from A to B
            agents[camera.camera_id] = run_agent(
                config, lambda agent: today in agent.research.keys.held_days()
            )
        wait_until(lambda: service.counters["sightings"] == 2 * len(plates),
                   what="both cameras' sightings stored")  # fmt: skip
        wait_until(lambda: any(t.startswith("anpr/v1/alerts/") for t, _ in control_room.messages),
                   what="the hotlist alert in the control room")  # fmt: skip
    finally:
        control_room.close()
        service.stop()
        worker.stop()
        hotlist.close()

    assert agents[cam_b.camera_id].stats.passages == 0, "research only: nothing with a plate"
    store = open_store(central_setup.config)
    assert store.count(cam_a.camera_id) == len(plates) and store.count(cam_b.camera_id) == 0
    store.close()
    (alert,) = [json.loads(p) for t, p in control_room.messages if t.startswith("anpr/v1/alerts/")]
    assert alert["plate"] == plates[2] and alert["camera_id"] == cam_a.camera_id

    on_disk = b"".join(p.read_bytes() for p in Path(research.storage.data_dir).glob("*.sqlite*"))
    for plate in plates:
        assert plate.encode() not in on_disk, f"{plate} in the research service's files"
    registry = Registry(research.registry_path)
    key_today = registry.day_key(AREA, today).key
    key_tomorrow = registry.day_key(AREA, today + timedelta(days=1)).key
    registry.close()
    research_store = ResearchStore(research.store_path)
    day = research_store.day_arrays(AREA, today)
    research_store.close()
    ids = list(day["vehicle"])
    for plate in plates:
        same_day = vehicle_id(vehicle_hash(key_today, plate))
        assert ids.count(same_day) == 2, f"{plate} links across A and B within the day"
        assert vehicle_id(vehicle_hash(key_tomorrow, plate)) not in ids, "not across days"
    shown = od_matrix(day, k=research.figures.k, window_s=7200)
    assert shown and all(cell.trips is None for cell in shown), "8 vehicles < k: suppressed"
    assert {(c.origin, c.destination, c.trips) for c in od_matrix(day, k=1, window_s=7200)} \
        == {(cam_a.camera_id, cam_b.camera_id, len(plates))}  # fmt: skip
