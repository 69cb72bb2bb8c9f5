"""Matching on the unit: the central exports a unit's hotlist as keyed hashes, signed; the
unit matches its reads (near misreads too) while its link is down, and holds no plate."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from central.__main__ import main as central_main
from central.hotlists.lists import Hotlists
from central.hotlists.unit_export import export_for_unit
from edge_agent.agent import Agent
from edge_agent.config import load_config
from tests.conftest import (
    free_port,
    register_camera,
    wait_until,
    write_agent_config,
    write_central_config,
)
from wire import SigningKey
from wire.errors import BadSignature, MalformedRecord
from wire.unit_hotlist import UnitMatcher, decode_unit_hotlist, derive_unit_key

MASTER = b"m" * 32
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    """The lists below in a SQLite file: for the tests of the units' side."""
    yield from _filled(Hotlists(tmp_path / "hotlists.sqlite"))


@pytest.fixture
def store_on_both(store_location):
    """The same lists on each backend (#21): for the tests of what the central exports."""
    yield from _filled(Hotlists(store_location("hotlists")))


def _filled(store: Hotlists):
    until = NOW + timedelta(days=2)
    stolen = store.create_list("Stolen", "desk-12", "report 1", "stolen_vehicle", 1, until, NOW)
    heron = store.create_list("Op. Heron", "i.owner", "order 44", "investigation", 3, until, NOW)
    local = store.create_list("A12 only", "desk-2", "report 2", "fugitive", 2, until, NOW,
                              cameras=("a12-cam-1",))  # fmt: skip
    for list_id, plate in ((stolen, "B748LK"), (stolen, "R848LD"), (stolen, "XT4*"),
                           (heron, "2SGD27"), (local, "01JDP0")):  # fmt: skip
        store.add_entry(list_id, plate, "", "r", "secret instructions", until, "d", NOW)
    for list_id in (stolen, heron, local):
        store.approve(list_id, "OvJ", NOW)
    yield store
    store.close()


def test_a_unit_matches_its_own_hashed_list_and_nothing_else(store_on_both):
    store = store_on_both
    central = SigningKey.generate()
    data, count = export_for_unit(store, "a12-cam-1", MASTER, central, NOW)
    assert count == 3, "exact entries in scope; no wildcard, no investigation list"
    for secret in (b"B748LK", b"R848LD", b"01JDP0", b"secret instructions", b"Stolen"):
        assert secret not in data, f"{secret!r} readable in the unit's list"
    hotlist = decode_unit_hotlist(data, "a12-cam-1", central.verify_key)
    matcher = UnitMatcher(hotlist, derive_unit_key(MASTER, "a12-cam-1"))
    (exact,) = matcher.hits("B748LK", "NL", NOW)
    (near,) = matcher.hits("B74BLK", "NL", NOW)  # B read for 8
    assert (exact.priority, exact.tolerant, near.tolerant) == (1, False, True)
    assert matcher.hits("01JDP0", "NL", NOW), "a list scoped to this camera"
    assert matcher.hits("2SGD27", "NL", NOW) == [] and matcher.hits("XT456B", "NL", NOW) == []
    assert matcher.hits("B748LK", "NL", NOW + timedelta(days=3)) == [], "expired"
    other = UnitMatcher(hotlist, derive_unit_key(MASTER, "a2-cam-9"))
    assert other.hits("B748LK", "NL", NOW) == [], "another unit's key matches nothing"
    other_camera, _ = export_for_unit(store, "a2-cam-9", MASTER, central, NOW)
    assert b"01JDP0" not in other_camera
    with pytest.raises(MalformedRecord, match="made for a2-cam-9"):
        decode_unit_hotlist(other_camera, "a12-cam-1", central.verify_key)
    with pytest.raises(BadSignature):
        decode_unit_hotlist(data.replace(b'"a12-cam-1"', b'"a12-cam-2"'), "a12-cam-2",
                            central.verify_key)  # fmt: skip
    with pytest.raises(BadSignature):
        decode_unit_hotlist(data, "a12-cam-1", SigningKey.generate().verify_key)


