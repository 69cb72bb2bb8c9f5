"""Provisioning for traffic research: the unit's research key, and broker ACLs (on a real
Mosquitto) that keep research apart: a unit writes only its own research topic and reads
only its own day keys; the research service reads sightings and writes day keys, never a
passage; the central's police user never reads research."""

import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

from node.keyfiles import load_seal_public_key, load_sealing_key
from provisioning.__main__ import main as provision
from provisioning.broker_config import RESEARCH_USER, render_acl, render_dev_config
from tests.conftest import free_port, mosquitto_binary, wait_for_port, wait_until
from wire.topics import passage_topic, research_key_topic, research_topic

UNIT_A, UNIT_B, CENTRAL = "cam-a-01", "cam-b-02", "anpr-central-ingest"


def test_research_key_command_makes_a_private_unit_key_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "credentials"
    assert provision(["research-key", "--camera-id", UNIT_A, "--out", str(out)]) == 0
    private, public = out / f"{UNIT_A}-research.key", out / f"{UNIT_A}-research.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    assert load_sealing_key(private).public_raw == load_seal_public_key(public)
    before = private.read_bytes()
    assert provision(["research-key", "--camera-id", UNIT_A, "--out", str(out)]) == 2
    assert private.read_bytes() == before
    assert provision(["research-key", "--camera-id", "Bad_Id", "--out", str(out)]) == 2


class Client:
    """An MQTT client under one user name, recording what it receives."""

    def __init__(self, port: int, user: str, subscriptions: list[str]) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"acl-{user}")
        self.client.username_pw_set(user)
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port)
        for topic in subscriptions:
            self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        wait_until(self.client.is_connected, timeout=5, what=f"{user} connected")

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def payloads(self) -> set[bytes]:
        return {payload for _, payload in self.received}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client._reset_sockets()


@pytest.fixture
def acl_broker(tmp_path):
    """Mosquitto with the generated ACL; the user name stands in for the certificate's
    common name (`use_identity_as_username` in production), the grants are the same."""
    port, data = free_port(), tmp_path / "broker"
    data.mkdir()
    (data / "anpr.acl").write_text(render_acl(CENTRAL, [UNIT_A, UNIT_B]))
    conf = data / "mosquitto.conf"
    conf.write_text(render_dev_config(port, data) + f"acl_file {data / 'anpr.acl'}\n")
    with (data / "mosquitto.log").open("wb") as log:
        process = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log)
    wait_for_port(port)
    yield port
    process.terminate()
    process.wait(timeout=5)


def test_acls_keep_research_and_police_apart(acl_broker):
    port = acl_broker
    research = Client(port, RESEARCH_USER, ["anpr/v1/+/research", "anpr/v1/+/passage"])
    central = Client(port, CENTRAL, ["anpr/v1/#", "anpr/v1/+/research"])
    unit_a = Client(port, UNIT_A, [research_key_topic(UNIT_A)])
    unit_b = Client(port, UNIT_B, [research_key_topic(UNIT_A), research_key_topic(UNIT_B)])
    clients = (research, central, unit_a, unit_b)
    try:
        unit_a.publish(research_topic(UNIT_A), b"sightings of a")
        unit_a.publish(research_topic(UNIT_B), b"sightings posing as b")
        unit_a.publish(passage_topic(UNIT_A), b"passage of a")
        research.publish(research_key_topic(UNIT_A), b"day keys for a", retain=True)
        research.publish(passage_topic(UNIT_B), b"passage forged by research")
        wait_until(lambda: b"sightings of a" in research.payloads(), what="research reads a")
        wait_until(lambda: b"passage of a" in central.payloads(), what="central reads passages")
        wait_until(lambda: b"day keys for a" in unit_a.payloads(), what="a reads its day keys")
        time.sleep(0.5)  # anything the ACL let through would have arrived by now
        assert research.payloads() == {b"sightings of a"}, "no passages, nothing posing as b"
        assert central.payloads() == {b"passage of a"}, "the police side never reads research"
        assert unit_b.payloads() == set(), "a unit does not read another unit's day keys"
        assert unit_a.payloads() == {b"day keys for a"}
    finally:
        for client in clients:
            client.close()
