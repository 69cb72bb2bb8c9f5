"""Two units provisioned from scratch with the CLI, on a real TLS broker with per-unit ACLs:
each delivers, neither can publish as the other, and a revoked unit is shut out."""

import getpass
import shutil
import signal
import ssl
import subprocess
import threading
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest

from central.accounts.users import Accounts
from central.cameras import CameraRegistry
from central.health.monitor import HealthMonitor
from central.health.records import HealthRecords
from central.health.rules import Limits
from central.ingest.rejections import RejectionLog
from central.ingest.service import IngestWorker
from central.store import open_store
from edge_agent.agent import Agent
from edge_agent.config import load_config
from node.keyfiles import load_signing_key, load_verify_key
from provisioning.__main__ import main as provision
from tests.conftest import (
    PLAN_START,
    SAMPLES,
    free_port,
    make_passage,
    mosquitto_binary,
    wait_for_port,
    wait_until,
    write_central_config,
)
from wire import encode_passage
from wire.topics import passage_topic

pytestmark = pytest.mark.slow
UNITS = ("unit-a-01", "unit-b-02")


class Network:
    def __init__(self, root):
        self.root = root
        self.port = free_port()
        self.ca = root / "ca"
        assert provision(["ca-init", "--ca", str(self.ca)]) == 0
        assert provision(["broker-cert", "--ca", str(self.ca), "--host", "127.0.0.1",
                          "--out", str(root / "broker-cert")]) == 0  # fmt: skip
        assert (
            provision(["client-cert", "--ca", str(self.ca), "--out", str(root / "central-tls")])
            == 0
        )
        for unit in UNITS:
            unit_dir = root / unit
            assert provision(["unit-init", "--camera-id", unit, "--out", str(unit_dir)]) == 0
            assert provision(["enroll", "--ca", str(self.ca), "--camera-id", unit,
                              "--csr", str(unit_dir / "tls.csr"),
                              "--out", str(unit_dir / "tls.crt")]) == 0  # fmt: skip
        self.write_broker_config()
        log = (root / "broker.log").open("wb")
        self.broker = subprocess.Popen(
            [mosquitto_binary(), "-c", str(root / "broker" / "mosquitto.conf")],
            stdout=log, stderr=log,
        )  # fmt: skip
        log.close()
        wait_for_port(self.port)

    def write_broker_config(self):
        assert provision(["broker-config", "--ca", str(self.ca),
                          "--broker-cert", str(self.root / "broker-cert"),
                          "--out", str(self.root / "broker"), "--port", str(self.port),
                          "--bind", "127.0.0.1", "--run-as", getpass.getuser()]) == 0  # fmt: skip

    def reload_broker(self):
        self.broker.send_signal(signal.SIGHUP)
        time.sleep(0.5)

    def stop(self):
        self.broker.terminate()
        self.broker.wait(timeout=10)

    def tls(self, unit: str) -> dict:
        folder = self.root / unit
        return {"ca": self.ca / "ca.crt", "cert": folder / "tls.crt", "key": folder / "tls.key"}

    def raw_client(self, unit: str) -> mqtt.Client:
        files = self.tls(unit)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"raw-{unit}")
        client.tls_set(
            ca_certs=str(files["ca"]), certfile=str(files["cert"]), keyfile=str(files["key"]),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )  # fmt: skip
        return client


def connects(client: mqtt.Client, port: int) -> bool:
    """Connect and report success; a client that fails is cleaned up here."""
    try:
        client.connect("127.0.0.1", port)
    except (OSError, ssl.SSLError):
        client._reset_sockets()
        return False
    client.loop_start()
    ok = False
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not ok:
        ok = client.is_connected()
        time.sleep(0.05)
    if not ok:
        close(client)
    return ok


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()
    client._reset_sockets()


@pytest.fixture
def network(tmp_path):
    network = Network(tmp_path)
    yield network
    network.stop()


def agent_config(network, central, unit):
    tls = network.tls(unit)
    path = network.root / f"{unit}.toml"
    path.write_text(f"""
[camera]
id = "{unit}"
lat = 52.0
lon = 5.0
direction = "N"

[keys]
signing_key = "{network.root / unit / f"{unit}.key"}"
central_public_key = "{central.ack_public_key}"

[source]
path = "{SAMPLES}"
fps = 50

[mqtt]
host = "127.0.0.1"
port = {network.port}
tls_ca_file = "{tls["ca"]}"
tls_cert_file = "{tls["cert"]}"
tls_key_file = "{tls["key"]}"

[spool]
path = "{network.root / unit / "spool.sqlite"}"
ack_timeout_s = 2
""")
    return load_config(path)


