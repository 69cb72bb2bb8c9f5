"""The audit trail: append-only, chained, anchored; any tampering is found and located.

The tests about the trail itself run on both backends (`storage.backend`): the SQLite file
and PostgreSQL (central/audit_postgres.py), verified by the same code. Those about the file
(an older copy put back, the anchor beside it) are SQLite's own.
"""

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from central.__main__ import main as central
from central.audit import AuditTrail
from central.audit_anchor import AuditAnchor
from central.audit_trails import open_audit_trail
from central.config import load_config
from tests.conftest import write_central_config
from wire import SigningKey

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
KEY = SigningKey.generate()
BACKENDS = ["sqlite", "postgresql"]


def fill(trail: AuditTrail) -> AuditTrail:
    for i in range(1, 7):
        trail.append(f"officer-{i}", "consultation", {"order": f"OvJ-{i}", "rows": i}, NOW)
    trail.checkpoint(KEY, NOW + timedelta(minutes=1))
    return trail


def open_trail(backend: str, tmp_path, request) -> AuditTrail:
    if backend == "sqlite":
        return AuditTrail(tmp_path / "audit.sqlite")
    from central.audit_postgres import PostgresAuditTrail

    conninfo = request.getfixturevalue("postgres_conninfo")
    return PostgresAuditTrail(conninfo, AuditAnchor(tmp_path / "audit-anchor"))


@pytest.fixture(params=BACKENDS)
def trail(request, tmp_path):
    trail = fill(open_trail(request.param, tmp_path, request))
    yield trail
    trail.close()


@pytest.fixture
def sqlite_trail(tmp_path):
    """The trail in its SQLite file, for what is about the file itself."""
    trail = fill(AuditTrail(tmp_path / "audit.sqlite"))
    yield trail
    trail.close()


def refused(trail):
    """What the database raises when a trigger refuses a change."""
    if isinstance(trail.db, sqlite3.Connection):
        return pytest.raises(sqlite3.IntegrityError, match="append-only")
    import psycopg

    return pytest.raises(psycopg.errors.RaiseException, match="append-only")


_FORGERS: list = []  # their own connections to PostgreSQL, closed after each test


@pytest.fixture(autouse=True)
def _close_forgers():
    yield
    while _FORGERS:
        _FORGERS.pop().close()


class Forger:
    """Someone with the database's owner or superuser account (or the file): the triggers
    are no obstacle to them. SQL in SQLite's spelling (`?` parameters) on both backends."""

    def __init__(self, trail) -> None:
        if isinstance(trail.db, sqlite3.Connection):
            self.db, self.postgres = trail.db, False
            for name in ("entries_no_update", "entries_no_delete", "checkpoints_no_update",
                         "checkpoints_no_delete"):  # fmt: skip
                self.db.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            import psycopg

            self.db, self.postgres = psycopg.connect(trail.conninfo, autocommit=True), True
            _FORGERS.append(self.db)
            for table in ("entries", "checkpoints"):
                self.db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")

    def execute(self, sql: str, params: tuple = ()):
        return self.db.execute(sql.replace("?", "%s") if self.postgres else sql, params)


def raw(trail) -> Forger:
    return Forger(trail)


def rewrite_from(db: Forger, first: int) -> None:
    """Rewrite every entry from `first` on with a consistent chain (a forger's work)."""
    from central.audit import entry_hash

    rows = db.execute("SELECT seq, at, actor, action FROM entries WHERE seq >= ?", (first,))
    prev = db.execute("SELECT entry_hash FROM entries WHERE seq = ?", (first - 1,)).fetchone()[0]
    for seq, at, actor, action in list(rows):
        details = '{"order": "forged"}'
        digest = entry_hash(prev, seq, at, actor, action, details)
        db.execute("UPDATE entries SET details = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?",
                   (details, prev, digest, seq))  # fmt: skip
        prev = digest


def test_an_intact_trail_verifies(trail):
    assert trail.verify(KEY.verify_key) == []


def test_updates_and_deletes_are_refused_by_the_database(trail):
    with refused(trail):
        trail.db.execute("UPDATE entries SET actor = 'x' WHERE seq = 2")
    with refused(trail):
        trail.db.execute("DELETE FROM entries WHERE seq = 2")
    assert [e["actor"] for e in trail.entries()][-2] == "officer-2"
    assert trail.verify(KEY.verify_key) == []


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
    """Rewriting entries 4-6 with a consistent chain still contradicts the signed head
    (in the file) and every hash anchored outside it."""
    rewrite_from(raw(trail), 4)
    findings = trail.verify(KEY.verify_key)
    assert findings[0].seq == 6 and "head signed" in findings[0].problem
    anchored = [f.seq for f in findings if "anchored outside the trail" in f.problem]
    assert anchored == [4, 5, 6]


