"""Day keys on the unit: opened and checked, kept for today and tomorrow across a restart,
destroyed (file and memory) once their day has closed; foreign or forged ones refused."""

import os
from datetime import date, timedelta

import pytest

from edge_agent.research_keys import DayKeyRing
from wire.errors import MalformedRecord
from wire.research import DayKey, decode_day_keys, encode_day_keys, seal_day_key
from wire.sealing import SealingKey
from wire.signing import SigningKey

CAMERA = "res-cam-01"
AREA = "utrecht-oost"
TODAY = date(2026, 11, 23)


class Calendar:
    """The UTC day the ring believes it is; moved on by the test."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


@pytest.fixture
def parties():
    return SealingKey.generate(), SigningKey.generate()


def sealed(unit: SealingKey, service: SigningKey, day: date, area: str = AREA,
           camera: str = CAMERA) -> tuple[DayKey, bytes]:  # fmt: skip
    key = DayKey(area, day, os.urandom(32))
    return key, seal_day_key(key, camera, unit.public_raw, service)


def ring(tmp_path, parties, calendar) -> DayKeyRing:
    unit, service = parties
    return DayKeyRing(tmp_path / "research", CAMERA, AREA, unit, service.verify_key, calendar)


def test_day_keys_payload_round_trips_and_refuses_a_foreign_container(parties):
    unit, service = parties
    documents = [sealed(unit, service, TODAY + timedelta(days=n))[1] for n in range(2)]
    assert decode_day_keys(encode_day_keys(documents)) == documents
    for bad in (b'{"keys": []}', b'{"kind": "anpr-research-day-keys", "keys": [1]}',
                b'{"kind": "anpr-research-day-keys", "keys": {}}', b"[]"):  # fmt: skip
        with pytest.raises(MalformedRecord):
            decode_day_keys(bad)
    with pytest.raises(MalformedRecord, match="at most 8"):
        encode_day_keys(documents * 5)


def test_keys_for_today_and_tomorrow_are_held_saved_sealed_and_survive_a_restart(tmp_path, parties):
    unit, service = parties
    calendar = Calendar(TODAY)
    today, doc_today = sealed(unit, service, TODAY)
    tomorrow, doc_tomorrow = sealed(unit, service, TODAY + timedelta(days=1))
    later, doc_later = sealed(unit, service, TODAY + timedelta(days=2))
    yesterday, doc_yesterday = sealed(unit, service, TODAY - timedelta(days=1))
    other_area, doc_other = sealed(unit, service, TODAY, area="elders")
    keys = ring(tmp_path, parties, calendar)
    payload = encode_day_keys([doc_today, doc_tomorrow, doc_later, doc_yesterday, doc_other])
    assert keys.receive(payload) == 2
    assert keys.key_for(TODAY) == today and keys.key_for(TODAY + timedelta(days=1)) == tomorrow
    assert keys.ignored == 3 and keys.refused == 0
    assert keys.receive(payload) == 0, "the same keys again change nothing"

    files = sorted((tmp_path / "research").iterdir())
    assert [f.name for f in files] == [
        f"day-key-{AREA}-{TODAY}.json", f"day-key-{AREA}-{TODAY + timedelta(days=1)}.json"
    ]  # fmt: skip
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600
        assert today.key not in path.read_bytes() and tomorrow.key not in path.read_bytes()
    assert (tmp_path / "research").stat().st_mode & 0o777 == 0o700

    restarted = ring(tmp_path, parties, calendar)
    assert restarted.key_for(TODAY) == today
    assert restarted.held_days() == [TODAY, TODAY + timedelta(days=1)]


def test_a_key_is_destroyed_file_and_memory_once_its_day_has_closed(tmp_path, parties):
    unit, service = parties
    calendar = Calendar(TODAY)
    keys = ring(tmp_path, parties, calendar)
    _, doc_today = sealed(unit, service, TODAY)
    tomorrow, doc_tomorrow = sealed(unit, service, TODAY + timedelta(days=1))
    keys.receive(encode_day_keys([doc_today, doc_tomorrow]))
    today_file = tmp_path / "research" / f"day-key-{AREA}-{TODAY}.json"
    assert today_file.exists()

    calendar.day = TODAY + timedelta(days=1)
    assert keys.expire() == 1
    assert keys.key_for(TODAY) is None and keys.held_days() == [tomorrow.day]
    assert not today_file.exists()
    # A restart after midnight does not bring it back either.
    assert ring(tmp_path, parties, calendar).held_days() == [tomorrow.day]
    calendar.day = TODAY + timedelta(days=2)
    keys.expire()
    assert keys.held_days() == [] and list((tmp_path / "research").iterdir()) == []


def test_foreign_forged_and_unsealable_keys_are_refused_and_the_held_key_kept(tmp_path, parties):
    unit, service = parties
    keys = ring(tmp_path, parties, Calendar(TODAY))
    good, doc_good = sealed(unit, service, TODAY)
    assert keys.receive(encode_day_keys([doc_good])) == 1

    other_camera = sealed(unit, service, TODAY, camera="res-cam-02")[1]
    forged = sealed(unit, SigningKey.generate(), TODAY)[1]  # not the research service
    sealed_elsewhere = sealed(SealingKey.generate(), service, TODAY)[1]  # another unit's key
    for document in (other_camera, forged, sealed_elsewhere):
        assert keys.receive(encode_day_keys([document])) == 0
    assert keys.receive(b"not json") == 0
    assert keys.refused == 4
    assert keys.key_for(TODAY) == good, "refused documents never replace the key in use"

    # A tampered saved file is refused (and removed) on the next start.
    saved = tmp_path / "research" / f"day-key-{AREA}-{TODAY}.json"
    saved.write_bytes(saved.read_bytes().replace(b'"day":"', b'"day":"x'))
    restarted = ring(tmp_path, parties, Calendar(TODAY))
    assert restarted.key_for(TODAY) is None and restarted.refused == 1
    assert not saved.exists()
