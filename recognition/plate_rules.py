"""Per-camera plate rules: which countries' layouts a camera expects to see.

A camera on a Dutch motorway sees Dutch, Belgian and German plates mostly. A read that fits
none of its expected layouts is more likely a misread: it is kept only when the reader is
very sure of it (and counted either way). A read without a country gets one when its plate
fits the layouts of exactly one expected country. Nothing is invented: characters are
never changed here.
"""

from __future__ import annotations

from dataclasses import replace

from recognition.plate_formats import countries_matching
from recognition.recognizer import Read

SURE = 0.90


def apply_plate_rules(reads: list[Read], countries: tuple[str, ...]) -> tuple[list[Read], int]:
    """(reads kept, number dropped as off-format)."""
    if not countries:
        return reads, 0
    kept, dropped = [], 0
    for read in reads:
        fitting = [c for c in countries_matching(read.plate) if c in countries]
        if not fitting and read.confidence < SURE:
            dropped += 1
            continue
        if not read.country and len(fitting) == 1:
            read = replace(read, country=fitting[0])
        kept.append(read)
    return kept, dropped
