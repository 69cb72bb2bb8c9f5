"""Checks for single wire fields, shared by every record type.

Each check raises MalformedRecord naming the field, so that a rejected record says which
field an agent got wrong.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from wire.canonical import MAX_SAFE_INTEGER as MAX_SAFE_INTEGER
from wire.errors import MalformedRecord

UTC = timezone.utc  # datetime.UTC is 3.11's; the unit runs on 3.10 (JetPack 6)

CAMERA_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,63}")
KEY_ID = re.compile(r"[0-9a-f]{16}")
PLATE = re.compile(r"[A-Z0-9]{1,12}")
COUNTRY = re.compile(r"(|[A-Z]{2})")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
VERSION_LABEL = re.compile(r"[A-Za-z0-9._:+-]{1,64}")
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DIRECTIONS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def require_keys(record: dict, required: set[str], what: str) -> None:
    missing = required - record.keys()
    extra = record.keys() - required
    if missing:
        raise MalformedRecord(f"{what} lacks field(s): {', '.join(sorted(missing))}")
    if extra:
        raise MalformedRecord(f"{what} has unknown field(s): {', '.join(sorted(extra))}")


# Fields whose values are personal data: error messages (which end up in logs kept longer
# than 28 days) name the field but never repeat the value.
PERSONAL_FIELDS = {"plate"}


def text(record: dict, name: str, pattern: re.Pattern[str]) -> str:
    value = record[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = "<withheld>" if name in PERSONAL_FIELDS else repr(value)
        raise MalformedRecord(f"field {name}={shown} does not match {pattern.pattern}")
    return value


def integer(record: dict, name: str, low: int, high: int) -> int:
    value = record[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MalformedRecord(f"field {name}={value!r} must be an integer in [{low}, {high}]")
    return value


def is_version(value: object, expected: int) -> bool:
    """`true == 1` in Python: a version must be the integer itself, or a record signed with
    `"v": true` would pass the check and re-encode as another record (found by fuzzing)."""
    return type(value) is int and value == expected


def boolean(record: dict, name: str) -> bool:
    value = record[name]
    if not isinstance(value, bool):
        raise MalformedRecord(f"field {name}={value!r} must be true or false")
    return value


def int_list(record: dict, name: str, low: int, high: int, max_len: int) -> tuple[int, ...]:
    value = record[name]
    if not isinstance(value, list) or len(value) > max_len:
        raise MalformedRecord(f"field {name} must be a list of at most {max_len} integers")
    return tuple(integer({name: item}, name, low, high) for item in value)


def timestamp(record: dict, name: str) -> datetime:
    value = text(record, name, TIMESTAMP)
    try:
        # 3.10's fromisoformat does not take the Z (3.11's does): the pattern ends in one.
        return datetime.fromisoformat(value[:-1] + "+00:00").astimezone(UTC)
    except ValueError:
        raise MalformedRecord(f"field {name}={value!r} is not a real UTC time") from None


def day(record: dict, name: str) -> date:
    """A calendar day, `YYYY-MM-DD`, that exists."""
    value = text(record, name, DAY)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedRecord(f"field {name}={value!r} is not a real day") from None


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z: the only time form on the wire."""
    if moment.tzinfo is None:
        raise ValueError("wire times must be timezone-aware")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def truncate_to_millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
