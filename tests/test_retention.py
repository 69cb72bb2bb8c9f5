"""28 days, then gone: the retention decision, physical destruction, crypto-shredding,
holds for open requests, and the plate-free statistics that outlive the data."""

import os
import shutil
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from central.cameras import CameraRegistry
from central.databases import connect
from central.expiry import complete, cutoff, fully_expired, partly_expired
from central.health.records import HealthRecords
from central.retention import RetentionWorker, run_retention
from central.statistics import DailyStatistics
from central.store.daykeys import DayKeyError, DayKeyring
from central.store.partitioned import DayPartitionedStore
from tests.cipher_pages import day_plaintext
from tests.conftest import verified_passage
from wire import SigningKey

KEY = SigningKey.from_seed(bytes(32))
CAM = "test-cam-01"
DAY = date(2026, 10, 1)
T0 = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)


def test_cutoff_and_day_decisions():
    now = datetime(2026, 10, 29, 6, 0, tzinfo=UTC)
    assert cutoff(now) == T0
    assert partly_expired(DAY, now) and not fully_expired(DAY, now)
    assert fully_expired(DAY, datetime(2026, 10, 30, 0, 0, tzinfo=UTC))
    assert not fully_expired(DAY, datetime(2026, 10, 29, 23, 59, 59, tzinfo=UTC))
    assert not complete(DAY, datetime(2026, 10, 2, 0, 59, tzinfo=UTC))
    assert complete(DAY, datetime(2026, 10, 2, 1, 0, tzinfo=UTC))


