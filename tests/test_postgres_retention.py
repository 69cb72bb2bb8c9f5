"""The law on PostgreSQL (#21): 28 days then gone, by the same retention pass as the SQLite
day files. What the database's disk holds (tables, indexes, the WAL, a dump taken before
expiry) never shows a plate, and once the day key is destroyed nothing of the day opens."""

import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from central.cameras import CameraRegistry
from central.health.records import HealthRecords
from central.retention import run_retention
from central.statistics import DailyStatistics
from central.store.daykeys import DayKeyError, DayKeyring
from central.store.postgres import PostgresPassageStore
from central.store.postgres_schema import BUCKET_BITS, DAY_TABLES, partition_name
from tests.conftest import verified_passage
from wire import SigningKey

KEY = SigningKey.from_seed(bytes(32))
OTHER = SigningKey.from_seed(bytes([7]) * 32)
CAM, CAM2 = "test-cam-01", "test-cam-02"
DAY = date(2026, 10, 1)
T0 = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
DESTROYED = datetime(2026, 10, 30, 0, 5, tzinfo=UTC)


class World:
    def __init__(self, root: Path, conninfo: str) -> None:
        self.root, self.conninfo, self.now = root, conninfo, T0
        self.store = PostgresPassageStore(conninfo, root / "data", root / "keys", lambda: self.now)
        self.statistics = DailyStatistics(root / "data" / "statistics.sqlite")
        self.registry = CameraRegistry(root / "data" / "cameras.sqlite")
        self.registry.add(CAM, KEY.verify_key, T0)
        self.health = HealthRecords(root / "data" / "health.sqlite")

    def put(self, seq: int, at: datetime, plate: str, key: SigningKey = KEY, camera=CAM) -> None:
        record = verified_passage(key, seq=seq, captured_at=at, plate=plate, camera_id=camera,
                                  char_confidence_pm=(900,) * len(plate))  # fmt: skip
        self.store.insert_batch([record], at + timedelta(seconds=2))

    def retention(self, now: datetime):
        self.now = now
        return run_retention(self.store, self.statistics, self.registry, self.health, now)

    def tables_of(self, day: date) -> list[str]:
        rows = self.store.db.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE %s", (f"%_{day:%Y%m%d}",)
        )
        return sorted(r[0] for r in rows)

    def close(self) -> None:
        for part in (self.store, self.statistics, self.registry, self.health):
            part.close()


@pytest.fixture
def world(tmp_path, postgres_conninfo):
    world = World(tmp_path, postgres_conninfo)
    yield world
    world.close()


def cluster_bytes(cluster) -> bytes:
    """Every file of the cluster's data folder: tables, indexes and the write-ahead log."""
    with psycopg.connect(cluster.conninfo, autocommit=True) as db:
        db.execute("CHECKPOINT")
    data = cluster.folder / "data"
    return b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())


@pytest.fixture
def own_cluster():
    """A cluster of its own: the session's also holds other tests' stores (the audit trail
    records the plates officers searched for, by design), which the scan would read."""
    from central.postgres_pools import close_pools
    from tests.postgres import start_cluster

    cluster = start_cluster()
    yield cluster
    close_pools()
    cluster.stop()


def test_no_plate_reaches_the_database_disk_in_the_clear(tmp_path, own_cluster):
    world = World(tmp_path, own_cluster.conninfo)
    try:
        passages_leave_no_plate_on_disk(world, own_cluster)
    finally:
        world.close()


def passages_leave_no_plate_on_disk(world, postgres_cluster) -> None:
    world.put(1, T0, "QX77ZZ")
    world.put(2, T0 + timedelta(minutes=1), "QX77ZZ", OTHER, CAM2)
    assert [p.plate for p in world.store.search_plate("QX77ZZ", T0, T0 + timedelta(hours=1))] \
        == ["QX77ZZ", "QX77ZZ"]  # fmt: skip
    disk = cluster_bytes(postgres_cluster)
    assert CAM2.encode() in disk, "the scan reaches the stored rows (camera ids are plain)"
    assert b"QX77ZZ" not in disk and b'"plate"' not in disk
    buckets = {r[0] for r in world.store.db.execute("SELECT plate_bucket FROM passages")}
    assert len(buckets) == 1 and 0 <= buckets.pop() < 2**BUCKET_BITS


def test_a_whole_expired_day_is_dropped_key_first(world):
    world.put(1, T0, "XPIRED")
    world.put(2, T0 + timedelta(hours=3), "STAYS1")
    report = world.retention(T0 + timedelta(days=28, hours=1))
    assert report.rows_deleted == 1 and report.days_destroyed == []
    assert [p.plate for p in world.store.search_plate("*", T0, T0 + timedelta(days=1))] == [
        "STAYS1"
    ]
    partitions = {partition_name(t, DAY) for t in DAY_TABLES}
    assert partitions <= set(world.tables_of(DAY))

    report = world.retention(DESTROYED)
    assert report.days_destroyed == [DAY]
    assert not partitions & set(world.tables_of(DAY))
    assert DAY not in world.store.keys.days() and world.store.days() == []
    assert world.store.count() == 0


