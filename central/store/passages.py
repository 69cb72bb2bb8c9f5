"""The passage store: accepted passages with their signed bytes and images.

Reads are immutable: there is no update path. A passage is keyed by (camera, sequence
number); the SHA-256 of its signed canonical bytes tells an honest resend (same bytes,
stored once) from a conflicting record under a used number (an integrity alarm).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from central.store.migrations import apply_migrations, connect
from wire import Passage, Verified
from wire.fields import format_timestamp

MIGRATIONS = [
    (
        "0001_passages",
        """
        CREATE TABLE passages (
            camera_id        TEXT NOT NULL,
            seq              INTEGER NOT NULL,
            captured_at      TEXT NOT NULL,
            received_at      TEXT NOT NULL,
            plate            TEXT NOT NULL,
            country          TEXT NOT NULL,
            confidence_pm    INTEGER NOT NULL,
            lat_e7           INTEGER NOT NULL,
            lon_e7           INTEGER NOT NULL,
            direction        TEXT NOT NULL,
            lane             INTEGER NOT NULL,
            record_sha256    TEXT NOT NULL,
            record           BLOB NOT NULL,
            signature        BLOB NOT NULL,
            crop_jpeg        BLOB NOT NULL,
            overview_jpeg    BLOB NOT NULL,
            PRIMARY KEY (camera_id, seq)
        ) WITHOUT ROWID;
        CREATE INDEX passages_camera_time ON passages (camera_id, captured_at);
        CREATE INDEX passages_plate_time ON passages (plate, captured_at);
        CREATE INDEX passages_time ON passages (captured_at)
        """,
    ),
]


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


_SUMMARY_COLUMNS = (
    "camera_id, seq, captured_at, received_at, plate, country, confidence_pm, "
    "lat_e7, lon_e7, direction, lane"
)


class PassageStore:
    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = connect(path, readonly=readonly)
        if not readonly:
            apply_migrations(self.db, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def insert_batch(
        self, verified: Iterable[Verified[Passage]], received_at: datetime
    ) -> list[Outcome]:
        """Store a batch in one transaction; the outcome per record, in order."""
        outcomes = []
        received = format_timestamp(received_at)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for item in verified:
                outcomes.append(self._insert_one(item, received))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return outcomes

    def _insert_one(self, item: Verified[Passage], received: str) -> Outcome:
        passage = item.record
        digest = hashlib.sha256(item.canonical).hexdigest()
        existing = self.db.execute(
            "SELECT record_sha256 FROM passages WHERE camera_id = ? AND seq = ?",
            (passage.camera_id, passage.seq),
        ).fetchone()
        if existing is not None:
            return Outcome.DUPLICATE if existing[0] == digest else Outcome.CONFLICT
        self.db.execute(
            "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                passage.camera_id,
                passage.seq,
                format_timestamp(passage.captured_at),
                received,
                passage.plate,
                passage.country,
                passage.confidence_pm,
                passage.lat_e7,
                passage.lon_e7,
                passage.direction,
                passage.lane,
                digest,
                item.canonical,
                item.signature,
                passage.crop_jpeg,
                passage.overview_jpeg,
            ),
        )
        return Outcome.STORED

    def recent(self, camera_id: str | None = None, limit: int = 50) -> list[StoredPassage]:
        if camera_id is None:
            rows = self.db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM passages ORDER BY captured_at DESC LIMIT ?",
                (limit,),
            )
        else:
            rows = self.db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM passages WHERE camera_id = ? "
                "ORDER BY captured_at DESC, seq DESC LIMIT ?",
                (camera_id, limit),
            )
        return [StoredPassage(*row) for row in rows]

    def image(self, camera_id: str, seq: int, which: str) -> bytes | None:
        column = {"crop": "crop_jpeg", "overview": "overview_jpeg"}[which]
        row = self.db.execute(
            f"SELECT {column} FROM passages WHERE camera_id = ? AND seq = ?", (camera_id, seq)
        ).fetchone()
        return None if row is None else row[0]

    def count(self, camera_id: str | None = None) -> int:
        if camera_id is None:
            return self.db.execute("SELECT count(*) FROM passages").fetchone()[0]
        return self.db.execute(
            "SELECT count(*) FROM passages WHERE camera_id = ?", (camera_id,)
        ).fetchone()[0]

    def seqs(self, camera_id: str) -> list[int]:
        rows = self.db.execute(
            "SELECT seq FROM passages WHERE camera_id = ? ORDER BY seq", (camera_id,)
        )
        return [row[0] for row in rows]
