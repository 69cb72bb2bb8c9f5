"""Shared fixtures: a real Mosquitto on a free loopback port, keys, configs, records, and the
central's web application with its test client (`app`, `client`)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from central import create_app
from central.cameras import CameraRegistry
from central.config import CentralConfig, parse_config
from node.keyfiles import load_signing_key, load_verify_key
from provisioning.broker_config import render_dev_config
from provisioning.keys import make_camera_key, make_central_keys
from wire import Passage, SigningKey

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "replay"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(64))
PLAN_START = datetime(2020, 1, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        pytest.fail("mosquitto is not installed: run `make test`, which installs it with apt")
    return found


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto broker, started for one test and stopped after it."""
    port = free_port()
    data = tmp_path / "broker"
    data.mkdir()
    conf = data / "mosquitto.conf"
    conf.write_text(render_dev_config(port, data))
    log = (data / "mosquitto.log").open("wb")
    process = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_for_port(port)
        yield Broker("127.0.0.1", port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass
class CentralSetup:
    config: CentralConfig
    config_path: Path
    ack_public_key: Path
    credentials: Path


def write_central_config(tmp_path: Path, broker_port: int, web_port: int = 8080) -> CentralSetup:
    credentials = tmp_path / "central-credentials"
    keys = make_central_keys(credentials)
    text = f"""
[storage]
data_dir = "{tmp_path / "central-data"}"
keys_dir = "{tmp_path / "central-keys"}"

[secrets]
session_key_file = "{keys["session"]}"
ack_signing_key_file = "{keys["ack_key"]}"
seal_key_file = "{keys["seal_key"]}"
audit_signing_key_file = "{keys["audit_key"]}"

[mqtt]
host = "127.0.0.1"
port = {broker_port}

[ingest]
batch_wait_ms = 20
# Tests of admission publish hand-made records; the agent seals (test_sealing.py).
accept_unsealed = true

[web]
port = {web_port}
demo_views = true
# Tests find page text in English; the shipped default, Dutch, has its own tests
# (test_languages.py), and test_readable_pages.py walks the pages in both (#23).
language = "en"
"""
    path = tmp_path / "central.toml"
    path.write_text(text)
    config = parse_config(tomllib.loads(text), base=tmp_path)
    return CentralSetup(config, path, keys["ack_pub"], credentials)


@pytest.fixture
def central_setup(tmp_path: Path, mosquitto: Broker) -> CentralSetup:
    return write_central_config(tmp_path, mosquitto.port, free_port())


@dataclass
class CameraSetup:
    camera_id: str
    key: SigningKey
    key_path: Path
    public_path: Path


def register_camera(
    central: CentralSetup, camera_id: str, tmp_path: Path, designate: bool = True
) -> CameraSetup:
    private, public = make_camera_key(camera_id, tmp_path / "camera-keys")
    registry = CameraRegistry(central.config.cameras_path)
    try:
        now = datetime.now(UTC)
        registry.add(camera_id, load_verify_key(public), now)
        if designate:
            registry.designate(camera_id, PLAN_START, None, "test-plan-2026", now)
    finally:
        registry.close()
    return CameraSetup(camera_id, load_signing_key(private), private, public)


@pytest.fixture
def camera(central_setup: CentralSetup, tmp_path: Path) -> CameraSetup:
    return register_camera(central_setup, "test-cam-01", tmp_path)


def open_day_file(config: CentralConfig, day):
    """A day file opened by someone holding the file and its key (an administrator before
    expiry), past the store's code: the triggers and the integrity checks are theirs to defy."""
    from central.databases import connect
    from central.store.daykeys import DayKeyring

    key = DayKeyring(config.storage.keys_dir).file_key(day)
    return connect(config.storage.data_dir / "passages" / f"{day}.sqlite", key)


def make_passage(key: SigningKey, seq: int = 1, camera_id: str = "test-cam-01", **changes):
    values = dict(
        camera_id=camera_id,
        key_id=key.key_id,
        seq=seq,
        captured_at=datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC),
        lat_e7=520907000,
        lon_e7=51214000,
        direction="N",
        lane=1,
        plate="GBL12X",
        country="NL",
        confidence_pm=970,
        char_confidence_pm=(990, 980, 970, 990, 999, 950),
        plate_box=(100, 200, 120, 30),
        detector_version="det-0.1",
        reader_version="ocr-0.1",
        crop_jpeg=JPEG,
        overview_jpeg=JPEG + b"overview",
    )
    values.update(changes)
    return Passage(**values)


def verified_passage(key: SigningKey, **changes):
    """A passage as ingest hands it to the store: encoded, decoded and verified."""
    from wire import decode_passage, encode_passage

    passage = make_passage(key, **changes)
    return decode_passage(encode_passage(passage, key)).verify(key.verify_key)