def test_a_dump_taken_before_expiry_is_unreadable_once_the_key_is_gone(
    world, postgres_cluster, tmp_path
):
    world.put(1, T0, "GBL12X")
    dump = tmp_path / "stolen.sql"
    subprocess.run(
        [str(postgres_cluster.bin / "pg_dump"), "--data-only", "-f", str(dump), world.conninfo],
        check=True, capture_output=True,
    )  # fmt: skip
    text = dump.read_bytes()
    assert CAM.encode() in text, "the dump holds the day's rows"
    assert b"GBL12X" not in text

    sealed = bytes(world.store.db.execute("SELECT sealed FROM passages").fetchone()[0])
    keyring = DayKeyring(world.root / "keys")
    assert b"GBL12X" in keyring.decrypt(DAY, sealed, f"{CAM}/1/summary".encode())
    world.retention(DESTROYED)
    with pytest.raises(DayKeyError, match="destroyed"):
        DayKeyring(world.root / "keys").decrypt(DAY, sealed, f"{CAM}/1/summary".encode())
    assert not list((world.root / "keys").iterdir()), "no key of the day is left"


def test_held_passages_outlive_their_day_until_the_request_closes(world):
    world.put(1, T0, "HELD12")
    world.put(2, T0 + timedelta(minutes=1), "GONE12")
    world.store.custody.hold(CAM, 1, DAY, "OvJ-2026-0042", "officer-17", T0 + timedelta(days=3))

    report = world.retention(DESTROYED)
    assert report.days_held == [DAY] and report.days_destroyed == []
    assert world.store.seqs(CAM) == [1]
    assert world.store.recent() == [], "held is not visible to ordinary reads"

    world.store.custody.release("OvJ-2026-0042", datetime(2026, 11, 2, tzinfo=UTC))
    report = world.retention(datetime(2026, 11, 2, 0, 5, tzinfo=UTC))
    assert report.days_destroyed == [DAY] and world.store.count() == 0


def test_statistics_are_written_from_the_sealed_rows_before_expiry(world):
    world.put(1, T0, "GB123X")
    world.put(2, T0 + timedelta(minutes=1), "GB123X")
    world.put(3, T0 + timedelta(minutes=2), "Q0Q0Q0")
    report = world.retention(datetime(2026, 10, 2, 2, 0, tzinfo=UTC))
    assert report.statistics_written == [DAY]
    (figures,) = world.statistics.for_day(DAY)
    assert (figures.passages, figures.distinct_plates) == (3, 2)
    world.retention(DESTROYED)
    assert world.statistics.for_day(DAY)[0].passages == 3, "figures outlive the data"


def test_stored_reads_are_never_updated(world):
    world.put(1, T0, "GB123X")
    with pytest.raises(psycopg.errors.RaiseException, match="never changed"):
        world.store.db.execute("UPDATE passages SET lane = 2")


def test_a_bucket_holds_many_vehicles_and_changes_with_the_day(tmp_path):
    keys = DayKeyring(tmp_path / "keys")
    # A day of the Dutch network has about a million distinct plates; 200,000 here.
    plates = [
        f"{a}{b}{n:04d}" for a in "ABCDEFGHJKLMNPRSTVXZ" for b in "ABCDEFGHJK" for n in range(1000)
    ]
    buckets = [keys.plate_bucket(DAY, plate, BUCKET_BITS, create=True) for plate in plates]
    per_bucket = len(plates) / len(set(buckets))
    assert len(set(buckets)) <= 2**BUCKET_BITS and per_bucket > 10
    next_day = [keys.plate_bucket(DAY + timedelta(days=1), p, BUCKET_BITS, create=True)
                for p in plates[:100]]  # fmt: skip
    assert next_day != buckets[:100], "a new day key, new buckets: no link across days"


def test_the_custody_commands_work_on_the_configured_postgresql(
    tmp_path, postgres_conninfo, central_setup, capsys
):
    """hold, backup and retention-run act on PostgreSQL when the config says so (they once
    built a SQLite store whatever the config said: retention-run destroyed nothing)."""
    from central.__main__ import main as central_main
    from central.config import load_config

    path = central_setup.config_path
    text = path.read_text().replace(
        "[storage]\n", f'[storage]\nbackend = "postgresql"\npostgresql = "{postgres_conninfo}"\n'
    )
    path.write_text(text)
    config = load_config(path)
    store = PostgresPassageStore(postgres_conninfo, config.storage.data_dir,
                                 config.storage.keys_dir)  # fmt: skip
    recent = datetime.now(UTC) - timedelta(hours=1)
    old = datetime.now(UTC) - timedelta(days=30)
    for seq, at in ((1, old), (2, recent)):
        store.insert_batch([verified_passage(KEY, seq=seq, captured_at=at)], at)
    store.close()
    cli = ["--config", str(path)]
    hold = ["hold", "--camera-id", CAM, "--seq", "2", "--request", "REQ-9", "--by", "officer-1"]
    assert central_main(cli + hold) == 0
    backup = ["--to", str(tmp_path / "bk"), "--keys-to", str(tmp_path / "bk-keys")]
    assert central_main(cli + ["backup"] + backup) == 0
    assert [p.name for p in (tmp_path / "bk-keys").iterdir()] == [f"{recent.date()}.key"]
    assert not (tmp_path / "bk" / "passages").exists() or not any(
        (tmp_path / "bk" / "passages").iterdir()
    ), "the rows are the database's to back up"
    assert central_main(cli + ["retention-run"]) == 0
    store = PostgresPassageStore(postgres_conninfo, config.storage.data_dir,
                                 config.storage.keys_dir)  # fmt: skip
    try:
        assert store.days() == [recent.date()] and store.seqs(CAM) == [2]
    finally:
        store.close()
