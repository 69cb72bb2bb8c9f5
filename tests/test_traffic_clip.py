"""A rendered traffic clip through the real agent, a real Mosquitto and the real central:
several vehicles, a repeated plate, a car in a masked driveway, a broker outage and an
agent crash in the middle. The central holds exactly the expected passages, masked,
signed, and nothing is lost."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from central.ingest.service import IngestWorker
from central.store import open_store
from edge_agent.capture.folder import load_bgr
from node.keyfiles import load_signing_key
from provisioning.broker_config import render_dev_config
from recognition.recognizer import parse_annotations
from tests.conftest import (
    REPO,
    SAMPLES,
    free_port,
    mosquitto_binary,
    register_camera,
    wait_for_port,
    wait_until,
    write_agent_config,
    write_central_config,
)

pytestmark = pytest.mark.slow
FPS = 20
HOUSE = ((0, 0), (330, 0), (330, 300), (0, 300))  # a home at the top left of the view


class Clip:
    """Frames with sidecar annotations: vehicles drive 12 px per frame, gaps are empty road."""

    def __init__(self, folder):
        self.folder = folder
        folder.mkdir()
        self.index = 0

    def _write(self, image: np.ndarray, annotations: list[tuple]) -> None:
        name = f"f{self.index:04d}.jpg"
        Image.fromarray(image[:, :, ::-1]).save(self.folder / name, quality=85)
        lines = [f"{name}\t{x}\t{y}\t{w}\t{h}\t{plate}\n" for x, y, w, h, plate in annotations]
        (self.folder / f"f{self.index:04d}.txt").write_text("".join(lines))
        self.index += 1

    def vehicle(self, scene: str, frames: int = 6, extra: tuple | None = None) -> str:
        image = load_bgr(SAMPLES / f"{scene}.jpg")
        ((_, (x, y, w, h), plate),) = parse_annotations(SAMPLES / f"{scene}.txt")
        for i in range(frames):
            shifted = np.roll(image, 12 * i, axis=1)
            annotations = [(x + 12 * i, y, w, h, plate)] + ([extra] if extra else [])
            self._write(shifted, annotations)
        return plate

    def gap(self, frames: int) -> None:
        road = np.full((720, 1280, 3), 90, dtype=np.uint8)
        for _ in range(frames):
            self._write(road, [])


def start_broker(folder, port):
    (folder / "mosquitto.conf").write_text(render_dev_config(port, folder))
    log = (folder / "mosquitto.log").open("ab")
    process = subprocess.Popen([mosquitto_binary(), "-c", str(folder / "mosquitto.conf")],
                               stdout=log, stderr=log)  # fmt: skip
    log.close()
    wait_for_port(port)
    return process


def start_agent(config_path, log_path):
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "--config", str(config_path)],
            stdout=log, stderr=log, cwd=REPO,
        )  # fmt: skip


def agent_config(tmp_path, camera, central_setup, port, folder, name):
    path = write_agent_config(tmp_path, camera, central_setup, port, folder, fps=FPS, name=name)
    text = path.read_text()
    text = text.replace("track_timeout_s = 0.01", "track_timeout_s = 0.3")
    text = text.replace("repeat_gap_s = 0", "repeat_gap_s = 1.0")
    mask = "[" + ", ".join(f"[{x}, {y}]" for x, y in HOUSE) + "]"
    path.write_text(text + f"\n[privacy]\nmasks = [{mask}]\n")
    return path


def test_rendered_traffic_survives_a_broker_outage_and_an_agent_crash(tmp_path):
    port = free_port()
    central_setup = write_central_config(tmp_path / "central", port, free_port())
    camera = register_camera(central_setup, "a12-hm34-n-1", tmp_path)
    first, second = Clip(tmp_path / "clip-1"), Clip(tmp_path / "clip-2")
    parked = (120, 200, 90, 20, "PARK99")  # a car in the driveway, inside the house mask
    expected = [first.vehicle("scene-000", extra=parked)]
    first.gap(10)
    expected.append(first.vehicle("scene-001"))
    first.gap(8)  # 0.4 s: longer than the track timeout, shorter than the repeat gap
    first.vehicle("scene-001")  # the same car again at once: merged, not a new passage
    first.gap(10)
    expected.append(second.vehicle("scene-002"))
    second.gap(30)  # 1.5 s: beyond the repeat gap
    expected.append(second.vehicle("scene-001"))  # the same plate much later: a new passage
    second.gap(10)
    expected.append(second.vehicle("scene-003"))
    second.gap(10)

    broker_dir = tmp_path / "broker"
    broker_dir.mkdir()
    broker = start_broker(broker_dir, port)
    worker = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    worker.start()
    store = open_store(central_setup.config)
    log = tmp_path / "agent.log"
    agent = start_agent(
        agent_config(tmp_path, camera, central_setup, port, first.folder, "a1.toml"), log
    )
    try:
        assert worker.subscribed.wait(10)
        wait_until(lambda: store.count() >= 1, timeout=30, what="first passage stored")
        broker.terminate()  # broker outage: the agent keeps reading and spooling
        broker.wait(timeout=10)
        wait_until(lambda: b"source finished" in log.read_bytes(), timeout=30, what="clip 1 read")
        agent.send_signal(signal.SIGKILL)  # and then the agent crashes
        agent.wait(timeout=10)
        stored_during_outage = store.count()

        broker = start_broker(broker_dir, port)
        config_2 = agent_config(tmp_path, camera, central_setup, port, second.folder, "a2.toml")
        agent = start_agent(config_2, log)
        wait_until(lambda: store.count() >= len(expected), timeout=60,
                   what=f"all passages stored; log:\n{log.read_text()[-3000:]}")  # fmt: skip
        time.sleep(1.0)  # anything extra (a duplicate, a merged car) would arrive now
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=10)
        worker.stop()
        broker.terminate()
        broker.wait(timeout=10)

    assert stored_during_outage < len(expected), "the outage really held records back"
    passages = sorted(store.recent(camera.camera_id, 100), key=lambda p: p.seq)
    assert [p.plate for p in passages] == expected
    assert [p.seq for p in passages] == list(range(1, len(expected) + 1)), "nothing lost"
    for passage in passages:
        overview = np.asarray(
            Image.open(
                __import__("io").BytesIO(store.image(camera.camera_id, passage.seq, "overview"))
            ).convert("L")
        )
        assert overview[20:280, 20:310].max() < 12, "the house is black in every overview"
    store.close()
