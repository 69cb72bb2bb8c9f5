"""The audit trail: append-only, hash-chained, anchored by signed checkpoints and outside.

Every entry carries the hash of the one before it, so an entry changed, removed or moved
breaks the chain at that place. Checkpoints sign the chain's head with the audit key, so
that rewriting the whole chain from some entry on is detected too (the signed head no
longer matches). Triggers refuse UPDATE and DELETE of entries and checkpoints; the chain
catches what bypasses them (someone editing the file). What a file cannot show about
itself (a cut tail, deleted checkpoints, an older copy put back) is caught by comparing it
with its anchor outside the file (`central/audit_anchor.py`), which receives every entry's
hash and every checkpoint as they are written.

Plates: the decree's field (g) requires a consultation to be logged with the request data
and the query as entered, and an auditor can only judge a search against its order with
the plate in hand; so consultation entries (and the verdict on a row of one) may carry
plates, and every other action is refused one (`PLATE_ACTIONS`, `AuditPolicyError`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from central.audit_anchor import AnchorLine, AuditAnchor, anchor_folder_of
from central.databases import open_database
from wire import SigningKey, VerifyKey, WireError
from wire.canonical import canonical_bytes
from wire.fields import format_timestamp

GENESIS = "0" * 64
MIGRATIONS = [
    (
        "0001_audit",
        """
        CREATE TABLE entries (
            seq        INTEGER PRIMARY KEY,
            at         TEXT NOT NULL,
            actor      TEXT NOT NULL,
            action     TEXT NOT NULL,
            details    TEXT NOT NULL,
            prev_hash  TEXT NOT NULL,
            entry_hash TEXT NOT NULL
        );
        CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TABLE checkpoints (
            seq        INTEGER PRIMARY KEY,
            entry_hash TEXT NOT NULL,
            signed_at  TEXT NOT NULL,
            key_id     TEXT NOT NULL,
            signature  TEXT NOT NULL
        )
        """,
    ),
    (
        # A deleted checkpoint hid a rewritten tail: checkpoints are append-only too.
        "0002_checkpoints_append_only",
        """
        CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
        CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END
        """,
    ),
]

# The actions whose details may hold plates: field (g) of a consultation (the order's scope
# and the query as entered), and the verdict on one of its rows (the plate asked). Any
# other action with a plate-bearing field is refused: the trail outlives the 28 days.
PLATE_ACTIONS = frozenset(
    {"consultation", "consultation_counted", "consultation_refused", "calamity_consulted",
     "verification"}
)  # fmt: skip
PLATE_KEYS = frozenset({"plate", "plates", "asked"})


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, details: str) -> str:
    body = json.dumps(
        {"seq": seq, "at": at, "actor": actor, "action": action, "details": details},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _checkpoint_bytes(seq: int, head: str, signed_at: str) -> bytes:
    return canonical_bytes({"kind": "audit-checkpoint", "seq": seq, "head": head, "at": signed_at})


class AuditPolicyError(ValueError):
    """An entry would put a plate where the trail's plate policy does not allow one."""


