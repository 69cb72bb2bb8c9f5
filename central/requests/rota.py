"""Who is on call for urgent requests (an oral order outside office hours), by shift."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from central.requests.orders import RequestError
from wire.fields import format_timestamp


class OnCallRota:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, username: str, starts: datetime, ends: datetime) -> None:
        if ends <= starts:
            raise RequestError("an on-call shift ends after it starts")
        self.db.execute(
            "INSERT INTO rota VALUES (?, ?, ?)",
            (username, format_timestamp(starts), format_timestamp(ends)),
        )

    def on_call(self, now: datetime) -> list[str]:
        stamp = format_timestamp(now)
        rows = self.db.execute(
            "SELECT DISTINCT username FROM rota WHERE starts <= ? AND ? < ends ORDER BY username",
            (stamp, stamp),
        )
        return [r[0] for r in rows]
