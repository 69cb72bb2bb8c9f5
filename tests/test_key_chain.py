"""Day keys that several central hosts derive alike from one chain, and that none can make
again once a day expired (central/store/key_chain.py, #21)."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from central.__main__ import main as central
from central.cameras import CameraRegistry
from central.databases import PostgresSchema
from central.health.records import HealthRecords
from central.retention import run_retention
from central.statistics import DailyStatistics
from central.store.daykeys import DayKeyError, DayKeyring
from central.store.key_chain import CHAIN_FILE, KeyChain, KeyChainError
from tests.conftest import verified_passage, write_central_config
from wire import SigningKey

DAY = date(2026, 12, 1)


@pytest.fixture
def hosts(tmp_path):
    """Two hosts' day-key folders holding copies of one chain begun at DAY."""
    KeyChain.begin(tmp_path / "a", DAY)
    (tmp_path / "b").mkdir(mode=0o700)
    shutil.copy2(tmp_path / "a" / CHAIN_FILE, tmp_path / "b" / CHAIN_FILE)
    return DayKeyring(tmp_path / "a"), DayKeyring(tmp_path / "b")


def test_hosts_make_each_days_key_alike_in_any_order(hosts):
    a, b = hosts
    sealed = a.encrypt(DAY + timedelta(days=2), b"XK-123-B", b"cam/1/crop")
    assert b.decrypt(DAY + timedelta(days=2), sealed, b"cam/1/crop") == b"XK-123-B"
    for offset in (0, 3, 1):
        day = DAY + timedelta(days=offset)
        assert a.file_key(day, create=True) == b.file_key(day)
        assert a.plate_bucket(day, "XK123B", 14) == b.plate_bucket(day, "XK123B", 14)
    assert a.file_key(DAY) != a.file_key(DAY + timedelta(days=1))


def test_what_a_host_keeps_makes_no_key_of_a_day_behind_it(hosts, tmp_path):
    a, _ = hosts
    key = a.file_key(DAY + timedelta(days=1), create=True)
    assert KeyChain(tmp_path / "a").next_day() == DAY + timedelta(days=2)
    late = tmp_path / "copy-taken-later"
    late.mkdir()
    shutil.copy2(tmp_path / "a" / CHAIN_FILE, late / CHAIN_FILE)
    copy = DayKeyring(late)
    with pytest.raises(DayKeyError, match="destroyed at expiry, or never made"):
        copy.file_key(DAY + timedelta(days=1))
    assert copy.file_key(DAY + timedelta(days=1), create=True) != key, "a random key of its own"
    assert copy.file_key(DAY + timedelta(days=2)) == a.file_key(DAY + timedelta(days=2))


def test_passing_the_chain_keeps_held_days_and_loses_the_rest(hosts, tmp_path):
    a, b = hosts
    held = DAY + timedelta(days=1)
    b.pass_chain_through(DAY + timedelta(days=2), keep=lambda day: day == held)
    assert b.file_key(held) == a.file_key(held, create=True)
    for gone in (DAY, DAY + timedelta(days=2)):
        with pytest.raises(DayKeyError):
            b.file_key(gone)
    assert b.file_key(DAY + timedelta(days=3)) == a.file_key(DAY + timedelta(days=3), create=True)


def test_processes_stepping_one_chain_at_once_agree(hosts, tmp_path):
    a, _ = hosts
    reference = {DAY + timedelta(days=n): a.file_key(DAY + timedelta(days=n), create=True)
                 for n in range(8)}  # fmt: skip
    folder = tmp_path / "b"
    made, failures = {}, []

    def worker(offsets):
        keyring = DayKeyring(folder)  # each worker its own, as each ingest process has
        try:
            for n in offsets:
                made[n] = keyring.file_key(DAY + timedelta(days=n), create=True)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(order,))
               for order in ([7, 0, 3], [1, 5, 2], [6, 4, 0])]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert {DAY + timedelta(days=n): key for n, key in made.items()} == reference


def test_a_damaged_chain_is_said_not_used(tmp_path):
    KeyChain.begin(tmp_path, DAY)
    (tmp_path / CHAIN_FILE).write_bytes(b"2026-12-01\nshort")
    with pytest.raises(KeyChainError, match="damaged"):
        DayKeyring(tmp_path).file_key(DAY, create=True)
    with pytest.raises(KeyChainError, match="begun once"):
        KeyChain.begin(tmp_path, DAY)


def test_the_command_begins_a_chain_once_and_never_in_the_past(tmp_path, capsys):
    setup = write_central_config(tmp_path, broker_port=1883)
    config = ["--config", str(setup.config_path)]
    today = datetime.now(UTC).date()
    assert central(config + ["day-key-chain", "--start", str(today - timedelta(days=1))]) == 2
    assert "not in the past" in capsys.readouterr().err
    assert central(config + ["day-key-chain", "--start", str(today)]) == 0
    assert "Copy that file" in capsys.readouterr().out
    assert KeyChain(setup.config.storage.keys_dir).next_day() == today
    assert central(config + ["day-key-chain", "--start", str(today)]) == 2
    assert "begun once" in capsys.readouterr().out


def test_two_hosts_share_passages_and_both_forget_an_expired_day(tmp_path, postgres_conninfo):
    """Host A stores; host B (its own key folder, the chain copied) finds the plate; past
    28 days each host's retention leaves no key of that day and no chain behind it."""
    from central.store.postgres import PostgresPassageStore

    captured = datetime(2026, 12, 2, 9, tzinfo=UTC)
    KeyChain.begin(tmp_path / "keys-a", captured.date())
    (tmp_path / "keys-b").mkdir(mode=0o700)
    shutil.copy2(tmp_path / "keys-a" / CHAIN_FILE, tmp_path / "keys-b" / CHAIN_FILE)
    now = {"t": captured + timedelta(hours=1)}
    key = SigningKey.generate()
    stores = [
        PostgresPassageStore(
            postgres_conninfo,
            tmp_path / f"data-{host}",
            tmp_path / f"keys-{host}",
            lambda: now["t"],
        )  # fmt: skip
        for host in "ab"
    ]
    shared = {name: PostgresSchema(postgres_conninfo, name)
              for name in ("statistics", "cameras", "health")}  # fmt: skip
    parts = (DailyStatistics(shared["statistics"]), CameraRegistry(shared["cameras"]),
             HealthRecords(shared["health"]))  # fmt: skip
    try:
        stores[0].insert_batch([verified_passage(key, seq=1, plate="XK123B", captured_at=captured)],
                               now["t"])  # fmt: skip
        window = (captured - timedelta(hours=1), captured + timedelta(hours=1))
        assert [p.plate for p in stores[1].search_plate("XK123B", *window)] == ["XK123B"]
        now["t"] = captured + timedelta(days=30)
        for store in stores:
            run_retention(store, *parts, now["t"])
        for host, store in zip("ab", stores, strict=True):
            assert captured.date() not in store.keys.days(), f"host {host} kept the key"
            assert KeyChain(tmp_path / f"keys-{host}").next_day() > captured.date()
            with pytest.raises(DayKeyError):
                store.keys.file_key(captured.date())
    finally:
        for part in (*stores, *parts):
            part.close()
