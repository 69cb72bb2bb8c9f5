"""The camera plan's records, and the rules for changing them.

Every change names who made it and is logged. Entries can only be added to a draft; a
version is ratified only when every entry's motivation is signed by a prosecutor; fixed
cameras therefore enter the 28-day store only through a ratified version. After each change
that affects storage, the camera's effective designations are recomputed.

A signature is an act of a prosecutor's account (a web session, or a confirmation with
password and second factor on the command line), never a typed name. It records the
account, the name it signs with and the digest of the motivation as the signer saw it, and
goes into the audit trail. Revising a signed motivation voids its signature (a trigger
refuses any other change of it), and ratification checks every digest again; once ratified,
a plan's entries cannot change at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from central.accounts.users import Identity
from central.audit import AuditTrail
from central.cameras import CameraRegistry
from central.databases import StoreLocation, open_database
from central.periods import storage_periods, year_bounds
from central.plan.schema import MIGRATIONS
from node import wallclock
from wire.fields import CAMERA_ID, DIRECTIONS, format_timestamp

ACCEPTANCE_FLOOR = 0.90  # the law's duty: at least 90 % of reads correct
KINDS = ("fixed", "mobile", "third_party")
CRITERIA = {
    "a": "risk location",
    "b": "intensive traffic or special function",
    "c": "known crime location",
}
SIGNER_ROLE = "prosecutor"


class PlanError(Exception):
    """A change the camera plan's rules do not allow; the message says why."""


@dataclass(frozen=True)
class Entry:
    year: int
    camera_id: str
    kind: str
    owner: str
    controller: str
    section_id: str | None
    lat_e7: int
    lon_e7: int
    road: str
    direction: str
    lane: int
    criterion: str
    motivation: str
    signed_by: str | None
    signed_at: str | None
    signer_name: str | None = None
    motivation_sha256: str | None = None

    @property
    def signed(self) -> bool:
        """Signed, and signed for the motivation it holds now."""
        return self.signed_by is not None and self.motivation_sha256 == motivation_digest(
            self.motivation
        )


_ENTRY_COLUMNS = (
    "year, camera_id, kind, owner, controller, section_id, lat_e7, lon_e7, road, direction, "
    "lane, criterion, motivation, signed_by, signed_at, signer_name, motivation_sha256"
)
_ADDED_COLUMNS = _ENTRY_COLUMNS.split(", signed_by")[0] + ", added_by"


def motivation_digest(motivation: str) -> str:
    """What a signature covers: the motivation's exact text (SHA-256 of its UTF-8)."""
    return hashlib.sha256(motivation.encode()).hexdigest()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


