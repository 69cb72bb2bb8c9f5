"""Hotlists and their entries: who may put a plate on one, for how long, and what matches.

A list goes live only after a prosecutor's approval is recorded, and an entry added after
that approval only once a prosecutor approves it too (`approvals.HotlistApprovals`); a list
and each entry expire. Every change names who. The alerts the lists raise are
`alerts.AlertDesk`'s, a part of the same `Hotlists` handle and file (hotlists.sqlite,
schema in `schema.py`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime

from central.databases import StoreLocation, open_database
from central.hotlists.alerts import AlertDesk, HotlistError
from central.hotlists.approvals import REAPPROVE_AFTER, HotlistApprovals
from central.hotlists.matching import (
    PatternError,
    is_wildcard,
    match,
    near_variants,
    validate_pattern,
)
from central.hotlists.schema import MIGRATIONS
from wire.fields import format_timestamp

CATEGORIES = ("stolen_vehicle", "missing_person", "fugitive", "investigation", "unpaid_fine")
__all__ = ["CATEGORIES", "REAPPROVE_AFTER", "Hit", "HotlistError", "Hotlists", "ImportReport"]
# Matching and the units' lists take only what a prosecutor approved: the list, and the entry.
LIVE = "l.approved_by IS NOT NULL AND e.approved_by IS NOT NULL"
# Until when an entry matches: the earliest of its own expiry, its list's and the end of the
# list's approval, and NULL (never) where the list has no approval end. SQLite's min(a, b, c)
# spelled as both backends read it alike (PostgreSQL's least() would skip the NULL).
LIVE_UNTIL = (
    "CASE WHEN e.expires_at <= l.expires_at AND e.expires_at <= l.approved_until "
    "THEN e.expires_at WHEN l.expires_at <= l.approved_until THEN l.expires_at "
    "ELSE l.approved_until END"
)


@dataclass(frozen=True)
class Hit:
    list_id: int
    entry_id: int
    priority: int
    tolerant: bool
    reason: str
    instructions: str
    category: str = "stolen_vehicle"
    owner: str = ""

    @property
    def for_owner_only(self) -> bool:
        """Hits of an investigation's list go to its owner, not to the control room."""
        return self.category == "investigation"


@dataclass(frozen=True)
class LiveEntries:
    """The approved entries of approved lists at one version of the store: exact patterns
    found through their text (the plate's near spellings), wildcards tried one by one
    (they are few)."""

    version: str
    exact: dict[str, list[tuple]]
    wildcards: list[tuple]

    def hits(
        self, plate: str, country: str, at: datetime, camera_id: str | None = None
    ) -> list[Hit]:
        moment = format_timestamp(at)
        rows = [row for variant in sorted(near_variants(plate))
                for row in self.exact.get(variant, ())] + self.wildcards  # fmt: skip
        rows = [r for r in rows
                if r[7] is not None and r[7] > moment and r[8] <= moment
                and _in_scope(r[9], camera_id)]  # fmt: skip
        found = []
        for entry_id, list_id, pattern, entry_country, reason, instructions, prio, *rest in rows:
            if entry_country and country and entry_country != country:
                continue
            result = match(plate, pattern)
            if result is not None:
                found.append(Hit(list_id, entry_id, prio, result.tolerant, reason, instructions,
                                 category=rest[3], owner=rest[4]))  # fmt: skip
        return sorted(found, key=lambda h: (h.priority, h.tolerant))


def _in_scope(cameras: str, camera_id: str | None) -> bool:
    return not cameras or camera_id is None or camera_id in cameras.split(",")


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


