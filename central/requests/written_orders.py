"""The prosecutor's written order, attached to its request as the file it came in.

Kept whole (up to 10 MiB) and named by its SHA-256, which the request's steps and the audit
trail cite; an oral order in urgency is followed by this file within three days.
"""

from __future__ import annotations

import hashlib
import sqlite3

from central.requests.orders import RequestError

MAX_DOCUMENT = 10 * 1024 * 1024


class WrittenOrders:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def attach(self, request_id: int, name: str, content: bytes) -> str:
        if not content:
            raise RequestError("the written order is an empty file")
        if len(content) > MAX_DOCUMENT:
            raise RequestError(f"the written order is larger than {MAX_DOCUMENT // 2**20} MiB")
        digest = hashlib.sha256(content).hexdigest()
        self.db.execute(
            "INSERT INTO documents (request_id, name, sha256, content) VALUES (?, ?, ?, ?)",
            (request_id, name, digest, content),
        )
        return digest

    def get(self, request_id: int, sha256: str) -> tuple[str, bytes] | None:
        row = self.db.execute(
            "SELECT name, content FROM documents WHERE request_id = ? AND sha256 = ?",
            (request_id, sha256),
        ).fetchone()
        return None if row is None else (row[0], row[1])