class CameraPlan:
    def __init__(self, path: StoreLocation, cameras: CameraRegistry) -> None:
        self.db = open_database(path, MIGRATIONS)
        self.cameras = cameras

    def close(self) -> None:
        self.db.close()

    def _log(self, actor: str, what: str, now: datetime) -> None:
        if not actor.strip():
            raise PlanError("every change to the plan names who makes it")
        self.db.execute(
            "INSERT INTO changes (at, actor, what) VALUES (?, ?, ?)",
            (format_timestamp(now), actor, what),
        )

    # --- versions ------------------------------------------------------------------------

    def draft(self, year: int, by: str, now: datetime) -> None:
        if self.version(year) is not None:
            raise PlanError(f"the {year} plan already exists")
        self.db.execute(
            "INSERT INTO versions (year, state, drafted_by, drafted_at) VALUES (?, 'draft', ?, ?)",
            (year, by, format_timestamp(now)),
        )
        self._log(by, f"drafted plan {year}", now)

    def version(self, year: int) -> dict | None:
        row = self.db.execute(
            "SELECT year, state, drafted_by, drafted_at, ratified_by, ratified_at, published_at "
            "FROM versions WHERE year = ?",
            (year,),
        ).fetchone()
        keys = ("year", "state", "drafted_by", "drafted_at", "ratified_by", "ratified_at",
                "published_at")  # fmt: skip
        return None if row is None else dict(zip(keys, row, strict=True))

    def versions(self) -> list[dict]:
        years = [r[0] for r in self.db.execute("SELECT year FROM versions ORDER BY year")]
        return [self.version(year) for year in years]

    def ratify(self, year: int, by: str, now: datetime) -> None:
        version = self._require_state(year, "draft")
        unsigned = [e.camera_id for e in self.entries(year) if not e.signed]
        if unsigned:
            raise PlanError(f"motivations not signed by a prosecutor: {', '.join(unsigned)}")
        if not self.entries(year):
            raise PlanError(f"the {year} plan names no cameras")
        self.db.execute(
            "UPDATE versions SET state = 'ratified', ratified_by = ?, ratified_at = ? "
            "WHERE year = ?",
            (by, format_timestamp(now), version["year"]),
        )
        self._log(by, f"ratified plan {year}", now)
        for entry in self.entries(year):
            self.recompute(entry.camera_id, now)

    def publish(self, year: int, by: str, now: datetime) -> None:
        self._require_state(year, "ratified")
        self.db.execute(
            "UPDATE versions SET state = 'published', published_at = ? WHERE year = ?",
            (format_timestamp(now), year),
        )
        self._log(by, f"published plan {year}", now)

    def _require_state(self, year: int, state: str) -> dict:
        version = self.version(year)
        if version is None:
            raise PlanError(f"there is no {year} plan; draft it first")
        if version["state"] != state:
            raise PlanError(f"the {year} plan is {version['state']}, not {state}")
        return version

    # --- locations -----------------------------------------------------------------------

    def add_location(
        self, location_id: str, name: str, road: str, lat: float, lon: float, by: str,
        now: datetime,
    ) -> None:  # fmt: skip
        self.db.execute(
            "INSERT INTO locations VALUES (?, ?, ?, ?, ?)",
            (location_id, name, road, round(lat * 1e7), round(lon * 1e7)),
        )
        self._log(by, f"added location {location_id} ({name})", now)

    def add_section(
        self, section_id: str, location_id: str, name: str, direction: str, by: str,
        now: datetime,
    ) -> None:  # fmt: skip
        if direction not in DIRECTIONS:
            raise PlanError(f"direction must be one of {', '.join(DIRECTIONS)}")
        if (
            self.db.execute(
                "SELECT 1 FROM locations WHERE location_id = ?", (location_id,)
            ).fetchone()
            is None
        ):
            raise PlanError(f"no location {location_id}")
        self.db.execute(
            "INSERT INTO sections VALUES (?, ?, ?, ?)", (section_id, location_id, name, direction)
        )
        self._log(by, f"added section {section_id} ({name}) to {location_id}", now)

    def locations(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT l.location_id, l.name, l.road, l.lat_e7, l.lon_e7, s.section_id, s.name, "
            "s.direction FROM locations l LEFT JOIN sections s USING (location_id) "
            "ORDER BY l.location_id, s.section_id"
        )
        result: dict[str, dict] = {}
        for lid, name, road, lat, lon, sid, sname, direction in rows:
            location = result.setdefault(
                lid, {"location_id": lid, "name": name, "road": road, "lat": lat / 1e7,
                      "lon": lon / 1e7, "sections": []},
            )  # fmt: skip
            if sid:
                location["sections"].append(
                    {"section_id": sid, "name": sname, "direction": direction}
                )
        return list(result.values())

    def cameras_in_section(self, section_id: str, year: int) -> list[str]:
        rows = self.db.execute(
            "SELECT camera_id FROM entries WHERE section_id = ? AND year = ? ORDER BY camera_id",
            (section_id, year),
        )
        return [row[0] for row in rows]

    # --- entries -------------------------------------------------------------------------

    def add_entry(self, entry: Entry, by: str, now: datetime) -> None:
        self._require_state(entry.year, "draft")
        if not CAMERA_ID.fullmatch(entry.camera_id):
            raise PlanError(f"camera id {entry.camera_id!r} is not valid")
        if entry.kind not in KINDS:
            raise PlanError(f"kind must be one of {', '.join(KINDS)}")
        if entry.criterion not in CRITERIA:
            raise PlanError("criterion must be a (risk location), b (intensive traffic or "
                            "special function) or c (known crime location)")  # fmt: skip
        if len(entry.motivation.strip()) < 20:
            raise PlanError("the written motivation is part of the plan: write it out")
        if entry.direction not in DIRECTIONS:
            raise PlanError(f"direction must be one of {', '.join(DIRECTIONS)}")
        columns = [c.strip() for c in _ADDED_COLUMNS.split(",")]
        values = [getattr(entry, c) for c in columns[:-1]] + [by]
        self.db.execute(
            f"INSERT INTO entries ({_ADDED_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
            values,
        )
        self._log(by, f"added {entry.kind} camera {entry.camera_id} to plan {entry.year} "
                      f"(criterion {entry.criterion})", now)  # fmt: skip

    def sign(
        self, year: int, camera_id: str, signer: Identity, shown_sha256: str, audit: AuditTrail,
        now: datetime,
    ) -> None:  # fmt: skip
        """The prosecutor `signer` signs the motivation they were shown (`shown_sha256`, so a
        text revised in between is not signed unseen). The signature and its audit entry are
        written together: the plan holds no signature the trail lacks."""
        entry = self._signable(year, camera_id, signer, shown_sha256)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "UPDATE entries SET signed_by = ?, signer_name = ?, signed_at = ?, "
                "motivation_sha256 = ? WHERE year = ? AND camera_id = ?",
                (signer.username, signer.full_name, format_timestamp(now), shown_sha256, year,
                 camera_id),
            )  # fmt: skip
            self._log(signer.username, f"signed the motivation of {camera_id} in plan {year}", now)
            details = {"year": year, "camera_id": camera_id, "criterion": entry.criterion,
                       "motivation_sha256": shown_sha256,
                       "signer_name": signer.full_name}  # fmt: skip
            audit.append(signer.username, "plan_motivation_signed", details, now)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _signable(self, year: int, camera_id: str, signer: Identity, shown_sha256: str) -> Entry:
        """The entry, when `signer` may sign it as shown; PlanError says why not."""
        self._require_state(year, "draft")
        entry = self.entry(year, camera_id)
        if entry is None:
            raise PlanError(f"camera {camera_id} is not in the {year} plan")
        if SIGNER_ROLE not in signer.roles:
            raise PlanError(f"{signer.username} is not a prosecutor: only a prosecutor signs")
        if "plan_admin" in signer.roles or signer.username == self._added_by(year, camera_id):
            raise PlanError(f"{signer.username} administers the plan: a motivation is signed "
                            "by a prosecutor who did not write it")  # fmt: skip
        if entry.signed_by is not None:
            raise PlanError(f"the motivation of {camera_id} is signed by {entry.signer_name}")
        if shown_sha256 != motivation_digest(entry.motivation):
            raise PlanError(f"the motivation of {camera_id} changed since it was shown to you: "
                            "read it again before signing")  # fmt: skip
        return entry

    def _added_by(self, year: int, camera_id: str) -> str:
        row = self.db.execute(
            "SELECT added_by FROM entries WHERE year = ? AND camera_id = ?", (year, camera_id)
        ).fetchone()
        return row[0] if row else ""

    def revise(
        self, year: int, camera_id: str, motivation: str, by: str, audit: AuditTrail,
        now: datetime,
    ) -> None:  # fmt: skip
        """Rewrite a draft entry's motivation; a signature it had is void and must be given
        again (the trail records the revision, with both digests)."""
        self._require_state(year, "draft")
        entry = self.entry(year, camera_id)
        if entry is None:
            raise PlanError(f"camera {camera_id} is not in the {year} plan")
        if len(motivation.strip()) < 20:
            raise PlanError("the written motivation is part of the plan: write it out")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "UPDATE entries SET motivation = ?, signed_by = NULL, signer_name = NULL, "
                "signed_at = NULL, motivation_sha256 = NULL WHERE year = ? AND camera_id = ?",
                (motivation, year, camera_id),
            )
            voided = f" (voids the signature of {entry.signer_name})" if entry.signed_by else ""
            self._log(by, f"revised the motivation of {camera_id} in plan {year}{voided}", now)
            details = {"year": year, "camera_id": camera_id,
                       "was_sha256": motivation_digest(entry.motivation),
                       "now_sha256": motivation_digest(motivation),
                       "voided_signature_of": entry.signed_by or ""}  # fmt: skip
            audit.append(by, "plan_motivation_revised", details, now)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def entry(self, year: int, camera_id: str) -> Entry | None:
        row = self.db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE year = ? AND camera_id = ?",
            (year, camera_id),
        ).fetchone()
        return None if row is None else Entry(*row)

    def entries(self, year: int) -> list[Entry]:
        rows = self.db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE year = ? ORDER BY kind, camera_id",
            (year,),
        )
        return [Entry(*row) for row in rows]

    # --- status, acceptance, deployments ---------------------------------------------------

    def set_status(
        self, camera_id: str, status: str, valid_from: datetime, reason: str, by: str,
        now: datetime,
    ) -> None:  # fmt: skip
        if status not in ("planned", "active", "suspended", "retired"):
            raise PlanError("status must be planned, active, suspended or retired")
        self.db.execute(
            "INSERT INTO statuses (camera_id, status, valid_from, reason) VALUES (?, ?, ?, ?)",
            (camera_id, status, format_timestamp(valid_from), reason),
        )
        self._log(by, f"{camera_id} {status} from {format_timestamp(valid_from)}: {reason}", now)
        self.recompute(camera_id, now)

    def statuses(self, camera_id: str) -> list[tuple[datetime, str]]:
        rows = self.db.execute(
            "SELECT valid_from, status FROM statuses WHERE camera_id = ? ORDER BY valid_from, id",
            (camera_id,),
        )
        return [(_parse(r[0]), r[1]) for r in rows]

    def record_acceptance(
        self, camera_id: str, reads: int, correct: int, by: str, now: datetime
    ) -> bool:
        if reads < 1 or not 0 <= correct <= reads:
            raise PlanError("an acceptance test needs reads >= 1 and 0 <= correct <= reads")
        passed = correct / reads >= ACCEPTANCE_FLOOR
        self.db.execute(
            "INSERT INTO acceptance_tests (camera_id, tested_at, reads, correct, passed, "
            "tested_by) VALUES (?, ?, ?, ?, ?, ?)",
            (camera_id, format_timestamp(now), reads, correct, int(passed), by),
        )
        verdict = "passed" if passed else "FAILED"
        self._log(by, f"acceptance test of {camera_id}: {correct}/{reads} {verdict}", now)
        return passed

    def acceptance(self, camera_id: str) -> dict | None:
        row = self.db.execute(
            "SELECT tested_at, reads, correct, passed, tested_by FROM acceptance_tests "
            "WHERE camera_id = ? ORDER BY id DESC LIMIT 1",
            (camera_id,),
        ).fetchone()
        if row is None:
            return None
        return {"tested_at": row[0], "reads": row[1], "correct": row[2], "passed": bool(row[3]),
                "tested_by": row[4]}  # fmt: skip

    def deploy(
        self, year: int, camera_id: str, place: str, place_kind: str, lat: float, lon: float,
        starts: datetime, ends: datetime, reason: str, by: str, now: datetime,
    ) -> None:  # fmt: skip
        version = self.version(year)
        if version is None or version["state"] == "draft":
            raise PlanError(f"mobile deployments need a ratified {year} plan")
        entry = self.entry(year, camera_id)
        if entry is None or entry.kind != "mobile":
            raise PlanError(f"{camera_id} is not a mobile camera of the {year} plan")
        first, last = year_bounds(year)
        if not first <= starts < ends <= last:
            raise PlanError(f"a deployment must lie within {year} and end after it starts")
        if len(reason.strip()) < 10:
            raise PlanError("record why the mobile camera is deployed there")
        self.db.execute(
            "INSERT INTO deployments (year, camera_id, place, place_kind, lat_e7, lon_e7, "
            "starts_at, ends_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (year, camera_id, place, place_kind, round(lat * 1e7), round(lon * 1e7),
             format_timestamp(starts), format_timestamp(ends), reason),
        )  # fmt: skip
        self._log(by, f"deployed {camera_id} at {place} {format_timestamp(starts)} to "
                      f"{format_timestamp(ends)}", now)  # fmt: skip
        self.recompute(camera_id, now)

    def deployments(self, year: int) -> list[dict]:
        rows = self.db.execute(
            "SELECT camera_id, place, place_kind, lat_e7, lon_e7, starts_at, ends_at, reason "
            "FROM deployments WHERE year = ? ORDER BY starts_at",
            (year,),
        )
        keys = ("camera_id", "place", "place_kind", "lat_e7", "lon_e7", "starts_at", "ends_at",
                "reason")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def changes(self, limit: int = 200) -> list[dict]:
        rows = self.db.execute(
            "SELECT at, actor, what FROM changes ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [{"at": r[0], "actor": r[1], "what": r[2]} for r in rows]

    # --- what storage consults ------------------------------------------------------------

    def recompute(self, camera_id: str, now: datetime) -> None:
        """Write the camera's effective storage periods to the camera registry."""
        plan_periods, deployments = [], []
        for version in self.versions():
            if version["state"] == "draft":
                continue
            entry = self.entry(version["year"], camera_id)
            if entry is None:
                continue
            first, last = year_bounds(version["year"])
            if entry.kind == "mobile":
                deployments += [
                    (_parse(d["starts_at"]), _parse(d["ends_at"]))
                    for d in self.deployments(version["year"])
                    if d["camera_id"] == camera_id
                ]
            else:
                plan_periods.append((max(first, _parse(version["ratified_at"])), last))
        periods = storage_periods(plan_periods, deployments, self.statuses(camera_id))
        if self.cameras.get(camera_id) is not None:
            self.cameras.replace_plan_designations(camera_id, periods, now)

    def hotlist_only(self) -> list[str]:
        """Registered cameras in no plan: they may feed hotlists, never the 28-day store."""
        planned = {r[0] for r in self.db.execute("SELECT DISTINCT camera_id FROM entries")}
        return sorted(c.camera_id for c in self.cameras.all() if c.camera_id not in planned)


def now_utc() -> datetime:
    return wallclock.now()