def central_config(backend: str, tmp_path, request):
    """A central's config on `backend`: the CLI's commands open the trail it names."""
    setup = write_central_config(tmp_path, broker_port=1883)
    if backend == "postgresql":
        conninfo = request.getfixturevalue("postgres_conninfo")
        text = setup.config_path.read_text().replace(
            "[secrets]", f'backend = "postgresql"\npostgresql = "{conninfo}"\n\n[secrets]', 1
        )
        setup.config_path.write_text(text)
    return setup, load_config(setup.config_path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_records_changes_and_verifies(backend, tmp_path, capsys, request):
    setup, loaded = central_config(backend, tmp_path, request)
    assert loaded.storage.backend == backend
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
    trail = open_audit_trail(loaded)
    assert trail.entries()[0]["action"] == "camera_registered"
    raw(trail).execute("UPDATE entries SET actor = 'someone-else' WHERE seq = 1")
    trail.close()
    assert central(config + ["audit-verify"]) == 1
    assert "BROKEN at entry 1" in capsys.readouterr().out
    assert central(config + ["audit", "verify"]) == 1, "the spelling the issue names"
    assert "BROKEN at entry 1" in capsys.readouterr().out


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_doctor_verifies_the_trail_on_either_backend(backend, tmp_path, request):
    from central.commands.doctor import _audit_trail

    _, loaded = central_config(backend, tmp_path, request)
    trail = open_audit_trail(loaded)
    try:
        trail.append("cli:root", "camera_registered", {"camera_id": "cam-a"}, NOW)
        assert _audit_trail(loaded).status == "OK"
        raw(trail).execute("UPDATE entries SET actor = 'someone-else' WHERE seq = 1")
    finally:
        trail.close()
    check = _audit_trail(loaded)
    assert check.status == "FAIL" and "first at entry 1" in check.detail


# --- what the file cannot show about itself: its anchor (#20, finding 2) ---------------------


def test_checkpoints_refuse_updates_and_deletes(trail):
    with refused(trail):
        trail.db.execute("DELETE FROM checkpoints")
    with refused(trail):
        trail.db.execute("UPDATE checkpoints SET entry_hash = 'x'")


def test_a_tail_deleted_after_the_last_checkpoint_is_caught(trail):
    """Entries 7 and 8 were never signed; cutting them leaves a consistent file."""
    trail.append("officer-7", "consultation", {"order": "OvJ-7"}, NOW)
    trail.append("officer-8", "consultation", {"order": "OvJ-8"}, NOW)
    raw(trail).execute("DELETE FROM entries WHERE seq >= 7")
    findings = trail.verify(KEY.verify_key)
    assert [(f.seq, f.problem.split(":")[0]) for f in findings] == [
        (7, "the trail ends at entry 6 but the anchor recorded entry 8 at 2026-11-22T12")
    ]
    assert "removed, or the file was replaced by an older copy" in findings[0].problem


def test_a_rewritten_tail_with_its_checkpoints_deleted_is_caught(trail):
    db = raw(trail)
    db.execute("DELETE FROM checkpoints")
    rewrite_from(db, 4)
    findings = trail.verify(KEY.verify_key)
    assert {f.seq for f in findings if "rewritten" in f.problem} == {4, 5, 6}
    (gone,) = [f for f in findings if "gone from the trail" in f.problem]
    assert gone.seq == 6 and "deleted" in gone.problem


def test_an_older_copy_put_back_is_caught(tmp_path, sqlite_trail):
    trail = sqlite_trail
    older = sqlite3.connect(tmp_path / "older.sqlite")
    trail.db.backup(older)
    older.close()
    for i in (7, 8):
        trail.append(f"officer-{i}", "consultation", {"order": f"OvJ-{i}"}, NOW)
    trail.checkpoint(KEY, NOW + timedelta(minutes=2))
    trail.close()
    path = tmp_path / "audit.sqlite"
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    (tmp_path / "older.sqlite").replace(path)
    put_back = AuditTrail(path)
    try:
        problems = [f.problem for f in put_back.verify(KEY.verify_key)]
    finally:
        put_back.close()
    assert any("ends at entry 6 but the anchor recorded entry 8" in p for p in problems)
    assert any("signed at 2026-11-22T12:02:00" in p and "deleted" in p for p in problems)


def test_a_removed_anchor_is_reported_and_a_copy_held_elsewhere_still_finds_the_cut(
    tmp_path, trail
):
    """Whoever can reach both the file and its anchor removes both: an auditor's copy of
    the anchor (another medium) still shows what is missing."""
    copy = tmp_path / "auditor"
    copy.mkdir()
    trail.append("officer-7", "consultation", {"order": "OvJ-7"}, NOW)
    (copy / "anchor.log").write_bytes(trail.anchor.path.read_bytes())
    raw(trail).execute("DELETE FROM entries WHERE seq = 7")
    trail.anchor.path.unlink()
    (local,) = trail.verify(KEY.verify_key)
    assert "missing or empty while the trail holds 6 entries" in local.problem
    (held,) = trail.verify(KEY.verify_key, AuditAnchor(copy))
    assert "the trail ends at entry 6 but the anchor recorded entry 7" in held.problem


def test_an_anchor_that_cannot_be_written_is_an_error_that_says_what_to_do(tmp_path):
    from central.audit_anchor import AnchorError

    (tmp_path / "audit-anchor").write_text("not a folder")
    trail = AuditTrail(tmp_path / "audit.sqlite")
    try:
        with pytest.raises(AnchorError, match="cannot be written .* mount its medium"):
            trail.append("someone", "camera_registered", {"camera_id": "cam-a"}, NOW)
    finally:
        trail.close()


def test_plates_are_refused_outside_the_consultations_that_the_decree_logs(trail):
    from central.audit import AuditPolicyError

    with pytest.raises(AuditPolicyError, match="may not carry plates .*query"):
        trail.append("o.north", "hold_placed", {"request": "R-1", "query": {"plate": "GB12XY"}},
                     NOW)  # fmt: skip
    seq = trail.append("o.north", "consultation", {"query": {"plate": "GB12XY"}}, NOW)
    assert trail.records({"consultation"})[-1]["seq"] == seq
    assert trail.append("o.north", "hold_placed", {"query": {"plate": ""}}, NOW)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_verifies_against_an_anchor_copy(backend, tmp_path, capsys, request):
    setup, loaded = central_config(backend, tmp_path, request)
    config = ["--config", str(setup.config_path)]
    trail = open_audit_trail(loaded)
    for i in range(3):
        trail.append("cli:root", "camera_registered", {"camera_id": f"cam-{i}"}, NOW)
    copy = tmp_path / "auditor-copy"
    copy.mkdir()
    (copy / "anchor.log").write_bytes(trail.anchor.path.read_bytes())
    raw(trail).execute("DELETE FROM entries WHERE seq = 3")
    trail.anchor.path.write_bytes(b"")  # the local anchor cut as well
    trail.close()
    assert central(config + ["audit-verify"]) == 1
    out = capsys.readouterr().out
    assert "missing or empty" in out
    assert central(config + ["audit-verify", "--anchor", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at entry 3: the trail ends at entry 2" in out
    assert "anchored since entry 1" in out


def test_commands_anchor_their_entries_in_the_configured_anchor_folder(tmp_path, capsys):
    """With storage.audit_anchor_dir set (the audit keeper's folder in production), an
    administrator's command anchors its entries there, never beside the trail: else the
    keeper's anchor.log stays empty while the trail grows, and audit-verify (and the doctor)
    report it missing (#22: found by tests/test_install_network.py)."""
    setup = write_central_config(tmp_path, broker_port=1883)
    anchor = tmp_path / "keeper"
    text = setup.config_path.read_text()
    setup.config_path.write_text(
        text.replace("[secrets]", f'audit_anchor_dir = "{anchor}"\n\n[secrets]', 1)
    )
    config = ["--config", str(setup.config_path)]
    from provisioning.__main__ import main as provision

    provision(["camera-key", "--camera-id", "cam-a", "--out", str(tmp_path / "k")])
    public = str(tmp_path / "k" / "cam-a.pub")
    assert central(config + ["camera-add", "--camera-id", "cam-a", "--public-key", public]) == 0
    assert central(config + ["enrollment-token", "--camera-id", "cam-a", "--by", "admin-3"]) == 0
    lines = (anchor / "anchor.log").read_text().splitlines()
    assert len(lines) == 2, "both commands' entries are anchored in the configured folder"
    assert not (setup.config.audit_path.parent / "audit-anchor" / "anchor.log").exists()
    capsys.readouterr()
    assert central(config + ["audit-verify"]) == 0
    assert "audit trail intact" in capsys.readouterr().out


# --- several central nodes on one PostgreSQL trail (#21) -----------------------------------

APPENDER = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from central.audit_anchor import AuditAnchor
    from central.audit_postgres import PostgresAuditTrail

    conninfo, anchor, name, count, go = sys.argv[1:]
    trail = PostgresAuditTrail(conninfo, AuditAnchor(Path(anchor)))
    while not Path(go).exists():
        time.sleep(0.005)
    for i in range(int(count)):
        trail.append(name, "camera_registered", {"camera_id": f"{name}-{i}"}, datetime.now(UTC))
    trail.close()
""")


def test_two_processes_appending_at_once_make_one_unbroken_chain(postgres_conninfo, tmp_path):
    """Two nodes append to one trail at the same moments: each write waits for the other's
    commit and chains onto it, so the chain never forks and no entry is lost or doubled."""
    from central.audit_postgres import PostgresAuditTrail

    anchor, go, count = tmp_path / "audit-anchor", tmp_path / "go", 150
    trail = PostgresAuditTrail(postgres_conninfo, AuditAnchor(anchor))  # makes the schema
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                APPENDER,
                postgres_conninfo,
                str(anchor),
                name,
                str(count),
                str(go),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for name in ("node-a", "node-b")
    ]
    go.touch()
    for node in nodes:
        _, errors = node.communicate(timeout=120)
        assert node.returncode == 0, errors
    try:
        trail.checkpoint(KEY, NOW)
        assert trail.verify(KEY.verify_key) == []
        records = trail.records()
    finally:
        trail.close()
    assert [r["seq"] for r in records] == list(range(1, 2 * count + 1))
    written = sorted(r["details"]["camera_id"] for r in records)
    assert written == sorted(f"{n}-{i}" for n in ("node-a", "node-b") for i in range(count))
    actors = [r["actor"] for r in records]
    switches = sum(a != b for a, b in zip(actors, actors[1:], strict=False))
    assert switches > 1, "the two nodes' appends interleaved (else the test proves nothing)"


@pytest.fixture
def postgres_trail(postgres_conninfo, tmp_path):
    from central.audit_postgres import PostgresAuditTrail

    trail = fill(PostgresAuditTrail(postgres_conninfo, AuditAnchor(tmp_path / "audit-anchor")))
    yield trail
    trail.close()


def test_postgres_refuses_truncating_the_trail(postgres_trail):
    """TRUNCATE fires no row trigger: the trail's tables refuse it with a statement one."""
    import psycopg

    for table in ("entries", "checkpoints"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            postgres_trail.db.execute(f"TRUNCATE {table}")
    assert len(postgres_trail.records()) == 6
    assert postgres_trail.verify(KEY.verify_key) == []


def test_postgres_appends_through_a_role_that_may_not_change_a_row(postgres_trail, tmp_path):
    """The central's own role (not the tables' owner, no superuser) appends and verifies,
    and its UPDATE and DELETE are refused whatever its grants."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    from central.audit_postgres import PostgresAuditTrail

    owner = postgres_trail.db
    owner.execute("CREATE ROLE anpr_central_test LOGIN")
    owner.execute("GRANT USAGE ON SCHEMA audit TO anpr_central_test")
    owner.execute("GRANT ALL ON ALL TABLES IN SCHEMA audit TO anpr_central_test")
    conninfo = make_conninfo(postgres_trail.conninfo, user="anpr_central_test")
    node = PostgresAuditTrail(conninfo, postgres_trail.anchor)
    try:
        assert node.append("node-b", "camera_registered", {"camera_id": "cam-b"}, NOW) == 7
        for change in ("UPDATE entries SET actor = 'x'", "DELETE FROM entries",
                       "DELETE FROM checkpoints"):  # fmt: skip
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                node.db.execute(change)
        assert node.verify(KEY.verify_key) == []
    finally:
        node.close()
        owner.execute("DROP OWNED BY anpr_central_test")
        owner.execute("DROP ROLE anpr_central_test")
