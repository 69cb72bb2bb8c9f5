"""The records edge and central exchange, as immutable values.

A record's `signed_fields()` is exactly what the signature covers. Images are not inside
the signed JSON; their SHA-256 digests are, so the signature binds the pictures too.
Constructing a record validates it: an invalid record cannot exist in memory, whichever
side made it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from wire import fields as f
from wire.errors import ImageDigestMismatch, MalformedRecord
from wire.research import AREA

SCHEMA_VERSION = 1
MAX_PLATE_CHARS = 12
MAX_ACK_SEQS = 1000
MAX_SEQ = 2**53 - 1
LAT_E7_LIMIT = 900_000_000
LON_E7_LIMIT = 1_800_000_000


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Passage:
    """One vehicle seen by one camera: what art. 126jj Sv allows, plus integrity fields."""

    camera_id: str
    key_id: str
    seq: int
    captured_at: datetime
    lat_e7: int
    lon_e7: int
    direction: str
    lane: int
    plate: str
    country: str
    confidence_pm: int
    char_confidence_pm: tuple[int, ...]
    plate_box: tuple[int, int, int, int]
    detector_version: str
    reader_version: str
    crop_jpeg: bytes = field(repr=False)
    overview_jpeg: bytes = field(repr=False)
    _digests: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_digests", (sha256_hex(self.crop_jpeg), sha256_hex(self.overview_jpeg))
        )
        # Round-trip through the wire form: one validation path for built and decoded records.
        _validate_passage_fields(self.signed_fields())
        if len(self.char_confidence_pm) != len(self.plate):
            raise MalformedRecord("char_confidence_pm needs one value per plate character")
        for name, image in (("crop_jpeg", self.crop_jpeg), ("overview_jpeg", self.overview_jpeg)):
            if not image.startswith(b"\xff\xd8\xff"):
                raise MalformedRecord(f"{name} is not a JPEG image")

    @property
    def lat(self) -> float:
        return self.lat_e7 / 1e7

    @property
    def lon(self) -> float:
        return self.lon_e7 / 1e7

    @property
    def confidence(self) -> float:
        return self.confidence_pm / 1000

    def signed_fields(self) -> dict:
        return {
            "v": SCHEMA_VERSION,
            "kind": "passage",
            "camera_id": self.camera_id,
            "key_id": self.key_id,
            "seq": self.seq,
            "captured_at": f.format_timestamp(self.captured_at),
            "lat_e7": self.lat_e7,
            "lon_e7": self.lon_e7,
            "direction": self.direction,
            "lane": self.lane,
            "plate": self.plate,
            "country": self.country,
            "confidence_pm": self.confidence_pm,
            "char_confidence_pm": list(self.char_confidence_pm),
            "plate_box": list(self.plate_box),
            "models": {"detector": self.detector_version, "reader": self.reader_version},
            "crop_sha256": self._digests[0],
            "overview_sha256": self._digests[1],
        }

    @classmethod
    def from_signed_fields(cls, record: dict, crop_jpeg: bytes, overview_jpeg: bytes) -> Passage:
        _validate_passage_fields(record)
        x, y, w, h = record["plate_box"]
        passage = cls(
            camera_id=record["camera_id"],
            key_id=record["key_id"],
            seq=record["seq"],
            captured_at=f.timestamp(record, "captured_at"),
            lat_e7=record["lat_e7"],
            lon_e7=record["lon_e7"],
            direction=record["direction"],
            lane=record["lane"],
            plate=record["plate"],
            country=record["country"],
            confidence_pm=record["confidence_pm"],
            char_confidence_pm=tuple(record["char_confidence_pm"]),
            plate_box=(x, y, w, h),
            detector_version=record["models"]["detector"],
            reader_version=record["models"]["reader"],
            crop_jpeg=crop_jpeg,
            overview_jpeg=overview_jpeg,
        )
        if record["crop_sha256"] != passage._digests[0]:
            raise ImageDigestMismatch("crop image does not match crop_sha256")
        if record["overview_sha256"] != passage._digests[1]:
            raise ImageDigestMismatch("overview image does not match overview_sha256")
        return passage


_PASSAGE_KEYS = {
    "v", "kind", "camera_id", "key_id", "seq", "captured_at", "lat_e7", "lon_e7", "direction",
    "lane", "plate", "country", "confidence_pm", "char_confidence_pm", "plate_box", "models",
    "crop_sha256", "overview_sha256",
}  # fmt: skip


def _validate_passage_fields(record: dict) -> None:
    f.require_keys(record, _PASSAGE_KEYS, "passage")
    _check_header(record, "passage")
    f.integer(record, "seq", 1, MAX_SEQ)
    f.timestamp(record, "captured_at")
    f.integer(record, "lat_e7", -LAT_E7_LIMIT, LAT_E7_LIMIT)
    f.integer(record, "lon_e7", -LON_E7_LIMIT, LON_E7_LIMIT)
    if record["direction"] not in f.DIRECTIONS:
        raise MalformedRecord(f"field direction={record['direction']!r} not in {f.DIRECTIONS}")
    f.integer(record, "lane", 0, 16)
    plate = f.text(record, "plate", f.PLATE)
    f.text(record, "country", f.COUNTRY)
    f.integer(record, "confidence_pm", 0, 1000)
    chars = f.int_list(record, "char_confidence_pm", 0, 1000, MAX_PLATE_CHARS)
    if len(chars) != len(plate):
        raise MalformedRecord("char_confidence_pm needs one value per plate character")
    box = f.int_list(record, "plate_box", 0, 100_000, 4)
    if len(box) != 4 or box[2] < 1 or box[3] < 1:
        raise MalformedRecord("plate_box must be [x, y, width, height] with positive size")
    _validate_models(record)
    f.text(record, "crop_sha256", f.SHA256_HEX)
    f.text(record, "overview_sha256", f.SHA256_HEX)


def _validate_models(record: dict) -> None:
    models = record["models"]
    if not isinstance(models, dict):
        raise MalformedRecord("field models must be an object")
    f.require_keys(models, {"detector", "reader"}, "models")
    f.text(models, "detector", f.VERSION_LABEL)
    f.text(models, "reader", f.VERSION_LABEL)


def _check_header(record: dict, kind: str) -> None:
    if record["kind"] != kind:
        raise MalformedRecord(f"expected a {kind} record, got kind={record['kind']!r}")
    f.text(record, "camera_id", f.CAMERA_ID)
    f.text(record, "key_id", f.KEY_ID)


@dataclass(frozen=True)
class ResearchHealth:
    """Traffic research on the unit, in its heartbeat: present only where it is configured.

    Counts are since the agent started; `sightings_unkeyed` counts vehicles that made no
    sighting because the unit held no day key for their day (or the purpose was not valid).
    """

    area: str
    valid_today: bool
    key_today: bool
    key_tomorrow: bool
    sightings_sent: int = 0
    sightings_queued: int = 0
    sightings_dropped: int = 0
    sightings_unkeyed: int = 0
    keys_refused: int = 0

    def fields(self) -> dict:
        return {name: getattr(self, name) for name in _RESEARCH_KEYS}


_RESEARCH_KEYS = (
    "area", "valid_today", "key_today", "key_tomorrow", "sightings_sent", "sightings_queued",
    "sightings_dropped", "sightings_unkeyed", "keys_refused",
)  # fmt: skip


def _validate_research(value: object) -> None:
    if not isinstance(value, dict):
        raise MalformedRecord("field research must be an object")
    f.require_keys(value, set(_RESEARCH_KEYS), "research")
    f.text(value, "area", AREA)
    for name in ("valid_today", "key_today", "key_tomorrow"):
        f.boolean(value, name)
    for name in _RESEARCH_KEYS[4:]:
        f.integer(value, name, 0, MAX_SEQ)


@dataclass(frozen=True)
class Heartbeat:
    """A unit's periodic health report; signed so that nobody can fake a healthy camera."""

    camera_id: str
    key_id: str
    sent_at: datetime
    boot_id: str
    uptime_s: int
    source_ok: bool
    frames_captured: int
    frames_dropped: int
    last_seq: int
    spool_depth: int
    spool_oldest_age_s: int
    agent_version: str
    fps_milli: int = 0
    reads_per_min: int = 0
    mean_confidence_pm: int = -1
    layout_match_pm: int = -1
    reads_masked: int = 0
    records_expired: int = 0
    records_dropped: int = 0
    disk_free_mb: int = -1
    cpu_temp_mc: int = -1
    clock_sync: str = "unknown"
    detector_version: str = "unknown"
    reader_version: str = "unknown"
    research: ResearchHealth | None = None  # only on units with traffic research configured

    def __post_init__(self) -> None:
        _validate_heartbeat_fields(self.signed_fields())

    def signed_fields(self) -> dict:
        record = self._base_fields()
        if self.research is not None:  # absent otherwise: older centrals see what they know
            record["research"] = self.research.fields()
        return record

    def _base_fields(self) -> dict:
        return {
            "v": SCHEMA_VERSION,
            "kind": "heartbeat",
            "camera_id": self.camera_id,
            "key_id": self.key_id,
            "sent_at": f.format_timestamp(self.sent_at),
            "boot_id": self.boot_id,
            "uptime_s": self.uptime_s,
            "source_ok": self.source_ok,
            "frames_captured": self.frames_captured,
            "frames_dropped": self.frames_dropped,
            "last_seq": self.last_seq,
            "spool_depth": self.spool_depth,
            "spool_oldest_age_s": self.spool_oldest_age_s,
            "agent_version": self.agent_version,
            "fps_milli": self.fps_milli,
            "reads_per_min": self.reads_per_min,
            "mean_confidence_pm": self.mean_confidence_pm,
            "layout_match_pm": self.layout_match_pm,
            "reads_masked": self.reads_masked,
            "records_expired": self.records_expired,
            "records_dropped": self.records_dropped,
            "disk_free_mb": self.disk_free_mb,
            "cpu_temp_mc": self.cpu_temp_mc,
            "clock_sync": self.clock_sync,
            "models": {"detector": self.detector_version, "reader": self.reader_version},
        }

    @classmethod
    def from_signed_fields(cls, record: dict) -> Heartbeat:
        _validate_heartbeat_fields(record)
        values = {k: record[k] for k in _HEARTBEAT_KEYS - {"v", "kind", "sent_at", "models"}}
        research = record.get("research")
        return cls(
            research=ResearchHealth(**research) if research is not None else None,
            sent_at=f.timestamp(record, "sent_at"),
            detector_version=record["models"]["detector"],
            reader_version=record["models"]["reader"],
            **values,
        )


