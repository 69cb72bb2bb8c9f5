"""Known plate layouts per country, to measure how many reads look like a real plate.

A read that fits no layout is probably a misread; the share that fits is a cheap, plate-free
quality figure per camera and day. Layouts are written without separators, as read.
"""

from __future__ import annotations

import re

_L = "[BDFGHJKLNPRSTVXZ]"  # letters issued on current Dutch plates
_NL = [
    rf"{_L}{{2}}\d{{2}}\d{{2}}", rf"\d{{2}}\d{{2}}{_L}{{2}}", rf"\d{{2}}{_L}{{2}}\d{{2}}",
    rf"{_L}{{2}}\d{{2}}{_L}{{2}}", rf"{_L}{{2}}{_L}{{2}}\d{{2}}", rf"\d{{2}}{_L}{{2}}{_L}{{2}}",
    rf"\d{{2}}{_L}{{3}}\d", rf"\d{_L}{{3}}\d{{2}}", rf"{_L}{{2}}\d{{3}}{_L}",
    rf"{_L}\d{{3}}{_L}{{2}}", rf"{_L}{{3}}\d{{2}}{_L}", rf"{_L}\d{{2}}{_L}{{3}}",
    rf"\d{_L}{{2}}\d{{3}}", rf"\d{{3}}{_L}{{2}}\d",
]  # fmt: skip

LAYOUTS: dict[str, list[re.Pattern[str]]] = {
    "NL": [re.compile(p) for p in _NL],
    "BE": [re.compile(r"[12]?[A-Z]{3}\d{3}"), re.compile(r"\d[A-Z]{3}\d{3}")],
    "DE": [re.compile(r"[A-Z]{1,3}[A-Z]{1,2}\d{1,4}[EH]?")],
    "FR": [re.compile(r"[A-Z]{2}\d{3}[A-Z]{2}")],
    "PL": [re.compile(r"[A-Z]{2,3}[A-Z0-9]{4,5}")],
    "ES": [re.compile(r"\d{4}[BCDFGHJKLMNPRSTVWXYZ]{3}")],
    "CZ": [re.compile(r"\d[A-Z]\d{5}"), re.compile(r"\d[A-Z]{2}\d{4}")],
    "SK": [re.compile(r"[A-Z]{2}\d{3}[A-Z]{2}")],
}


def matches_layout(plate: str, country: str) -> bool:
    """Does the plate fit a layout of its country (or of any known country when unknown)?"""
    candidates = LAYOUTS.get(country) if country else None
    if candidates is None:
        candidates = [p for patterns in LAYOUTS.values() for p in patterns]
    return any(pattern.fullmatch(plate) for pattern in candidates)