def test_provisioned_units_deliver_over_tls_stay_in_their_lane_and_can_be_shut_out(
    network, tmp_path
):
    central = write_central_config(tmp_path / "central", network.port)
    central_tls = tmp_path / "central-tls"
    config = central.config.model_copy(
        update={
            "mqtt": central.config.mqtt.model_copy(
                update={
                    "tls_ca_file": network.ca / "ca.crt",
                    "tls_cert_file": central_tls / "anpr-central-ingest.crt",
                    "tls_key_file": central_tls / "anpr-central-ingest.key",
                }
            )
        }
    )
    registry = CameraRegistry(config.cameras_path)
    now = datetime.now(UTC)
    for unit in UNITS:
        registry.add(unit, load_verify_key(network.root / unit / f"{unit}.pub"), now)
        registry.designate(unit, PLAN_START, None, "test-plan", now)
    registry.close()
    worker = IngestWorker(config, load_signing_key(config.secrets.ack_signing_key_file))
    worker.start()
    monitor = HealthMonitor(
        config.cameras_path, config.health_path, Limits(offline_after_s=2.0), interval_s=0.2
    )
    monitor.start()
    health = HealthRecords(config.health_path)

    def states(unit: str) -> list[str]:
        return [h["state"] for h in reversed(health.health_history(unit))]

    try:
        assert worker.subscribed.wait(10), "central could not connect over TLS"
        # 1. Both units deliver everything over TLS.
        for unit in UNITS:
            agent = Agent(agent_config(network, central, unit))
            runner = threading.Thread(target=agent.run, kwargs={"exit_when_drained": True})
            runner.start()
            runner.join(timeout=60)
            assert not runner.is_alive(), f"{unit} did not drain over TLS"
        expected = len(list(SAMPLES.glob("*.jpg")))
        store = open_store(config)
        assert [len(store.seqs(unit)) for unit in UNITS] == [expected, expected]

        # Health follows the heartbeats: both units went quiet after their replay.
        for unit in UNITS:
            wait_until(lambda u=unit: states(u)[-2:] == ["OK", "OFFLINE"], timeout=10,
                       what=f"{unit} OK then OFFLINE")  # fmt: skip

        # 2. Unit A cannot publish under unit B's topic: the broker drops it before the central.
        a_key = load_signing_key(network.root / UNITS[0] / f"{UNITS[0]}.key")
        forged = encode_passage(
            make_passage(
                a_key, seq=500, camera_id=UNITS[0], captured_at=now.replace(microsecond=0)
            ),
            a_key,
        )
        intruder = network.raw_client(UNITS[0])
        assert connects(intruder, network.port)
        intruder.publish(passage_topic(UNITS[1]), forged, qos=1).wait_for_publish(5)
        intruder.publish(passage_topic(UNITS[0]), forged, qos=1).wait_for_publish(5)
        wait_until(lambda: 500 in store.seqs(UNITS[0]), what="control publish on own topic")
        rejections = RejectionLog(config.rejections_path)
        assert rejections.counts() == {}, "the forged publish must never reach the central"
        rejections.close()
        # ... but the broker reports it, and the central records a security event.
        intruder.publish("anpr/v1/alerts/p1", b"{}", qos=1).wait_for_publish(5)
        wait_until(lambda: worker.counters["refused_publishes"] == 2, what="broker reports")
        accounts = Accounts(config.accounts_path)
        refused = accounts.events(kind="refused_publish")
        accounts.close()
        assert {e["username"] for e in refused} == {f"unit:{UNITS[0]}"}
        assert {e["detail"].split(" published to ")[1] for e in refused} == {
            passage_topic(UNITS[1]),
            "anpr/v1/alerts/p1",
        }
        close(intruder)

        # 3. Plaintext and foreign certificates are refused.
        plain = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="plain")
        assert not connects(plain, network.port)
        stranger_ca = tmp_path / "stranger"
        provision(["ca-init", "--ca", str(stranger_ca / "ca")])
        provision(["unit-init", "--camera-id", UNITS[1], "--out", str(stranger_ca / UNITS[1])])
        provision(["enroll", "--ca", str(stranger_ca / "ca"), "--camera-id", UNITS[1],
                   "--csr", str(stranger_ca / UNITS[1] / "tls.csr"),
                   "--out", str(stranger_ca / UNITS[1] / "tls.crt")])  # fmt: skip
        fake = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fake")
        fake.tls_set(ca_certs=str(network.ca / "ca.crt"),
                     certfile=str(stranger_ca / UNITS[1] / "tls.crt"),
                     keyfile=str(stranger_ca / UNITS[1] / "tls.key"))  # fmt: skip
        assert not connects(fake, network.port)

        # 4. Revoke unit B: a connected session loses its grants, a new one is refused.
        b_session = network.raw_client(UNITS[1])
        assert connects(b_session, network.port)
        assert provision(["revoke", "--ca", str(network.ca), "--camera-id", UNITS[1]]) == 0
        network.write_broker_config()
        network.reload_broker()
        b_key = load_signing_key(network.root / UNITS[1] / f"{UNITS[1]}.key")
        late = encode_passage(
            make_passage(
                b_key, seq=900, camera_id=UNITS[1], captured_at=now.replace(microsecond=0)
            ),
            b_key,
        )
        if b_session.is_connected():
            b_session.publish(passage_topic(UNITS[1]), late, qos=1)
        time.sleep(1.5)
        assert 900 not in store.seqs(UNITS[1])
        close(b_session)
        assert not connects(network.raw_client(UNITS[1]), network.port)
        still = network.raw_client(UNITS[0])
        assert connects(still, network.port), "unit A is unaffected"
        close(still)
        store.close()

        # Unit A resumes its heartbeats and is OK again; revoked unit B stays OFFLINE.
        agent = Agent(agent_config(network, central, UNITS[0]))
        runner = threading.Thread(target=agent.run)
        runner.start()
        wait_until(lambda: states(UNITS[0])[-1:] == ["OK"], timeout=10, what="A OK again")
        agent.stop_event.set()
        runner.join(timeout=10)
        assert states(UNITS[1])[-1] == "OFFLINE"
    finally:
        health.close()
        monitor.stop()
        worker.stop()
    shutil.rmtree(stranger_ca, ignore_errors=True)
