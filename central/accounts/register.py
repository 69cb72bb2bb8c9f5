"""The authorisation register: who may consult the 28-day store as an authorised officer.

The law wants few authorised officers (about ten per unit), each named, authorised by
someone, for a unit, from a date, and reviewed periodically. An authorisation past its
review date lapses: the officer role then opens nothing until it is reviewed again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from central.accounts.users import AccountError, Accounts
from wire.fields import format_timestamp

EXPECTED_PER_UNIT = 10
WARN_ABOVE = 15

MIGRATIONS = [
    (
        "0002_authorisations",
        """
        CREATE TABLE authorisations (
            id            INTEGER PRIMARY KEY,
            username      TEXT NOT NULL REFERENCES users (username),
            unit          TEXT NOT NULL,
            authorised_by TEXT NOT NULL,
            since         TEXT NOT NULL,
            review_due    TEXT NOT NULL,
            reviewed_at   TEXT,
            ended_at      TEXT
        )
        """,
    ),
    ("0003_authorisation_reviewer", "ALTER TABLE authorisations ADD COLUMN reviewed_by TEXT"),
]


@dataclass(frozen=True)
class Authorisation:
    username: str
    unit: str
    authorised_by: str
    since: str
    review_due: str
    lapsed: bool
    reviewed_at: str | None = None
    reviewed_by: str | None = None


class Register:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.db = accounts.db

    def authorise(self, username: str, unit: str, by: str, review_due: date, now: datetime) -> None:
        if by == username:
            raise AccountError("an officer cannot authorise themselves")
        if review_due <= now.date():
            raise AccountError("the review date must lie in the future")
        if (
            self.db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
            is None
        ):
            raise AccountError(f"no account {username}")
        self.db.execute(
            "UPDATE authorisations SET ended_at = ? WHERE username = ? AND ended_at IS NULL",
            (format_timestamp(now), username),
        )
        self.db.execute(
            "INSERT INTO authorisations (username, unit, authorised_by, since, review_due) "
            "VALUES (?, ?, ?, ?, ?)",
            (username, unit, by, format_timestamp(now), review_due.isoformat()),
        )
        self.accounts.event(username, "authorised", f"officer for {unit} by {by}", now)

    def active(self, now: datetime) -> list[Authorisation]:
        rows = self.db.execute(
            "SELECT username, unit, authorised_by, since, review_due, reviewed_at, reviewed_by "
            "FROM authorisations WHERE ended_at IS NULL ORDER BY unit, username"
        )
        today = now.date().isoformat()
        return [Authorisation(*row[:5], lapsed=row[4] <= today, reviewed_at=row[5],
                              reviewed_by=row[6]) for row in rows]  # fmt: skip

    def review(self, username: str, by: str, next_due: date, now: datetime) -> None:
        """The periodic review: someone else confirms the authorisation and sets the next
        date; a lapsed authorisation opens again only through this."""
        if by == username:
            raise AccountError("an officer cannot review their own authorisation")
        if next_due <= now.date():
            raise AccountError("the next review date must lie in the future")
        updated = self.db.execute(
            "UPDATE authorisations SET reviewed_at = ?, reviewed_by = ?, review_due = ? "
            "WHERE username = ? AND ended_at IS NULL",
            (format_timestamp(now), by, next_due.isoformat(), username),
        ).rowcount
        if not updated:
            raise AccountError(f"{username} holds no authorisation to review")
        self.accounts.event(username, "authorisation_reviewed",
                            f"by {by}; next review {next_due}", now)  # fmt: skip

    def authorised(self, username: str, now: datetime) -> bool:
        """An authorised officer today: registered, not ended, review not overdue."""
        return any(a.username == username and not a.lapsed for a in self.active(now))

    def unit_of(self, username: str, now: datetime) -> str:
        """The unit an officer is authorised for ('' when not authorised)."""
        return next((a.unit for a in self.active(now) if a.username == username), "")

    def warnings(self, now: datetime) -> list[str]:
        per_unit = Counter(a.unit for a in self.active(now) if not a.lapsed)
        found = [
            f"unit {unit} has {n} authorised officers (the law expects about {EXPECTED_PER_UNIT})"
            for unit, n in sorted(per_unit.items())
            if n > WARN_ABOVE
        ]
        found += [
            f"{a.username} ({a.unit}): review was due {a.review_due}; authorisation lapsed"
            for a in self.active(now)
            if a.lapsed
        ]
        return found