def write_agent_config(
    tmp_path: Path,
    camera: CameraSetup,
    central: CentralSetup,
    broker_port: int,
    source: Path = SAMPLES,
    fps: float = 50.0,
    ack_timeout_s: float = 2.0,
    name: str = "agent.toml",
    tls: dict[str, Path] | None = None,
    loop: bool = False,
    heartbeat_s: float = 1.0,
) -> Path:
    """An agent replaying `source`; over TLS when `tls` names ca, cert and key files."""
    path = tmp_path / name
    mqtt_tls = "".join(f'tls_{kind}_file = "{tls[kind]}"\n' for kind in ("ca", "cert", "key")) \
        if tls else ""  # fmt: skip
    path.write_text(
        f"""
[camera]
id = "{camera.camera_id}"
lat = 52.0907
lon = 5.1214
direction = "N"
lane = 1

[keys]
signing_key = "{camera.key_path}"
central_public_key = "{central.ack_public_key}"
central_seal_public_key = "{central.credentials / "seal.pub"}"

[source]
path = "{source}"
fps = {fps}
loop = {"true" if loop else "false"}

[mqtt]
host = "127.0.0.1"
port = {broker_port}
reconnect_max_s = 2
{mqtt_tls}
[spool]
path = "{tmp_path / "agent-spool.sqlite"}"
ack_timeout_s = {ack_timeout_s}
max_backoff_s = {ack_timeout_s * 2}

[heartbeat]
interval_s = {heartbeat_s}

[recognizer]
# Delivery tests read the ground truth, so that they test delivery, not the models.
kind = "annotations"

[tracking]
# Delivery tests replay unrelated frames quickly: every frame is its own vehicle.
track_timeout_s = 0.01
repeat_gap_s = 0
"""
    )
    return path


def make_user(config, username: str = "m.maintainer", roles=("maintainer",)):
    """A personal account; returns (username, password, TOTP secret)."""
    from central.accounts.users import Accounts

    password = "correct horse battery staple"
    accounts = Accounts(config.accounts_path)
    try:
        secret = accounts.add(username, "M. Maintainer", "unit-midden", list(roles), password,
                              datetime.now(UTC))  # fmt: skip
    finally:
        accounts.close()
    return username, password, secret


def current_code(secret: str, offset_steps: int = 0) -> str:
    import time

    from central.accounts import totp

    return totp.code_at(secret, int(time.time() // totp.STEP_S) + offset_steps)


def logged_in(client, config, roles=("maintainer",), username: str = "m.maintainer"):
    """A test client logged in as a fresh account with these roles."""
    name, password, secret = make_user(config, username, roles)
    form = {"username": name, "password": password, "code": current_code(secret)}
    response = client.post("/login", data=form)
    assert response.status_code == 302, response.data
    return client


@pytest.fixture
def web_setup(tmp_path: Path) -> CentralSetup:
    """A central's config, keys and empty data folder, for tests of the web side alone: no
    broker is started (nothing ingests; pages and the API read what the test stores)."""
    return write_central_config(tmp_path, broker_port=1883)


@pytest.fixture
def app(web_setup: CentralSetup) -> Flask:
    """The web application over `web_setup`. Stores open per request, so a test may fill
    them before or after asking for the app."""
    return create_app(web_setup.config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


PROSECUTOR = "p.prosecutor"


def confirm_order(flow, request_id: int, now: datetime, username: str = PROSECUTOR) -> None:
    """A prosecutor's account (made on first use) confirms the request's order, the act the
    prosecutor's desk records: tests that execute a written order need it first."""
    accounts = flow.register.accounts
    known = accounts.db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
    if known is None:
        accounts.add(username, "mr. P. Prosecutor", "om-midden", ["prosecutor"],
                     "correct horse battery staple", now)  # fmt: skip
    flow.confirm_order(request_id, username, True, "", now)


def confirm_order_in(config, request_id: int, now: datetime, username: str = PROSECUTOR) -> None:
    """`confirm_order` on a central's files, for tests that keep no workflow of their own."""
    from central.accounts.register import Register
    from central.accounts.users import Accounts
    from central.audit import AuditTrail
    from central.requests.store import Requests
    from central.requests.workflow import Workflow

    accounts, requests = Accounts(config.accounts_path), Requests(config.requests_path)
    trail = AuditTrail(config.audit_path)
    try:
        confirm_order(Workflow(requests, Register(accounts), trail), request_id, now, username)
    finally:
        for part in (trail, requests, accounts):
            part.close()


@pytest.fixture(scope="session")
def postgres_cluster():
    """One real PostgreSQL per test session (Debian's server, a temporary folder, loopback)."""
    from tests.postgres import PostgresUnavailable, start_cluster

    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    yield cluster
    from central.postgres_pools import close_pools

    close_pools()
    cluster.stop()


@pytest.fixture
def postgres_conninfo(postgres_cluster, request) -> Iterator[str]:
    """A fresh, empty database of the session's cluster for one test."""
    import psycopg

    from central.postgres_pools import close_pools

    name = f"t{abs(hash(request.node.nodeid)) % 10**12}_{int(time.monotonic() * 1000) % 10**6}"
    admin = postgres_cluster.conninfo
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    yield admin.replace("dbname=anpr", f"dbname={name}")
    close_pools()
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """Run a test once on each backend of the central's stores (#21)."""
    return request.param


@pytest.fixture
def store_location(backend, tmp_path, request):
    """`store_location("accounts")`: where a small store lives in this test: its SQLite
    file, or its schema in a fresh PostgreSQL database (tests/postgres.py)."""
    from central.databases import PostgresSchema

    def at(name: str):
        if backend == "sqlite":
            return tmp_path / f"{name}.sqlite"
        return PostgresSchema(request.getfixturevalue("postgres_conninfo"), name)

    return at
