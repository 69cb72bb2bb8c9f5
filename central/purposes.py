"""Which purposes each camera serves, with owner, legal basis and validity (issue: one camera,
separate purposes).

A road authority's camera may count traffic for research and, with its own legal basis,
feed hotlist matching and, when in the camera plan, the 28-day store. Each purpose is
recorded here with who owns it, on what basis and for which period, so that anyone can see
why a camera's data goes where it goes. The 28-day store's own gate stays the camera plan
(designations); hotlist matching runs for every camera by law; the research purpose's data
never reaches this side at all (it goes to `anpr-research`). The unit's configuration
carries the same purposes and emits for each only what that purpose may receive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wire.fields import format_timestamp

PURPOSES = {
    "traffic_research": "pseudonymised counts and travel times (anpr-research)",
    "hotlist": "comparison with approved hotlists (alerts)",
    "store_28_days": "the 28-day store under art. 126jj Sv (also needs the camera plan)",
}
MIGRATIONS = [
    (
        "0002_camera_purposes",
        """
        CREATE TABLE camera_purposes (
            id          INTEGER PRIMARY KEY,
            camera_id   TEXT NOT NULL REFERENCES cameras (camera_id),
            purpose     TEXT NOT NULL,
            owner       TEXT NOT NULL,
            legal_basis TEXT NOT NULL,
            valid_from  TEXT NOT NULL,
            valid_until TEXT,
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL
        )
        """,
    ),
]


class PurposeError(Exception):
    """A purpose cannot be recorded as asked."""


@dataclass(frozen=True)
class Purpose:
    camera_id: str
    purpose: str
    owner: str
    legal_basis: str
    valid_from: str
    valid_until: str | None

    def valid_at(self, moment: datetime) -> bool:
        stamp = format_timestamp(moment)
        return self.valid_from <= stamp and (self.valid_until is None or stamp < self.valid_until)


class CameraPurposes:
    def __init__(self, db) -> None:
        """`db`: the camera registry's connection (its file, or its PostgreSQL schema)."""
        self.db = db

    def record(
        self, camera_id: str, purpose: str, owner: str, legal_basis: str,
        valid_from: datetime, valid_until: datetime | None, by: str, now: datetime,
    ) -> None:  # fmt: skip
        if purpose not in PURPOSES:
            raise PurposeError(f"purpose {purpose!r}: one of {', '.join(PURPOSES)}")
        if not owner.strip() or not legal_basis.strip():
            raise PurposeError("a purpose needs its owner and its legal basis")
        if valid_until is not None and valid_until <= valid_from:
            raise PurposeError("a purpose ends after it starts")
        if self.db.execute("SELECT 1 FROM cameras WHERE camera_id = ?", (camera_id,)).fetchone() \
                is None:  # fmt: skip
            raise PurposeError(f"camera {camera_id} is not registered")
        self.db.execute(
            "INSERT INTO camera_purposes (camera_id, purpose, owner, legal_basis, valid_from,"
            " valid_until, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (camera_id, purpose, owner, legal_basis, format_timestamp(valid_from),
             format_timestamp(valid_until) if valid_until else None, format_timestamp(now), by),
        )  # fmt: skip

    def of(self, camera_id: str) -> list[Purpose]:
        rows = self.db.execute(
            "SELECT camera_id, purpose, owner, legal_basis, valid_from, valid_until "
            "FROM camera_purposes WHERE camera_id = ? ORDER BY purpose, valid_from",
            (camera_id,),
        )
        return [Purpose(*row) for row in rows]

    def serving(self, camera_id: str, moment: datetime) -> set[str]:
        return {p.purpose for p in self.of(camera_id) if p.valid_at(moment)}
