"""Reads cannot be edited (#20, finding 6): the day file refuses updates, and `store-verify`
finds any edit made behind the code's back by holding each row against its signed record."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from central.__main__ import main as central
from central.cameras import CameraRegistry
from central.store import open_store
from tests.conftest import open_day_file, verified_passage, write_central_config
from wire import SigningKey

NOW = datetime.now(UTC).replace(microsecond=0)
CAPTURED = (NOW - timedelta(days=1)).replace(hour=12, minute=0, second=0)
DAY = CAPTURED.date()


@pytest.fixture
def setup(tmp_path):
    """A central with a registered camera and three of its passages stored."""
    setup = write_central_config(tmp_path, broker_port=1883)
    key = SigningKey.generate()
    registry = CameraRegistry(setup.config.cameras_path)
    registry.add("test-cam-01", key.verify_key, NOW)
    registry.close()
    store = open_store(setup.config)
    store.insert_batch(
        [verified_passage(key, seq=seq, captured_at=CAPTURED + timedelta(minutes=seq),
                          plate=plate)
         for seq, plate in ((1, "GBL12X"), (2, "XY123Z"), (3, "NB456K"))],
        NOW,
    )  # fmt: skip
    store.close()
    setup.key = key
    return setup


def day_file(setup):
    """Someone with the file, not the code: the triggers are no obstacle to them."""
    db = open_day_file(setup.config, DAY)
    for table in ("passages", "records", "images", "verifications"):
        db.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    return db


def store_verify(setup, capsys, *extra: str) -> tuple[int, str]:
    code = central(["--config", str(setup.config_path), "store-verify", "--day", str(DAY),
                    *extra])  # fmt: skip
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE passages SET plate = 'AB123C' WHERE seq = 1",
        "UPDATE records SET record = x'00' WHERE seq = 1",
        "UPDATE images SET crop = x'00' WHERE seq = 1",
    ],
)
def test_the_day_file_refuses_to_change_a_read_and_retention_still_deletes(setup, statement):
    db = open_day_file(setup.config, DAY)
    try:
        with pytest.raises(sqlcipher.IntegrityError, match="never changed"):
            db.execute(statement)
    finally:
        db.close()
    later = CAPTURED + timedelta(days=28, seconds=90)  # seq 1 (captured +1 min) is past
    store = open_store(setup.config, clock=lambda: later)
    try:
        assert store.purge_expired(DAY, later) == 1
        assert store.seqs("test-cam-01") == [2, 3]
    finally:
        store.close()


def test_an_intact_day_verifies_with_its_images(setup, capsys):
    code, out = store_verify(setup, capsys, "--images")
    assert code == 0, out
    assert f"{DAY}: 3 passage(s) checked, all as signed" in out


def test_a_plate_edited_behind_the_codes_back_is_found(setup, capsys):
    db = day_file(setup)
    db.execute("UPDATE passages SET plate = 'AB123C' WHERE seq = 2")
    db.commit()
    db.close()
    code, out = store_verify(setup, capsys)
    assert code == 1
    assert "MISMATCH test-cam-01/2: plate is 'AB123C', the signed record says 'XY123Z'" in out
    assert "1 passage(s) differ from their signed record" in out


def test_an_edit_of_row_record_and_digests_together_fails_the_cameras_signature(setup, capsys):
    db = day_file(setup)
    (record,) = db.execute("SELECT record FROM records WHERE seq = 2").fetchone()
    forged = bytes(record).replace(b'"XY123Z"', b'"AB123C"')
    digest = hashlib.sha256(forged).hexdigest()
    db.execute("UPDATE records SET record = ? WHERE seq = 2", (forged,))
    db.execute("UPDATE passages SET plate = 'AB123C', record_sha256 = ? WHERE seq = 2", (digest,))
    db.commit()
    db.close()
    index = sqlite3.connect(setup.config.storage.data_dir / "sequences.sqlite")
    index.execute("UPDATE sequences SET record_sha256 = ? WHERE seq = 2", (digest,))
    index.commit()
    index.close()
    code, out = store_verify(setup, capsys)
    assert code == 1
    assert "test-cam-01/2: the record's signature does not verify" in out


def test_a_row_deleted_and_inserted_again_edited_is_found(setup, capsys):
    """No UPDATE at all: retention must keep its DELETE, so the check is what catches it."""
    db = open_day_file(setup.config, DAY)
    row = list(db.execute("SELECT * FROM passages WHERE seq = 3").fetchone())
    db.execute("DELETE FROM passages WHERE seq = 3")
    row[6] = 999  # confidence_pm
    db.execute(f"INSERT INTO passages VALUES ({', '.join('?' * len(row))})", row)
    db.execute("DELETE FROM passages WHERE seq = 1")
    db.commit()
    db.close()
    code, out = store_verify(setup, capsys)
    assert code == 1
    assert "test-cam-01/3: confidence_pm is 999, the signed record says 970" in out
    assert "test-cam-01/1: a signed record without its passage row" in out


def test_a_day_without_a_file_is_an_error_that_says_so(setup, capsys):
    code = central(["--config", str(setup.config_path), "store-verify", "--day", "2001-01-01"])
    assert code == 2
    assert "no day file for 2001-01-01" in capsys.readouterr().out
