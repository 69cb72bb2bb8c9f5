"""Traffic-research records and their day keys: pseudonymised on the unit, never a plate.

For traffic research a unit replaces each plate by HMAC-SHA-256(day key, plate). The day
key is shared by the cameras of one research area for one UTC day and destroyed when the
day closes: within a day two passages of one vehicle carry the same hash (travel times,
origin-destination pairs), across days they do not, and without the key nobody can test
candidate plates against a hash. Records go out in signed batches (camera key) on their
own topic; they carry camera, direction, time to the second and the hash, nothing else.

Day keys are made by the research service, sealed to each unit's own X25519 key (so only
that unit can open it) and signed with the research service's key.

No I/O: bytes in, bytes out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

from wire import fields as f
from wire.canonical import canonical_bytes, parse_json_object
from wire.errors import BadSignature, MalformedRecord, WireError
from wire.fields import CAMERA_ID, DIRECTIONS
from wire.sealing import SealingKey, seal
from wire.signing import SigningKey, VerifyKey

UTC = timezone.utc  # datetime.UTC is 3.11's; the unit runs on 3.10 (JetPack 6)

BATCH_KIND = "anpr-research-batch"
DAY_KEY_KIND = "anpr-research-day-key"
MAX_BATCH = 1000
MAX_BATCH_PAYLOAD = 200_000
DAY_KEYS_KIND = "anpr-research-day-keys"
MAX_DAY_KEYS = 8  # today and tomorrow, with room for a re-issued key or two
MAX_DAY_KEYS_PAYLOAD = 64_000
AREA = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
HASH = re.compile(r"[0-9a-f]{64}")
DIRECTION = re.compile("|".join(DIRECTIONS))


def vehicle_hash(day_key: bytes, plate: str) -> str:
    """The day's pseudonym for a plate: links passages within a day, nothing else."""
    return hmac.new(day_key, plate.upper().encode("ascii"), hashlib.sha256).hexdigest()


def day_key_id(day_key: bytes) -> str:
    return hashlib.sha256(b"research-day-key\0" + day_key).hexdigest()[:16]


@dataclass(frozen=True)
class Sighting:
    """One pseudonymised passage: when (whole seconds), which way, which vehicle-of-the-day."""

    at: int  # Unix seconds, UTC
    direction: str
    vehicle: str


@dataclass(frozen=True)
class ResearchBatch:
    camera_id: str
    key_id: str
    seq: int  # per camera, increasing: lets the research store drop replays
    area: str
    day: date
    day_key_id: str
    sightings: tuple[Sighting, ...]

    def __post_init__(self) -> None:
        if not CAMERA_ID.fullmatch(self.camera_id) or not AREA.fullmatch(self.area):
            raise MalformedRecord("research batch: bad camera id or area")
        if not 0 < len(self.sightings) <= MAX_BATCH:
            raise MalformedRecord(f"research batch holds 1 to {MAX_BATCH} sightings")
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC).timestamp()
        for s in self.sightings:
            if not HASH.fullmatch(s.vehicle) or s.direction not in DIRECTIONS:
                raise MalformedRecord("research sighting: bad hash or direction")
            if not start <= s.at < start + 86_400:
                raise MalformedRecord("research sighting outside its batch's day")

    def signed_fields(self) -> dict:
        return {
            "kind": BATCH_KIND, "camera_id": self.camera_id, "key_id": self.key_id,
            "seq": self.seq, "area": self.area, "day": self.day.isoformat(),
            "day_key_id": self.day_key_id,
            "sightings": [[s.at, s.direction, s.vehicle] for s in self.sightings],
        }  # fmt: skip


def encode_batch(batch: ResearchBatch, key: SigningKey) -> bytes:
    if key.key_id != batch.key_id:
        raise ValueError(f"batch names key {batch.key_id}, signing key is {key.key_id}")
    record = batch.signed_fields()
    signature = key.sign(canonical_bytes(record))
    return canonical_bytes({"record": record, "sig": base64.b64encode(signature).decode()})


def decode_batch(payload: bytes, key_for) -> ResearchBatch:
    """Parse and verify; `key_for(camera_id, key_id)` gives the camera's VerifyKey or None.

    Every field is checked for its exact type and form, and no other field is allowed: the
    batch that comes out re-encodes to exactly the bytes the camera signed (a `seq` of
    `"7"` or `true`, or a field the store never sees, is refused, not read as something
    else). Raises MalformedRecord or BadSignature, nothing else.
    """
    if len(payload) > MAX_BATCH_PAYLOAD:
        raise MalformedRecord(f"research batch is {len(payload)} bytes")
    envelope = parse_json_object(payload, "research batch")
    record, sig = envelope.get("record"), envelope.get("sig")
    if not isinstance(record, dict) or record.get("kind") != BATCH_KIND:
        raise MalformedRecord("not a research batch")
    if set(envelope) != {"record", "sig"} or not isinstance(sig, str):
        raise MalformedRecord("research batch envelope: exactly a record and its sig")
    batch = _batch_from(record)
    key = key_for(batch.camera_id, batch.key_id)
    if key is None:
        raise BadSignature(f"no key {batch.key_id} on file for {batch.camera_id}")
    try:
        key.verify(base64.b64decode(sig, validate=True), canonical_bytes(record))
    except (WireError, ValueError):
        raise BadSignature(f"research batch from {batch.camera_id}: bad signature") from None
    return batch


_BATCH_KEYS = {"kind", "camera_id", "key_id", "seq", "area", "day", "day_key_id", "sightings"}