def test_the_agent_raises_local_alerts_with_its_link_down(tmp_path, caplog):
    setup = write_central_config(tmp_path, broker_port=free_port())  # nothing listens
    camera = register_camera(setup, "test-cam-01", tmp_path)
    store = Hotlists(setup.config.hotlists_path)
    until = datetime.now(UTC) + timedelta(days=1)
    list_id = store.create_list("Stolen", "desk", "report", "stolen_vehicle", 1, until,
                                datetime.now(UTC))  # fmt: skip
    for plate in ("B748LK", "RB48LD"):  # the replay holds B748LK and R848LD (8 for B)
        store.add_entry(list_id, plate, "", "r", "i", until, "d", datetime.now(UTC))
    store.approve(list_id, "OvJ", datetime.now(UTC))
    store.close()
    master = tmp_path / "unit-master.key"
    master.write_bytes(MASTER)
    base = ["--config", str(setup.config_path)]
    unit = ["--camera", camera.camera_id, "--master-key", str(master)]
    key_file, list_file = tmp_path / "unit" / "hotlist.key", tmp_path / "unit" / "hotlist.json"
    list_file.parent.mkdir()
    assert central_main([*base, "hotlist-unit-key", *unit, "--out", str(key_file)]) == 0
    assert central_main([*base, "hotlist-unit-export", *unit, "--out", str(list_file)]) == 0
    assert key_file.stat().st_mode & 0o077 == 0

    config_path = write_agent_config(tmp_path, camera, setup, setup.config.mqtt.port)
    with config_path.open("a") as handle:
        handle.write(f'\n[hotlist]\npath = "{list_file}"\nkey_file = "{key_file}"\n')
    agent = Agent(load_config(config_path))
    runner = threading.Thread(target=agent.run)
    caplog.set_level("WARNING", logger="edge_agent.unit_hotlist")
    runner.start()
    try:
        wait_until(lambda: agent.stats.passages >= 8, timeout=30, what="all frames read")
    finally:
        agent.stop_event.set()
        runner.join(timeout=10)
    alerts = [r.getMessage() for r in caplog.records if "LOCAL ALERT" in r.getMessage()]
    assert sorted(a.split("near_match=")[1] for a in alerts) == ["False", "True"], alerts
    assert "B748LK" not in caplog.text and "R848LD" not in caplog.text, "no plate in the log"
    assert agent.local_hotlist.alerts == 2 and agent.stats.passages == 8


@pytest.mark.slow
def test_the_central_pushes_the_list_over_mqtt_and_the_unit_keeps_the_latest(
    tmp_path, mosquitto, central_setup, camera
):
    from edge_agent.config import MqttConfig
    from edge_agent.publisher import Publisher
    from edge_agent.spool import Spool
    from edge_agent.unit_hotlist import LocalHotlist
    from node.keyfiles import load_verify_key

    store = Hotlists(central_setup.config.hotlists_path)
    now = datetime.now(UTC)
    list_id = store.create_list("Stolen", "desk", "report", "stolen_vehicle", 1,
                                now + timedelta(days=1), now)  # fmt: skip
    store.add_entry(list_id, "GBL12X", "", "r", "i", now + timedelta(days=1), "d", now)
    store.approve(list_id, "OvJ", now)
    store.close()
    master = tmp_path / "unit-master.key"
    master.write_bytes(MASTER)
    base = ["--config", str(central_setup.config_path)]
    unit = ["--camera", camera.camera_id, "--master-key", str(master)]
    key_file, list_file = tmp_path / "hotlist.key", tmp_path / "hotlist.json"
    assert central_main([*base, "hotlist-unit-key", *unit, "--out", str(key_file)]) == 0
    # Pushed while the unit is away: the broker keeps it (retained) until the unit connects.
    assert central_main([*base, "hotlist-unit-push", *unit]) == 0

    central_key = load_verify_key(central_setup.ack_public_key)
    local = LocalHotlist(list_file, key_file, camera.camera_id, central_key)
    assert local.check(1, "GBL12X", "NL", now) == [], "nothing received yet"
    spool = Spool(tmp_path / "spool.sqlite", 2.0, 4.0)
    publisher = Publisher(camera.camera_id, spool, central_key,
                          MqttConfig(host="127.0.0.1", port=mosquitto.port))  # fmt: skip
    publisher.on_hotlist = local.receive
    publisher.start()
    try:
        wait_until(list_file.exists, what="the pushed list saved on the unit")
        (hit,) = local.check(2, "G8L12X", "NL", now)
        assert hit.tolerant
        # The list changes; the next push replaces the unit's copy while it is connected.
        store = Hotlists(central_setup.config.hotlists_path)
        entry = store.add_entry(list_id, "XT456B", "", "r", "i", now + timedelta(days=1), "d", now)
        store.approve_entry(entry, "p.prosecutor", now)  # added after the list's approval
        store.close()
        assert central_main([*base, "hotlist-unit-push", *unit]) == 0
        wait_until(lambda: local.check(3, "XT456B", "NL", now), what="the new list in use")
        elsewhere = tmp_path / "other-unit-hotlist.json"
        other = ["--camera", "other-cam-02", "--master-key", str(master)]
        assert central_main([*base, "hotlist-unit-export", *other, "--out", str(elsewhere)]) == 0
        local.receive(elsewhere.read_bytes())  # made for another unit: refused
        assert local.check(4, "XT456B", "NL", now), "the list in use is kept"
    finally:
        publisher.stop()
        spool.close()
    assert b"GBL12X" not in list_file.read_bytes()


