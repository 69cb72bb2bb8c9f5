"""What the store hands out, and the outcome of storing: plain values, no database handles."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    CONFLICT = "seq_conflict"


@dataclass(frozen=True)
class StoredPassage:
    camera_id: str
    seq: int
    captured_at: str
    received_at: str
    plate: str
    country: str
    confidence_pm: int
    lat_e7: int
    lon_e7: int
    direction: str
    lane: int


SUMMARY_COLUMNS = (
    "camera_id, seq, captured_at, received_at, plate, country, confidence_pm, "
    "lat_e7, lon_e7, direction, lane"
)