class World:
    """A store with its statistics and registry, all on one injected clock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.now = T0
        self.store = DayPartitionedStore(root / "data", root / "keys", lambda: self.now)
        self.statistics = DailyStatistics(root / "data" / "statistics.sqlite")
        self.registry = CameraRegistry(root / "data" / "cameras.sqlite")
        self.registry.add(CAM, KEY.verify_key, T0)
        self.health = HealthRecords(root / "data" / "health.sqlite")

    def put(self, seq: int, at: datetime, plate: str, country: str = "NL") -> None:
        record = verified_passage(
            KEY, seq=seq, captured_at=at, plate=plate, country=country,
            char_confidence_pm=(900,) * len(plate),
        )  # fmt: skip
        self.store.insert_batch([record], at + timedelta(seconds=2))

    def retention(self, now: datetime):
        self.now = now
        return run_retention(self.store, self.statistics, self.registry, self.health, now)

    def bytes_on_disk(self) -> bytes:
        """Every file's bytes, and each day file's pages decrypted as someone holding its
        key (an administrator before expiry) would read them, freed pages included."""
        found = [p.read_bytes() for p in self.root.rglob("*") if p.is_file()]
        for day in self.store.keys.days():
            path = self.store.path_of(day)
            found.append(day_plaintext(path, self.store.keys.file_key(day)))
        return b"".join(found)

    def close(self) -> None:
        for part in (self.store, self.statistics, self.registry, self.health):
            part.close()


@pytest.fixture
def world(tmp_path):
    world = World(tmp_path)
    yield world
    world.close()


def test_expired_rows_leave_no_trace_in_the_data_directory(world):
    world.put(1, T0, "XPIRED")
    world.put(2, T0 + timedelta(hours=3), "STAYS1")
    # 28 days and one hour later: seq 1 is past, seq 2 is not.
    report = world.retention(T0 + timedelta(days=28, hours=1))
    assert report.rows_deleted == 1
    disk = world.bytes_on_disk()
    assert b"XPIRED" not in disk
    assert b"STAYS1" in disk

    report = world.retention(datetime(2026, 10, 30, 0, 5, tzinfo=UTC))
    assert report.days_destroyed == [DAY]
    assert not world.store.path_of(DAY).exists()
    assert DAY not in world.store.keys.days()
    assert b"STAYS1" not in world.bytes_on_disk()
    assert world.store.sequences.lookup(CAM, 2) is None


def test_a_reader_holding_the_log_open_cannot_leave_expired_plates_behind(world, monkeypatch):
    """A checkpoint that a reader blocks is reported, not taken as done, and the next pass
    scrubs the log even though no row newly expired."""
    monkeypatch.setattr("central.databases.SCRUB_WAIT_MS", 100)
    world.put(1, T0, "XPIRED")
    world.put(2, T0 + timedelta(hours=3), "STAYS1")
    reader = connect(world.store.path_of(DAY), world.store.keys.file_key(DAY))
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM passages").fetchone()  # an open read transaction
    report = world.retention(T0 + timedelta(days=28, hours=1))
    assert report.scrub_incomplete == [DAY]
    assert b"XPIRED" in world.bytes_on_disk(), "the old page is still in the log"
    reader.rollback()
    reader.close()
    again = world.retention(T0 + timedelta(days=28, hours=1, minutes=5))
    assert again.scrub_incomplete == [] and again.rows_deleted == 0
    disk = world.bytes_on_disk()
    assert b"XPIRED" not in disk and b"STAYS1" in disk


def test_a_copy_taken_before_expiry_is_unreadable_once_the_key_is_gone(world, tmp_path):
    """Plates, times, places, camera ids and signed records, not only images: nothing of
    the day reads from a copy of its file and log once the key is destroyed."""
    world.put(1, T0, "GBL12X")
    copy = tmp_path / "stolen-copy"
    shutil.copytree(world.store.folder, copy)
    stolen = copy / f"{DAY.isoformat()}.sqlite"
    with_key = day_plaintext(stolen, world.store.keys.file_key(DAY))
    assert b"GBL12X" in with_key and CAM.encode() in with_key, "the copy holds the day"
    raw = b"".join(p.read_bytes() for p in copy.iterdir())
    for personal in (b"GBL12X", CAM.encode(), b"2026-10-01T06", b'"plate"'):
        assert personal not in raw

    world.retention(datetime(2026, 10, 30, 0, 5, tzinfo=UTC))
    with pytest.raises(DayKeyError, match="destroyed"):
        DayKeyring(world.root / "keys").file_key(DAY)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(stolen).execute("SELECT * FROM passages").fetchall()
    assert not list(world.root.joinpath("keys").iterdir()), "no key of the day is left"


def test_held_passages_outlive_their_day_until_the_request_closes(world):
    world.put(1, T0, "HELD12")
    world.put(2, T0 + timedelta(minutes=1), "GONE12")
    world.store.custody.hold(CAM, 1, DAY, "OvJ-2026-0042", "officer-17", T0 + timedelta(days=3))

    report = world.retention(datetime(2026, 10, 30, 0, 5, tzinfo=UTC))
    assert report.days_held == [DAY] and report.days_destroyed == []
    disk = world.bytes_on_disk()
    assert b"HELD12" in disk and b"GONE12" not in disk
    events = [e["event"] for e in world.store.custody.events()]
    assert "hold_placed" in events and "hold_honoured" in events
    assert world.store.recent() == [], "held is not visible to ordinary reads"

    world.store.custody.release("OvJ-2026-0042", datetime(2026, 11, 2, tzinfo=UTC))
    report = world.retention(datetime(2026, 11, 2, 0, 5, tzinfo=UTC))
    assert report.days_destroyed == [DAY]
    assert b"HELD12" not in world.bytes_on_disk()


def test_statistics_are_written_before_expiry_and_hold_no_plate(world):
    world.put(1, T0, "GB123X")
    world.put(2, T0 + timedelta(minutes=1), "GB123X")
    world.put(3, T0 + timedelta(minutes=2), "1ABC234", country="BE")
    world.put(4, T0 + timedelta(minutes=3), "Q0Q0Q0")
    world.health.record_heartbeat(_heartbeat(), b"{}", datetime(2026, 10, 1, 9, 30, tzinfo=UTC))

    report = world.retention(datetime(2026, 10, 2, 2, 0, tzinfo=UTC))
    assert report.statistics_written == [DAY]
    (figures,) = world.statistics.for_day(DAY)
    assert (figures.passages, figures.distinct_plates) == (4, 3)
    assert figures.countries == {"BE": 1, "NL": 3}
    assert figures.layout_match_pm == 750  # GB-123-X and 1-ABC-234 fit; Q0Q0Q0 fits nothing
    assert figures.hours_down == 23

    world.retention(datetime(2026, 10, 30, 0, 5, tzinfo=UTC))
    stats_file = (world.root / "data" / "statistics.sqlite").read_bytes()
    for plate in (b"GB123X", b"1ABC234", b"Q0Q0Q0"):
        assert plate not in stats_file
        assert plate not in world.bytes_on_disk()
    assert world.statistics.for_day(DAY)[0].passages == 4, "figures outlive the data"


def test_late_deliveries_update_the_statistics_until_the_day_expires(world):
    world.put(1, T0, "GB123X")
    world.retention(datetime(2026, 10, 2, 2, 0, tzinfo=UTC))
    world.put(2, T0 + timedelta(minutes=5), "GB124X")
    world.retention(datetime(2026, 10, 5, 2, 0, tzinfo=UTC))
    assert world.statistics.for_day(DAY)[0].passages == 2


def _heartbeat():
    from wire import Heartbeat

    return Heartbeat(
        camera_id=CAM, key_id=KEY.key_id, sent_at=datetime(2026, 10, 1, 9, 30, tzinfo=UTC),
        boot_id="0" * 16, uptime_s=1, source_ok=True, frames_captured=0, frames_dropped=0,
        last_seq=0, spool_depth=0, spool_oldest_age_s=0, agent_version="test",
    )  # fmt: skip


def test_worker_runs_on_its_own_schedule_with_an_injected_clock():
    seen: list[datetime] = []
    ran = threading.Event()

    def run_once(now):
        seen.append(now)
        if len(seen) >= 2:
            ran.set()

    worker = RetentionWorker(run_once, interval_s=0.01, clock=lambda: T0)
    worker.start()
    assert ran.wait(5)
    worker.stop()
    assert seen[:2] == [T0, T0]
    assert worker._thread.name == "retention"


def test_a_failing_run_does_not_stop_retention():
    calls = []
    ran = threading.Event()

    def run_once(now):
        calls.append(now)
        if len(calls) == 1:
            raise OSError("disk hiccup")
        ran.set()

    worker = RetentionWorker(run_once, interval_s=0.01, clock=lambda: T0)
    worker.start()
    assert ran.wait(5)
    worker.stop()


def test_a_writer_does_not_keep_an_expired_day_file_alive(world, tmp_path):
    """Ingest's cached handle on an old day must not pin the bytes of a deleted file."""
    writer = DayPartitionedStore(world.root / "data", world.root / "keys", lambda: world.now)
    writer.insert_batch([verified_passage(KEY, seq=1, captured_at=T0, plate="PINNED")], T0)
    assert DAY in writer._open
    world.retention(datetime(2026, 10, 30, 0, 5, tzinfo=UTC))
    writer.insert_batch(
        [verified_passage(KEY, seq=2, captured_at=world.now - timedelta(minutes=1))], world.now
    )
    open_files = [os.readlink(fd) for fd in Path("/proc/self/fd").iterdir() if fd.is_symlink()]
    assert not [f for f in open_files if DAY.isoformat() in f], "deleted day still open"
    writer.close()


def test_the_service_logs_what_retention_destroyed_and_anchors_the_trail(tmp_path):
    from central.audit import AuditTrail
    from central.commands.service import retention_worker
    from central.store import open_store
    from tests.conftest import write_central_config

    config = write_central_config(tmp_path, broker_port=1883).config
    now = datetime.now(UTC)
    store = open_store(config)
    key = SigningKey.generate()
    store.insert_batch([verified_passage(key, seq=1, captured_at=now - timedelta(days=31))], now)
    store.close()
    worker = retention_worker(config)
    report = worker.run_once(now)
    assert report.days_destroyed
    trail = AuditTrail(config.audit_path)
    (entry,) = trail.records({"retention_destroyed"})
    assert entry["details"]["days"] == [d.isoformat() for d in report.days_destroyed]
    checkpoints = trail.db.execute("SELECT seq FROM checkpoints").fetchall()
    assert checkpoints == [(entry["seq"],)], "the head is signed after the deletion"
    worker.run_once(now + timedelta(minutes=5))  # nothing new to destroy, no checkpoint due
    assert len(trail.records({"retention_destroyed"})) == 1
    trail.close()
