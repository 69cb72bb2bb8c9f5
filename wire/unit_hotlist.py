"""A hotlist for one unit, as slow salted hashes: what the central exports and the unit matches.

So that a unit can raise alerts while its link is down without holding a readable list,
each entry travels as a digest of the plate, and the unit hashes what it reads once and
looks the digest up. A stolen unit gives its thief everything the unit holds, its hashing
key included, so the digest cannot rest on the key being secret: with a fast keyed hash
(format 1, HMAC-SHA-256) the ~6 x 10^7 Dutch plates were tried in about two minutes on one
core. Format 2 makes each digest Argon2id (memory-hard: 16 MiB, 2 passes) of the keyed
plate with a salt of its own per unit, so whoever holds the unit pays that cost for every
candidate plate, while the unit pays it once per read (`benchmarks/unit_hotlist.py` for the
figures; docs/security.md for what that does and does not buy).

Near misreads are spelled out by the central: an entry is exported once per spelling one
confusable character away (flagged `near`), so the unit still hashes each read only once.
The key (derived by the central from its master key and the camera id) still keeps one
unit's list useless on another and unreadable to anyone holding only the list (a broker,
a copy of the message). Reasons, instructions and list names stay on the central; an
entry carries only an opaque reference, its priority, country and expiry. The document is
signed with the central's acknowledgement key, which every unit already trusts.

No I/O: bytes in, bytes out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from argon2.low_level import Type, hash_secret_raw

from wire.canonical import canonical_bytes, parse_json_object
from wire.errors import BadSignature, MalformedRecord, UnknownVersion, WireError
from wire.fields import (
    COUNTRY,
    MAX_SAFE_INTEGER,
    SHA256_HEX,
    boolean,
    format_timestamp,
    integer,
    is_version,
    require_keys,
    text,
    timestamp,
)
from wire.signing import SigningKey, VerifyKey

KIND = "anpr-unit-hotlist"
# Format 2: Argon2id digests. Format 1 (HMAC-SHA-256 digests, no "v") is refused: its
# digests give the list up to whoever holds the unit.
FORMAT = 2
# Argon2id cost per digest, fixed by the format so both sides agree (a change is a new
# format). 16 MiB and 2 passes: ~16 ms per read on one x86 core, see the benchmark.
ARGON2_MEMORY_KIB = 16 * 1024
ARGON2_PASSES = 2
ARGON2_LANES = 1
HASH = f"argon2id-m{ARGON2_MEMORY_KIB}-t{ARGON2_PASSES}-p{ARGON2_LANES}"
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


def unit_salt(unit_key: bytes) -> bytes:
    """The unit's own Argon2 salt: one table of digests serves one unit only, so a thief
    pays the whole enumeration again for every unit he steals."""
    return hmac.new(unit_key, f"{KIND}\0salt".encode(), hashlib.sha256).digest()[:16]


def plate_digest(unit_key: bytes, plate: str) -> str:
    """Argon2id of the keyed plate: the key keeps the list closed to whoever has only the
    list; the memory-hard cost is what is left against whoever has the unit."""
    keyed = hmac.new(unit_key, plate.encode("ascii"), hashlib.sha256).digest()
    return hash_secret_raw(
        keyed, unit_salt(unit_key), ARGON2_PASSES, ARGON2_MEMORY_KIB, ARGON2_LANES, 32, Type.ID
    ).hex()


def unit_entries(
    unit_key: bytes, plate: str, ref: int, priority: int, country: str, expires_at: datetime,
    digest=plate_digest,
) -> list[HashedEntry]:  # fmt: skip
    """One listed plate as the unit's entries: the plate itself and each spelling one
    confusable character away (`near`), so the unit hashes a read once, not once per
    spelling. `digest` lets the central reuse digests it already made."""
    return [
        HashedEntry(digest(unit_key, variant), ref, priority, country, expires_at,
                    variant != plate)
        for variant in sorted(near_variants(plate))
    ]  # fmt: skip


@dataclass(frozen=True)
class HashedEntry:
    digest: str
    ref: int  # the central's entry id: the alert is resolved there
    priority: int
    country: str
    expires_at: datetime
    near: bool = False  # a spelling one confusable character away from the listed plate


@dataclass(frozen=True)
class UnitHotlist:
    camera_id: str
    issued_at: datetime
    entries: tuple[HashedEntry, ...]

    def _body(self) -> dict:
        return {
            "kind": KIND,
            "v": FORMAT,
            "hash": HASH,
            "camera_id": self.camera_id,
            "issued_at": format_timestamp(self.issued_at),
            "entries": [
                [e.digest, e.ref, e.priority, e.country, format_timestamp(e.expires_at), e.near]
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
        if not is_version(document.get("v"), FORMAT):
            raise UnknownVersion(
                f"unit hotlist format {document.get('v', 1)!r}; this unit matches format "
                f"{FORMAT} only (re-export the list from an upgraded central)"
            )
        if document.get("hash") != HASH:
            raise MalformedRecord(f"unit hotlist hashed as {document.get('hash')!r}, not {HASH}")
        keys = {"kind", "v", "hash", "camera_id", "issued_at", "entries"}
        require_keys(document, keys, "unit hotlist")
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
    names = ("digest", "ref", "priority", "country", "expires_at", "near")
    if not isinstance(entry, list) or len(entry) != len(names):
        raise MalformedRecord(f"unit hotlist entry: [{', '.join(names)}]")
    fields = dict(zip(names, entry, strict=True))
    return HashedEntry(
        text(fields, "digest", SHA256_HEX),
        integer(fields, "ref", 0, MAX_SAFE_INTEGER),
        integer(fields, "priority", 0, MAX_SAFE_INTEGER),
        text(fields, "country", COUNTRY),
        timestamp(fields, "expires_at"),
        boolean(fields, "near"),
    )


@dataclass(frozen=True)
class LocalHit:
    ref: int
    priority: int
    tolerant: bool


class UnitMatcher:
    """The unit's side: the digest of what it reads (one Argon2id per read) looked up in the
    hashed list; near spellings are in the list already."""

    def __init__(self, hotlist: UnitHotlist, unit_key: bytes) -> None:
        self.key = unit_key
        self.by_digest: dict[str, list[HashedEntry]] = {}
        for entry in hotlist.entries:
            self.by_digest.setdefault(entry.digest, []).append(entry)

    def hits(self, plate: str, country: str, at: datetime) -> list[LocalHit]:
        if not self.by_digest:
            return []  # an empty list: no hash to pay
        found = []
        for entry in self.by_digest.get(plate_digest(self.key, plate), []):
            if entry.expires_at <= at or (entry.country and country != entry.country):
                continue
            found.append(LocalHit(entry.ref, entry.priority, entry.near))
        return sorted(found, key=lambda hit: (hit.priority, hit.tolerant))
