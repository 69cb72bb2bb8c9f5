"""A hotlist for one unit, as keyed hashes: what the central exports and the unit matches.

So that a unit can raise alerts while its link is down without ever holding a readable
list, each exact entry travels as HMAC-SHA-256(unit key, plate): the unit hashes what it
reads (and each spelling one confusable character away, for near matches) and looks the
digests up. The unit key is per unit (derived by the central from its master key and the
camera id), so a list taken from one unit is useless on another and cannot be reversed
without the key. Reasons, instructions and list names stay on the central; an entry
carries only an opaque reference, its priority, country and expiry. The document is signed
with the central's acknowledgement key, which every unit already trusts.

No I/O: bytes in, bytes out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from wire.canonical import canonical_bytes, parse_json_object
from wire.errors import BadSignature, MalformedRecord, WireError
from wire.fields import (
    COUNTRY,
    MAX_SAFE_INTEGER,
    SHA256_HEX,
    format_timestamp,
    integer,
    require_keys,
    text,
    timestamp,
)
from wire.signing import SigningKey, VerifyKey

KIND = "anpr-unit-hotlist"
# Characters readers confuse; one of them differing makes a near match (as at the central).
CONFUSABLE = [set("0ODQ"), set("8B"), set("1I"), set("5S"), set("2Z")]


def near_variants(plate: str) -> set[str]:
    """The plate and every spelling one confusable character away."""
    variants = {plate}
    for index, char in enumerate(plate):
        for group in CONFUSABLE:
            if char in group:
                for other in group - {char}:
                    variants.add(plate[:index] + other + plate[index + 1 :])
    return variants


def derive_unit_key(master: bytes, camera_id: str) -> bytes:
    """The unit's own hashing key: one master secret at the central, one key per unit."""
    return hmac.new(master, f"{KIND}\0{camera_id}".encode(), hashlib.sha256).digest()


def plate_digest(unit_key: bytes, plate: str) -> str:
    return hmac.new(unit_key, plate.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HashedEntry:
    digest: str
    ref: int  # the central's entry id: the alert is resolved there
    priority: int
    country: str
    expires_at: datetime


@dataclass(frozen=True)
class UnitHotlist:
    camera_id: str
    issued_at: datetime
    entries: tuple[HashedEntry, ...]

    def _body(self) -> dict:
        return {
            "kind": KIND,
            "camera_id": self.camera_id,
            "issued_at": format_timestamp(self.issued_at),
            "entries": [
                [e.digest, e.ref, e.priority, e.country, format_timestamp(e.expires_at)]
                for e in self.entries
            ],  # fmt: skip
        }


def encode_unit_hotlist(hotlist: UnitHotlist, key: SigningKey) -> bytes:
    body = hotlist._body()
    signature = key.sign(canonical_bytes(body))
    document = {**body, "key_id": key.key_id, "signature": base64.b64encode(signature).decode()}
    return json.dumps(document, separators=(",", ":")).encode()


def decode_unit_hotlist(data: bytes, camera_id: str, central: VerifyKey) -> UnitHotlist:
    """Check the central's signature and that the list is meant for this unit.

    Every entry is checked for its exact form, so that the list in use says exactly what
    the central signed and matching cannot trip over a value of the wrong type. Raises a
    WireError (MalformedRecord, BadSignature), nothing else."""
    document = parse_json_object(data, "unit hotlist")
    try:
        signature = base64.b64decode(document.pop("signature"), validate=True)
        key_id = document.pop("key_id")
        if document.get("kind") != KIND:
            raise MalformedRecord(f"not a unit hotlist (kind {document.get('kind')!r})")
        if key_id != central.key_id:
            raise BadSignature(f"unit hotlist signed by key {key_id}, not the central's")
        central.verify(signature, canonical_bytes(document))
        require_keys(document, {"kind", "camera_id", "issued_at", "entries"}, "unit hotlist")
        if document["camera_id"] != camera_id:
            raise MalformedRecord(
                f"unit hotlist made for {document['camera_id']}, not for {camera_id}"
            )
        if not isinstance(document["entries"], list):
            raise MalformedRecord("unit hotlist entries must be a list")
        entries = tuple(_entry(entry) for entry in document["entries"])
        return UnitHotlist(camera_id, timestamp(document, "issued_at"), entries)
    except WireError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedRecord(f"unit hotlist is malformed: {exc}") from None


def _entry(entry: object) -> HashedEntry:
    if not isinstance(entry, list) or len(entry) != 5:
        raise MalformedRecord("unit hotlist entry: [digest, ref, priority, country, expires_at]")
    fields = dict(zip(("digest", "ref", "priority", "country", "expires_at"), entry, strict=True))
    return HashedEntry(
        text(fields, "digest", SHA256_HEX),
        integer(fields, "ref", 0, MAX_SAFE_INTEGER),
        integer(fields, "priority", 0, MAX_SAFE_INTEGER),
        text(fields, "country", COUNTRY),
        timestamp(fields, "expires_at"),
    )


@dataclass(frozen=True)
class LocalHit:
    ref: int
    priority: int
    tolerant: bool


class UnitMatcher:
    """The unit's side: digests of what it reads looked up in the hashed list."""

    def __init__(self, hotlist: UnitHotlist, unit_key: bytes) -> None:
        self.key = unit_key
        self.by_digest: dict[str, list[HashedEntry]] = {}
        for entry in hotlist.entries:
            self.by_digest.setdefault(entry.digest, []).append(entry)

    def hits(self, plate: str, country: str, at: datetime) -> list[LocalHit]:
        found = []
        for variant in sorted(near_variants(plate)):
            for entry in self.by_digest.get(plate_digest(self.key, variant), []):
                if entry.expires_at <= at or (entry.country and country != entry.country):
                    continue
                found.append(LocalHit(entry.ref, entry.priority, variant != plate))
        return sorted(found, key=lambda hit: (hit.priority, hit.tolerant))
