"""The audit trail: append-only, hash-chained, anchored by signed checkpoints.

Every entry carries the hash of the one before it, so an entry changed, removed or moved
breaks the chain at that place. Checkpoints sign the chain's head with the audit key, so
that rewriting the whole chain from some entry on is detected too (the signed head no
longer matches). Triggers refuse UPDATE and DELETE; the chain catches what bypasses them
(someone editing the file). Entries hold no plates unless an entry's purpose needs one
(a consultation's query as entered, which the law requires to be logged).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
]


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


@dataclass(frozen=True)
class Finding:
    """Where verification found the trail broken, and how."""

    seq: int
    problem: str


class AuditTrail:
    def __init__(self, path: Path) -> None:
        self.db = open_database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def append(self, actor: str, action: str, details: dict, now: datetime) -> int:
        """Add one entry, chained to the last; returns its sequence number."""
        text = json.dumps(details, sort_keys=True, ensure_ascii=True)
        at = format_timestamp(now)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute(
                "SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
            digest = entry_hash(prev, seq, at, actor, action, text)
            self.db.execute(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, at, actor, action, text, prev, digest),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return seq

    def checkpoint(self, key: SigningKey, now: datetime) -> int | None:
        """Sign the chain's head; returns the sequence number anchored (None: empty)."""
        row = self.db.execute(
            "SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        signed_at = format_timestamp(now)
        signature = key.sign(_checkpoint_bytes(row[0], row[1], signed_at))
        self.db.execute(
            "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
            (row[0], row[1], signed_at, key.key_id, base64.b64encode(signature).decode()),
        )
        return row[0]

    def entries(self, limit: int = 100) -> list[dict]:
        rows = self.db.execute(
            "SELECT seq, at, actor, action, details FROM entries ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        keys = ("seq", "at", "actor", "action", "details")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def records(
        self, actions: set[str] | None = None, since: str = "", until: str = "\uffff"
    ) -> list[dict]:
        """Entries in order with their details decoded, for reports and reviews."""
        rows = self.db.execute(
            "SELECT seq, at, actor, action, details FROM entries WHERE at >= ? AND at < ? "
            "ORDER BY seq",
            (since, until),
        )
        return [
            {"seq": seq, "at": at, "actor": actor, "action": action, "details": json.loads(text)}
            for seq, at, actor, action, text in rows
            if actions is None or action in actions
        ]

    def verify(self, key: VerifyKey) -> list[Finding]:
        """Walk the chain and the checkpoints; every break is reported with its position."""
        findings: list[Finding] = []
        hashes: dict[int, str] = {}
        expected_seq, prev = 1, GENESIS
        rows = self.db.execute(
            "SELECT seq, at, actor, action, details, prev_hash, entry_hash FROM entries "
            "ORDER BY rowid"
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
        for seq, head, signed_at, key_id, signature in self.db.execute(
            "SELECT seq, entry_hash, signed_at, key_id, signature FROM checkpoints ORDER BY seq"
        ):
            if key_id != key.key_id:
                findings.append(Finding(seq, f"checkpoint signed by another key ({key_id})"))
                continue
            try:
                key.verify(base64.b64decode(signature), _checkpoint_bytes(seq, head, signed_at))
            except (WireError, ValueError):
                findings.append(Finding(seq, f"checkpoint of {signed_at} has a bad signature"))
                continue
            if hashes.get(seq) != head:
                findings.append(Finding(seq, f"differs from the head signed at {signed_at}"))
        return findings


def record(path: Path, actor: str, action: str, details: dict, now: datetime) -> int:
    """Append one entry to the trail at `path` (opening and closing it)."""
    trail = AuditTrail(path)
    try:
        return trail.append(actor, action, details, now)
    finally:
        trail.close()


def cli_actor() -> str:
    """Who ran a command-line change: the operating-system user, for want of an account."""
    import getpass

    return f"cli:{getpass.getuser()}"