def _plate_fields(value: object, path: str = "") -> list[str]:
    """The paths of plate-bearing keys with a non-empty value anywhere in `value`."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in PLATE_KEYS and item not in ("", [], None):
                found.append(where)
            found += _plate_fields(item, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += _plate_fields(item, f"{path}[{index}]")
    return found


@dataclass(frozen=True)
class Finding:
    """Where verification found the trail broken, and how."""

    seq: int
    problem: str


class AuditTrail:
    """The trail in a SQLite file (one host). `PostgresAuditTrail` (central/audit_postgres.py)
    keeps the same tables in a database several central nodes share; both run this class's
    chain, checkpoint and verification code, and differ only in how they connect, query and
    serialize a write (`_rows`, `_writing`). `open_audit_trail(config)` picks one."""

    def __init__(self, path: Path, anchor: AuditAnchor | None = None) -> None:
        self.db = open_database(path, MIGRATIONS)
        self.anchor = anchor or AuditAnchor(anchor_folder_of(path))

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction at a time: the tail read inside it is the tail written on."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _head(self) -> tuple[int, str] | None:
        rows = self._rows("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1")
        return (rows[0][0], rows[0][1]) if rows else None

    def append(self, actor: str, action: str, details: dict, now: datetime) -> int:
        """Add one entry, chained to the last, and anchor its hash outside the file; returns
        its sequence number. The anchor line follows the commit, so it never names an entry
        the trail does not hold; an anchor that cannot be written raises AnchorError (the
        entry stays: the step it records happened)."""
        if action not in PLATE_ACTIONS and (fields := _plate_fields(details)):
            raise AuditPolicyError(
                f"audit action {action!r} may not carry plates ({', '.join(fields)}): only "
                f"{', '.join(sorted(PLATE_ACTIONS))} log a plate (docs/retention.md)"
            )
        text = json.dumps(details, sort_keys=True, ensure_ascii=True)
        at = format_timestamp(now)
        with self._writing():
            head = self._head()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
            digest = entry_hash(prev, seq, at, actor, action, text)
            self._rows(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, at, actor, action, text, prev, digest),
            )
        self.anchor.add(AnchorLine(0, "head", seq, digest, at))
        return seq

    def checkpoint(self, key: SigningKey, now: datetime) -> int | None:
        """Sign the chain's head, in the file and in the anchor; returns the sequence number
        signed (None: empty). A head signed already is not signed again."""
        signed_at = format_timestamp(now)
        with self._writing():
            head = self._head()
            if head is None:
                return None
            seq, digest = head
            if self._rows("SELECT 1 FROM checkpoints WHERE seq = ?", (seq,)):
                return seq
            signature = base64.b64encode(
                key.sign(_checkpoint_bytes(seq, digest, signed_at))
            ).decode()
            self._rows(
                "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                (seq, digest, signed_at, key.key_id, signature),
            )
        self.anchor.add(AnchorLine(0, "checkpoint", seq, digest, signed_at, key.key_id, signature))
        return seq

    def entries(self, limit: int = 100) -> list[dict]:
        rows = self._rows(
            "SELECT seq, at, actor, action, details FROM entries ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        keys = ("seq", "at", "actor", "action", "details")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def records(
        self, actions: set[str] | None = None, since: str = "", until: str = "\uffff"
    ) -> list[dict]:
        """Entries in order with their details decoded, for reports and reviews."""
        rows = self._rows(
            "SELECT seq, at, actor, action, details FROM entries WHERE at >= ? AND at < ? "
            "ORDER BY seq",
            (since, until),
        )
        return [
            {"seq": seq, "at": at, "actor": actor, "action": action, "details": json.loads(text)}
            for seq, at, actor, action, text in rows
            if actions is None or action in actions
        ]

    def verify(self, key: VerifyKey, anchor: AuditAnchor | None = None) -> list[Finding]:
        """Walk the chain and the checkpoints, then hold the file against its anchor (the
        configured one, or an auditor's copy); every break is reported with its position."""
        findings: list[Finding] = []
        hashes: dict[int, str] = {}
        expected_seq, prev = 1, GENESIS
        rows = self._rows(
            "SELECT seq, at, actor, action, details, prev_hash, entry_hash FROM entries "
            "ORDER BY seq"
        )
        for seq, at, actor, action, details, prev_hash, digest in rows:
            if seq != expected_seq:
                findings.append(Finding(seq, f"expected entry {expected_seq}: removed or moved"))
            if prev_hash != prev:
                findings.append(Finding(seq, "does not follow the entry before it"))
            if entry_hash(prev_hash, seq, at, actor, action, details) != digest:
                findings.append(Finding(seq, "content altered after it was written"))
            hashes[seq] = digest
            expected_seq, prev = seq + 1, digest
        checkpoints = self._rows(
            "SELECT seq, entry_hash, signed_at, key_id, signature FROM checkpoints ORDER BY seq"
        )
        for seq, head, signed_at, key_id, signature in checkpoints:
            problem = _bad_checkpoint(key, seq, head, signed_at, key_id, signature)
            if problem:
                findings.append(Finding(seq, problem))
            elif hashes.get(seq) != head:
                findings.append(Finding(seq, f"differs from the head signed at {signed_at}"))
        signed = {(seq, signed_at) for seq, _, signed_at, _, _ in checkpoints}
        findings += _against_anchor(anchor or self.anchor, key, hashes, signed)
        return findings

    def anchored_since(self, anchor: AuditAnchor | None = None) -> tuple[int, str] | None:
        """(entry, time) of the anchor's first line: an anchor started afresh shows here."""
        lines, _ = (anchor or self.anchor).read()
        return (lines[0].seq, lines[0].at) if lines else None


def _bad_checkpoint(
    key: VerifyKey, seq: int, head: str, signed_at: str, key_id: str, signature: str
) -> str:
    if key_id != key.key_id:
        return f"checkpoint signed by another key ({key_id})"
    try:
        key.verify(base64.b64decode(signature), _checkpoint_bytes(seq, head, signed_at))
    except (WireError, ValueError):
        return f"checkpoint of {signed_at} has a bad signature"
    return ""


def _against_anchor(
    anchor: AuditAnchor, key: VerifyKey, hashes: dict[int, str], signed: set[tuple[int, str]]
) -> list[Finding]:
    """What the file lost or changed since its hashes and checkpoints were anchored."""
    lines, problems = anchor.read()
    findings = [Finding(0, problem) for problem in problems]
    if not lines:
        if hashes:
            problem = (
                f"the anchor {anchor.path} is missing or empty while the trail holds "
                f"{len(hashes)} entries: it was removed or replaced; verify against a copy "
                "with --anchor"
            )
            findings.append(Finding(0, problem))
        return findings
    last = max(hashes, default=0)
    rewritten: set[int] = set()
    for line in lines:
        if line.kind == "checkpoint":
            args = (line.seq, line.head, line.at, line.key_id, line.signature)
            if problem := _bad_checkpoint(key, *args):
                findings.append(Finding(line.seq, f"anchor line {line.number}: {problem}"))
                continue
            if (line.seq, line.at) not in signed:
                problem = f"the checkpoint signed at {line.at} is in the anchor but gone from "
                findings.append(Finding(line.seq, problem + "the trail: deleted"))
        if hashes.get(line.seq, line.head) != line.head and line.seq not in rewritten:
            rewritten.add(line.seq)
            problem = f"differs from the hash anchored outside the trail at {line.at}: rewritten"
            findings.append(Finding(line.seq, problem))
    newest = max(lines, key=lambda line: line.seq)
    if newest.seq > last:
        problem = (
            f"the trail ends at entry {last} but the anchor recorded entry {newest.seq} at "
            f"{newest.at}: entries {last + 1}-{newest.seq} were removed, or the file was "
            "replaced by an older copy"
        )
        findings.append(Finding(last + 1, problem))
    first = min(line.seq for line in lines)
    anchored = {(line.seq, line.at) for line in lines if line.kind == "checkpoint"}
    for seq, signed_at in sorted(signed - anchored):
        if seq >= first:
            problem = f"the checkpoint signed at {signed_at} is not in the anchor: it was cut"
            findings.append(Finding(seq, problem + " or replaced"))
    return findings


def record(
    path: Path,
    actor: str,
    action: str,
    details: dict,
    now: datetime,
    anchor_dir: Path | None = None,
) -> int:
    """Append one entry to the trail at `path` (opening and closing it), anchored in
    `anchor_dir` (the config's `audit_anchor_dir`: the audit keeper's folder in production)
    or, without one, beside the trail."""
    trail = AuditTrail(path, AuditAnchor(anchor_dir) if anchor_dir is not None else None)
    try:
        return trail.append(actor, action, details, now)
    finally:
        trail.close()


def cli_actor() -> str:
    """Who ran a command-line change: the operating-system user, for want of an account."""
    import getpass

    return f"cli:{getpass.getuser()}"
