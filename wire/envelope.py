"""MQTT payloads: a signed record plus, for passages, its two JPEG images.

The payload is a JSON object {"record": {...}, "sig": base64, ...}. The signature covers
`canonical_bytes(record)`, not the payload's bytes, so whitespace or key order in transit
do not matter, while any change of meaning does. Decoding checks size, JSON, version,
presence of a signature, every field and the image digests; only `verify()` with the
sender's key releases the record.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar

from wire import fields as f
from wire.canonical import canonical_bytes, canonical_bytes_of_validated, parse_json_object
from wire.errors import (
    BadSignature,
    MalformedRecord,
    OversizedPayload,
    UnknownVersion,
    UnsignedRecord,
)
from wire.records import SCHEMA_VERSION, Ack, Heartbeat, Passage
from wire.signing import SigningKey, VerifyKey

MAX_CROP_BYTES = 256 * 1024
MAX_OVERVIEW_BYTES = 1536 * 1024
MAX_PASSAGE_PAYLOAD = 3 * 1024 * 1024
MAX_HEARTBEAT_PAYLOAD = 8 * 1024
MAX_ACK_PAYLOAD = 64 * 1024

RecordT = TypeVar("RecordT", Passage, Heartbeat, Ack)


@dataclass(frozen=True)
class Verified(Generic[RecordT]):
    """A record whose signature has been checked, with the exact bytes that were signed."""

    record: RecordT
    canonical: bytes
    signature: bytes


class Unverified(Generic[RecordT]):
    """A well-formed record whose signature has not been checked yet."""

    def __init__(self, record: RecordT, canonical: bytes, signature: bytes) -> None:
        self._record = record
        self.canonical = canonical
        self.signature = signature
        self.camera_id: str = record.camera_id
        self.key_id: str = record.key_id
        self.seq: int | None = getattr(record, "seq", None)

    def verify(self, key: VerifyKey) -> Verified[RecordT]:
        if key.key_id != self.key_id:
            raise BadSignature(
                f"record names key {self.key_id}, but the key on file is {key.key_id}"
            )
        key.verify(self.signature, self.canonical)
        return Verified(self._record, self.canonical, self.signature)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _seal(record: dict, key: SigningKey) -> tuple[bytes, bytes]:
    canonical = canonical_bytes(record)
    return canonical, key.sign(canonical)


def _dump(envelope: dict) -> bytes:
    # The envelope itself uses the canonical encoder too: deterministic and ASCII-only.
    return canonical_bytes(envelope)


def encode_passage(passage: Passage, key: SigningKey) -> bytes:
    if key.key_id != passage.key_id:
        raise ValueError(f"passage names key {passage.key_id}, signing key is {key.key_id}")
    if len(passage.crop_jpeg) > MAX_CROP_BYTES:
        raise OversizedPayload(f"crop is {len(passage.crop_jpeg)} bytes, limit {MAX_CROP_BYTES}")
    if len(passage.overview_jpeg) > MAX_OVERVIEW_BYTES:
        raise OversizedPayload(
            f"overview is {len(passage.overview_jpeg)} bytes, limit {MAX_OVERVIEW_BYTES}"
        )
    record = passage.signed_fields()
    _, signature = _seal(record, key)
    payload = _dump(
        {
            "record": record,
            "sig": _b64(signature),
            "crop_jpeg": _b64(passage.crop_jpeg),
            "overview_jpeg": _b64(passage.overview_jpeg),
        }
    )
    if len(payload) > MAX_PASSAGE_PAYLOAD:
        raise OversizedPayload(f"passage payload is {len(payload)} bytes")
    return payload


def encode_heartbeat(heartbeat: Heartbeat, key: SigningKey) -> bytes:
    return _encode_small(heartbeat.signed_fields(), key)


def encode_ack(ack: Ack, key: SigningKey) -> bytes:
    return _encode_small(ack.signed_fields(), key)


def _encode_small(record: dict, key: SigningKey) -> bytes:
    if record["key_id"] != key.key_id:
        raise ValueError(f"record names key {record['key_id']}, signing key is {key.key_id}")
    _, signature = _seal(record, key)
    return _dump({"record": record, "sig": _b64(signature)})


def decode_passage(payload: bytes) -> Unverified[Passage]:
    envelope, record, signature = _open(
        payload, MAX_PASSAGE_PAYLOAD, {"record", "sig", "crop_jpeg", "overview_jpeg"}, "passage"
    )
    crop = _b64_field(envelope, "crop_jpeg", MAX_CROP_BYTES)
    overview = _b64_field(envelope, "overview_jpeg", MAX_OVERVIEW_BYTES)
    passage = Passage.from_signed_fields(record, crop, overview)
    return Unverified(passage, canonical_bytes_of_validated(record), signature)


def decode_heartbeat(payload: bytes) -> Unverified[Heartbeat]:
    _, record, signature = _open(payload, MAX_HEARTBEAT_PAYLOAD, {"record", "sig"}, "heartbeat")
    heartbeat = Heartbeat.from_signed_fields(record)
    return Unverified(heartbeat, canonical_bytes_of_validated(record), signature)


def decode_ack(payload: bytes) -> Unverified[Ack]:
    _, record, signature = _open(payload, MAX_ACK_PAYLOAD, {"record", "sig"}, "ack")
    ack = Ack.from_signed_fields(record)
    return Unverified(ack, canonical_bytes_of_validated(record), signature)


def _open(payload: bytes, limit: int, keys: set[str], what: str) -> tuple[dict, dict, bytes]:
    if len(payload) > limit:
        raise OversizedPayload(f"{what} payload is {len(payload)} bytes, limit {limit}")
    envelope = parse_json_object(payload, f"{what} payload")
    record = envelope.get("record")
    if not isinstance(record, dict):
        raise MalformedRecord(f"{what} payload has no record object")
    if "v" not in record:
        raise MalformedRecord(f"{what} record has no schema version field 'v'")
    if not f.is_version(record["v"], SCHEMA_VERSION):
        raise UnknownVersion(
            f"{what} record has schema version {record['v']!r}; this side speaks {SCHEMA_VERSION}"
        )
    if not envelope.get("sig"):
        raise UnsignedRecord(f"{what} payload carries no signature")
    extra = envelope.keys() - keys
    missing = keys - envelope.keys()
    if extra or missing:
        raise MalformedRecord(
            f"{what} payload fields wrong: missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    signature = _b64_field(envelope, "sig", 64)
    if len(signature) != 64:
        raise BadSignature(f"signature has {len(signature)} bytes, expected 64")
    return envelope, record, signature


def _b64_field(envelope: dict, name: str, limit: int) -> bytes:
    value = envelope[name]
    if not isinstance(value, str):
        raise MalformedRecord(f"payload field {name} must be a base64 string")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedRecord(f"payload field {name} is not valid base64") from None
    if len(data) > limit:
        raise OversizedPayload(f"payload field {name} is {len(data)} bytes, limit {limit}")
    return data
