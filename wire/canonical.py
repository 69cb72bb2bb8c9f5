"""The one byte encoding that signatures cover.

Canonical JSON restricted so that every conforming value has exactly one encoding in any
language: object keys sorted by code point, no whitespace, integers only (no floats, which
have no portable shortest form), strings of printable ASCII without `"` or `\\` (so no escape
sequences are ever needed), booleans, arrays and nested objects. For this subset the output
equals RFC 8785 (JCS). See docs/wire-format.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from wire.errors import MalformedRecord

MAX_SAFE_INTEGER = 2**53 - 1
# Printable ASCII (0x20-0x7E) except '"' (0x22) and '\\' (0x5C).
_PORTABLE_STRING = re.compile(r"[ !#-\[\]-~]*")


def canonical_bytes(value: object) -> bytes:
    """Encode `value` canonically, refusing anything outside the portable subset."""
    return "".join(_encode(value, "$")).encode("ascii")


def canonical_bytes_of_validated(record: dict) -> bytes:
    """The canonical bytes of a record that has passed its field validators, fast.

    Validation guarantees every string is portable and every number an integer in range;
    for such values the standard encoder with sorted keys and no whitespace writes exactly
    the canonical form (tests/test_wire_canonical.py holds the two together).
    """
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _encode(value: object, path: str) -> list[str]:
    if value is True:
        return ["true"]
    if value is False:
        return ["false"]
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise MalformedRecord(f"{path}: integer {value} outside +-(2^53-1)")
        return [str(value)]
    if isinstance(value, str):
        _check_string(value, path)
        return ['"', value, '"']
    if isinstance(value, Mapping):
        parts = ["{"]
        for index, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise MalformedRecord(f"{path}: object key {key!r} is not a string")
            _check_string(key, path)
            if index:
                parts.append(",")
            parts.extend(['"', key, '":'])
            parts.extend(_encode(value[key], f"{path}.{key}"))
        parts.append("}")
        return parts
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        parts = ["["]
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            parts.extend(_encode(item, f"{path}[{index}]"))
        parts.append("]")
        return parts
    raise MalformedRecord(f"{path}: {type(value).__name__} has no canonical form")


def _check_string(text: str, path: str) -> None:
    if _PORTABLE_STRING.fullmatch(text) is None:
        bad = next(c for c in text if _PORTABLE_STRING.fullmatch(c) is None)
        raise MalformedRecord(f"{path}: character {bad!r} not allowed in wire strings")


MAX_INT_DIGITS = 19
# Our records nest at most four deep. Anything deeper is refused here, so that no code that
# walks a parsed value (canonicalising it, or `repr` in an error message) can run out of
# stack on it, whatever the depth of the stack it is called from.
MAX_DEPTH = 32


def parse_json_object(data: bytes, what: str) -> dict:
    """Parse JSON strictly: UTF-8, one object, no duplicate keys, no floats or NaN, integers
    of at most 19 digits, nested at most MAX_DEPTH deep."""
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_float=_reject_float,
            parse_constant=_reject_float,
            parse_int=_bounded_int,
        )
    except UnicodeDecodeError as exc:
        raise MalformedRecord(f"{what} is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise MalformedRecord(f"{what} is nested too deeply") from None
    if not isinstance(value, dict):
        raise MalformedRecord(f"{what} must be a JSON object")
    _check_depth(value, what)
    return value


def _check_depth(value: dict, what: str) -> None:
    """Without recursion: the point is to refuse values that recursion cannot walk."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise MalformedRecord(f"{what} is nested more than {MAX_DEPTH} deep")
        children = item.values() if isinstance(item, dict) else item
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def _bounded_int(text: str) -> int:
    """No field of ours needs more than 19 digits; longer numbers cost quadratic time."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise MalformedRecord(f"integer of {len(text)} characters is out of range")
    return int(text)


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise MalformedRecord(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_float(token: str) -> object:
    raise MalformedRecord(f"number {token} is not an integer; the wire format has no floats")