_HEARTBEAT_KEYS = {
    "v", "kind", "camera_id", "key_id", "sent_at", "boot_id", "uptime_s", "source_ok",
    "frames_captured", "frames_dropped", "last_seq", "spool_depth", "spool_oldest_age_s",
    "agent_version", "fps_milli", "reads_per_min", "mean_confidence_pm", "layout_match_pm",
    "reads_masked",
    "records_expired", "records_dropped", "disk_free_mb", "cpu_temp_mc", "clock_sync", "models",
}  # fmt: skip
CLOCK_SYNC_STATES = ("synced", "unsynced", "unknown")


def _validate_heartbeat_fields(record: dict) -> None:
    optional = {"research"} & record.keys()
    f.require_keys(record, _HEARTBEAT_KEYS | optional, "heartbeat")
    if optional:
        _validate_research(record["research"])
    _check_header(record, "heartbeat")
    f.timestamp(record, "sent_at")
    f.text(record, "boot_id", f.KEY_ID)
    for name in ("uptime_s", "frames_captured", "frames_dropped", "spool_depth",
                 "spool_oldest_age_s"):  # fmt: skip
        f.integer(record, name, 0, MAX_SEQ)
    f.integer(record, "last_seq", 0, MAX_SEQ)
    f.boolean(record, "source_ok")
    f.text(record, "agent_version", f.VERSION_LABEL)
    for name in ("fps_milli", "reads_per_min", "reads_masked", "records_expired",
                 "records_dropped"):  # fmt: skip
        f.integer(record, name, 0, MAX_SEQ)
    f.integer(record, "mean_confidence_pm", -1, 1000)
    f.integer(record, "layout_match_pm", -1, 1000)
    f.integer(record, "disk_free_mb", -1, MAX_SEQ)
    f.integer(record, "cpu_temp_mc", -1, 200_000)
    if record["clock_sync"] not in CLOCK_SYNC_STATES:
        raise MalformedRecord(f"field clock_sync must be one of {CLOCK_SYNC_STATES}")
    _validate_models(record)


