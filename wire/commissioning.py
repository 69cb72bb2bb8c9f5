"""The commissioning report: what a unit's live view measured on site, signed by the unit.

`anpr-provision selftest` samples the configured camera for a few seconds and judges focus,
exposure, the plates it reads (width in pixels, angle), the frame rate reached, the broker
and the clock. The report carries each judgement (pass, warn or fail, the figure and what
to do) and a small "aim snapshot": the view at low resolution with the privacy masks burnt
in and every plate found blurred, so that a maintainer sees where the camera looks without
seeing who passes. Like a passage, the snapshot is outside the signed JSON and bound to it
by its SHA-256 digest. The central keeps the report with the camera's plan entry and
answers it with a signed acknowledgement naming `report_id` on the self-test answer topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from wire import fields as f
from wire.canonical import canonical_bytes_of_validated
from wire.envelope import Unverified, _b64, _b64_field, _dump, _open, _seal
from wire.errors import ImageDigestMismatch, MalformedRecord, OversizedPayload
from wire.records import MAX_SEQ, SCHEMA_VERSION, sha256_hex
from wire.signing import SigningKey

RESULTS = ("pass", "warn", "fail")
LIGHTS = ("day", "night", "unknown")
MAX_CHECKS = 24
MAX_SNAPSHOT_BYTES = 96 * 1024
MAX_COMMISSIONING_PAYLOAD = 160 * 1024
CHECK_NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")
# Figures and advice are bounded printable ASCII without quotes or backslashes, like every
# wire string (wire/canonical.py).
FIGURE = re.compile(r"[ !#-\[\]-~]{0,200}")
ADVICE = re.compile(r"[ !#-\[\]-~]{0,400}")


@dataclass(frozen=True)
class Judgement:
    """One check of the report: its stable name, the result, the figure, what to do."""

    name: str
    result: str
    figure: str
    advice: str = ""

    def fields(self) -> dict:
        return {"name": self.name, "result": self.result, "figure": self.figure,
                "advice": self.advice}  # fmt: skip


def worst(results) -> str:
    """The report's verdict: the worst result of its checks (fail > warn > pass)."""
    ranked = [RESULTS.index(result) for result in results]
    return RESULTS[max(ranked)] if ranked else "fail"


@dataclass(frozen=True)
class CommissioningReport:
    camera_id: str
    key_id: str
    report_id: int
    made_at: datetime
    light: str
    frames: int
    judgements: tuple[Judgement, ...]
    detector_version: str
    reader_version: str
    snapshot_jpeg: bytes = field(repr=False)
    _digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_digest", sha256_hex(self.snapshot_jpeg))
        _validate(self.signed_fields())
        if not self.snapshot_jpeg.startswith(b"\xff\xd8\xff"):
            raise MalformedRecord("snapshot_jpeg is not a JPEG image")
        if len(self.snapshot_jpeg) > MAX_SNAPSHOT_BYTES:
            raise OversizedPayload(f"snapshot is {len(self.snapshot_jpeg)} bytes, "
                                   f"limit {MAX_SNAPSHOT_BYTES}")  # fmt: skip

    @property
    def verdict(self) -> str:
        return worst(j.result for j in self.judgements)

    def signed_fields(self) -> dict:
        return {
            "v": SCHEMA_VERSION,
            "kind": "commissioning",
            "camera_id": self.camera_id,
            "key_id": self.key_id,
            "report_id": self.report_id,
            "made_at": f.format_timestamp(self.made_at),
            "light": self.light,
            "frames": self.frames,
            "verdict": self.verdict,
            "checks": [j.fields() for j in self.judgements],
            "models": {"detector": self.detector_version, "reader": self.reader_version},
            "snapshot_sha256": self._digest,
        }

    @classmethod
    def from_signed_fields(cls, record: dict, snapshot_jpeg: bytes) -> CommissioningReport:
        _validate(record)
        report = cls(
            camera_id=record["camera_id"],
            key_id=record["key_id"],
            report_id=record["report_id"],
            made_at=f.timestamp(record, "made_at"),
            light=record["light"],
            frames=record["frames"],
            judgements=tuple(Judgement(**check) for check in record["checks"]),
            detector_version=record["models"]["detector"],
            reader_version=record["models"]["reader"],
            snapshot_jpeg=snapshot_jpeg,
        )
        if record["snapshot_sha256"] != report._digest:
            raise ImageDigestMismatch("snapshot image does not match snapshot_sha256")
        return report


_KEYS = {"v", "kind", "camera_id", "key_id", "report_id", "made_at", "light", "frames",
         "verdict", "checks", "models", "snapshot_sha256"}  # fmt: skip


def _validate(record: dict) -> None:
    f.require_keys(record, _KEYS, "commissioning report")
    if record["kind"] != "commissioning":
        raise MalformedRecord(f"expected a commissioning record, got kind={record['kind']!r}")
    f.text(record, "camera_id", f.CAMERA_ID)
    f.text(record, "key_id", f.KEY_ID)
    f.integer(record, "report_id", 1, MAX_SEQ)
    f.timestamp(record, "made_at")
    if record["light"] not in LIGHTS:
        raise MalformedRecord(f"field light must be one of {LIGHTS}")
    f.integer(record, "frames", 0, 100_000)
    checks = record["checks"]
    if not isinstance(checks, list) or not 1 <= len(checks) <= MAX_CHECKS:
        raise MalformedRecord(f"field checks must be a list of 1 to {MAX_CHECKS} objects")
    names = set()
    for check in checks:
        if not isinstance(check, dict):
            raise MalformedRecord("each check must be an object")
        f.require_keys(check, {"name", "result", "figure", "advice"}, "check")
        names.add(f.text(check, "name", CHECK_NAME))
        if check["result"] not in RESULTS:
            raise MalformedRecord(f"check result must be one of {RESULTS}")
        f.text(check, "figure", FIGURE)
        f.text(check, "advice", ADVICE)
    if len(names) != len(checks):
        raise MalformedRecord("each check name may appear once")
    if record["verdict"] != worst(check["result"] for check in checks):
        raise MalformedRecord("field verdict must be the worst result of the checks")
    models = record["models"]
    if not isinstance(models, dict):
        raise MalformedRecord("field models must be an object")
    f.require_keys(models, {"detector", "reader"}, "models")
    f.text(models, "detector", f.VERSION_LABEL)
    f.text(models, "reader", f.VERSION_LABEL)
    f.text(record, "snapshot_sha256", f.SHA256_HEX)


def encode_commissioning(report: CommissioningReport, key: SigningKey) -> bytes:
    if key.key_id != report.key_id:
        raise ValueError(f"report names key {report.key_id}, signing key is {key.key_id}")
    record = report.signed_fields()
    _, signature = _seal(record, key)
    payload = _dump({"record": record, "sig": _b64(signature),
                     "snapshot_jpeg": _b64(report.snapshot_jpeg)})  # fmt: skip
    if len(payload) > MAX_COMMISSIONING_PAYLOAD:
        raise OversizedPayload(f"commissioning payload is {len(payload)} bytes")
    return payload


def decode_commissioning(payload: bytes) -> Unverified[CommissioningReport]:
    """A well-formed report whose signature is still to be checked with the camera's key."""
    envelope, record, signature = _open(
        payload, MAX_COMMISSIONING_PAYLOAD, {"record", "sig", "snapshot_jpeg"}, "commissioning"
    )
    snapshot = _b64_field(envelope, "snapshot_jpeg", MAX_SNAPSHOT_BYTES)
    report = CommissioningReport.from_signed_fields(record, snapshot)
    return Unverified(report, canonical_bytes_of_validated(record), signature)
