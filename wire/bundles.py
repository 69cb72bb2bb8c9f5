"""Signed change bundles: how software, models and configuration reach a unit.

The law requires prior approval of changes that affect security. A bundle's manifest names
the camera (or `*` for all), a version, who made and who approved it (two different people)
and the SHA-256 of every file; the central's release key signs it. An agent installs only
a bundle whose signature verifies, that is approved, meant for it, and whose files match.

A software release (#22) is a bundle whose manifest also carries a signed `software` object:
the distribution that holds the agent (`package`) and whether installing an older release
than the unit runs is approved (`downgrade`). Its version is then a release number (1.4.0)
and its files are the wheels the unit installs offline into a new slot (`wheels/*.whl`, the
package's own wheel among them). Manifests without `software` sign the same bytes as before.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from wire import fields as f
from wire.canonical import canonical_bytes, canonical_bytes_of_validated, parse_json_object
from wire.errors import BadSignature, MalformedRecord, UnknownVersion, UnsignedRecord
from wire.records import SCHEMA_VERSION
from wire.signing import SigningKey, VerifyKey

PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@()-]{1,63}")
MAX_FILES = 256
MAX_MANIFEST = 64 * 1024
RELEASE = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6}){1,3}")
PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
WHEEL = re.compile(r"wheels/[A-Za-z0-9][A-Za-z0-9._+-]*\.whl")


@dataclass(frozen=True)
class BundleFile:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Software:
    """What makes a bundle a software release: its package, and an approved downgrade."""

    package: str
    downgrade: bool = False


def release_number(version: str) -> tuple[int, ...]:
    """A release version as numbers, for ordering (1.10.0 is after 1.9.2)."""
    return tuple(int(part) for part in version.split("."))


def wheel_prefix(package: str, version: str) -> str:
    """The start of the package's own wheel name (PEP 427 normalises the name)."""
    return f"wheels/{re.sub(r'[-_.]+', '_', package).lower()}-{version}-"


@dataclass(frozen=True)
class Manifest:
    key_id: str
    bundle_id: str
    camera_id: str  # a camera id, or "*" for every unit
    version: str
    made_by: str
    approved_by: str
    approved_at: datetime
    files: tuple[BundleFile, ...]
    software: Software | None = None

    def __post_init__(self) -> None:
        _validate(self.signed_fields())

    def signed_fields(self) -> dict:
        return {
            "v": SCHEMA_VERSION,
            "kind": "bundle",
            "key_id": self.key_id,
            "bundle_id": self.bundle_id,
            "camera_id": self.camera_id,
            "version": self.version,
            "made_by": self.made_by,
            "approved_by": self.approved_by,
            "approved_at": f.format_timestamp(self.approved_at),
            "files": [{"path": x.path, "sha256": x.sha256, "size": x.size} for x in self.files],
        } | (
            {"software": {"package": self.software.package, "downgrade": self.software.downgrade}}
            if self.software is not None
            else {}
        )

    def applies_to(self, camera_id: str) -> bool:
        return self.camera_id in ("*", camera_id)


def _validate(record: dict) -> None:
    keys = {"v", "kind", "key_id", "bundle_id", "camera_id", "version", "made_by",
            "approved_by", "approved_at", "files"}  # fmt: skip
    if "software" in record:
        keys.add("software")
    f.require_keys(record, keys, "bundle manifest")
    if record["kind"] != "bundle":
        raise MalformedRecord("not a bundle manifest")
    f.text(record, "key_id", f.KEY_ID)
    f.text(record, "bundle_id", f.KEY_ID)
    if record["camera_id"] != "*":
        f.text(record, "camera_id", f.CAMERA_ID)
    f.text(record, "version", f.VERSION_LABEL)
    f.text(record, "made_by", PERSON)
    f.text(record, "approved_by", PERSON)
    if record["made_by"] == record["approved_by"]:
        raise MalformedRecord("a bundle is approved by someone other than its maker")
    f.timestamp(record, "approved_at")
    files = record["files"]
    if not isinstance(files, list) or not 1 <= len(files) <= MAX_FILES:
        raise MalformedRecord(f"a bundle holds 1 to {MAX_FILES} files")
    paths = set()
    for entry in files:
        if not isinstance(entry, dict):
            raise MalformedRecord("each bundle file is an object")
        f.require_keys(entry, {"path", "sha256", "size"}, "bundle file")
        path = f.text(entry, "path", PATH)
        if ".." in path.split("/") or path in paths:
            raise MalformedRecord(f"bundle path {path!r} is not allowed")
        paths.add(path)
        f.text(entry, "sha256", f.SHA256_HEX)
        f.integer(entry, "size", 0, 2**40)
    if "software" in record:
        _validate_software(record)


def _validate_software(record: dict) -> None:
    software = record["software"]
    if not isinstance(software, dict):
        raise MalformedRecord("bundle software is an object")
    f.require_keys(software, {"package", "downgrade"}, "bundle software")
    package = f.text(software, "package", PACKAGE)
    f.boolean(software, "downgrade")
    version = f.text(record, "version", RELEASE)
    paths = [entry["path"] for entry in record["files"]]
    if not all(WHEEL.fullmatch(path) for path in paths):
        raise MalformedRecord("a software release holds wheels only (wheels/*.whl)")
    if not any(path.startswith(wheel_prefix(package, version)) for path in paths):
        raise MalformedRecord(f"a software release holds the wheel of {package} {version}")


def sign_manifest(manifest: Manifest, key: SigningKey) -> bytes:
    if manifest.key_id != key.key_id:
        raise ValueError("manifest names another release key")
    record = manifest.signed_fields()
    signature = base64.b64encode(key.sign(canonical_bytes(record))).decode("ascii")
    return canonical_bytes({"record": record, "sig": signature})


def open_manifest(data: bytes, release_key: VerifyKey) -> Manifest:
    """Parse and verify a manifest; raises a WireError subclass when it must be refused."""
    if len(data) > MAX_MANIFEST:
        raise MalformedRecord("bundle manifest too large")
    envelope = parse_json_object(data, "bundle manifest")
    record = envelope.get("record")
    if not isinstance(record, dict):
        raise MalformedRecord("bundle manifest has no record")
    if not f.is_version(record.get("v"), SCHEMA_VERSION):
        raise UnknownVersion(f"bundle manifest version {record.get('v')!r}")
    if not envelope.get("sig"):
        raise UnsignedRecord("bundle manifest is not signed")
    _validate(record)
    try:
        signature = base64.b64decode(envelope["sig"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise MalformedRecord("bundle signature is not base64") from None
    if record["key_id"] != release_key.key_id:
        raise BadSignature(f"bundle signed with key {record['key_id']}, not the release key")
    release_key.verify(signature, canonical_bytes_of_validated(record))
    return Manifest(
        key_id=record["key_id"],
        bundle_id=record["bundle_id"],
        camera_id=record["camera_id"],
        version=record["version"],
        made_by=record["made_by"],
        approved_by=record["approved_by"],
        approved_at=f.timestamp(record, "approved_at"),
        files=tuple(BundleFile(x["path"], x["sha256"], x["size"]) for x in record["files"]),
        software=Software(record["software"]["package"], record["software"]["downgrade"])
        if "software" in record
        else None,
    )
