"""Stored reads held against the records their cameras signed.

The `passages` table copies a few fields out of the signed record so that searches stay
fast, and those copies are what officers see and hand out. Triggers refuse an UPDATE, but
someone with the file can drop them, or delete a row and insert an edited one. So every
stored column is derived again from the canonical record, the record's digest is compared
with the one stored beside it and in the cross-day sequence index, and the record's
signature is checked under its camera's key: an edit is found unless its maker can sign
as the camera. Checking the images too (decrypting each) is optional: it reads every byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from central.store.records import SUMMARY_FIELDS
from wire import VerifyKey, WireError
from wire import fields as wire_fields
from wire.canonical import parse_json_object
from wire.fields import format_timestamp

# The stored columns that come from the signed record, and how each is derived from it.
DERIVED = {
    "camera_id": lambda r: r["camera_id"],
    "seq": lambda r: r["seq"],
    "captured_at": lambda r: format_timestamp(wire_fields.timestamp(r, "captured_at")),
    "plate": lambda r: r["plate"],
    "country": lambda r: r["country"],
    "confidence_pm": lambda r: r["confidence_pm"],
    "lat_e7": lambda r: r["lat_e7"],
    "lon_e7": lambda r: r["lon_e7"],
    "direction": lambda r: r["direction"],
    "lane": lambda r: r["lane"],
}

KeyLookup = Callable[[str, str], VerifyKey | None]


@dataclass(frozen=True)
class Mismatch:
    """One stored passage that does not agree with its signed record, and how."""

    camera_id: str
    seq: int
    problem: str


def check_row(
    day: date,
    columns: dict,
    stored_digest: str,
    record: bytes | None,
    signature: bytes | None,
    key_of: KeyLookup,
) -> list[str]:
    """What is wrong with one stored passage (empty: it is what its camera signed)."""
    if record is None or signature is None:
        return ["the signed record is missing: the row cannot be checked"]
    record, signature = bytes(record), bytes(signature)
    problems = []
    if hashlib.sha256(record).hexdigest() != stored_digest:
        problems.append("record_sha256 does not match the stored record")
    try:
        signed = parse_json_object(record, "stored record")
        key = key_of(signed["camera_id"], signed["key_id"])
        expected = {name: derive(signed) for name, derive in DERIVED.items()}
    except (WireError, KeyError, TypeError) as exc:
        return [*problems, f"the stored record cannot be read ({exc})"]
    if key is None:
        problems.append(
            f"key {signed['key_id']} of camera {signed['camera_id']} is not in the camera "
            "registry: the signature cannot be checked"
        )
    else:
        try:
            key.verify(signature, record)
        except (WireError, ValueError):
            problems.append(f"the record's signature does not verify under key {key.key_id}")
    for name, value in expected.items():
        if columns[name] != value:
            problems.append(f"{name} is {columns[name]!r}, the signed record says {value!r}")
    if expected["captured_at"][:10] != day.isoformat():
        problems.append(f"captured {expected['captured_at']}, but stored in the day file {day}")
    return problems


def check_index(
    camera_id: str, seq: int, day: date, digest: str, indexed: tuple[date, str] | None
) -> list[str]:
    """The cross-day sequence index names the same day and digest as the day file."""
    if indexed is None:
        return ["not in the sequence index"]
    problems = []
    if indexed[0] != day:
        problems.append(f"the sequence index places it on {indexed[0]}")
    if indexed[1] != digest:
        problems.append("the sequence index holds another record digest")
    return problems


def served_problems(
    rows: Sequence, found: dict[tuple[str, int], tuple[date, tuple]], key_of: KeyLookup
) -> dict[tuple[str, int], list[str]]:
    """What is wrong with each served row (only wrong ones are keys), given what the store
    holds for it: `found` maps (camera, seq) to (day, (digest, record, signature))."""
    problems: dict[tuple[str, int], list[str]] = {}
    for row in rows:
        key = (row.camera_id, row.seq)
        if key not in found:
            problems[key] = ["no stored passage holds it any more: deleted or past 28 days"]
            continue
        day, (digest, record, signature) = found[key]
        columns = {name: getattr(row, name) for name in SUMMARY_FIELDS}
        wrong = check_row(day, columns, digest, record, signature, key_of)
        if wrong:
            problems[key] = wrong
    return problems


def remembered(key_of: KeyLookup) -> KeyLookup:
    """Each camera key looked up once per check, not once per row."""
    keys: dict[tuple[str, str], VerifyKey | None] = {}

    def lookup(camera_id: str, key_id: str) -> VerifyKey | None:
        if (camera_id, key_id) not in keys:
            keys[camera_id, key_id] = key_of(camera_id, key_id)
        return keys[camera_id, key_id]

    return lookup


def summarise(mismatches: Sequence[Mismatch]) -> str:
    """One line for logs and the command's last line."""
    passages = {(m.camera_id, m.seq) for m in mismatches}
    return f"{len(passages)} passage(s) differ from their signed record" if passages else ""
