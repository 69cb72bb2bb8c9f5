"""The audit trail's anchor: an append-only log outside `audit.sqlite` that the trail is
compared against.

A chain and signed checkpoints inside one file cannot show what is missing from that file:
whoever can write it can cut its tail, delete the checkpoints after rewriting the tail, or
put back an older copy, and the remaining file is consistent. So every entry's hash and
every signed checkpoint is also appended here, one JSON line each, and `audit-verify`
checks the trail against these lines: an anchored entry the trail no longer has (a cut
tail, an older copy), an anchored hash the trail contradicts (a rewritten entry), an
anchored checkpoint the trail lost (deleted checkpoints).

The anchor only helps where the central's account cannot rewrite it. Where the folder
holds `keeper.sock`, lines go to the audit keeper (central/audit_keeper.py), a process under
its own account that owns the log and only ever appends; otherwise they are appended here
directly, and the folder should be another medium (write-once media, a remote log host's
share) or a file with the append-only attribute (`chattr +a`, which only root can set or
clear). Lines are written with O_APPEND and fsynced, so processes appending at once do
not overwrite each other; verification does not depend on their order.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

ANCHOR_FOLDER = "audit-anchor"
ANCHOR_FILE = "anchor.log"
KEEPER_SOCKET = "keeper.sock"
# Left by the keeper on its first start and kept: from then on a missing socket means a
# stopped keeper (an error), never a reason to write the log directly.
KEEPER_MARK = "held-by-audit-keeper"
KINDS = ("head", "checkpoint")


class AnchorError(Exception):
    """The anchor cannot be written or read; the message names the file and what to do."""


@dataclass(frozen=True)
class AnchorLine:
    """One anchored fact: entry `seq` had hash `head` at `at` (signed for checkpoints)."""

    number: int  # line number in the file, for the report
    kind: str
    seq: int
    head: str
    at: str
    key_id: str = ""
    signature: str = ""


def anchor_folder_of(trail_path: Path) -> Path:
    """Where the anchor of the trail at `trail_path` lives: beside it, in its own folder
    (a mount point for another medium)."""
    return Path(trail_path).parent / ANCHOR_FOLDER


class AuditAnchor:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / ANCHOR_FILE

    def add(self, line: AnchorLine) -> None:
        """Append one line and fsync it (through the keeper where one holds the folder);
        raises AnchorError when the medium or the keeper does not take it."""
        data = encode_line(line)
        try:
            if (self.folder / KEEPER_MARK).exists():
                _send_to_keeper(self.folder / KEEPER_SOCKET, data)
            else:
                self._append(data)
        except OSError as exc:
            raise AnchorError(
                f"the audit anchor {self.path} cannot be written ({exc.strerror or exc}): start "
                "the audit keeper, mount its medium or give the service write access to it; "
                "entries written meanwhile are anchored by the next checkpoint "
                "(`anpr-central audit-checkpoint`)"
            ) from None

    def _append(self, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        append_line(self.path, data, 0o640)

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> tuple[list[AnchorLine], list[str]]:
        """Every readable line, and a problem for every line that is not one of ours."""
        try:
            text = self.path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            raise AnchorError(
                f"the audit anchor {self.path} cannot be read: {exc.strerror}"
            ) from None
        lines, problems = [], []
        for number, raw in enumerate(text.splitlines(), 1):
            try:
                lines.append(parse_line(number, raw))
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"anchor line {number} is not an anchor line ({exc})")
        return lines, problems


def append_line(path: Path, data: bytes, mode: int) -> None:
    """One O_APPEND write, fsynced: writers appending at once never overwrite each other."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_line(line: AnchorLine) -> bytes:
    fields = {"kind": line.kind, "seq": line.seq, "head": line.head, "at": line.at}
    if line.kind == "checkpoint":
        fields |= {"key_id": line.key_id, "sig": line.signature}
    return (json.dumps(fields, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _send_to_keeper(socket_path: Path, data: bytes, timeout: float = 5.0) -> None:
    """Hand one line to the keeper and wait until it is on the keeper's disk."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(str(socket_path))
        client.sendall(data)
        reply = client.makefile("rb").readline().decode("utf-8", "replace").strip()
    if reply != "ok":
        raise OSError(f"the audit keeper answered {reply!r}")


def parse_line(number: int, raw: str) -> AnchorLine:
    """One anchor line read back (ValueError, KeyError or TypeError when it is not one)."""
    data = json.loads(raw)
    if data["kind"] not in KINDS:
        raise ValueError(f"unknown kind {data['kind']!r}")
    seq, head, at = data["seq"], data["head"], data["at"]
    if not isinstance(seq, int) or not isinstance(head, str) or not isinstance(at, str):
        raise ValueError("seq, head or at of the wrong type")
    if data["kind"] == "checkpoint":
        return AnchorLine(number, "checkpoint", seq, head, at, data["key_id"], data["sig"])
    return AnchorLine(number, "head", seq, head, at)
