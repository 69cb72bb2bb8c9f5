"""The audit trail: append-only, chained, anchored; any tampering is found and located."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from central.__main__ import main as central
from central.audit import AuditTrail
from tests.conftest import write_central_config
from wire import SigningKey

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
KEY = SigningKey.generate()


@pytest.fixture
def trail(tmp_path):
    trail = AuditTrail(tmp_path / "audit.sqlite")
    for i in range(1, 7):
        trail.append(f"officer-{i}", "consultation", {"order": f"OvJ-{i}", "rows": i}, NOW)
    trail.checkpoint(KEY, NOW + timedelta(minutes=1))
    yield trail
    trail.close()


def raw(trail) -> sqlite3.Connection:
    """Someone with the file: the triggers are no obstacle to them."""
    db = trail.db
    db.execute("DROP TRIGGER entries_no_update")
    db.execute("DROP TRIGGER entries_no_delete")
    return db


def test_an_intact_trail_verifies(trail):
    assert trail.verify(KEY.verify_key) == []


def test_updates_and_deletes_are_refused_by_the_database(trail):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        trail.db.execute("UPDATE entries SET actor = 'x' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        trail.db.execute("DELETE FROM entries WHERE seq = 2")


def test_altered_entry_is_found_at_its_position(trail):
    raw(trail).execute('UPDATE entries SET details = \'{"order":"OvJ-X"}\' WHERE seq = 3')
    assert [(f.seq, f.problem) for f in trail.verify(KEY.verify_key)][0] == (
        3, "content altered after it was written",
    )  # fmt: skip


def test_removed_entry_is_found(trail):
    raw(trail).execute("DELETE FROM entries WHERE seq = 4")
    findings = trail.verify(KEY.verify_key)
    assert findings[0].seq == 5 and "removed" in findings[0].problem


def test_swapped_entries_are_found(trail):
    db = raw(trail)
    (a,) = db.execute("SELECT details FROM entries WHERE seq = 2").fetchone()
    (b,) = db.execute("SELECT details FROM entries WHERE seq = 5").fetchone()
    db.execute("UPDATE entries SET details = ? WHERE seq = 2", (b,))
    db.execute("UPDATE entries SET details = ? WHERE seq = 5", (a,))
    assert {f.seq for f in trail.verify(KEY.verify_key)} == {2, 5}


def test_a_rewritten_tail_is_caught_by_the_signed_checkpoint(trail):
    """Rewriting entries 4-6 with a consistent chain still contradicts the signed head."""
    from central.audit import entry_hash

    db = raw(trail)
    rows = db.execute("SELECT seq, at, actor, action, prev_hash FROM entries WHERE seq >= 4")
    prev = db.execute("SELECT entry_hash FROM entries WHERE seq = 3").fetchone()[0]
    for seq, at, actor, action, _ in list(rows):
        details = '{"order": "forged"}'
        digest = entry_hash(prev, seq, at, actor, action, details)
        db.execute("UPDATE entries SET details = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?",
                   (details, prev, digest, seq))  # fmt: skip
        prev = digest
    findings = trail.verify(KEY.verify_key)
    assert [f.seq for f in findings] == [6] and "head signed" in findings[0].problem


def test_cli_records_changes_and_verifies(tmp_path, capsys):
    setup = write_central_config(tmp_path, broker_port=1883)
    config = ["--config", str(setup.config_path)]
    from provisioning.__main__ import main as provision

    provision(["camera-key", "--camera-id", "cam-a", "--out", str(tmp_path / "k")])
    central(
        config
        + ["camera-add", "--camera-id", "cam-a", "--public-key", str(tmp_path / "k" / "cam-a.pub")]
    )
    assert central(config + ["audit-checkpoint"]) == 0
    assert central(config + ["audit-verify"]) == 0
    assert "audit trail intact" in capsys.readouterr().out
    trail = AuditTrail(setup.config.audit_path)
    assert trail.entries()[0]["action"] == "camera_registered"
    raw(trail).execute("UPDATE entries SET actor = 'someone-else' WHERE seq = 1")
    trail.close()
    assert central(config + ["audit-verify"]) == 1
    assert "BROKEN at entry 1" in capsys.readouterr().out
    assert central(config + ["audit", "verify"]) == 1, "the spelling the issue names"
    assert "BROKEN at entry 1" in capsys.readouterr().out
