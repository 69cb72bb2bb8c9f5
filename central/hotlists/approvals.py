"""A prosecutor's approvals of hotlists and of entries added after a list's approval.

A list goes live only when a prosecutor approves it, and an entry added (or imported) after
that approval waits until a prosecutor approves the entry itself: otherwise whoever may add
entries could put any plate under surveillance on the strength of an approval given for
others. Approving a list (first time or again) approves every entry waiting on it, since
the prosecutor sees them on the desk. A refusal states its reason and is final.

Who approves is an account name, never a typed name: the only caller is the prosecutor's
desk (`central/web/prosecutor.py`), which admits only the prosecutor role. The database
handle and the change log are `Hotlists`'; this is a part of it, like `AlertDesk`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from central.hotlists.alerts import HotlistError
from wire.fields import format_timestamp

REAPPROVE_AFTER = timedelta(days=90)
DUE_WITHIN = timedelta(days=14)


class HotlistApprovals:
    """The prosecutor's half of `Hotlists` (which supplies `db` and `_log`)."""

    def _list_row(self, list_id: int) -> tuple:
        row = self.db.execute(
            "SELECT name, refused_by FROM lists WHERE list_id = ?", (list_id,)
        ).fetchone()
        if row is None:
            raise HotlistError(f"no hotlist {list_id}")
        return row

    def approve(
        self, list_id: int, prosecutor: str, now: datetime, valid: timedelta = REAPPROVE_AFTER
    ) -> int:
        """The prosecutor's approval, valid for `valid`: past it the list stops matching until
        it is approved again. Every entry waiting on the list is approved with it; returns
        how many were."""
        name, refused_by = self._list_row(list_id)
        if refused_by:
            raise HotlistError(f"hotlist {list_id} was refused by {refused_by}: make a new list")
        until = format_timestamp(now + valid)
        self.db.execute(
            "UPDATE lists SET approved_by = ?, approved_at = ?, approved_until = ? "
            "WHERE list_id = ?",
            (prosecutor, format_timestamp(now), until, list_id),
        )
        entries = self.db.execute(
            "UPDATE entries SET approved_by = ?, approved_at = ? "
            "WHERE list_id = ? AND approved_by IS NULL AND refused_by IS NULL",
            (prosecutor, format_timestamp(now), list_id),
        ).rowcount
        self._log(prosecutor, f"approved list {list_id} until {until} with {entries} waiting "
                              "entries", now)  # fmt: skip
        return entries

    def refuse_list(self, list_id: int, prosecutor: str, reason: str, now: datetime) -> None:
        """A list the prosecutor will not approve (or approve again): it stops matching now."""
        _, refused_by = self._list_row(list_id)
        if refused_by:
            raise HotlistError(f"hotlist {list_id} is refused already (by {refused_by})")
        if not reason.strip():
            raise HotlistError("a refusal states its reason")
        self.db.execute(
            "UPDATE lists SET refused_by = ?, refused_at = ?, refusal = ?, approved_until = "
            "CASE WHEN approved_by IS NULL THEN NULL ELSE ? END WHERE list_id = ?",
            (prosecutor, format_timestamp(now), reason, format_timestamp(now), list_id),
        )
        self._log(prosecutor, f"refused list {list_id}: {reason}", now)

    def _waiting_entry(self, entry_id: int) -> int:
        row = self.db.execute(
            "SELECT e.list_id, e.approved_by, e.refused_by, l.approved_by FROM entries e "
            "JOIN lists l USING (list_id) WHERE e.entry_id = ?",
            (entry_id,),
        ).fetchone()
        if row is None:
            raise HotlistError(f"no hotlist entry {entry_id}")
        list_id, approved_by, refused_by, list_approved_by = row
        if approved_by or refused_by:
            raise HotlistError(f"entry {entry_id} is decided already (by "
                               f"{approved_by or refused_by})")  # fmt: skip
        if list_approved_by is None:
            raise HotlistError(f"entry {entry_id} waits with its list {list_id}: approve the list")
        return list_id

    def approve_entry(self, entry_id: int, prosecutor: str, now: datetime) -> int:
        """An entry added after its list's approval goes live; returns its list."""
        list_id = self._waiting_entry(entry_id)
        self.db.execute(
            "UPDATE entries SET approved_by = ?, approved_at = ? WHERE entry_id = ?",
            (prosecutor, format_timestamp(now), entry_id),
        )
        self._log(prosecutor, f"approved entry {entry_id} of list {list_id}", now)
        return list_id

    def refuse_entry(self, entry_id: int, prosecutor: str, reason: str, now: datetime) -> int:
        """An entry the prosecutor will not approve: it never matches; returns its list."""
        if not reason.strip():
            raise HotlistError("a refusal states its reason")
        list_id = self._waiting_entry(entry_id)
        self.db.execute(
            "UPDATE entries SET refused_by = ?, refused_at = ?, refusal = ? WHERE entry_id = ?",
            (prosecutor, format_timestamp(now), reason, entry_id),
        )
        self._log(prosecutor, f"refused entry {entry_id} of list {list_id}: {reason}", now)
        return list_id

    def due_for_approval(self, now: datetime, within: timedelta = DUE_WITHIN) -> list[dict]:
        """Lists not refused and not expired whose approval is missing or lapses within."""
        rows = self.db.execute(
            "SELECT list_id, name, owner, approved_until, category, legal_basis, priority, "
            "(SELECT count(*) FROM entries e WHERE e.list_id = lists.list_id "
            " AND e.refused_by IS NULL AND e.expires_at > ?) "
            "FROM lists WHERE expires_at > ? AND refused_by IS NULL "
            "AND (approved_until IS NULL OR approved_until < ?) "
            # Never approved first (a NULL sorts first in SQLite, last in PostgreSQL).
            "ORDER BY coalesce(approved_until, ''), list_id",
            (format_timestamp(now), format_timestamp(now), format_timestamp(now + within)),
        )
        keys = ("list_id", "name", "owner", "approved_until", "category", "legal_basis",
                "priority", "entries")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def waiting_entries(self, now: datetime) -> list[dict]:
        """Entries added after their list's approval, not yet decided nor expired."""
        rows = self.db.execute(
            "SELECT e.entry_id, e.list_id, l.name, e.pattern, e.country, e.reason, "
            "e.instructions, e.expires_at FROM entries e JOIN lists l USING (list_id) "
            "WHERE e.approved_by IS NULL AND e.refused_by IS NULL AND l.approved_by IS NOT NULL "
            "AND l.refused_by IS NULL AND e.expires_at > ? ORDER BY e.entry_id",
            (format_timestamp(now),),
        )
        keys = ("entry_id", "list_id", "list_name", "pattern", "country", "reason",
                "instructions", "expires_at")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]
