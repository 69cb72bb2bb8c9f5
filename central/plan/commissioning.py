"""Commissioning reports kept with the camera's plan entry (#22).

A unit's on-site self-test sends a report signed with the unit's key (`wire/commissioning.py`)
on `anpr/v1/<camera_id>/commissioning`. Ingest admits it (`central/ingest/commissioning.py`:
decoded, checked against the camera's registered keys) and keeps it here as signed
(canonical bytes, signature, aim snapshot) in the plan's store beside the camera's entry, so the
maintainer's pages can show it and check its signature again at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.cameras import Camera, CameraRegistry
from central.databases import StoreLocation, open_database
from central.plan.schema import MIGRATIONS
from wire import Verified, WireError
from wire.canonical import parse_json_object
from wire.commissioning import CommissioningReport
from wire.fields import format_timestamp


@dataclass(frozen=True)
class KeptReport:
    """A report as the central keeps it, with whether its signature holds now."""

    report: CommissioningReport
    received_at: str
    signature_holds: bool | None  # None: the signing key is no longer active for the camera

    @property
    def verdict(self) -> str:
        return self.report.verdict


class CommissioningReports:
    def __init__(self, path: StoreLocation) -> None:
        self.db = open_database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def keep(self, verified: Verified[CommissioningReport], received_at: datetime) -> bool:
        """Keep a verified report; False when this very report was kept before (resent)."""
        report = verified.record
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO commissioning_reports (camera_id, key_id, report_id, "
            "made_at, received_at, verdict, canonical, signature, snapshot) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (report.camera_id, report.key_id, report.report_id,
             format_timestamp(report.made_at), format_timestamp(received_at),
             report.verdict, verified.canonical, verified.signature,
             report.snapshot_jpeg),
        )  # fmt: skip
        return cursor.rowcount == 1

    def _rows(self, where: str, args: tuple, limit: int):
        return self.db.execute(
            "SELECT canonical, signature, snapshot, received_at, key_id, camera_id "
            f"FROM commissioning_reports WHERE {where} ORDER BY made_at DESC, id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()

    def history(
        self, camera_id: str, registry: CameraRegistry | None = None, limit: int = 10
    ) -> list[KeptReport]:
        """The camera's reports, newest first, each checked again against its key."""
        camera = registry.get(camera_id) if registry is not None else None
        return [_kept(row, camera) for row in self._rows("camera_id = ?", (camera_id,), limit)]

    def latest(self, camera_id: str, registry: CameraRegistry | None = None) -> KeptReport | None:
        found = self.history(camera_id, registry, 1)
        return found[0] if found else None

    def snapshot(self, camera_id: str) -> bytes | None:
        """The aim snapshot of the camera's latest report."""
        rows = self._rows("camera_id = ?", (camera_id,), 1)
        return bytes(rows[0][2]) if rows else None

    def verdicts(self) -> dict[str, str]:
        """Each camera's latest verdict (the map's popups)."""
        rows = self.db.execute(
            "SELECT camera_id, verdict FROM commissioning_reports AS r WHERE id = (SELECT id "
            "FROM commissioning_reports WHERE camera_id = r.camera_id ORDER BY made_at DESC, "
            "id DESC LIMIT 1)"
        ).fetchall()
        return dict(rows)


def _kept(row, camera: Camera | None) -> KeptReport:
    canonical, signature, snapshot, received_at, key_id, _ = row
    record = parse_json_object(bytes(canonical), "kept commissioning report")
    report = CommissioningReport.from_signed_fields(record, bytes(snapshot))
    key = camera.key(key_id) if camera is not None else None
    holds: bool | None = None
    if key is not None:
        try:
            key.verify(bytes(signature), bytes(canonical))
            holds = True
        except WireError:
            holds = False
    return KeptReport(report, received_at, holds)