def _batch_from(record: dict) -> ResearchBatch:
    f.require_keys(record, _BATCH_KEYS, "research batch")
    sightings = record["sightings"]
    if not isinstance(sightings, list) or not 0 < len(sightings) <= MAX_BATCH:
        raise MalformedRecord(f"research batch holds 1 to {MAX_BATCH} sightings")
    found = []
    for sighting in sightings:
        if not isinstance(sighting, list) or len(sighting) != 3:
            raise MalformedRecord("research sighting: [at, direction, vehicle]")
        at, direction, vehicle = sighting
        values = {"at": at, "direction": direction, "vehicle": vehicle}
        f.integer(values, "at", 0, f.MAX_SAFE_INTEGER)
        f.text(values, "direction", DIRECTION)
        f.text(values, "vehicle", HASH)
        found.append(Sighting(at, direction, vehicle))
    return ResearchBatch(
        camera_id=f.text(record, "camera_id", CAMERA_ID),
        key_id=f.text(record, "key_id", f.KEY_ID),
        seq=f.integer(record, "seq", 0, f.MAX_SAFE_INTEGER),
        area=f.text(record, "area", AREA),
        day=f.day(record, "day"),
        day_key_id=f.text(record, "day_key_id", f.KEY_ID),
        sightings=tuple(found),
    )


@dataclass(frozen=True)
class DayKey:
    area: str
    day: date
    key: bytes

    @property
    def key_id(self) -> str:
        return day_key_id(self.key)


def seal_day_key(day_key: DayKey, camera_id: str, unit_public: bytes, signer: SigningKey) -> bytes:
    document = {
        "kind": DAY_KEY_KIND, "camera_id": camera_id, "area": day_key.area,
        "day": day_key.day.isoformat(), "key_id": day_key.key_id,
        "sealed": base64.b64encode(seal(day_key.key, unit_public, camera_id)).decode(),
        "signer": signer.key_id,
    }  # fmt: skip
    signature = signer.sign(canonical_bytes(document))
    return canonical_bytes({"document": document, "sig": base64.b64encode(signature).decode()})


def open_day_key(
    payload: bytes, camera_id: str, unit_key: SealingKey, service: VerifyKey
) -> DayKey:
    """The day key for this unit, after checking the research service signed it.

    Raises a WireError (MalformedRecord, BadSignature, Unsealable), nothing else."""
    envelope = parse_json_object(payload, "research day key")
    document = envelope.get("document")
    if not isinstance(document, dict) or document.get("kind") != DAY_KEY_KIND:
        raise MalformedRecord("not a research day key")
    sig = envelope.get("sig")
    try:
        if not isinstance(sig, str):
            raise ValueError("no signature")
        service.verify(base64.b64decode(sig, validate=True), canonical_bytes(document))
    except (WireError, ValueError):
        raise BadSignature("research day key: not signed by the research service") from None
    f.require_keys(document, _DAY_KEY_FIELDS, "research day key")
    if document["camera_id"] != camera_id:
        raise MalformedRecord(f"research day key is for {document['camera_id']!r}")
    area = f.text(document, "area", AREA)
    day = f.day(document, "day")
    f.text(document, "key_id", f.KEY_ID)
    f.text(document, "signer", f.KEY_ID)
    sealed = f.text(document, "sealed", BASE64)
    key = unit_key.unseal(base64.b64decode(sealed), camera_id)
    found = DayKey(area, day, key)
    if found.key_id != document["key_id"]:
        raise MalformedRecord("research day key does not match its id")
    return found


_DAY_KEY_FIELDS = {"kind", "camera_id", "area", "day", "key_id", "sealed", "signer"}
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def encode_day_keys(documents: list[bytes]) -> bytes:
    """The retained research-key payload: several sealed documents (`seal_day_key` outputs),
    typically today's and tomorrow's, as `{"kind": "anpr-research-day-keys", "keys": [...]}`.

    Each document travels as the JSON object it is; the container is not signed, each
    document inside is (the unit checks every one with `open_day_key`).
    """
    if len(documents) > MAX_DAY_KEYS:
        raise MalformedRecord(f"at most {MAX_DAY_KEYS} day keys in one payload")
    keys = [parse_json_object(document, "research day key") for document in documents]
    payload = canonical_bytes({"kind": DAY_KEYS_KIND, "keys": keys})
    if len(payload) > MAX_DAY_KEYS_PAYLOAD:
        raise MalformedRecord(f"research day keys payload is {len(payload)} bytes")
    return payload


def decode_day_keys(payload: bytes) -> list[bytes]:
    """The sealed documents in a research-key payload, each ready for `open_day_key`.

    Only the container is checked here; a bad document inside is refused by `open_day_key`
    on its own, so that one broken key does not cost the unit the others.
    """
    if len(payload) > MAX_DAY_KEYS_PAYLOAD:
        raise MalformedRecord(f"research day keys payload is {len(payload)} bytes")
    envelope = parse_json_object(payload, "research day keys")
    keys = envelope.get("keys")
    if envelope.get("kind") != DAY_KEYS_KIND or set(envelope) != {"kind", "keys"}:
        raise MalformedRecord("not a research day keys payload")
    if not isinstance(keys, list) or len(keys) > MAX_DAY_KEYS:
        raise MalformedRecord(f"research day keys: a list of at most {MAX_DAY_KEYS} documents")
    if not all(isinstance(document, dict) for document in keys):
        raise MalformedRecord("research day keys: each document is a JSON object")
    return [canonical_bytes(document) for document in keys]
