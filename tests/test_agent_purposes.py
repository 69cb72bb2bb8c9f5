"""The `[purposes]` section: today's behaviour by default, research only with its keys and a
valid period, nonsense refused; and the heartbeat's optional `research` object."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from edge_agent.__main__ import main as agent_main
from edge_agent.config import ConfigError, load_config
from provisioning.keys import make_camera_key, make_research_key
from tests.conftest import SAMPLES
from wire import Heartbeat, SigningKey, decode_heartbeat, encode_heartbeat
from wire.errors import MalformedRecord
from wire.records import ResearchHealth

BASE = f"""
[camera]
id = "res-cam-01"
lat = 52.0
lon = 5.0
direction = "E"

[keys]
signing_key = "keys/res-cam-01.key"
central_public_key = "keys/central.pub"
{{keys}}
[source]
path = "{SAMPLES}"

[spool]
path = "state/spool.sqlite"
{{rest}}
"""
RESEARCH_KEYS = """research_key = "keys/res-cam-01-research.key"
research_service_public_key = "keys/research-service.pub"
"""
RESEARCH = """
[purposes.traffic_research]
area = "utrecht-oost"
owner = "Provincie Utrecht"
legal_basis = "Provinciewet art. 158"
valid_from = 2026-01-01
valid_until = 2026-12-31
"""


def write(tmp_path: Path, keys: str = "", rest: str = "") -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(BASE.format(keys=keys, rest=rest))
    return path


def test_without_a_purposes_section_the_unit_does_what_it_always_did(tmp_path):
    purposes = load_config(write(tmp_path)).purposes
    assert purposes.hotlist and purposes.store and purposes.emits_passages
    assert purposes.traffic_research is None


def test_research_purpose_loads_with_its_keys_period_and_state_dir(tmp_path):
    config = load_config(write(tmp_path, RESEARCH_KEYS, RESEARCH + 'state_dir = "research"\n'))
    research = config.purposes.traffic_research
    assert research.area == "utrecht-oost" and research.flush_s == 10.0
    assert research.valid_on(date(2026, 6, 1)) and not research.valid_on(date(2027, 1, 1))
    assert not research.valid_on(date(2025, 12, 31))
    assert config.keys.research_key == tmp_path / "keys" / "res-cam-01-research.key"
    assert config.research_dir == tmp_path / "research"
    only = "\n[purposes]\nhotlist = false\nstore = false\n" + RESEARCH
    config = load_config(write(tmp_path, RESEARCH_KEYS, only))
    assert not config.purposes.emits_passages
    assert config.research_dir == tmp_path / "state" / "research"


@pytest.mark.parametrize(
    ("keys", "rest", "problem"),
    [
        ("", "\n[purposes]\nhotlist = false\nstore = false\n", "without any purpose"),
        ("", RESEARCH, "needs keys.research_key"),
        (RESEARCH_KEYS, RESEARCH.replace("2026-12-31", "2025-12-31"), "before valid_from"),
        (RESEARCH_KEYS, RESEARCH.replace("utrecht-oost", "Utrecht Oost"), "area"),
        (RESEARCH_KEYS, RESEARCH.replace("owner", "ownr"), "ownr"),
        (
            "",
            '\n[hotlist]\npath = "h.json"\nkey_file = "h.key"\n[purposes]\nhotlist = false\n',
            "purposes.hotlist is false",
        ),
    ],  # fmt: skip
)
def test_purposes_that_make_no_sense_are_refused_with_the_reason(tmp_path, keys, rest, problem):
    with pytest.raises(ConfigError, match=problem):
        load_config(write(tmp_path, keys, rest))


def test_agent_check_names_the_purposes_and_loads_the_research_keys(tmp_path, capsys):
    keys = tmp_path / "keys"
    make_camera_key("res-cam-01", keys)
    (keys / "central.pub").write_text(SigningKey.generate().verify_key.b64 + "\n")
    path = write(tmp_path, RESEARCH_KEYS, "\n[purposes]\nhotlist = false\nstore = false\n"
                 + RESEARCH)  # fmt: skip
    (keys / "research-service.pub").write_text(SigningKey.generate().verify_key.b64 + "\n")
    assert agent_main(["check", "--config", str(path)]) == 2, "no research key yet"
    assert "res-cam-01-research.key" in capsys.readouterr().err
    make_research_key("res-cam-01", keys)
    assert agent_main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "traffic research (utrecht-oost, 2026-01-01 to 2026-12-31)" in out
    assert "no passages leave this unit" in out


def heartbeat(key: SigningKey, **changes) -> Heartbeat:
    values = dict(camera_id="res-cam-01", key_id=key.key_id,
                  sent_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC), boot_id="0123456789abcdef",
                  uptime_s=5, source_ok=True, frames_captured=9, frames_dropped=0, last_seq=0,
                  spool_depth=0, spool_oldest_age_s=0, agent_version="0.1.0")  # fmt: skip
    values.update(changes)
    return Heartbeat(**values)


def test_heartbeat_research_object_round_trips_and_is_absent_without_research():
    key = SigningKey.generate()
    plain = heartbeat(key)
    assert "research" not in plain.signed_fields(), "units without research: unchanged record"
    status = ResearchHealth("utrecht-oost", True, True, False, sightings_sent=9,
                            sightings_queued=2, sightings_unkeyed=1)  # fmt: skip
    record = decode_heartbeat(encode_heartbeat(heartbeat(key, research=status), key))
    assert record.verify(key.verify_key).record.research == status
    assert (
        decode_heartbeat(encode_heartbeat(plain, key)).verify(key.verify_key).record.research
        is None
    )
    with pytest.raises(MalformedRecord, match="sightings_sent"):
        heartbeat(key, research=ResearchHealth("utrecht-oost", True, True, False, -1))
    with pytest.raises(MalformedRecord, match="area"):
        heartbeat(key, research=ResearchHealth("Bad Area", True, True, False))
