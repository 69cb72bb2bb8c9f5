"""Only the central's signed acknowledgement removes a record from the agent's spool."""

from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest

from edge_agent.config import MqttConfig
from edge_agent.publisher import Publisher
from edge_agent.spool import Spool
from tests.conftest import wait_until
from wire import Ack, SigningKey, encode_ack
from wire.topics import ack_topic

pytestmark = pytest.mark.slow
CAMERA = "test-cam-01"


@pytest.fixture
def central_key():
    return SigningKey.generate()


@pytest.fixture
def publisher(tmp_path, mosquitto, central_key):
    spool = Spool(tmp_path / "spool.sqlite", ack_timeout_s=60)
    for _ in range(3):
        spool.append(lambda seq: b"signed record bytes")
    publisher = Publisher(CAMERA, spool, central_key.verify_key, MqttConfig(port=mosquitto.port))
    publisher.start()
    wait_until(lambda: publisher.stats.published == 3, what="records published")
    yield publisher
    publisher.stop()
    spool.close()


def send_ack(port: int, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-central")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(ack_topic(CAMERA), payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    client._reset_sockets()


def ack(key: SigningKey, seqs, camera_id: str = CAMERA) -> bytes:
    return encode_ack(
        Ack(camera_id, key.key_id, datetime.now(UTC).replace(microsecond=0), tuple(seqs)), key
    )


def test_signed_ack_removes_exactly_the_named_records(publisher, mosquitto, central_key):
    send_ack(mosquitto.port, ack(central_key, [1, 3]))
    wait_until(lambda: publisher.spool.depth() == 1, what="acked records removed")
    assert list(publisher.spool.states()) == [2]


def test_forged_ack_is_ignored_and_counted(publisher, mosquitto):
    send_ack(mosquitto.port, ack(SigningKey.generate(), [1, 2, 3]))
    wait_until(lambda: publisher.stats.bad_acks == 1, what="forged ack counted")
    assert publisher.spool.depth() == 3


def test_garbage_on_the_ack_topic_is_ignored(publisher, mosquitto):
    send_ack(mosquitto.port, b"delete everything")
    wait_until(lambda: publisher.stats.bad_acks == 1, what="garbage counted")
    assert publisher.spool.depth() == 3


def test_ack_for_another_camera_is_ignored(publisher, mosquitto, central_key):
    send_ack(mosquitto.port, ack(central_key, [1], camera_id="other-cam"))
    wait_until(lambda: publisher.stats.bad_acks == 1, what="misaddressed ack counted")
    assert publisher.spool.depth() == 3
