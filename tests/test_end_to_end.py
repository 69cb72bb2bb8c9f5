"""One agent replays the sample images; the central stores every passage once and acks it."""

import json
import threading

import pytest

from central import create_app
from central.health.records import HealthRecords
from central.ingest.service import IngestWorker
from central.store import open_store
from edge_agent.agent import Agent
from edge_agent.config import load_config
from edge_agent.spool import Spool
from node.keyfiles import load_signing_key
from recognition.recognizer import parse_annotations
from tests.conftest import SAMPLES, wait_until, write_agent_config

pytestmark = pytest.mark.slow


def expected_plates() -> list[str]:
    plates = []
    for sidecar in sorted(SAMPLES.glob("*.txt")):
        plates += [plate for _, _, plate in parse_annotations(sidecar)]
    return plates


@pytest.fixture
def ingest(central_setup):
    worker = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    worker.start()
    assert worker.subscribed.wait(10), "ingest did not subscribe"
    yield worker
    worker.stop()


def test_replayed_passages_are_stored_once_acknowledged_and_leave_the_spool(
    tmp_path, mosquitto, central_setup, camera, ingest
):
    config = load_config(write_agent_config(tmp_path, camera, central_setup, mosquitto.port))
    agent = Agent(config)
    runner = threading.Thread(target=agent.run, kwargs={"exit_when_drained": True})
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "agent did not drain its spool"

    plates = expected_plates()
    assert agent.stats.passages == len(plates) > 0
    assert agent.publisher.stats.bad_acks == 0
    assert Spool(config.spool.path).depth() == 0

    store = open_store(central_setup.config)
    assert store.seqs(camera.camera_id) == list(range(1, len(plates) + 1))
    stored = sorted(p.plate for p in store.recent(camera.camera_id, 100))
    assert stored == sorted(plates)
    assert ingest.counters["stored"] == len(plates)

    wait_until(lambda: ingest.counters["heartbeats"] >= 1, what="a heartbeat")
    records = HealthRecords(central_setup.config.health_path)
    heartbeat = json.loads(records.last_heartbeat(camera.camera_id)["record"])
    records.close()
    assert heartbeat["models"] == {"detector": "annotations-1", "reader": "annotations-1"}
    assert heartbeat["clock_sync"] in ("synced", "unsynced", "unknown")
    assert heartbeat["disk_free_mb"] > 0
    assert heartbeat["layout_match_pm"] in (-1, 1000), "the sample plates are Dutch layouts"

    client = create_app(central_setup.config).test_client()
    listing = client.get(f"/api/v1/cameras/{camera.camera_id}/passages?limit=100").get_json()
    assert sorted(p["plate"] for p in listing["passages"]) == sorted(plates)
    crop = client.get(listing["passages"][0]["crop_url"])
    assert crop.status_code == 200 and crop.data.startswith(b"\xff\xd8\xff")


def test_agent_restart_delivers_what_the_previous_run_left_in_the_spool(
    tmp_path, mosquitto, central_setup, camera
):
    config = load_config(write_agent_config(tmp_path, camera, central_setup, mosquitto.port))
    first = Agent(config)
    runner = threading.Thread(target=first.run)
    runner.start()
    wait_until(lambda: first.stats.frames == len(list(SAMPLES.glob("*.jpg"))), what="replay")
    wait_until(lambda: first.publisher.stats.published >= first.stats.passages, what="publish")
    first.stop_event.set()
    runner.join(timeout=10)
    left = Spool(config.spool.path).depth()
    assert left == first.stats.passages > 0, "nothing may leave the spool without the central"

    worker = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    worker.start()
    try:
        second = Agent(config)
        runner = threading.Thread(target=second.run, kwargs={"exit_when_drained": True})
        runner.start()
        runner.join(timeout=60)
        assert not runner.is_alive(), "restarted agent did not drain its spool"
    finally:
        worker.stop()
    store = open_store(central_setup.config)
    assert store.seqs(camera.camera_id) == list(range(1, left + second.stats.passages + 1))


def test_the_shipped_models_read_the_replayed_scenes_end_to_end(
    tmp_path, mosquitto, central_setup, camera, ingest
):
    """The real ONNX detector and reader in the real agent: what the central stores is what
    the scenes show (ground truth from the sidecar files, used only to check)."""
    path = write_agent_config(tmp_path, camera, central_setup, mosquitto.port)
    path.write_text(path.read_text().replace('kind = "annotations"', 'kind = "onnx"'))
    config = load_config(path)
    agent = Agent(config)
    assert agent.recognizer.reader_version.startswith("plate-reader")
    runner = threading.Thread(target=agent.run, kwargs={"exit_when_drained": True})
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive()
    store = open_store(central_setup.config)
    stored = {p.plate for p in store.recent(camera.camera_id, 100)}
    truth = set(expected_plates())
    assert len(stored & truth) >= len(truth) - 1, f"read {sorted(stored)}, truth {sorted(truth)}"
    assert all(p.country in ("NL", "") for p in store.recent(camera.camera_id, 100))


@pytest.mark.parametrize(
    ("section", "zoom", "detail", "weak"),
    [
        ("", 0.5, 0.0, 0.0),
        ("close_up_retry = false\ntile_large_frames = true\nweak_boxes = true\n", 0.0, 2.0, 0.2),
    ],
)
def test_the_recognizer_section_switches_the_retries(
    tmp_path, mosquitto, central_setup, camera, section, zoom, detail, weak
):
    from edge_agent.agent import make_recognizer

    path = write_agent_config(tmp_path, camera, central_setup, mosquitto.port)
    text = path.read_text().replace('kind = "annotations"', f'kind = "onnx"\n{section}')
    path.write_text(text)
    recognizer = make_recognizer(load_config(path))
    assert recognizer.settings.close_up_zoom == zoom
    assert recognizer.settings.tile_detail == detail
    assert recognizer.settings.weak_box_score == weak
