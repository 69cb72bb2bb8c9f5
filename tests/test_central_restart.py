"""Kill the central mid-stream: once it returns, every passage is stored exactly once."""

import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from central.store import open_store
from edge_agent.agent import Agent
from edge_agent.config import load_config
from edge_agent.spool import Spool
from tests.conftest import REPO, SAMPLES, wait_until, write_agent_config

pytestmark = pytest.mark.slow
COPIES = 5


def replay_folder(tmp_path):
    """The sample scenes several times over, each copy with its own annotation file."""
    folder = tmp_path / "replay"
    folder.mkdir()
    for copy in range(COPIES):
        for image in sorted(SAMPLES.glob("*.jpg")):
            name = f"{copy}-{image.name}"
            shutil.copy(image, folder / name)
            sidecar = image.with_suffix(".txt").read_text().replace(image.name, name)
            (folder / name).with_suffix(".txt").write_text(sidecar)
    return folder


def start_central(config_path, log_path, command: str = "serve"):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "central", "--config", str(config_path), command],
            stdout=log,
            stderr=log,
            env=env,
        )


def stored_count(config) -> int:
    store = open_store(config)
    try:
        return store.count()
    finally:
        store.close()


def test_nothing_is_lost_or_stored_twice_across_a_central_crash(
    tmp_path, mosquitto, central_setup, camera
):
    folder = replay_folder(tmp_path)
    total = len(list(folder.glob("*.jpg")))
    agent_config = load_config(
        write_agent_config(tmp_path, camera, central_setup, mosquitto.port, folder, fps=15)
    )
    central_log = tmp_path / "central.log"
    central = start_central(central_setup.config_path, central_log)
    agent = Agent(agent_config)
    runner = threading.Thread(target=agent.run, kwargs={"exit_when_drained": True})
    try:
        runner.start()
        wait_until(lambda: stored_count(central_setup.config) >= 5, what="first passages stored")
        central.send_signal(signal.SIGKILL)
        central.wait(timeout=10)
        killed_at = stored_count(central_setup.config)
        assert killed_at < total, "the stream ended before the crash; nothing was tested"
        wait_until(lambda: agent.spool.depth() > 0, what="records waiting while central is down")

        central = start_central(central_setup.config_path, central_log)
        runner.join(timeout=90)
        assert not runner.is_alive(), "agent never drained: " + central_log.read_text()[-2000:]
    finally:
        agent.stop_event.set()
        runner.join(timeout=10)
        central.send_signal(signal.SIGTERM)
        central.wait(timeout=10)

    store = open_store(central_setup.config)
    assert store.seqs(camera.camera_id) == list(range(1, total + 1))
    assert store.count() == total
    assert Spool(agent_config.spool.path).depth() == 0
