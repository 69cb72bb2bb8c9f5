"""Matching a read plate against hotlist entries: exact, wildcard, and tolerant.

Tolerant matching accepts one character that readers confuse (0/O/D/Q, 8/B, 1/I, 5/S,
2/Z): a stolen car must not slip through on a misread, but such a hit is marked as
tolerant so that the operator checks the crop before acting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One list of confusions and of near spellings for the central and the units.
from wire.unit_hotlist import CONFUSABLE, near_variants

__all__ = ["CONFUSABLE", "Match", "PatternError", "is_wildcard", "match", "near_variants",
           "validate_pattern"]  # fmt: skip

_PATTERN = re.compile(r"[A-Z0-9?*]{1,12}")


class PatternError(ValueError):
    """A hotlist plate pattern that cannot be used."""


def validate_pattern(pattern: str) -> str:
    pattern = pattern.strip().upper().replace("-", "").replace(" ", "")
    if not _PATTERN.fullmatch(pattern):
        raise PatternError(f"plate {pattern!r}: letters, digits, ? (one) and * (any run) only")
    if sum(c.isalnum() for c in pattern) < 3:
        raise PatternError(f"plate {pattern!r}: at least three known characters")
    return pattern


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join("." if c == "?" else ".*" if c == "*" else c for c in pattern))


def _confusable(a: str, b: str) -> bool:
    return any(a in group and b in group for group in CONFUSABLE)


@dataclass(frozen=True)
class Match:
    tolerant: bool


def match(plate: str, pattern: str, tolerant: bool = True) -> Match | None:
    """Does the read plate match the entry's pattern (exactly, or with one confusion)?"""
    if _regex(pattern).fullmatch(plate):
        return Match(tolerant=False)
    if not tolerant or "*" in pattern or len(pattern) != len(plate):
        return None
    differences = [(a, b) for a, b in zip(plate, pattern, strict=True) if b != "?" and a != b]
    if len(differences) == 1 and _confusable(*differences[0]):
        return Match(tolerant=True)
    return None


def is_wildcard(pattern: str) -> bool:
    return "?" in pattern or "*" in pattern
