"""Everything personal under the day key: a day file and its log are SQLCipher-encrypted, so
no plate, time, place, camera id or signed record of the day is readable from any byte on
disk without that day's key, and nothing at all once the key is destroyed."""

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from central.databases import WrongKey, apply_migrations, connect
from central.store.dayfile import MIGRATIONS, DayFile, is_plaintext
from central.store.daykeys import DayKeyError
from central.store.partitioned import DayPartitionedStore
from tests.cipher_pages import day_plaintext
from tests.conftest import verified_passage
from wire import SigningKey

KEY = SigningKey.from_seed(bytes(32))
CAM = "test-cam-01"
T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
DAY = T0.date()
# What identifies a person's movement: the plate, the moment, the place, the camera, and
# the record the camera signed (its JSON keys).
PERSONAL = (b"KX123Z", b"2026-11-10T08", b"test-cam-01", b'"plate"', b'"captured_at"')


@pytest.fixture
def store(tmp_path):
    store = DayPartitionedStore(tmp_path / "data", tmp_path / "keys", lambda: T0)
    store.insert_batch([verified_passage(KEY, seq=1, captured_at=T0, plate="KX123Z")], T0)
    yield store
    store.close()


def raw_day(store) -> bytes:
    path = store.path_of(DAY)
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_no_personal_byte_of_a_live_day_is_on_disk_in_the_file_or_its_log(store):
    assert store.search_plate("KX123Z", T0, T0 + timedelta(hours=1)), "the store reads it"
    raw = raw_day(store)
    assert store.path_of(DAY).with_name(f"{DAY}.sqlite-wal").stat().st_size > 0
    for personal in PERSONAL:
        assert personal not in raw, personal
    decrypted = day_plaintext(store.path_of(DAY), store.keys.file_key(DAY))
    assert all(personal in decrypted for personal in PERSONAL[:3]), "the key opens it"


def test_a_day_file_does_not_open_without_its_key(store, tmp_path):
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(store.path_of(DAY)).execute("SELECT * FROM passages").fetchall()
    with pytest.raises(WrongKey, match="does not open with its key"):
        connect(store.path_of(DAY), bytes(32))
    other_day = store.keys.file_key(DAY + timedelta(days=1), create=True)
    with pytest.raises(WrongKey):
        connect(store.path_of(DAY), other_day)


def test_destroying_the_key_leaves_every_copy_unreadable_and_the_store_skips_a_stray_file(
    store, tmp_path, caplog
):
    copy = tmp_path / "copied-before-expiry"
    shutil.copytree(store.folder, copy)
    store.keys.destroy(DAY)
    store.close()
    with pytest.raises(DayKeyError, match="destroyed"):
        store.keys.file_key(DAY)
    reopened = DayPartitionedStore(tmp_path / "data", tmp_path / "keys", lambda: T0)
    try:  # a file left by an interrupted destruction: unreadable, skipped, said
        assert reopened.search_plate("KX123Z", T0, T0 + timedelta(hours=1)) == []
        assert reopened.count() == 0
        assert "cannot be opened" in caplog.text
    finally:
        reopened.close()
    raw = b"".join(p.read_bytes() for p in copy.iterdir())
    assert not any(personal in raw for personal in PERSONAL)


def test_a_plaintext_day_file_from_before_encryption_is_encrypted_in_place(tmp_path, caplog):
    """An upgraded central: its old day files are encrypted the first time they open, and
    the plaintext is overwritten, not merely unlinked."""
    store = DayPartitionedStore(tmp_path / "data", tmp_path / "keys", lambda: T0)
    path = store.path_of(DAY)
    legacy = connect(path)  # written as the previous release did: no key
    apply_migrations(legacy, MIGRATIONS)
    legacy.execute("INSERT INTO records VALUES (?, 1, ?, x'00')", (CAM, b'{"plate":"OLD12X"}'))
    legacy.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    legacy.close()
    assert is_plaintext(path) and b"OLD12X" in path.read_bytes()

    day_file = DayFile(path, DAY, store.keys.file_key(DAY, create=True))
    try:
        assert day_file.signed_record(CAM, 1) == (b'{"plate":"OLD12X"}', b"\x00")
    finally:
        day_file.close()
    assert not is_plaintext(path)
    assert b"OLD12X" not in raw_day(store)
    assert "was plaintext; encrypted" in caplog.text
    store.close()
