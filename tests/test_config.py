"""Configuration files are validated once, and a technician's mistake is named precisely."""

import pytest

from central import create_app
from central.config import ConfigError as CentralConfigError
from central.config import load_config as load_central_config
from edge_agent.config import ConfigError, load_config

AGENT = """
[camera]
id = "a12-hm34-n-1"
lat = 52.09
lon = 5.12
direction = "N"

[keys]
signing_key = "keys/cam.key"
central_public_key = "keys/central.pub"

[source]
path = "replay"

[spool]
path = "spool.sqlite"
"""


def write(tmp_path, text, name="agent.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_agent_config_defaults_and_relative_paths(tmp_path):
    config = load_config(write(tmp_path, AGENT))
    assert config.mqtt.port == 8883
    assert config.spool.ack_timeout_s == 20.0
    assert config.keys.signing_key == tmp_path / "keys/cam.key"
    assert config.source.path == tmp_path / "replay"


@pytest.mark.parametrize(
    "change, message",
    [
        (("fps = 2", "fsp = 2"), "source.folder.fsp"),
        (('direction = "N"', 'direction = "north"'), "camera.direction"),
        (('id = "a12-hm34-n-1"', 'id = "A12 HM34"'), "camera.id"),
        (("lat = 52.09", "lat = 152.09"), "camera.lat"),
        (("[spool]", "[spoool]"), "spool"),
    ],
)
def test_agent_config_mistakes_name_the_field(tmp_path, change, message):
    text = AGENT.replace('path = "replay"', 'path = "replay"\nfps = 2')
    old, new = change
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(write(tmp_path, text.replace(old, new)))


def test_agent_config_not_toml(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[camera\n"))


def test_missing_agent_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


CENTRAL = """
[storage]
data_dir = "data"
keys_dir = "keys"

[secrets]
session_key_file = "session.key"
ack_signing_key_file = "ack.key"
"""


def test_central_refuses_to_listen_beyond_loopback_without_accounts(tmp_path):
    text = CENTRAL + '\n[web]\nhost = "0.0.0.0"\n'
    with pytest.raises(CentralConfigError, match="loopback only"):
        load_central_config(write(tmp_path, text, "central.toml"))


def test_unit_hotlists_need_their_master_key(tmp_path):
    text = CENTRAL + '\n[alerts]\nunit_hotlist_cameras = ["a12-cam-1"]\n'
    with pytest.raises(CentralConfigError, match="unit_hotlist_master_key_file"):
        load_central_config(write(tmp_path, text, "central.toml"))
    text += 'unit_hotlist_master_key_file = "unit-master.key"\n'
    config = load_central_config(write(tmp_path, text, "central.toml"))
    assert config.alerts.unit_hotlist_master_key_file == tmp_path / "unit-master.key"


def test_central_refuses_to_start_without_a_real_session_secret(tmp_path):
    config = load_central_config(write(tmp_path, CENTRAL, "central.toml"))
    with pytest.raises(CentralConfigError, match="cannot read session key"):
        create_app(config)
    (tmp_path / "session.key").write_text("dev")
    with pytest.raises(CentralConfigError, match="shorter than 32 bytes"):
        create_app(config)
    (tmp_path / "session.key").write_text("x" * 64)
    assert create_app(config).config["SECRET_KEY"] == b"x" * 64


def test_privacy_masks_are_validated(tmp_path):
    good = AGENT + "\n[privacy]\nmasks = [[[0, 0], [10, 0], [10, 10]]]\n"
    assert load_config(write(tmp_path, good)).privacy.masks == (((0, 0), (10, 0), (10, 10)),)
    with pytest.raises(ConfigError, match="at least 3 points"):
        load_config(write(tmp_path, AGENT + "\n[privacy]\nmasks = [[[0, 0], [10, 0]]]\n"))
    with pytest.raises(ConfigError, match="negative"):
        load_config(write(tmp_path, AGENT + "\n[privacy]\nmasks = [[[0, -1], [10, 0], [1, 1]]]\n"))
