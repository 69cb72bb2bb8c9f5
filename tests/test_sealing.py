"""Records are sealed on the unit to the central's key: the spool on a stolen unit reveals
nothing, and only the central opens them, for the right camera only."""

import sqlite3
import threading

import pytest

from edge_agent.agent import Agent
from edge_agent.config import load_config
from node.keyfiles import load_sealing_key
from tests.conftest import free_port, make_passage, wait_until, write_agent_config
from wire import SigningKey, encode_passage
from wire.sealing import SealingKey, Unsealable, is_sealed, seal

KEY = SigningKey.from_seed(bytes(32))


def test_a_low_order_ephemeral_key_is_unsealable_not_a_crash():
    """All-zero X25519 keys give no shared secret; the central must refuse, not raise."""
    central = SealingKey.generate()
    forged = b"ANPRSEAL1" + bytes(32) + bytes(12) + bytes(64)
    with pytest.raises(Unsealable, match="invalid ephemeral key"):
        central.unseal(forged, "cam-a")


def test_seal_and_open():
    central = SealingKey.generate()
    payload = encode_passage(make_passage(KEY), KEY)
    sealed = seal(payload, central.public_raw, "test-cam-01")
    assert is_sealed(sealed) and b"GBL12X" not in sealed
    assert central.unseal(sealed, "test-cam-01") == payload


@pytest.mark.parametrize("attack", ["other camera", "tampered", "other central", "not sealed"])
def test_sealed_records_do_not_open_wrongly(attack):
    central = SealingKey.generate()
    sealed = seal(b"signed payload", central.public_raw, "test-cam-01")
    camera, key = "test-cam-01", central
    if attack == "other camera":
        camera = "other-cam-02"
    elif attack == "tampered":
        sealed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    elif attack == "other central":
        key = SealingKey.generate()
    else:
        sealed = b"{}"
    with pytest.raises(Unsealable):
        key.unseal(sealed, camera)


def test_the_spool_on_the_unit_holds_only_sealed_records(tmp_path, central_setup, camera):
    config = load_config(write_agent_config(tmp_path, camera, central_setup, free_port()))
    agent = Agent(config)
    runner = threading.Thread(target=agent.run)
    runner.start()
    wait_until(lambda: agent.stats.passages >= 2, what="passages spooled")
    agent.stop_event.set()
    runner.join(timeout=10)
    db = sqlite3.connect(config.spool.path)
    payloads = [row[0] for row in db.execute("SELECT payload FROM records")]
    db.close()
    assert payloads and all(is_sealed(p) for p in payloads)
    disk = b"".join(p.read_bytes() for p in config.spool.path.parent.glob("agent-spool*"))
    assert b"captured_at" not in disk and b"plate" not in disk
    opened = load_sealing_key(central_setup.config.secrets.seal_key_file)
    assert b'"plate":' in opened.unseal(payloads[0], camera.camera_id)
