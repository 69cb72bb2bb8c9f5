"""Work a page started (a package build, a long count or search), kept where every web node
sees it (#21): its progress, how it ended, its answer and, for a package, the file.

Behind one address several web nodes answer in turn: the node that started a build need not
be the one the browser asks next for its progress or its download. So the node doing the
work writes its progress here, and its answer when done; any node reads them. On one host
this is a SQLite file like the other stores; with storage.backend = "postgresql" a schema
of the shared database.

What the work yields is personal (a package holds plates and photos; a search's answer the
form as sent): it is sealed (AES-256-GCM) under a key derived from the work's token, which
only the browser holds (in the page's address; the board keeps the token's hash). A copy
left in a WAL segment, a replica or a base backup is unreadable without the token, and the
rows themselves go once handed over or after `KEPT`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from central.databases import IntegrityError, StoreLocation, open_database
from node import wallclock
from wire.fields import format_timestamp

KEPT = timedelta(minutes=15)  # finished work nobody fetched is forgotten after this
CHUNK = 1 << 20  # a package is kept in sealed pieces of this many bytes
PROGRESS_EVERY_S = 0.5  # how often running work tells the board how far it is
MIGRATIONS = [
    (
        "0001_work",
        """
        CREATE TABLE work (
            token_sha256 TEXT PRIMARY KEY,
            kind         TEXT NOT NULL,
            owner        TEXT NOT NULL,
            request_id   INTEGER NOT NULL,
            started_at   TEXT NOT NULL,
            updated_at   TEXT NOT NULL,
            done         INTEGER NOT NULL DEFAULT 0,
            total        INTEGER,
            error        TEXT,
            ready        INTEGER NOT NULL DEFAULT 0,
            answer       BLOB,
            taken        INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE work_pieces (
            token_sha256 TEXT NOT NULL REFERENCES work (token_sha256) ON DELETE CASCADE,
            n            INTEGER NOT NULL,
            sealed       BLOB NOT NULL,
            PRIMARY KEY (token_sha256, n)
        )
        """,
    ),
]


@dataclass(frozen=True)
class WorkState:
    """What any node can tell about a piece of work."""

    kind: str
    owner: str
    request_id: int
    done: int
    total: int | None
    error: str | None
    ready: bool
    answer: dict | None  # opened with the token; None until ready (or without an answer)

    def as_json(self) -> dict:
        return {"done": self.done, "total": self.total, "ready": self.ready,
                "error": self.error}  # fmt: skip


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class _Seal:
    """AES-256-GCM under a key derived from the token; each piece bound to its place."""

    def __init__(self, token: str) -> None:
        key = HKDF(hashes.SHA256(), 32, salt=None, info=b"anpr web work v1").derive(token.encode())
        self.cipher, self.name = AESGCM(key), token_hash(token)

    def seal(self, data: bytes, place: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.cipher.encrypt(nonce, data, f"{self.name}/{place}".encode())

    def open(self, sealed: bytes, place: str) -> bytes:
        return self.cipher.decrypt(sealed[:12], sealed[12:], f"{self.name}/{place}".encode())


class WorkBoard:
    def __init__(self, where: StoreLocation) -> None:
        self.db = open_database(where, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def post(self, token: str, kind: str, owner: str, request_id: int, now: datetime) -> bool:
        """Put new work up; False when it is already there (another node was first, or
        the browser asked twice): the caller then does not start it again."""
        self.forget_stale(now)
        stamp = format_timestamp(now)
        try:
            row = self.db.execute(
                "INSERT OR IGNORE INTO work (token_sha256, kind, owner, request_id, started_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING token_sha256",
                (token_hash(token), kind, owner, request_id, stamp, stamp),
            ).fetchone()
        except IntegrityError:
            return False
        return row is not None

    def progress(self, token: str, done: int, total: int | None, now: datetime) -> None:
        self.db.execute(
            "UPDATE work SET done = ?, total = ?, updated_at = ? WHERE token_sha256 = ?",
            (done, total, format_timestamp(now), token_hash(token)),
        )

    def finish(
        self, token: str, now: datetime, *, answer: dict | None = None,
        error: str | None = None, body: BinaryIO | None = None,
    ) -> None:  # fmt: skip
        """Record how the work ended, with its answer and file (sealed), in one transaction:
        a node reading `ready` finds everything with it."""
        seal, name = _Seal(token), token_hash(token)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if body is not None:
                body.seek(0)
                n = 0
                while piece := body.read(CHUNK):
                    self.db.execute(
                        "INSERT INTO work_pieces (token_sha256, n, sealed) VALUES (?, ?, ?)",
                        (name, n, seal.seal(piece, str(n))),
                    )
                    n += 1
            sealed = None if answer is None else seal.seal(json.dumps(answer).encode(), "answer")
            self.db.execute(
                "UPDATE work SET ready = 1, error = ?, answer = ?, updated_at = ? "
                "WHERE token_sha256 = ?",
                (error, sealed, format_timestamp(now), name),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def state(self, token: str, now: datetime | None = None) -> WorkState | None:
        """The work as any node sees it; None when there is none, it was handed over, or it
        went untouched for `KEPT` (finished and never fetched, or its node stopped while
        working on it: asking again starts it anew)."""
        untouched_since = format_timestamp((now or wallclock.now()) - KEPT)
        row = self.db.execute(
            "SELECT kind, owner, request_id, done, total, error, ready, answer FROM work "
            "WHERE token_sha256 = ? AND taken = 0 AND updated_at >= ?",
            (token_hash(token), untouched_since),
        ).fetchone()
        if row is None:
            return None
        kind, owner, request_id, done, total, error, ready, sealed = row
        answer = None
        if sealed is not None:
            answer = json.loads(_Seal(token).open(bytes(sealed), "answer"))
        return WorkState(kind, owner, request_id, done, total, error, bool(ready), answer)

    def take(self, token: str) -> bool:
        """Mark the finished work handed over; True for the one caller (on any node) that
        marked it, who then reads its `pieces`."""
        return (
            self.db.execute(
                "UPDATE work SET taken = 1 WHERE token_sha256 = ? AND ready = 1 AND taken = 0",
                (token_hash(token),),
            ).rowcount
            == 1
        )

    def pieces(self, token: str) -> Iterator[bytes]:
        """The taken work's file, piece by piece, opened; the work is gone from the board
        once read to its end (or the reader stops)."""
        seal, name = _Seal(token), token_hash(token)
        count = self.db.execute(
            "SELECT count(*) FROM work_pieces WHERE token_sha256 = ?", (name,)
        ).fetchone()[0]
        try:
            for n in range(count):
                (sealed,) = self.db.execute(
                    "SELECT sealed FROM work_pieces WHERE token_sha256 = ? AND n = ?", (name, n)
                ).fetchone()
                yield seal.open(bytes(sealed), str(n))
        finally:
            self.db.execute("DELETE FROM work WHERE token_sha256 = ?", (name,))

    def forget(self, token: str) -> None:
        self.db.execute("DELETE FROM work WHERE token_sha256 = ?", (token_hash(token),))

    def forget_stale(self, now: datetime) -> int:
        """Drop work untouched for `KEPT` (finished and never fetched, or whose node
        stopped): its page then says to ask again."""
        return self.db.execute(
            "DELETE FROM work WHERE updated_at < ?", (format_timestamp(now - KEPT),)
        ).rowcount


class BoardProgress:
    """A running work's progress callback: `also` (the local job) hears every step, the
    board at most every PROGRESS_EVERY_S and at the last step (a write per row would
    slow a 30,000-row package for nothing)."""

    def __init__(
        self, board: WorkBoard, token: str, also: Callable[[int, int], None] | None = None
    ) -> None:
        self.board, self.token, self.also, self.told = board, token, also, 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.also is not None:
            self.also(done, total)
        if time.monotonic() - self.told >= PROGRESS_EVERY_S or done == total:
            self.board.progress(self.token, done, total, wallclock.now())
            self.told = time.monotonic()
