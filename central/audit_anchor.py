"""The audit trail's anchor: an append-only log outside `audit.sqlite` that the trail is
compared against.

A chain and signed checkpoints inside one file cannot show what is missing from that file:
whoever can write it can cut its tail, delete the checkpoints after rewriting the tail, or
put back an older copy, and the remaining file is consistent. So every entry's hash and
every signed checkpoint is also appended here, one JSON line each, and `audit-verify`
checks the trail against these lines: an anchored entry the trail no longer has (a cut
tail, an older copy), an anchored hash the trail contradicts (a rewritten entry), an
anchored checkpoint the trail lost (deleted checkpoints).

The anchor only helps where the central's account cannot rewrite it: `<data_dir>/audit-anchor`
is meant to be a mount of another medium (write-once media, a remote log host's share) or
a folder whose file carries the append-only attribute (`chattr +a`, which only root can set
or clear). Lines are written with O_APPEND and fsynced, so processes appending at once do
not overwrite each other; verification does not depend on their order.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ANCHOR_FOLDER = "audit-anchor"
ANCHOR_FILE = "anchor.log"
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
        """Append one line and fsync it; raises AnchorError when the medium is not writable."""
        fields = {"kind": line.kind, "seq": line.seq, "head": line.head, "at": line.at}
        if line.kind == "checkpoint":
            fields |= {"key_id": line.key_id, "sig": line.signature}
        data = (json.dumps(fields, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise AnchorError(
                f"the audit anchor {self.path} cannot be written ({exc.strerror}): mount its "
                "medium or give the service write access to it; entries written meanwhile are "
                "anchored by the next checkpoint (`anpr-central audit-checkpoint`)"
            ) from None

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
                lines.append(_parse(number, raw))
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"anchor line {number} is not an anchor line ({exc})")
        return lines, problems


def _parse(number: int, raw: str) -> AnchorLine:
    data = json.loads(raw)
    if data["kind"] not in KINDS:
        raise ValueError(f"unknown kind {data['kind']!r}")
    seq, head, at = data["seq"], data["head"], data["at"]
    if not isinstance(seq, int) or not isinstance(head, str) or not isinstance(at, str):
        raise ValueError("seq, head or at of the wrong type")
    if data["kind"] == "checkpoint":
        return AnchorLine(number, "checkpoint", seq, head, at, data["key_id"], data["sig"])
    return AnchorLine(number, "head", seq, head, at)