def test_the_service_pushes_a_units_list_only_when_its_entries_change(
    store_on_both, store_location
):
    from central.hotlists.unit_export import UnitPusher

    store = store_on_both
    central = SigningKey.generate()
    sent: list[tuple[str, bytes]] = []
    pusher = UnitPusher(store_location("hotlists"), ("a12-cam-1", "a2-cam-9"), MASTER,
                        central, lambda topic, data: sent.append((topic, data)))  # fmt: skip
    assert pusher.run_once(NOW) == ["a12-cam-1", "a2-cam-9"]
    assert pusher.run_once(NOW + timedelta(minutes=1)) == [], "nothing changed: nothing sent"
    (list_id,) = store.db.execute("SELECT list_id FROM lists WHERE name = 'Stolen'").fetchone()
    entry = store.add_entry(list_id, "GZ123K", "", "stolen Monday", "stop",
                            NOW + timedelta(days=2), "d", NOW)  # fmt: skip
    assert pusher.run_once(NOW + timedelta(minutes=2)) == [], "waiting for approval: not sent"
    store.approve_entry(entry, "p.prosecutor", NOW)
    assert pusher.run_once(NOW + timedelta(minutes=2)) == ["a12-cam-1", "a2-cam-9"]
    topic, data = sent[-2]
    hotlist = decode_unit_hotlist(data, "a12-cam-1", central.verify_key)
    assert topic == "anpr/v1/a12-cam-1/hotlist" and len({e.ref for e in hotlist.entries}) == 4
    matcher = UnitMatcher(hotlist, derive_unit_key(MASTER, "a12-cam-1"))
    assert matcher.hits("GZ123K", "NL", NOW), "the new entry reached the unit"
    assert pusher.run_once(NOW + timedelta(days=3))[0] == "a12-cam-1", "expiry is a change too"


