"""Installing a signed change bundle on the unit, or refusing it.

Refused: a bundle without a valid signature of the release key, meant for another camera,
or whose files do not match their digests. Installed files are written next to their
destination and renamed into place, so a power cut leaves the old or the new file, never
half of one. Every installation is appended to the unit's history.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
import zlib
from pathlib import Path

from node import wallclock
from wire import VerifyKey, WireError
from wire.bundles import MAX_MANIFEST, Manifest, open_manifest
from wire.fields import format_timestamp

log = logging.getLogger(__name__)
HISTORY = "installed-bundles.jsonl"
# A damaged archive (bad CRC, header, version or compression, an encrypted member): zipfile
# raises any of these, none of them a reason to stop the agent.
UNREADABLE = (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
              RuntimeError, ValueError)  # fmt: skip


class BundleRefused(Exception):
    """The bundle must not be installed; the message says why."""


def install_bundle(bundle: Path, camera_id: str, release_key: VerifyKey, target: Path) -> Manifest:
    """Installs the bundle, or raises BundleRefused (never another error: a damaged or
    hostile archive is refused like an unsigned one)."""
    try:
        archive = zipfile.ZipFile(bundle)
    except UNREADABLE as exc:
        raise BundleRefused(f"{bundle} is not a bundle: {type(exc).__name__}: {exc}") from None
    with archive:
        try:
            manifest, contents = _read_bundle(archive, camera_id, release_key)
        except UNREADABLE as exc:
            raise BundleRefused(f"{bundle} cannot be read: {type(exc).__name__}: {exc}") from None
    if manifest.software is not None:
        raise BundleRefused(
            f"bundle {manifest.bundle_id} is software release {manifest.version}: it goes into a "
            "new slot with `anpr-agent update`, not beside the config"
        )
    for path, data in contents.items():
        _replace(target / path, data)
    _remember(target, manifest)
    log.info(
        "bundle %s version %s installed (approved by %s)",
        manifest.bundle_id, manifest.version, manifest.approved_by,
    )  # fmt: skip
    return manifest


def read_bundle(bundle: Path, camera_id: str, release_key: VerifyKey) -> tuple[Manifest, dict]:
    """The verified manifest and the files (path: bytes) of a bundle meant for this camera,
    or BundleRefused; nothing is written."""
    try:
        with zipfile.ZipFile(bundle) as archive:
            return _read_bundle(archive, camera_id, release_key)
    except UNREADABLE as exc:
        raise BundleRefused(f"{bundle} cannot be read: {type(exc).__name__}: {exc}") from None


def _read_bundle(
    archive: zipfile.ZipFile, camera_id: str, release_key: VerifyKey
) -> tuple[Manifest, dict[str, bytes]]:
    try:
        manifest_info = archive.getinfo("manifest.json")
    except KeyError:
        raise BundleRefused("the bundle has no manifest.json: unsigned") from None
    if manifest_info.file_size > MAX_MANIFEST:
        raise BundleRefused("manifest.json is too large")
    try:
        manifest = open_manifest(archive.read(manifest_info), release_key)
    except WireError as exc:
        raise BundleRefused(f"manifest refused ({exc.reason}): {exc}") from None
    if not manifest.applies_to(camera_id):
        raise BundleRefused(f"bundle is for camera {manifest.camera_id}, this is {camera_id}")
    contents = {}
    for entry in manifest.files:
        try:
            info = archive.getinfo(f"files/{entry.path}")
        except KeyError:
            raise BundleRefused(f"bundle lacks {entry.path}") from None
        if info.file_size != entry.size:  # checked before reading: no zip bomb is inflated
            raise BundleRefused(f"{entry.path} does not match the signed manifest")
        data = archive.read(info)
        if hashlib.sha256(data).hexdigest() != entry.sha256 or len(data) != entry.size:
            raise BundleRefused(f"{entry.path} does not match the signed manifest")
        contents[entry.path] = data
    return manifest, contents


def _replace(destination: Path, data: bytes) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(destination)


def _remember(target: Path, manifest: Manifest) -> None:
    entry = {
        "installed_at": format_timestamp(wallclock.now()),
        "bundle_id": manifest.bundle_id,
        "version": manifest.version,
        "made_by": manifest.made_by,
        "approved_by": manifest.approved_by,
        "approved_at": format_timestamp(manifest.approved_at),
        "files": [f.path for f in manifest.files],
    }
    with (target / HISTORY).open("a") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")


def history(target: Path) -> list[dict]:
    path = target / HISTORY
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]
