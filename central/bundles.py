"""Making signed change bundles at the central, and the camera's change history.

A bundle is a zip: `manifest.json` (signed by the release key) and the files it names.
Every bundle made is recorded against the camera (or `*`), with maker and approver.

Maker and approver are two different people with accounts (#20): `anpr-central bundle-make`
confirms each with password and a fresh second-factor code before the release key signs;
the maker must hold MAKER_ROLE and the approver APPROVER_ROLE (technical supervision: the
people who answer for what runs on the units). The history is append-only, and marks the
bundles whose names were confirmed accounts (older ones carry typed names).
"""

from __future__ import annotations

import hashlib
import secrets
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from central.databases import Dialects, StoreLocation, open_database
from wire import SigningKey
from wire.bundles import BundleFile, Manifest, Software, sign_manifest
from wire.fields import format_timestamp

MAKER_ROLE = "maintainer"
APPROVER_ROLE = "maintainer"

MIGRATIONS = [
    (
        "0001_bundles",
        """
        CREATE TABLE bundles (
            bundle_id     TEXT PRIMARY KEY,
            camera_id     TEXT NOT NULL,
            version       TEXT NOT NULL,
            made_by       TEXT NOT NULL,
            approved_by   TEXT NOT NULL,
            approved_at   TEXT NOT NULL,
            files         TEXT NOT NULL,
            manifest_sha256 TEXT NOT NULL
        );
        CREATE INDEX bundles_camera ON bundles (camera_id, approved_at)
        """,
    ),
    (
        "0002_confirmed_people",
        Dialects(
            sqlite="""
        ALTER TABLE bundles ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
        CREATE TRIGGER bundles_no_update BEFORE UPDATE ON bundles
            BEGIN SELECT RAISE(ABORT, 'the bundle history is append-only'); END;
        CREATE TRIGGER bundles_no_delete BEFORE DELETE ON bundles
            BEGIN SELECT RAISE(ABORT, 'the bundle history is append-only'); END
        """,
            # The same in plpgsql (#21), an integrity violation as SQLite's RAISE(ABORT) is;
            # TRUNCATE, which skips row triggers, is refused too.
            postgresql="""
        ALTER TABLE bundles ADD COLUMN confirmed BIGINT NOT NULL DEFAULT 0;
        CREATE FUNCTION bundles_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'the bundle history is append-only'
                USING ERRCODE = 'restrict_violation';
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER bundles_no_update BEFORE UPDATE ON bundles
            FOR EACH ROW EXECUTE FUNCTION bundles_append_only();
        CREATE TRIGGER bundles_no_delete BEFORE DELETE ON bundles
            FOR EACH ROW EXECUTE FUNCTION bundles_append_only();
        CREATE TRIGGER bundles_no_truncate BEFORE TRUNCATE ON bundles
            FOR EACH STATEMENT EXECUTE FUNCTION bundles_append_only();
        """,
        ),
    ),
]


@dataclass(frozen=True)
class SourceFile:
    source: Path
    path: str  # the name inside the bundle, e.g. "agent.toml" or "models/plate_reader.onnx"


def make_bundle(
    files: list[SourceFile],
    camera_id: str,
    version: str,
    made_by: str,
    approved_by: str,
    release_key: SigningKey,
    now: datetime,
    out: Path,
    software: Software | None = None,
) -> Manifest:
    """`software`: the bundle is a software release (wheels the unit installs in a new slot)."""
    manifest = Manifest(
        key_id=release_key.key_id,
        bundle_id=secrets.token_hex(8),
        camera_id=camera_id,
        version=version,
        made_by=made_by,
        approved_by=approved_by,
        approved_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
        files=tuple(
            BundleFile(
                f.path, hashlib.sha256(f.source.read_bytes()).hexdigest(), f.source.stat().st_size
            )
            for f in files
        ),
        software=software,
    )
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.json", sign_manifest(manifest, release_key))
        for f in files:
            bundle.write(f.source, f"files/{f.path}")
    partial.replace(out)
    return manifest


class BundleHistory:
    def __init__(self, path: StoreLocation) -> None:
        self.db = open_database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def record(self, manifest: Manifest, manifest_bytes: bytes, confirmed: bool) -> None:
        """`confirmed`: maker and approver were accounts that confirmed with a second factor."""
        self.db.execute(
            "INSERT INTO bundles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                manifest.bundle_id,
                manifest.camera_id,
                manifest.version,
                manifest.made_by,
                manifest.approved_by,
                format_timestamp(manifest.approved_at),
                ",".join(f.path for f in manifest.files),
                hashlib.sha256(manifest_bytes).hexdigest(),
                int(confirmed),
            ),
        )

    def for_camera(self, camera_id: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT bundle_id, camera_id, version, made_by, approved_by, approved_at, files, "
            "confirmed FROM bundles WHERE camera_id IN (?, '*') ORDER BY approved_at DESC",
            (camera_id,),
        )
        keys = ("bundle_id", "camera_id", "version", "made_by", "approved_by", "approved_at",
                "files", "confirmed")  # fmt: skip
        return [{**dict(zip(keys, row, strict=True)), "confirmed": bool(row[-1])} for row in rows]
