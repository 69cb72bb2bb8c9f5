"""Notifications to officers on call: an urgent request waits for them, shown on their pages
and logged at WARNING so that an operator's log alerting sees it too."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime

from wire.fields import format_timestamp

log = logging.getLogger("central.requests")


class Notifications:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def send(self, username: str, request_id: int, text: str, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO notifications (username, at, request_id, text) VALUES (?, ?, ?, ?)",
            (username, format_timestamp(now), request_id, text),
        )
        log.warning("URGENT request %d: %s notified: %s", request_id, username, text)

    def of(self, username: str, limit: int = 20) -> list[dict]:
        rows = self.db.execute(
            "SELECT at, request_id, text FROM notifications WHERE username = ? "
            "ORDER BY id DESC LIMIT ?",
            (username, limit),
        )
        return [dict(zip(("at", "request_id", "text"), r, strict=True)) for r in rows]