def test_a_stolen_units_list_is_read_back_only_at_argon2id_cost_per_candidate(store):
    """A thief holds the unit's key, its list and the code. The digests are no fast hash of
    the plates (format 1's HMAC under the unit key was tried for all Dutch plates in about
    two minutes); each is Argon2id (16 MiB, 2 passes) with the unit's own salt, so a
    candidate plate is confirmed only by paying that, and one unit's table is no use on
    another's list."""
    import hashlib
    import hmac
    import json

    from argon2.low_level import Type, hash_secret_raw

    from wire.unit_hotlist import FORMAT, HASH, near_variants, unit_salt

    central = SigningKey.generate()
    data, _ = export_for_unit(store, "a12-cam-1", MASTER, central, NOW)
    unit_key = derive_unit_key(MASTER, "a12-cam-1")
    document = json.loads(data)
    assert (document["v"], document["hash"]) == (FORMAT, HASH) == (2, "argon2id-m16384-t2-p1")
    digests = {entry[0] for entry in document["entries"]}
    plates = set().union(*(near_variants(p) for p in ("B748LK", "R848LD", "01JDP0")))
    fast = {
        fn(plate)
        for plate in plates
        for fn in (
            lambda p: hmac.new(unit_key, p.encode(), hashlib.sha256).hexdigest(),
            lambda p: hmac.new(MASTER, p.encode(), hashlib.sha256).hexdigest(),
            lambda p: hashlib.sha256(p.encode()).hexdigest(),
        )
    }
    assert not digests & fast, "a fast hash of a plate confirms it"
    keyed = hmac.new(unit_key, b"B748LK", hashlib.sha256).digest()
    slow = hash_secret_raw(keyed, unit_salt(unit_key), 2, 16 * 1024, 1, 32, Type.ID).hex()
    assert slow in digests, "the digest is Argon2id of the keyed plate, nothing cheaper"
    weaker = hash_secret_raw(keyed, unit_salt(unit_key), 1, 8 * 1024, 1, 32, Type.ID).hex()
    assert weaker not in digests, "the cost cannot be skimped on"
    other_key = derive_unit_key(MASTER, "a2-cam-9")
    assert unit_salt(other_key) != unit_salt(unit_key), "a salt of its own per unit"


def test_a_format_1_list_is_refused_by_the_unit(store):
    """A list in the old form (HMAC digests, no format number), though signed by the
    central, is refused: the unit never matches against a list a thief reads cheaply."""
    import hashlib
    import hmac

    from wire.canonical import canonical_bytes
    from wire.errors import UnknownVersion

    central = SigningKey.generate()
    unit_key = derive_unit_key(MASTER, "a12-cam-1")
    digest = hmac.new(unit_key, b"B748LK", hashlib.sha256).hexdigest()
    body = {"kind": "anpr-unit-hotlist", "camera_id": "a12-cam-1",
            "issued_at": "2026-11-22T12:00:00.000Z",
            "entries": [[digest, 1, 1, "", "2026-11-24T12:00:00.000Z"]]}  # fmt: skip
    import base64
    import json

    signature = base64.b64encode(central.sign(canonical_bytes(body))).decode()
    old = json.dumps({**body, "key_id": central.key_id, "signature": signature}).encode()
    with pytest.raises(UnknownVersion, match="format 1"):
        decode_unit_hotlist(old, "a12-cam-1", central.verify_key)


def test_near_spellings_come_from_the_central_and_the_unit_hashes_each_read_once(store):
    """The central exports each listed plate with its spellings one confusable character
    away (flagged near); the unit hashes the read alone and still finds near misreads. The
    service's cached digests and a fresh export agree entry for entry."""
    from central.hotlists.unit_export import DigestCache, unit_hotlist
    from wire.unit_hotlist import near_variants

    unit_key = derive_unit_key(MASTER, "a12-cam-1")
    cache = DigestCache()
    cached = unit_hotlist(store, "a12-cam-1", unit_key, NOW, cache)
    assert cached == unit_hotlist(store, "a12-cam-1", unit_key, NOW)
    assert unit_hotlist(store, "a12-cam-1", unit_key, NOW, cache) == cached, "from the cache"
    mine = [e for e in cached.entries if e.ref == cached.entries[0].ref]
    assert len(mine) == len(near_variants("B748LK")) and sum(not e.near for e in mine) == 1
    matcher = UnitMatcher(cached, unit_key)
    assert [h.tolerant for h in matcher.hits("B748LK", "NL", NOW)] == [False]
    assert [h.tolerant for h in matcher.hits("8748LK", "NL", NOW)] == [True]
    assert [h.tolerant for h in matcher.hits("R8B8LD", "NL", NOW)] == [], "two away: none"
    assert [h.tolerant for h in matcher.hits("O1JDP0", "NL", NOW)] == [True]