@dataclass(frozen=True)
class Rejection:
    seq: int
    reason: str


@dataclass(frozen=True)
class Ack:
    """The central's signed word that records are durably stored (or durably refused)."""

    camera_id: str
    key_id: str
    issued_at: datetime
    seqs: tuple[int, ...]
    rejected: tuple[Rejection, ...] = ()

    def __post_init__(self) -> None:
        _validate_ack_fields(self.signed_fields())

    def signed_fields(self) -> dict:
        return {
            "v": SCHEMA_VERSION,
            "kind": "ack",
            "camera_id": self.camera_id,
            "key_id": self.key_id,
            "issued_at": f.format_timestamp(self.issued_at),
            "seqs": list(self.seqs),
            "rejected": [{"seq": r.seq, "reason": r.reason} for r in self.rejected],
        }

    @classmethod
    def from_signed_fields(cls, record: dict) -> Ack:
        _validate_ack_fields(record)
        return cls(
            camera_id=record["camera_id"],
            key_id=record["key_id"],
            issued_at=f.timestamp(record, "issued_at"),
            seqs=tuple(record["seqs"]),
            rejected=tuple(Rejection(r["seq"], r["reason"]) for r in record["rejected"]),
        )


_ACK_KEYS = {"v", "kind", "camera_id", "key_id", "issued_at", "seqs", "rejected"}
_REASON = f.VERSION_LABEL


def _validate_ack_fields(record: dict) -> None:
    f.require_keys(record, _ACK_KEYS, "ack")
    _check_header(record, "ack")
    f.timestamp(record, "issued_at")
    f.int_list(record, "seqs", 1, MAX_SEQ, MAX_ACK_SEQS)
    rejected = record["rejected"]
    if not isinstance(rejected, list) or len(rejected) > MAX_ACK_SEQS:
        raise MalformedRecord(f"field rejected must be a list of at most {MAX_ACK_SEQS} entries")
    for entry in rejected:
        if not isinstance(entry, dict):
            raise MalformedRecord("each rejected entry must be an object")
        f.require_keys(entry, {"seq", "reason"}, "rejected entry")
        f.integer(entry, "seq", 1, MAX_SEQ)
        f.text(entry, "reason", _REASON)
