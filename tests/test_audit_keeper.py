"""The audit keeper: the trail's anchor held by a process under its own account, which the
central's account can append to through a socket but can neither rewrite nor remove.

The keeper and the "central account" run as forked children that drop to their own uids
(as the systemd units do), so the file system, not our code, refuses the rewrite.
"""

import multiprocessing
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.audit import AuditTrail
from central.audit_anchor import AnchorError, AuditAnchor
from central.audit_keeper import KeeperServer
from tests.test_audit import raw, rewrite_from
from wire import SigningKey

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start two accounts")
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
KEY = SigningKey.generate()
KEEPER_UID = 65534  # nobody: the keeper's own account
CENTRAL_UID = 65533  # the central's account, turned rogue


def _keep(folder: Path) -> None:
    os.setgroups([])
    os.setgid(KEEPER_UID)
    os.setuid(KEEPER_UID)
    server = KeeperServer(folder)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _as_central(folder: Path, answer) -> None:
    """What the central's account tries on the keeper's files."""
    os.setgroups([])
    os.setgid(CENTRAL_UID)
    os.setuid(CENTRAL_UID)
    attempts = {
        "rewrite": lambda: open(folder / "anchor.log", "r+b").write(b"{}"),  # noqa: SIM115
        "truncate": lambda: os.truncate(folder / "anchor.log", 0),
        "remove": lambda: os.unlink(folder / "anchor.log"),
        "replace": lambda: os.rename(folder / "anchor.log", folder / "old.log"),
        "new file": lambda: open(folder / "anchor.log.new", "wb"),  # noqa: SIM115
        "read": lambda: (folder / "anchor.log").read_bytes(),
    }
    results = {}
    for name, attempt in attempts.items():
        try:
            attempt()
            results[name] = "done"
        except PermissionError:
            results[name] = "refused"
    answer.send(results)


@pytest.fixture
def keeper():
    root = Path(os.path.realpath("/tmp")) / f"anpr-keeper-{os.getpid()}-{time.monotonic_ns()}"
    folder = root / "keeper"
    folder.mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chown(folder, KEEPER_UID, KEEPER_UID)
    process = multiprocessing.get_context("fork").Process(target=_keep, args=(folder,))
    process.start()
    deadline = time.monotonic() + 10
    while not (folder / "keeper.sock").is_socket():
        assert process.is_alive() and time.monotonic() < deadline, "the keeper did not start"
        time.sleep(0.02)
    yield folder
    process.terminate()
    process.join(10)
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if not path.is_dir() else path.rmdir()
    root.rmdir()


@pytest.fixture
def trail(tmp_path, keeper):
    trail = AuditTrail(tmp_path / "audit.sqlite", AuditAnchor(keeper))
    for i in range(1, 7):
        trail.append(f"officer-{i}", "consultation", {"order": f"OvJ-{i}", "rows": i}, NOW)
    trail.checkpoint(KEY, NOW + timedelta(minutes=1))
    yield trail
    trail.close()


def test_the_keeper_owns_the_anchor_and_the_central_account_can_only_read_it(keeper, trail):
    log = keeper / "anchor.log"
    assert log.stat().st_uid == KEEPER_UID and log.stat().st_mode & 0o777 == 0o644
    assert len(log.read_text().splitlines()) == 7, "six entries and one checkpoint"
    receive, answer = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_as_central,
                                                        args=(keeper, answer))  # fmt: skip
    child.start()
    assert receive.poll(10), "the central account's attempts did not report"
    results = receive.recv()
    child.join(10)
    assert results == {
        "rewrite": "refused", "truncate": "refused", "remove": "refused", "replace": "refused",
        "new file": "refused", "read": "done",
    }  # fmt: skip


def test_a_rewritten_tail_with_its_checkpoints_deleted_is_caught_by_the_keepers_log(trail):
    db = raw(trail)
    db.execute("DELETE FROM checkpoints")
    rewrite_from(db, 4)
    db.execute("DELETE FROM entries WHERE seq = 6")
    problems = [f.problem for f in trail.verify(KEY.verify_key)]
    assert any("ends at entry 5 but the anchor recorded entry 6" in p for p in problems)
    assert any("rewritten" in p for p in problems)
    assert any("deleted" in p for p in problems)


def test_the_keeper_refuses_what_is_not_an_anchor_line(keeper, trail):
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(keeper / "keeper.sock"))
        client.sendall(b'{"kind":"truncate","seq":1}\nnot json\n')
        replies = client.makefile("rb")
        assert replies.readline().startswith(b"refused: not an anchor line")
        assert replies.readline().startswith(b"refused: not an anchor line")
    assert len((keeper / "anchor.log").read_text().splitlines()) == 7


def test_a_stopped_keeper_is_an_error_not_a_silent_local_file(tmp_path, keeper, trail):
    (keeper / "keeper.sock").unlink()  # as when the keeper stops
    with pytest.raises(AnchorError, match="start the audit keeper"):
        trail.append("officer-9", "consultation", {"order": "OvJ-9"}, NOW)
    assert len((keeper / "anchor.log").read_text().splitlines()) == 7, "nothing written"
