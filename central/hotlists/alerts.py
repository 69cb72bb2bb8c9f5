"""Alerts in the hit store (the `alerts` table of hotlists.sqlite): raised, shown to whom
may see them, assigned, acknowledged, closed with an outcome, escalated and expired.

One alert per hit (#23): a pass of a listed plate that hits the same hotlist entry as an
alert not yet closed is recorded under that alert (`alert_passes`: every pass with its
camera, time, location and images) instead of raising another; once the alert is closed,
the next pass raises a new one. Every change to an alert takes the next number of
`alert_clock` (`changed`), so a live page asks only for what changed since it last looked.

Who may see an alert: the control room sees every alert except those of investigation
lists, which only the list's owner sees (their hits are that investigation's business).
Kept apart from the lists' code (`lists.py`) because the control room's work on alerts
changes for other reasons than the prosecutor's work on lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from wire.fields import format_timestamp

# How long an alert of each priority may wait for acknowledgement before it is escalated.
ACKNOWLEDGE_WITHIN = {1: timedelta(minutes=1), 2: timedelta(minutes=5),
                      3: timedelta(minutes=15), 4: timedelta(hours=1)}  # fmt: skip
# Priority in words, for people: the stored number runs from 1 (act now) to 5.
PRIORITY_WORDS = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "routine"}
_COLUMNS = ("alert_id", "raised_at", "priority", "tolerant", "camera_id", "seq", "captured_at",
            "plate", "country", "state", "handled_by", "outcome", "escalated_at", "assigned_to",
            "reason", "instructions", "list", "category", "owner", "changed", "pass_count",
            "first_seen", "last_seen", "last_camera")  # fmt: skip
_SELECT = (
    "SELECT a.alert_id, a.raised_at, a.priority, a.tolerant, a.camera_id, a.seq, "
    "a.captured_at, a.plate, a.country, a.state, a.handled_by, a.outcome, a.escalated_at, "
    "a.assigned_to, e.reason, e.instructions, l.name, l.category, l.owner, a.changed, "
    "(SELECT count(*) FROM alert_passes p WHERE p.alert_id = a.alert_id), "
    "(SELECT min(captured_at) FROM alert_passes p WHERE p.alert_id = a.alert_id), "
    "(SELECT max(captured_at) FROM alert_passes p WHERE p.alert_id = a.alert_id), "
    "(SELECT camera_id FROM alert_passes p WHERE p.alert_id = a.alert_id "
    "ORDER BY captured_at DESC, pass_id DESC LIMIT 1) "
    "FROM alerts a JOIN entries e USING (entry_id) JOIN lists l ON l.list_id = a.list_id"
)
_PASS_COLUMNS = ("pass_id", "alert_id", "received_at", "tolerant", "camera_id", "seq",
                 "captured_at", "plate", "country", "lat_e7", "lon_e7", "direction")  # fmt: skip


class HotlistError(Exception):
    """A hotlist or alert change the rules do not allow."""


@dataclass(frozen=True)
class Recorded:
    """A pass recorded under an alert: a new alert (`new`), or one more pass of an open one."""

    alert_id: int
    passes: int
    new: bool


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts a query returns: `state` exactly, or with `open_only` every state but
    closed; with `changed_since`, only those changed after that `alert_clock` number."""

    state: str | None = None
    open_only: bool = False
    changed_since: int | None = None

    def sql(self) -> tuple[str, list]:
        parts, params = [], []
        if self.state:
            parts.append("a.state = ?")
            params.append(self.state)
        if self.open_only:
            parts.append("a.state != 'closed'")
        if self.changed_since is not None:
            parts.append("a.changed > ?")
            params.append(self.changed_since)
        return "".join(f" AND {p}" for p in parts), params


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

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (or the caller's, when one is already open)."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _touch(self, alert_id: int) -> None:
        """Give the alert the clock's next number: live pages fetch it as changed."""
        ((value,),) = self.db.execute(
            "UPDATE alert_clock SET value = value + 1 RETURNING value"
        ).fetchall()
        self.db.execute("UPDATE alerts SET changed = ? WHERE alert_id = ?", (value, alert_id))

    def record_pass(self, hit, passage, now: datetime) -> Recorded | None:
        """Record a hit's pass (with its images, unblurred: operators act on them) under the
        open alert of the same entry, or under a new alert when that entry has none open.
        None when this very pass was recorded before (delivered twice)."""
        with self._transaction():
            known = self.db.execute(
                "SELECT 1 FROM alert_passes WHERE entry_id = ? AND camera_id = ? AND seq = ?",
                (hit.entry_id, passage.camera_id, passage.seq),
            ).fetchone()
            if known is not None:
                return None
            open_alert = self.db.execute(
                "SELECT alert_id FROM alerts WHERE entry_id = ? AND state != 'closed' "
                "ORDER BY alert_id DESC LIMIT 1",
                (hit.entry_id,),
            ).fetchone()
            alert_id = open_alert[0] if open_alert else self._new_alert(hit, passage, now)
            self._insert_pass(alert_id, hit, passage, now)
            self._touch(alert_id)
            (passes,) = self.db.execute(
                "SELECT count(*) FROM alert_passes WHERE alert_id = ?", (alert_id,)
            ).fetchone()
        return Recorded(alert_id, passes, new=open_alert is None)

    def raise_alert(self, hit, passage, now: datetime) -> int | None:
        """`record_pass`, answering only the alert's id (None for a pass seen before)."""
        recorded = self.record_pass(hit, passage, now)
        return None if recorded is None else recorded.alert_id

    def _new_alert(self, hit, passage, now: datetime) -> int:
        """The alert row names its first pass; the images live with the passes."""
        ((alert_id,),) = self.db.execute(
            "INSERT INTO alerts (raised_at, list_id, entry_id, priority, tolerant, "
            "camera_id, seq, captured_at, plate, country, crop, overview) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING alert_id",
            (format_timestamp(now), hit.list_id, hit.entry_id, hit.priority, int(hit.tolerant),
             passage.camera_id, passage.seq, format_timestamp(passage.captured_at), passage.plate,
             passage.country, b"", b""),
        ).fetchall()  # fmt: skip
        return alert_id

    def _insert_pass(self, alert_id: int, hit, passage, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO alert_passes (alert_id, entry_id, received_at, tolerant, camera_id, "
            "seq, captured_at, plate, country, lat_e7, lon_e7, direction, crop, overview) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (alert_id, hit.entry_id, format_timestamp(now), int(hit.tolerant), passage.camera_id,
             passage.seq, format_timestamp(passage.captured_at), passage.plate, passage.country,
             passage.lat_e7, passage.lon_e7, passage.direction, passage.crop_jpeg,
             passage.overview_jpeg),
        )  # fmt: skip

    def alerts(
        self, state: str | None = None, limit: int = 100, viewer: str | None = None,
        control_room: bool = True, offset: int = 0, which: AlertFilter | None = None,
    ) -> list[dict]:  # fmt: skip
        """Alerts, most urgent first, then newest; with `viewer`, only those that person may
        see. A page of them (`limit`, `offset`): `count_alerts` says how many there are."""
        which = which or AlertFilter(state=state)
        condition, params = _visible_to(viewer, control_room)
        extra, extra_params = which.sql()
        rows = self.db.execute(
            f"{_SELECT} WHERE {condition}{extra} "
            "ORDER BY a.priority, a.alert_id DESC LIMIT ? OFFSET ?",
            (*params, *extra_params, limit, offset),
        )
        found = [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
        for alert in found:
            alert["priority_word"] = PRIORITY_WORDS.get(alert["priority"], "low")
        return found

    def count_alerts(
        self, viewer: str | None = None, control_room: bool = True,
        which: AlertFilter | None = None,
    ) -> int:  # fmt: skip
        condition, params = _visible_to(viewer, control_room)
        extra, extra_params = (which or AlertFilter()).sql()
        return self.db.execute(
            "SELECT count(*) FROM alerts a JOIN lists l ON l.list_id = a.list_id "
            f"WHERE {condition}{extra}",
            (*params, *extra_params),
        ).fetchone()[0]

    def volume_per_day(
        self, since: str, viewer: str | None = None, control_room: bool = True
    ) -> dict[tuple[str, int], int]:
        """{(UTC day, priority): alerts raised} since that day, of the alerts this viewer
        may see (for the alert volume chart, #23)."""
        condition, params = _visible_to(viewer, control_room)
        rows = self.db.execute(
            "SELECT substr(a.raised_at, 1, 10), a.priority, count(*) FROM alerts a "
            f"JOIN lists l ON l.list_id = a.list_id WHERE a.raised_at >= ? AND {condition} "
            "GROUP BY substr(a.raised_at, 1, 10), a.priority",
            (since, *params),
        )
        return {(day, priority): n for day, priority, n in rows}

    def passes(self, alert_ids: list[int]) -> dict[int, list[dict]]:
        """Each alert's passes (without images), oldest first."""
        found: dict[int, list[dict]] = {alert_id: [] for alert_id in alert_ids}
        for start in range(0, len(alert_ids), 500):
            chunk = alert_ids[start : start + 500]
            rows = self.db.execute(
                f"SELECT {', '.join(_PASS_COLUMNS)} FROM alert_passes "
                f"WHERE alert_id IN ({', '.join('?' * len(chunk))}) ORDER BY captured_at, pass_id",
                chunk,
            )
            for row in rows:
                one = dict(zip(_PASS_COLUMNS, row, strict=True))
                found[one["alert_id"]].append(one)
        return found

    def pass_image(self, alert_id: int, pass_id: int | None, which: str) -> bytes | None:
        """A pass's crop or overview; without `pass_id`, the alert's latest pass's."""
        if which not in ("crop", "overview"):
            raise HotlistError("an alert's images are its crop and its overview")
        sql = f"SELECT {which} FROM alert_passes WHERE alert_id = ?"
        params: tuple = (alert_id,)
        if pass_id is not None:
            sql += " AND pass_id = ?"
            params += (pass_id,)
        row = self.db.execute(sql + " ORDER BY captured_at DESC, pass_id DESC", params).fetchone()
        return None if row is None else row[0]

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

    def change_cursor(self) -> int:
        """The number of the latest change to any alert (raised, a pass, handled, ...)."""
        return self.db.execute("SELECT value FROM alert_clock").fetchone()[0]

    def state_version(self) -> str:
        """Changes whenever an alert is raised, passed again or handled (for live pages)."""
        return str(self.change_cursor())

    def escalate(self, now: datetime) -> list[int]:
        """Mark (once) the control room's new alerts that waited longer than their priority
        allows (an investigation's hits are its owner's business, not the control room's).
        Once, too, with every node running this on one database: the update claims the alert
        only while it is still new and not escalated."""
        escalated = []
        rows = self.db.execute(
            "SELECT a.alert_id, a.priority, a.raised_at FROM alerts a JOIN lists l USING "
            "(list_id) WHERE a.state = 'new' AND a.escalated_at IS NULL "
            "AND l.category != 'investigation'"
        ).fetchall()
        for alert_id, priority, raised_at in rows:
            limit = ACKNOWLEDGE_WITHIN.get(priority)
            if limit is not None and raised_at < format_timestamp(now - limit):
                with self._transaction():
                    claimed = self.db.execute(
                        "UPDATE alerts SET escalated_at = ? WHERE alert_id = ? "
                        "AND state = 'new' AND escalated_at IS NULL",
                        (format_timestamp(now), alert_id),
                    ).rowcount
                    if claimed:
                        self._touch(alert_id)
                if not claimed:
                    continue  # acknowledged or escalated meanwhile (by another node)
                self._log("system", f"alert {alert_id} escalated (priority {priority})", now)
                escalated.append(alert_id)
        return escalated

    def expire_alerts(self, now: datetime, keep: timedelta) -> int:
        """Destroy passes (with their images) received longer ago than `keep`, and the alerts
        left without a pass; an alert passed again lives on with its recent passes."""
        cutoff = format_timestamp(now - keep)
        with self._transaction():
            passes = self.db.execute(
                "DELETE FROM alert_passes WHERE received_at < ?", (cutoff,)
            ).rowcount
            removed = self.db.execute(
                "DELETE FROM alerts WHERE raised_at < ? AND NOT EXISTS (SELECT 1 FROM "
                "alert_passes p WHERE p.alert_id = alerts.alert_id)",
                (cutoff,),
            ).rowcount
            if removed or passes:  # open pages showing them reload (`expired_since`)
                self.db.execute("UPDATE alert_clock SET value = value + 1, expired_at = value + 1")
        if removed or passes:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed

    def expired_since(self, cursor: int) -> bool:
        """Whether alerts or passes expired after the change `cursor` (a page's): they are
        gone, not changed, so the page must reload to drop them."""
        return self.db.execute("SELECT expired_at FROM alert_clock").fetchone()[0] > cursor

    def handle(self, alert_id: int, state: str, by: str, outcome: str, now: datetime) -> None:
        if state not in ("acknowledged", "closed"):
            raise HotlistError("an alert is acknowledged or closed")
        if state == "closed" and not outcome.strip():
            raise HotlistError("close an alert with its outcome")
        with self._transaction():
            self.db.execute(
                "UPDATE alerts SET state = ?, handled_by = ?, outcome = ? WHERE alert_id = ?",
                (state, by, outcome or None, alert_id),
            )
            self._touch(alert_id)
        self._log(by, f"alert {alert_id} {state}: {json.dumps(outcome)}", now)

    def assign(self, alert_id: int, to: str, by: str, now: datetime) -> None:
        """Hand an alert to one operator (who then sees it as theirs); logged. An assigned
        alert still waits for acknowledgement and is escalated like any other."""
        if not to.strip():
            raise HotlistError("assign an alert to an operator's user name")
        with self._transaction():
            changed = self.db.execute(
                "UPDATE alerts SET assigned_to = ? WHERE alert_id = ? AND state != 'closed'",
                (to.strip(), alert_id),
            ).rowcount
            if changed:
                self._touch(alert_id)
        if not changed:
            raise HotlistError(f"alert {alert_id} does not exist or is closed")
        self._log(by, f"alert {alert_id} assigned to {to.strip()}", now)
