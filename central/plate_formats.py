"""Whether a read looks like a real plate of its country: a cheap, plate-free quality figure.

The layouts themselves live once, in `recognition/plate_formats.py`, beside the reader that uses
them to name a country; the central asks the same table.
"""

from __future__ import annotations

from recognition.plate_formats import countries_matching


def matches_layout(plate: str, country: str) -> bool:
    """Does the plate fit a layout of its country (or of any known country when unknown)?"""
    matching = countries_matching(plate)
    return country in matching if country else bool(matching)
