"""Two ingest workers share the cameras' traffic (MQTT v5 shared subscription) into one
PostgreSQL store; one is killed mid-stream. Every passage is stored exactly once and
acknowledged, the survivor carries on, and the units' spools drain (#21)."""

import shutil
import signal
import threading
import tomllib
from datetime import UTC, datetime

import pytest

from central.cameras import CameraRegistry
from central.config import parse_config
from central.store import open_store
from central.tally import Ledger
from edge_agent.agent import Agent
from edge_agent.config import load_config
from edge_agent.spool import Spool
from node.config_file import ConfigError
from node.keyfiles import load_verify_key
from tests.conftest import PLAN_START, wait_until, write_agent_config
from tests.test_central_restart import replay_folder, start_central

pytestmark = pytest.mark.slow


def worker_config(setup, conninfo: str, name: str, tmp_path):
    """The central's config for one ingest worker: the shared store and group, its own
    client id and its own local folder (as on its own host; the cameras copied in)."""
    text = setup.config_path.read_text()
    data_dir = setup.config.storage.data_dir
    own = tmp_path / f"{name}-data"
    if data_dir.exists() and not own.exists():
        shutil.copytree(data_dir, own)
    text = text.replace(f'data_dir = "{data_dir}"', f'data_dir = "{own}"\nbackend = '
                        f'"postgresql"\npostgresql = "{conninfo}"')  # fmt: skip
    text = text.replace("[mqtt]\n", f'[mqtt]\nclient_id = "anpr-central-{name}"\n')
    text = text.replace("[ingest]\n", '[ingest]\nshared_group = "ingest"\n')
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path, parse_config(tomllib.loads(text), base=tmp_path)


def share_camera(config, camera) -> None:
    """The camera in the registry every worker reads (the database's)."""
    registry = CameraRegistry(config.cameras_path)
    try:
        now = datetime.now(UTC)
        registry.add(camera.camera_id, load_verify_key(camera.public_path), now)
        registry.designate(camera.camera_id, PLAN_START, None, "test-plan-2026", now)
    finally:
        registry.close()


def received(config) -> float:
    ledger = Ledger(config.metrics_path)
    try:
        return ledger.counters().get(("received", ""), 0)
    finally:
        ledger.close()


def stored(config) -> int:
    store = open_store(config)
    try:
        return store.count()
    finally:
        store.close()


def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(
    tmp_path, mosquitto, central_setup, camera, postgres_conninfo
):
    folder = replay_folder(tmp_path)
    total = len(list(folder.glob("*.jpg")))
    first_path, first = worker_config(central_setup, postgres_conninfo, "first", tmp_path)
    second_path, second = worker_config(central_setup, postgres_conninfo, "second", tmp_path)
    share_camera(first, camera)
    agent_config = load_config(
        write_agent_config(tmp_path, camera, central_setup, mosquitto.port, folder, fps=15)
    )
    workers = [
        start_central(first_path, tmp_path / "first.log", "ingest"),
        start_central(second_path, tmp_path / "second.log", "ingest"),
    ]
    agent = Agent(agent_config)
    runner = threading.Thread(target=agent.run, kwargs={"exit_when_drained": True})
    try:
        runner.start()
        wait_until(lambda: received(first) > 0 and received(second) > 0, timeout=60,
                   what="both workers receiving their share")  # fmt: skip
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        killed_at = stored(first)
        assert killed_at < total, "the stream ended before the kill; nothing was tested"
        runner.join(timeout=120)
        logs = (tmp_path / "second.log").read_text()[-3000:]
        assert not runner.is_alive(), "the agent never drained through the survivor: " + logs
    finally:
        agent.stop_event.set()
        runner.join(timeout=10)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=20)

    store = open_store(second)
    try:
        assert store.seqs(camera.camera_id) == list(range(1, total + 1))
        assert store.count() == total
    finally:
        store.close()
    assert Spool(agent_config.spool.path).depth() == 0
    assert received(second) < total * 2, "the survivor saw the stream twice: not shared"


def test_a_shared_group_needs_the_shared_store(central_setup, postgres_conninfo, tmp_path):
    text = central_setup.config_path.read_text().replace(
        "[ingest]\n", '[ingest]\nshared_group = "ingest"\n'
    )
    with pytest.raises(ConfigError, match="storage.backend = 'postgresql'"):
        parse_config(tomllib.loads(text), base=tmp_path)


def test_the_backend_survives_parsing(central_setup, postgres_conninfo, tmp_path):
    """parse_config rebuilt [storage] for its paths and once dropped every other key."""
    _, config = worker_config(central_setup, postgres_conninfo, "parsed", tmp_path)
    assert config.storage.backend == "postgresql"
    assert config.storage.postgresql == postgres_conninfo
    assert config.ingest.shared_group == "ingest"


def test_a_password_in_the_connection_string_is_refused(central_setup, tmp_path):
    """The config is readable by the service's group and lands in support bundles: the
    password belongs in a .pgpass file only the service account reads."""
    text = central_setup.config_path.read_text().replace(
        "[storage]\n",
        '[storage]\nbackend = "postgresql"\npostgresql = "host=db user=anpr password=s3cret"\n',
    )
    with pytest.raises(ConfigError, match="pgpass"):
        parse_config(tomllib.loads(text), base=tmp_path)
    missing = central_setup.config_path.read_text().replace(
        "[storage]\n", '[storage]\nbackend = "postgresql"\n'
    )
    with pytest.raises(ConfigError, match="needs storage.postgresql"):
        parse_config(tomllib.loads(missing), base=tmp_path)
