"""What the store hands out, and the outcome of storing: plain values, no database handles."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields


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


# The columns of a stored passage, named once: the day files' `passages` table and the
# officers' saved result rows are both made from this list.
# Field types are the annotations' text (this module postpones their evaluation).
_SQL_TYPES = {"str": "TEXT", "int": "INTEGER"}
SUMMARY_FIELDS = tuple(f.name for f in fields(StoredPassage))
SUMMARY_COLUMNS = ", ".join(SUMMARY_FIELDS)


def summary_columns_sql(indent: str = "            ") -> str:
    """`name TYPE NOT NULL,` lines for a CREATE TABLE holding a stored passage's fields."""
    return "\n".join(
        f"{indent}{f.name:<16} {_SQL_TYPES[f.type]} NOT NULL," for f in fields(StoredPassage)
    )
