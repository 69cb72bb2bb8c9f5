"""Backups expire with the data: day copies and day keys, kept apart, gone after 28 days."""

from datetime import UTC, date, datetime, timedelta

import pytest

from central.backup import BackupError, expire_backups, make_backup
from central.store.daykeys import DayKeyring
from central.store.partitioned import DayPartitionedStore
from tests.cipher_pages import day_plaintext
from tests.conftest import verified_passage
from wire import SigningKey

KEY = SigningKey.from_seed(bytes(32))
T0 = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    store = DayPartitionedStore(tmp_path / "data", tmp_path / "keys", lambda: T0)
    early = verified_passage(KEY, seq=1, captured_at=T0, plate="EARLY1")
    late = verified_passage(KEY, seq=2, captured_at=T0 + timedelta(hours=12), plate="LATE12")
    store.insert_batch([early, late], T0)
    yield store
    store.close()


def disk_raw(folder) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def disk(folder) -> bytes:
    """The backup's bytes, and its day files decrypted with the backup's keys (as someone
    holding both would read them, freed pages included) while those keys exist."""
    found = [disk_raw(folder)]
    keys = DayKeyring(folder.with_name(folder.name + "-keys"))
    for day in keys.days():
        found.append(day_plaintext(folder / "passages" / f"{day}.sqlite", keys.file_key(day)))
    return b"".join(found)


def test_backup_copies_days_and_keys_to_separate_places(store, tmp_path):
    report = make_backup(store, tmp_path / "data", tmp_path / "bk", tmp_path / "bk-keys", T0)
    assert report.days_copied == [date(2026, 10, 1)]
    assert (tmp_path / "bk" / "passages" / "2026-10-01.sqlite").exists()
    assert (tmp_path / "bk-keys" / "2026-10-01.key").exists()
    assert b"EARLY1" in disk(tmp_path / "bk")
    raw = disk_raw(tmp_path / "bk" / "passages")
    assert b"EARLY1" not in raw and b"SQLite format 3" not in raw, "the copy is encrypted"
    assert not list((tmp_path / "bk").rglob("*.key")), "no key beside the data"
    with pytest.raises(BackupError, match="different places"):
        make_backup(store, tmp_path / "data", tmp_path / "bk", tmp_path / "bk", T0)


def test_backup_expiry_follows_the_live_rule_to_the_row(store, tmp_path):
    make_backup(store, tmp_path / "data", tmp_path / "bk", tmp_path / "bk-keys", T0)
    report = expire_backups(tmp_path / "bk", tmp_path / "bk-keys", T0 + timedelta(days=28, hours=1))
    assert report.rows_deleted == 1
    assert b"EARLY1" not in disk(tmp_path / "bk") and b"LATE12" in disk(tmp_path / "bk")

    report = expire_backups(
        tmp_path / "bk", tmp_path / "bk-keys", datetime(2026, 10, 30, tzinfo=UTC)
    )
    assert report.days_expired == [date(2026, 10, 1)]
    assert b"LATE12" not in disk(tmp_path / "bk")
    assert not (tmp_path / "bk-keys" / "2026-10-01.key").exists()


def test_the_backup_keeps_the_other_stores_and_an_auditors_copy_of_the_anchor(store, tmp_path):
    """A rogue administrator who later cuts the trail and its local anchor is caught by the
    anchor's copy on the backup medium; accounts, requests and the trail survive a lost disk."""
    from central.audit import AuditTrail
    from central.audit_anchor import AuditAnchor
    from central.requests.store import Requests

    trail = AuditTrail(tmp_path / "data" / "audit.sqlite")
    for i in range(1, 4):
        trail.append(f"officer-{i}", "consultation", {"order": f"OvJ-{i}"}, T0)
    Requests(tmp_path / "data" / "requests.sqlite").close()
    make_backup(store, tmp_path / "data", tmp_path / "bk", tmp_path / "bk-keys", T0)
    for name in ("audit", "requests", "sequences", "custody"):
        assert (tmp_path / "bk" / f"{name}.sqlite").exists(), name
    copy = tmp_path / "bk" / "audit-anchor"
    assert (copy / "anchor.log").read_bytes() == trail.anchor.path.read_bytes()

    trail.db.execute("DROP TRIGGER entries_no_delete")
    trail.db.execute("DELETE FROM entries WHERE seq = 3")
    trail.anchor.path.unlink()
    key = SigningKey.generate()
    (held,) = trail.verify(key.verify_key, AuditAnchor(copy))
    assert "the trail ends at entry 2 but the anchor recorded entry 3" in held.problem
    trail.close()
