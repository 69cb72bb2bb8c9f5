"""Passage, heartbeat and ack records: round trips and every way decoding refuses a payload."""

import base64
import json
from datetime import UTC, datetime

import pytest

from tests.conftest import JPEG, make_passage
from wire import (
    Ack,
    Heartbeat,
    Rejection,
    SigningKey,
    decode_ack,
    decode_heartbeat,
    decode_passage,
    encode_ack,
    encode_heartbeat,
    encode_passage,
)
from wire.envelope import MAX_PASSAGE_PAYLOAD
from wire.errors import (
    BadSignature,
    ImageDigestMismatch,
    MalformedRecord,
    OversizedPayload,
    UnknownVersion,
    UnsignedRecord,
)

KEY = SigningKey.from_seed(bytes(32))
OTHER_KEY = SigningKey.from_seed(bytes([1]) * 32)


def _tamper(payload: bytes, change) -> bytes:
    envelope = json.loads(payload)
    change(envelope)
    return json.dumps(envelope).encode()


def test_passage_round_trip_keeps_every_field_and_image():
    passage = make_passage(KEY)
    verified = decode_passage(encode_passage(passage, KEY)).verify(KEY.verify_key)
    assert verified.record == passage
    assert verified.record.crop_jpeg == passage.crop_jpeg
    assert verified.record.lat == pytest.approx(52.0907)


def test_whitespace_and_key_order_in_transit_do_not_break_the_signature():
    payload = encode_passage(make_passage(KEY), KEY)
    reformatted = json.dumps(json.loads(payload), indent=2, sort_keys=False).encode()
    assert decode_passage(reformatted).verify(KEY.verify_key).record == make_passage(KEY)


def test_changed_plate_fails_verification():
    payload = _tamper(
        encode_passage(make_passage(KEY), KEY), lambda e: e["record"].update(plate="GBL12Y")
    )
    with pytest.raises(BadSignature):
        decode_passage(payload).verify(KEY.verify_key)


def test_record_signed_by_another_key_fails_verification():
    payload = encode_passage(make_passage(OTHER_KEY), OTHER_KEY)
    with pytest.raises(BadSignature, match="key on file"):
        decode_passage(payload).verify(KEY.verify_key)


def test_forged_signature_with_matching_key_id_fails():
    def swap_signature(envelope):
        envelope["sig"] = base64.b64encode(OTHER_KEY.sign(b"something else")).decode()

    payload = _tamper(encode_passage(make_passage(KEY), KEY), swap_signature)
    with pytest.raises(BadSignature, match="does not verify"):
        decode_passage(payload).verify(KEY.verify_key)


def test_replaced_image_is_refused_before_any_key_is_needed():
    other = base64.b64encode(JPEG + b"different").decode()
    payload = _tamper(encode_passage(make_passage(KEY), KEY), lambda e: e.update(crop_jpeg=other))
    with pytest.raises(ImageDigestMismatch):
        decode_passage(payload)


def test_unsigned_record_is_refused():
    payload = _tamper(encode_passage(make_passage(KEY), KEY), lambda e: e.update(sig=""))
    with pytest.raises(UnsignedRecord):
        decode_passage(payload)


def test_unknown_version_is_refused_by_name():
    payload = _tamper(encode_passage(make_passage(KEY), KEY), lambda e: e["record"].update(v=2))
    with pytest.raises(UnknownVersion, match="version 2"):
        decode_passage(payload)


def test_oversized_payload_is_refused_before_parsing():
    with pytest.raises(OversizedPayload):
        decode_passage(b"{" + b" " * MAX_PASSAGE_PAYLOAD + b"}")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.update(plate="ab-12"), "plate"),
        (lambda r: r.update(country="NLD"), "country"),
        (lambda r: r.update(seq=0), "seq"),
        (lambda r: r.update(captured_at="2026-11-22T12:00:00Z"), "captured_at"),
        (lambda r: r.update(captured_at="2026-02-30T12:00:00.000Z"), "real UTC time"),
        (lambda r: r.update(lat_e7=900000001), "lat_e7"),
        (lambda r: r.update(direction="up"), "direction"),
        (lambda r: r.update(confidence_pm=1001), "confidence_pm"),
        (lambda r: r.update(char_confidence_pm=[1000]), "one value per plate character"),
        (lambda r: r.update(plate_box=[1, 2, 0, 4]), "plate_box"),
        (lambda r: r.update(driver="J. Jansen"), "unknown field"),
        (lambda r: r.pop("camera_id"), "lacks field"),
        (lambda r: r.update(seq=True), "seq"),
    ],
)
def test_malformed_fields_are_refused_with_the_field_named(change, message):
    payload = _tamper(encode_passage(make_passage(KEY), KEY), lambda e: change(e["record"]))
    with pytest.raises(MalformedRecord, match=message):
        decode_passage(payload)


def test_errors_never_repeat_a_plate():
    payload = _tamper(
        encode_passage(make_passage(KEY), KEY), lambda e: e["record"].update(plate="ab-12-cd")
    )
    with pytest.raises(MalformedRecord) as error:
        decode_passage(payload)
    assert "ab-12-cd" not in str(error.value) and "plate" in str(error.value)


def test_non_jpeg_image_cannot_be_built():
    with pytest.raises(MalformedRecord, match="JPEG"):
        make_passage(KEY, crop_jpeg=b"\x89PNG....")


def test_encoder_refuses_a_key_other_than_the_named_one():
    with pytest.raises(ValueError, match="signing key"):
        encode_passage(make_passage(KEY), OTHER_KEY)


def test_heartbeat_round_trip():
    heartbeat = Heartbeat(
        camera_id="test-cam-01",
        key_id=KEY.key_id,
        sent_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
        boot_id="0123456789abcdef",
        uptime_s=10,
        source_ok=True,
        frames_captured=5,
        frames_dropped=0,
        last_seq=4,
        spool_depth=1,
        spool_oldest_age_s=3,
        agent_version="0.1.0",
    )
    assert decode_heartbeat(encode_heartbeat(heartbeat, KEY)).verify(KEY.verify_key).record == (
        heartbeat
    )


def test_ack_round_trip_and_forgery():
    ack = Ack(
        camera_id="test-cam-01",
        key_id=KEY.key_id,
        issued_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
        seqs=(1, 2, 3),
        rejected=(Rejection(4, "clock_skew"),),
    )
    payload = encode_ack(ack, KEY)
    assert decode_ack(payload).verify(KEY.verify_key).record == ack
    with pytest.raises(BadSignature):
        decode_ack(
            encode_ack(Ack("test-cam-01", OTHER_KEY.key_id, ack.issued_at, (1,)), OTHER_KEY)
        ).verify(KEY.verify_key)


def test_topics_confine_camera_ids():
    from wire.topics import camera_of, passage_topic

    assert camera_of(passage_topic("test-cam-01")) == "test-cam-01"
    with pytest.raises(MalformedRecord):
        passage_topic("../etc")
    with pytest.raises(MalformedRecord):
        camera_of("anpr/v1/+/passage")
