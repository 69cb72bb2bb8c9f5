"""The 28-day rule of art. 126jj Sv, as pure functions of a day and the clock.

Every read path filters on `cutoff(now)`; the store, backups and the retention thread ask
`fully_expired`/`partly_expired` which days to destroy. Kept apart from the thread that
destroys (`retention.py`) so the store can apply the rule without importing that thread.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from wire.fields import format_timestamp

RETENTION = timedelta(days=28)


def cutoff(now: datetime) -> datetime:
    """Passages captured before this moment are expired."""
    return now - RETENTION


def cutoff_text(now: datetime) -> str:
    """The cutoff in the store's text form, which sorts like time."""
    return format_timestamp(cutoff(now))


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def fully_expired(day: date, now: datetime) -> bool:
    """Every passage of this UTC day is past 28 days."""
    return day_start(day + timedelta(days=1)) <= cutoff(now)


def partly_expired(day: date, now: datetime) -> bool:
    return day_start(day) < cutoff(now) < day_start(day + timedelta(days=1))


def complete(day: date, now: datetime, grace: timedelta = timedelta(hours=1)) -> bool:
    """The day is over (plus a grace period for late deliveries): its statistics can be made."""
    return day_start(day + timedelta(days=1)) + grace <= now