class Hotlists(AlertDesk, HotlistApprovals):
    def __init__(self, path: StoreLocation) -> None:
        self.db = open_database(path, MIGRATIONS)
        self._live: LiveEntries | None = None  # what matches, as of its version

    def close(self) -> None:
        self.db.close()

    def _log(self, actor: str, what: str, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO changes (at, actor, what) VALUES (?, ?, ?)",
            (format_timestamp(now), actor, what),
        )

    def create_list(
        self, name: str, owner: str, legal_basis: str, category: str, priority: int,
        expires_at: datetime, now: datetime, starts_at: datetime | None = None,
        cameras: tuple[str, ...] = (),
    ) -> int:  # fmt: skip
        """A list scoped, if asked, to a time window (`starts_at` to `expires_at`) and to
        chosen cameras (none: every camera)."""
        if category not in CATEGORIES:
            raise HotlistError(f"category must be one of {', '.join(CATEGORIES)}")
        if not legal_basis.strip():
            raise HotlistError("a hotlist needs its legal basis or order reference")
        if not 1 <= priority <= 5:
            raise HotlistError("priority runs from 1 (act now) to 5")
        ((list_id,),) = self.db.execute(
            "INSERT INTO lists (name, owner, legal_basis, category, priority, expires_at, "
            "starts_at, cameras) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING list_id",
            (name, owner, legal_basis, category, priority, format_timestamp(expires_at),
             format_timestamp(starts_at) if starts_at else None, ",".join(cameras)),
        ).fetchall()  # fmt: skip
        self._log(owner, f"created list {list_id} {name!r} ({category})", now)
        return list_id

    def add_entry(
        self, list_id: int, pattern: str, country: str, reason: str, instructions: str,
        expires_at: datetime, by: str, now: datetime,
    ) -> int:  # fmt: skip
        """An entry; it waits for a prosecutor's approval (with its list, or on its own once
        the list is approved: `approve_entry`)."""
        pattern = validate_pattern(pattern)
        ((entry_id,),) = self.db.execute(
            "INSERT INTO entries (list_id, pattern, country, reason, instructions, expires_at, "
            "wildcard) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING entry_id",
            (list_id, pattern, country, reason, instructions, format_timestamp(expires_at),
             int(is_wildcard(pattern))),
        ).fetchall()  # fmt: skip
        self._log(by, f"added entry {entry_id} to list {list_id}", now)
        return entry_id

    def import_csv(
        self, list_id: int, text: str, by: str, now: datetime, skip_invalid: bool = False
    ) -> ImportReport:
        """Rows `plate,country,reason,instructions,expires` (with that header line).

        Every row is checked first; with any error nothing is imported unless
        `skip_invalid`, so that a half-imported list never goes live by accident.
        """
        report = ImportReport()
        reader = csv.DictReader(io.StringIO(text))
        expected = ["plate", "country", "reason", "instructions", "expires"]
        if reader.fieldnames != expected:
            report.errors.append((1, f"header must be {','.join(expected)}"))
            return report
        valid = []
        for number, row in enumerate(reader, start=2):
            try:
                pattern = validate_pattern(row["plate"] or "")
                country = (row["country"] or "").strip().upper()
                if country and not re.fullmatch(r"[A-Z]{2}", country):
                    raise HotlistError("country must be an ISO code like NL, or empty")
                if not (row["reason"] or "").strip() or not (row["instructions"] or "").strip():
                    raise HotlistError("reason and instructions are required")
                expires = datetime.fromisoformat(row["expires"] or "")
                if expires.tzinfo is None or expires <= now:
                    raise HotlistError("expires must be a future time with a time zone")
            except (PatternError, HotlistError, ValueError) as exc:
                report.errors.append((number, str(exc)))
                continue
            valid.append((pattern, country, row["reason"], row["instructions"], expires))
        if report.errors and not skip_invalid:
            return report
        for pattern, country, reason, instructions, expires in valid:
            self.add_entry(list_id, pattern, country, reason, instructions, expires, by, now)
            report.imported += 1
        return report

    def hits(
        self, plate: str, country: str, at: datetime, camera_id: str | None = None
    ) -> list[Hit]:
        """Approved entries of approved, unexpired lists that this read matches, most urgent
        first (`live_entries().hits`; a batch takes `live_entries()` once)."""
        return self.live_entries().hits(plate, country, at, camera_id)

    def live_entries(self) -> LiveEntries:
        """Approved entries of approved lists, reread only when lists or entries changed,
        approvals included, which the change log records: one query to learn that nothing
        changed, then matching in memory (a read per passage is a round trip on
        PostgreSQL). Expiry is judged at each match, against the passage's time."""
        version = self.db.execute(
            "SELECT (SELECT coalesce(max(entry_id), 0) FROM entries) || '.' || "
            "(SELECT coalesce(max(id), 0) FROM changes)"
        ).fetchone()[0]
        if self._live is None or self._live.version != version:
            rows = self.db.execute(
                "SELECT e.entry_id, e.list_id, e.pattern, e.country, e.reason, e.instructions, "
                f"l.priority, {LIVE_UNTIL}, coalesce(l.starts_at, ''), l.cameras, l.category, "
                f"l.owner, e.wildcard FROM entries e JOIN lists l USING (list_id) WHERE {LIVE}"
            ).fetchall()
            exact: dict[str, list[tuple]] = {}
            for row in rows:
                if not row[12]:
                    exact.setdefault(row[2], []).append(row[:12])
            wildcards = [row[:12] for row in rows if row[12]]
            self._live = LiveEntries(version, exact, wildcards)
        return self._live
