"""Alerts in the hit store (the `alerts` table of hotlists.sqlite): raised, shown to whom
may see them, assigned, acknowledged, closed with an outcome, escalated and expired.

Who may see an alert: the control room sees every alert except those of investigation
lists, which only the list's owner sees (their hits are that investigation's business).
Kept apart from the lists' code (`lists.py`) because the control room's work on alerts
changes for other reasons than the prosecutor's work on lists.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from wire.fields import format_timestamp

# How long an alert of each priority may wait for acknowledgement before it is escalated.
ACKNOWLEDGE_WITHIN = {1: timedelta(minutes=1), 2: timedelta(minutes=5),
                      3: timedelta(minutes=15), 4: timedelta(hours=1)}  # fmt: skip
_COLUMNS = ("alert_id", "raised_at", "priority", "tolerant", "camera_id", "seq", "captured_at",
            "plate", "country", "state", "handled_by", "outcome", "escalated_at", "assigned_to",
            "reason", "instructions", "list", "category", "owner")  # fmt: skip


class HotlistError(Exception):
    """A hotlist or alert change the rules do not allow."""


def _visible_to(viewer: str | None, control_room: bool) -> tuple[str, list]:
    """SQL condition (on lists `l`): everything for the system (`viewer` None); for a
    person, their own investigation lists' alerts, and, in the control room, every other
    alert but other owners' investigation lists'."""
    if viewer is None:
        return "1 = 1", []
    if control_room:
        return "(l.category != 'investigation' OR l.owner = ?)", [viewer]
    return "(l.category = 'investigation' AND l.owner = ?)", [viewer]


class AlertDesk:
    """The alert half of `Hotlists` (which supplies `db` and `_log`)."""

    def raise_alert(self, hit, passage, now: datetime) -> int | None:
        """Store the alert with the passage's images (unblurred: operators act on them)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO alerts (raised_at, list_id, entry_id, priority, tolerant, "
            "camera_id, seq, captured_at, plate, country, crop, overview) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (format_timestamp(now), hit.list_id, hit.entry_id, hit.priority, int(hit.tolerant),
             passage.camera_id, passage.seq, format_timestamp(passage.captured_at), passage.plate,
             passage.country, passage.crop_jpeg, passage.overview_jpeg),
        )  # fmt: skip
        return cursor.lastrowid if cursor.rowcount else None

    def alerts(
        self, state: str | None = None, limit: int = 100, viewer: str | None = None,
        control_room: bool = True,
    ) -> list[dict]:  # fmt: skip
        """Alerts, most urgent first; with `viewer`, only those that person may see."""
        condition, params = _visible_to(viewer, control_room)
        sql = (
            "SELECT a.alert_id, a.raised_at, a.priority, a.tolerant, a.camera_id, a.seq, "
            "a.captured_at, a.plate, a.country, a.state, a.handled_by, a.outcome, "
            "a.escalated_at, a.assigned_to, e.reason, e.instructions, l.name, l.category, "
            "l.owner FROM alerts a JOIN entries e USING (entry_id) "
            f"JOIN lists l ON l.list_id = a.list_id WHERE {condition}"
        )
        if state:
            sql += " AND a.state = ?"
            params.append(state)
        rows = self.db.execute(
            sql + " ORDER BY a.priority, a.alert_id DESC LIMIT ?", (*params, limit)
        )
        return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]

    def may_see(self, alert_id: int, viewer: str, control_room: bool = True) -> bool:
        condition, params = _visible_to(viewer, control_room)
        row = self.db.execute(
            "SELECT 1 FROM alerts a JOIN lists l ON l.list_id = a.list_id "
            f"WHERE a.alert_id = ? AND {condition}",
            (alert_id, *params),
        ).fetchone()
        return row is not None

    def latest_alert_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(alert_id), 0) FROM alerts").fetchone()[0]

    def state_version(self) -> str:
        """Changes whenever an alert is raised or handled (for live pages)."""
        row = self.db.execute(
            "SELECT coalesce(max(alert_id), 0), coalesce(max(id), 0) FROM alerts, "
            "(SELECT max(id) AS id FROM changes)"
        ).fetchone()
        return f"{row[0]}.{row[1]}"

    def escalate(self, now: datetime) -> list[int]:
        """Mark (once) the control room's new alerts that waited longer than their priority
        allows (an investigation's hits are its owner's business, not the control room's)."""
        escalated = []
        rows = self.db.execute(
            "SELECT a.alert_id, a.priority, a.raised_at FROM alerts a JOIN lists l USING "
            "(list_id) WHERE a.state = 'new' AND a.escalated_at IS NULL "
            "AND l.category != 'investigation'"
        ).fetchall()
        for alert_id, priority, raised_at in rows:
            limit = ACKNOWLEDGE_WITHIN.get(priority)
            if limit is not None and raised_at < format_timestamp(now - limit):
                self.db.execute(
                    "UPDATE alerts SET escalated_at = ? WHERE alert_id = ?",
                    (format_timestamp(now), alert_id),
                )
                self._log("system", f"alert {alert_id} escalated (priority {priority})", now)
                escalated.append(alert_id)
        return escalated

    def expire_alerts(self, now: datetime, keep: timedelta) -> int:
        """Destroy alerts (with their images) raised longer ago than `keep`."""
        removed = self.db.execute(
            "DELETE FROM alerts WHERE raised_at < ?", (format_timestamp(now - keep),)
        ).rowcount
        if removed:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed

    def handle(self, alert_id: int, state: str, by: str, outcome: str, now: datetime) -> None:
        if state not in ("acknowledged", "closed"):
            raise HotlistError("an alert is acknowledged or closed")
        if state == "closed" and not outcome.strip():
            raise HotlistError("close an alert with its outcome")
        self.db.execute(
            "UPDATE alerts SET state = ?, handled_by = ?, outcome = ? WHERE alert_id = ?",
            (state, by, outcome or None, alert_id),
        )
        self._log(by, f"alert {alert_id} {state}: {json.dumps(outcome)}", now)

    def assign(self, alert_id: int, to: str, by: str, now: datetime) -> None:
        """Hand an alert to one operator (who then sees it as theirs); logged. An assigned
        alert still waits for acknowledgement and is escalated like any other."""
        if not to.strip():
            raise HotlistError("assign an alert to an operator's user name")
        changed = self.db.execute(
            "UPDATE alerts SET assigned_to = ? WHERE alert_id = ? AND state != 'closed'",
            (to.strip(), alert_id),
        ).rowcount
        if not changed:
            raise HotlistError(f"alert {alert_id} does not exist or is closed")
        self._log(by, f"alert {alert_id} assigned to {to.strip()}", now)
