"""The calamity buffer (calamity.sqlite): every passage of the last 3 hours, from every
camera (plan, mobile and others), kept apart from the 28-day store.

Normally the buffer rolls: what was captured more than 3 hours ago is deleted. When a
calamity is declared (a very serious, acute and real threat; by a calamity coordinator,
with the reason and the authorising chief prosecutor recorded), the 3 hours before the
declaration are frozen and every new passage is kept until the calamity ends; ending it
destroys them all. The frozen data is read only through `search` and `image`, which enter
each consultation in the audit trail; the 28-day searches never open this file.

Which passages are kept is decided inside SQLite, in the same statement or write
transaction as the change, so that a declaration racing with ingest or with pruning cannot
lose a passage of the frozen window nor keep one outside it:

- no calamity: passages captured at or after `now - 3 h` and after the last calamity ended;
- during a calamity: passages captured at or after `declared_at - 3 h`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from central import audit, audit_trails
from central.databases import StoreLocation, open_database
from wire import Passage
from wire.fields import format_timestamp

log = logging.getLogger("central.calamity")
WINDOW = timedelta(hours=3)
MAX_RESULTS = 500
MIGRATIONS = [
    (
        "0001_calamity",
        """
        CREATE TABLE calamities (
            calamity_id      INTEGER PRIMARY KEY,
            declared_at      TEXT NOT NULL,
            declared_by      TEXT NOT NULL,
            reason           TEXT NOT NULL,
            chief_prosecutor TEXT NOT NULL,
            keeps_from       TEXT NOT NULL,
            ended_at         TEXT,
            ended_by         TEXT,
            end_reason       TEXT,
            destroyed        INTEGER
        );
        CREATE UNIQUE INDEX one_active ON calamities ((ended_at IS NULL)) WHERE ended_at IS NULL;
        CREATE TABLE passages (
            id           INTEGER PRIMARY KEY,
            camera_id    TEXT NOT NULL,
            seq          INTEGER NOT NULL,
            captured_at  TEXT NOT NULL,
            plate        TEXT NOT NULL,
            country      TEXT NOT NULL,
            lat_e7       INTEGER NOT NULL,
            lon_e7       INTEGER NOT NULL,
            direction    TEXT NOT NULL,
            crop         BLOB NOT NULL,
            overview     BLOB NOT NULL,
            UNIQUE (camera_id, seq)
        );
        CREATE INDEX passages_captured ON passages (captured_at);
        CREATE INDEX passages_plate ON passages (plate)
        """,
    ),
]
# The earliest capture time kept, given the rolling cutoff as parameter :rolling: the
# later of the rolling cutoff and the last end (a CASE, as SQLite's scalar max() is
# PostgreSQL's greatest()).
_LAST_END = "coalesce((SELECT max(ended_at) FROM calamities), '')"
_KEEPS_FROM = (
    "coalesce((SELECT keeps_from FROM calamities WHERE ended_at IS NULL), "
    f"CASE WHEN :rolling >= {_LAST_END} THEN :rolling ELSE {_LAST_END} END)"
)
_PUBLIC = ("calamity_id", "declared_at", "declared_by", "reason", "chief_prosecutor",
           "keeps_from", "ended_at", "ended_by", "end_reason", "destroyed")  # fmt: skip


class CalamityError(Exception):
    """A calamity action the rules do not allow (the message says what to do instead)."""


@dataclass(frozen=True)
class Query:
    """A consultation as entered: a plate (exact, or with ? and * wildcards), a camera,
    a capture-time window; any may be left empty."""

    plate: str = ""
    camera_id: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def as_entered(self) -> dict:
        return {
            "plate": self.plate,
            "camera_id": self.camera_id,
            "since": format_timestamp(self.since) if self.since else "",
            "until": format_timestamp(self.until) if self.until else "",
        }


class CalamityBuffer:
    def __init__(
        self, path: StoreLocation, audit_path: Path | None = None,
        audit_anchor_dir: Path | None = None, audit_config=None,
    ) -> None:  # fmt: skip
        """Actions are logged to the SQLite trail at `audit_path`, or to the trail a
        CentralConfig names (`audit_config`: either backend, `audit_trails.open_audit_trail`)."""
        self.db = open_database(path, MIGRATIONS)
        self.audit_path = audit_path
        self.audit_anchor_dir = audit_anchor_dir
        self.audit_config = audit_config

    def close(self) -> None:
        self.db.close()

    def add(self, passage: Passage, now: datetime) -> bool:
        """Buffer one passage unless it falls outside what may be kept; True if added."""
        return self.add_many([passage], now) == 1

    def add_many(self, passages: list[Passage], now: datetime) -> int:
        """Buffer a batch in one transaction (ingest's pace); returns how many were kept."""
        rolling = format_timestamp(now - WINDOW)
        rows = [
            {"camera": p.camera_id, "seq": p.seq, "captured": format_timestamp(p.captured_at),
             "plate": p.plate, "country": p.country, "lat": p.lat_e7, "lon": p.lon_e7,
             "direction": p.direction, "crop": p.crop_jpeg, "overview": p.overview_jpeg,
             "rolling": rolling}
            for p in passages
        ]  # fmt: skip
        self.db.execute("BEGIN IMMEDIATE")
        try:
            # rowcount: the rows inserted by all of them, on either driver.
            added = self.db.executemany(
                "INSERT OR IGNORE INTO passages (camera_id, seq, captured_at, plate, country, "
                "lat_e7, lon_e7, direction, crop, overview) "
                "SELECT :camera, :seq, :captured, :plate, :country, :lat, :lon, :direction, "
                f":crop, :overview WHERE :captured >= {_KEEPS_FROM}",
                rows,
            ).rowcount
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return added

    def prune(self, now: datetime) -> int:
        """Delete what may no longer be kept (rolling: older than 3 h); returns the count."""
        removed = self.db.execute(
            f"DELETE FROM passages WHERE captured_at < {_KEEPS_FROM}",
            {"rolling": format_timestamp(now - WINDOW)},
        ).rowcount
        if removed:
            self._shred()
            log.debug("calamity buffer: %d passages rolled out", removed)
        return removed

    def _shred(self) -> None:
        # secure_delete zeroes freed pages; the checkpoint removes the old pages' copies
        # from the write-ahead log.
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def active(self) -> dict | None:
        row = self.db.execute(
            f"SELECT {', '.join(_PUBLIC)} FROM calamities WHERE ended_at IS NULL"
        ).fetchone()
        return dict(zip(_PUBLIC, row, strict=True)) if row else None

    def history(self, limit: int = 20) -> list[dict]:
        rows = self.db.execute(
            f"SELECT {', '.join(_PUBLIC)} FROM calamities ORDER BY calamity_id DESC LIMIT ?",
            (limit,),
        )
        return [dict(zip(_PUBLIC, row, strict=True)) for row in rows]

    def buffered(self) -> tuple[int, str | None]:
        """How many passages the buffer holds, and the oldest capture time (no plates)."""
        count, oldest = self.db.execute(
            "SELECT count(*), min(captured_at) FROM passages"
        ).fetchone()
        return count, oldest

    def declare(self, by: str, reason: str, chief_prosecutor: str, now: datetime) -> int:
        """Freeze the 3 hours before `now` and keep every new passage until the end."""
        if not reason.strip():
            raise CalamityError("state the reason: the very serious, acute and real threat")
        if not chief_prosecutor.strip():
            raise CalamityError("name the chief prosecutor who authorised the declaration")
        self._need_audit()
        keeps_from = format_timestamp(now - WINDOW)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if (current := self.active()) is not None:
                raise CalamityError(
                    f"calamity {current['calamity_id']} is in force since "
                    f"{current['declared_at']}; end it before declaring another"
                )
            calamity_id = self.db.execute(
                "INSERT INTO calamities (declared_at, declared_by, reason, chief_prosecutor, "
                "keeps_from) VALUES (?, ?, ?, ?, ?) RETURNING calamity_id",
                (format_timestamp(now), by, reason, chief_prosecutor, keeps_from),
            ).fetchone()[0]
            self.db.execute("DELETE FROM passages WHERE captured_at < ?", (keeps_from,))
            frozen = self.db.execute("SELECT count(*) FROM passages").fetchone()[0]
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._shred()
        details = {"calamity_id": calamity_id, "reason": reason,
                   "chief_prosecutor": chief_prosecutor, "keeps_from": keeps_from,
                   "frozen_passages": frozen}  # fmt: skip
        self._audit(by, "calamity_declared", details, now)
        log.warning(
            "CALAMITY %d declared by %s (chief prosecutor %s): %d passages frozen from %s",
            calamity_id, by, chief_prosecutor, frozen, keeps_from,
        )  # fmt: skip
        return calamity_id

    def end(self, by: str, reason: str, now: datetime) -> int:
        """End the calamity and destroy every passage it kept; returns how many."""
        if not reason.strip():
            raise CalamityError("state why the calamity is over")
        self._need_audit()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            current = self.active()
            if current is None:
                raise CalamityError("no calamity is in force")
            destroyed = self.db.execute("DELETE FROM passages").rowcount
            self.db.execute(
                "UPDATE calamities SET ended_at = ?, ended_by = ?, end_reason = ?, destroyed = ? "
                "WHERE calamity_id = ?",
                (format_timestamp(now), by, reason, destroyed, current["calamity_id"]),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._shred()
        self.db.execute("VACUUM")
        details = {"calamity_id": current["calamity_id"], "reason": reason,
                   "destroyed_passages": destroyed}  # fmt: skip
        self._audit(by, "calamity_ended", details, now)
        log.warning(
            "CALAMITY %d ended by %s: %d passages destroyed",
            current["calamity_id"], by, destroyed,
        )  # fmt: skip
        return destroyed

    def search(self, by: str, query: Query, now: datetime) -> list[dict]:
        """Consult the frozen passages (only during a calamity); logged in the audit trail
        with the query as entered and what was supplied, "nothing found" included."""
        self._need_audit()
        current = self._require_active()
        sql = ("SELECT id, camera_id, seq, captured_at, plate, country, lat_e7, lon_e7, "
               "direction FROM passages WHERE 1 = 1")  # fmt: skip
        params: list = []
        if query.plate:
            plate = query.plate.upper()  # plates are read in capitals: [A-Z0-9]
            if "*" in plate or "?" in plate:
                # * and ? are the only wildcards; anything else is itself, with the same
                # escape character on both backends (PostgreSQL's default is \, SQLite's none).
                literal = plate.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                sql += " AND plate LIKE ? ESCAPE '\\'"
                params.append(literal.replace("*", "%").replace("?", "_"))
            else:
                sql += " AND plate = ?"
                params.append(plate)
        if query.camera_id:
            sql += " AND camera_id = ?"
            params.append(query.camera_id)
        if query.since:
            sql += " AND captured_at >= ?"
            params.append(format_timestamp(query.since))
        if query.until:
            sql += " AND captured_at < ?"
            params.append(format_timestamp(query.until))
        rows = self.db.execute(sql + " ORDER BY captured_at LIMIT ?", (*params, MAX_RESULTS))
        keys = ("id", "camera_id", "seq", "captured_at", "plate", "country", "lat_e7",
                "lon_e7", "direction")  # fmt: skip
        found = [dict(zip(keys, row, strict=True)) for row in rows]
        details = {"calamity_id": current["calamity_id"], "query": query.as_entered(),
                   "supplied": len(found) or "nothing found"}  # fmt: skip
        self._audit(by, "calamity_consulted", details, now)
        log.info("calamity %d consulted by %s: %d passages supplied",
                 current["calamity_id"], by, len(found))  # fmt: skip
        return found

    def image(self, by: str, passage_id: int, which: str, now: datetime) -> bytes | None:
        """One frozen passage's crop or overview (unblurred: the threat is acute); logged."""
        if which not in ("crop", "overview"):
            raise CalamityError("an image is the crop or the overview")
        self._need_audit()
        current = self._require_active()
        row = self.db.execute(
            f"SELECT {which} FROM passages WHERE id = ?", (passage_id,)
        ).fetchone()
        details = {"calamity_id": current["calamity_id"], "passage": passage_id,
                   "image": which, "supplied": row is not None}  # fmt: skip
        self._audit(by, "calamity_image_viewed", details, now)
        return row[0] if row else None

    def _require_active(self) -> dict:
        current = self.active()
        if current is None:
            raise CalamityError(
                "the calamity buffer is consulted only while a calamity is in force"
            )
        return current

    def _need_audit(self) -> None:
        if self.audit_path is None and self.audit_config is None:
            raise CalamityError("calamity actions are logged: open the buffer with audit_path")

    def _audit(self, actor: str, action: str, details: dict, now: datetime) -> None:
        if self.audit_config is not None:
            audit_trails.record_in(self.audit_config, actor, action, details, now)
            return
        assert self.audit_path is not None  # checked by _need_audit before any change
        audit.record(self.audit_path, actor, action, details, now, self.audit_anchor_dir)
