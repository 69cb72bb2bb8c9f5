"""Expiring download links for result packages; every issue numbered and logged.

Packages are not e-mailed: the requester downloads them from the central with a link that
works for them only and expires (24 hours). The same package may be issued again while the
request is open, so nobody keeps unmanaged copies "just in case".
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from central.requests.orders import RequestError
from wire.fields import format_timestamp

LINK_VALID = timedelta(hours=24)
MIGRATIONS = [
    (
        "0004_package_issues",
        """
        CREATE TABLE package_issues (
            token_sha256 TEXT PRIMARY KEY,
            request_id   INTEGER NOT NULL REFERENCES requests (id),
            number       INTEGER NOT NULL,
            issued_to    TEXT NOT NULL,
            issued_at    TEXT NOT NULL,
            expires_at   TEXT NOT NULL
        )
        """,
    ),
]


@dataclass(frozen=True)
class Issue:
    number: int
    issued_to: str
    issued_at: datetime


class Downloads:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def issue(self, request_id: int, username: str, now: datetime) -> tuple[str, Issue]:
        token = secrets.token_urlsafe(32)
        # The next number is read and taken under the write lock: two nodes (or workers)
        # issuing at once must not both hand out issue 3.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            (number,) = self.db.execute(
                "SELECT count(*) + 1 FROM package_issues WHERE request_id = ?", (request_id,)
            ).fetchone()
            self.db.execute(
                "INSERT INTO package_issues VALUES (?, ?, ?, ?, ?, ?)",
                (hashlib.sha256(token.encode()).hexdigest(), request_id, number, username,
                 format_timestamp(now), format_timestamp(now + LINK_VALID)),
            )  # fmt: skip
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return token, Issue(number, username, now)

    def redeem(self, token: str, username: str, now: datetime) -> tuple[int, Issue]:
        row = self.db.execute(
            "SELECT request_id, number, issued_to, issued_at, expires_at FROM package_issues "
            "WHERE token_sha256 = ?",
            (hashlib.sha256(token.encode()).hexdigest(),),
        ).fetchone()
        if row is None or row[2] != username:
            raise RequestError("no such download for you")
        if row[4] <= format_timestamp(now):
            raise RequestError("this download has expired: issue the package again")
        return row[0], Issue(row[1], row[2], datetime.fromisoformat(row[3]))

    def issues(self, request_id: int) -> list[dict]:
        rows = self.db.execute(
            "SELECT number, issued_to, issued_at, expires_at FROM package_issues "
            "WHERE request_id = ? ORDER BY number",
            (request_id,),
        )
        return [dict(zip(("number", "issued_to", "issued_at", "expires_at"), r, strict=True))
                for r in rows]  # fmt: skip
