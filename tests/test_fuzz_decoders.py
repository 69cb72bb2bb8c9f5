"""Every decoder the outside world reaches, fuzzed: any input decodes to a valid value or is
refused with the decoder's documented error, never anything else, and never slowly.

Why: one exception that escapes a decoder stalls the central's whole ingest batch (issue 18,
finding 1) or an agent's ack and hotlist handling; an accepted input that is not what was
signed would undo the signature. So each decoder gets three kinds of hostile input (valid
records mutated field by field and, where a signature is checked before the fields, signed
again; byte damage to real payloads; plain JSON and bytes) and two properties: only the
documented error, and whatever is accepted is exactly what the signer meant (it re-encodes
to the same signed bytes). Round trips (encode, then decode) hold for valid values.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from central.cameras import Camera
from central.ingest.pool import open_and_verify
from central.ingest.refusal import Refusal
from central.requests.photos import PhotoError, parse_boxes, render
from edge_agent.bundles import BundleRefused, install_bundle
from node.config_file import ConfigError
from tests.fuzz_support import (
    FUZZ,
    PORTABLE,
    byte_damage,
    dumps,
    field_mutation,
    json_values,
    key_paths,
    tried,
    wire_values,
    within_a_moment,
)
from wire import (
    Ack,
    Heartbeat,
    Passage,
    Rejection,
    SigningKey,
    Verified,
    WireError,
    decode_ack,
    decode_heartbeat,
    decode_passage,
    encode_ack,
    encode_heartbeat,
    encode_passage,
)
from wire.bundles import BundleFile, Manifest, open_manifest, sign_manifest
from wire.canonical import canonical_bytes, canonical_bytes_of_validated, parse_json_object
from wire.errors import BadSignature, MalformedRecord
from wire.fields import CAMERA_ID, COUNTRY, DIRECTIONS, SHA256_HEX, truncate_to_millis
from wire.research import (
    DayKey,
    ResearchBatch,
    Sighting,
    decode_batch,
    decode_day_keys,
    encode_batch,
    encode_day_keys,
    open_day_key,
    seal_day_key,
)
from wire.sealing import MAGIC, SealingKey, Unsealable, seal
from wire.unit_hotlist import (
    HashedEntry,
    UnitHotlist,
    UnitMatcher,
    decode_unit_hotlist,
    encode_unit_hotlist,
    plate_digest,
)

CAMERA = "a12-hm34-n-1"
KEY = SigningKey.from_seed(bytes(range(32)))
OTHER = SigningKey.from_seed(bytes(range(1, 33)))
SEAL = SealingKey.generate()
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(64))
HUGE_INT = b'{"record": ' + b"9" * 5000 + b', "sig": "x"}'
DEEP = b'{"record": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def deep(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


# --- valid values ---------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(truncate_to_millis)
camera_ids = st.from_regex(CAMERA_ID, fullmatch=True)
labels = st.from_regex(r"[A-Za-z0-9._:+-]{1,64}", fullmatch=True)
plates = st.from_regex(r"[A-Z0-9]{1,12}", fullmatch=True)
jpegs = st.binary(max_size=64).map(lambda tail: b"\xff\xd8\xff" + tail)


@st.composite
def passages(draw) -> Passage:
    plate = draw(plates)
    return Passage(
        camera_id=draw(camera_ids), key_id=KEY.key_id, seq=draw(st.integers(1, 2**53 - 1)),
        captured_at=draw(moments), lat_e7=draw(st.integers(-900_000_000, 900_000_000)),
        lon_e7=draw(st.integers(-1_800_000_000, 1_800_000_000)),
        direction=draw(st.sampled_from(DIRECTIONS)), lane=draw(st.integers(0, 16)), plate=plate,
        country=draw(st.sampled_from(["", "NL", "BE", "DE"])),
        confidence_pm=draw(st.integers(0, 1000)),
        char_confidence_pm=tuple(draw(st.integers(0, 1000)) for _ in plate),
        plate_box=(draw(st.integers(0, 5000)), draw(st.integers(0, 5000)),
                   draw(st.integers(1, 5000)), draw(st.integers(1, 5000))),
        detector_version=draw(labels), reader_version=draw(labels),
        crop_jpeg=draw(jpegs), overview_jpeg=draw(jpegs),
    )  # fmt: skip


@st.composite
def heartbeats(draw) -> Heartbeat:
    counts = st.integers(0, 2**53 - 1)
    return Heartbeat(
        camera_id=draw(camera_ids), key_id=KEY.key_id, sent_at=draw(moments),
        boot_id=draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True)), uptime_s=draw(counts),
        source_ok=draw(st.booleans()), frames_captured=draw(counts), frames_dropped=draw(counts),
        last_seq=draw(counts), spool_depth=draw(counts), spool_oldest_age_s=draw(counts),
        agent_version=draw(labels), mean_confidence_pm=draw(st.integers(-1, 1000)),
        cpu_temp_mc=draw(st.integers(-1, 200_000)),
        clock_sync=draw(st.sampled_from(["synced", "unsynced", "unknown"])),
    )  # fmt: skip


@st.composite
def acks(draw) -> Ack:
    seqs = st.integers(1, 2**53 - 1)
    return Ack(
        camera_id=draw(camera_ids), key_id=KEY.key_id, issued_at=draw(moments),
        seqs=tuple(draw(st.lists(seqs, max_size=20))),
        rejected=tuple(Rejection(s, r) for s, r in draw(st.lists(st.tuples(seqs, labels),
                                                                 max_size=5))),
    )  # fmt: skip


def make_passage(**changes) -> Passage:
    values = dict(
        camera_id=CAMERA, key_id=KEY.key_id, seq=42,
        captured_at=datetime(2026, 11, 22, 7, 30, 15, 250000, tzinfo=UTC), lat_e7=520907000,
        lon_e7=51214000, direction="N", lane=2, plate="GBL12X", country="NL", confidence_pm=973,
        char_confidence_pm=(991, 987, 962, 999, 998, 941), plate_box=(612, 488, 214, 47),
        detector_version="plate-det-1.0", reader_version="plate-ocr-1.0",
        crop_jpeg=JPEG, overview_jpeg=JPEG + b"overview",
    )  # fmt: skip
    values.update(changes)
    return Passage(**values)


PASSAGE = make_passage()
PASSAGE_PAYLOAD = encode_passage(PASSAGE, KEY)
HEARTBEAT_PAYLOAD = encode_heartbeat(
    Heartbeat(
        CAMERA,
        KEY.key_id,
        PASSAGE.captured_at,
        "0123456789abcdef",
        10,
        True,
        100,
        1,
        41,
        2,
        30,
        "agent-1.0",
    ),  # fmt: skip
    KEY,
)
ACK_PAYLOAD = encode_ack(
    Ack(CAMERA, KEY.key_id, PASSAGE.captured_at, (1, 2, 3), (Rejection(4, "clock_skew"),)), KEY
)
DECODERS = {"passage": decode_passage, "heartbeat": decode_heartbeat, "ack": decode_ack}
PAYLOADS = {"passage": PASSAGE_PAYLOAD, "heartbeat": HEARTBEAT_PAYLOAD, "ack": ACK_PAYLOAD}


def envelope_paths(payload: bytes) -> list[tuple[str, ...]]:
    return key_paths(json.loads(payload))


# --- the canonical encoding and the strict JSON parser ---------------------------------------


@FUZZ
@given(value=wire_values)
def test_canonical_values_round_trip(value):
    """What canonical_bytes writes, parse_json_object reads back unchanged; for validated
    records the fast encoder writes the very same bytes."""
    tried("canonical round trip")
    encoded = canonical_bytes({"v": value})
    assert parse_json_object(encoded, "value") == {"v": value}
    assert canonical_bytes_of_validated({"v": value}) == encoded


@FUZZ
@given(data=st.one_of(json_values.map(dumps), st.binary(max_size=200),
                      st.integers(1, 6000).map(lambda d: b'{"a":' + deep(d) + b"}")))  # fmt: skip
@example(data=HUGE_INT)
@example(data=DEEP)
@example(data=b'{"a": 1.0}')
@example(data=b'{"a": NaN}')
@example(data=b'{"a": 1, "a": 2}')
@example(data=b'{"a": "\xff"}')
def test_parse_json_object_refuses_with_malformed_only(data):
    """Strict JSON: an object whose every value canonicalises, or MalformedRecord."""
    tried("parse_json_object")
    with within_a_moment():
        try:
            value = parse_json_object(data, "fuzz")
        except MalformedRecord:
            return
        assert isinstance(value, dict)
        try:
            canonical_bytes(value)  # deep or odd values must not escape canonicalisation
        except MalformedRecord:
            pass


# --- passages, heartbeats, acknowledgements ---------------------------------------------------


@FUZZ
@given(passage=passages())
def test_passage_round_trip(passage):
    tried("passage round trip")
    decoded = decode_passage(encode_passage(passage, KEY)).verify(KEY.verify_key)
    assert decoded.record == passage
    assert decoded.canonical == canonical_bytes(passage.signed_fields())


@FUZZ
@given(heartbeat=heartbeats())
def test_heartbeat_round_trip(heartbeat):
    tried("heartbeat round trip")
    assert decode_heartbeat(encode_heartbeat(heartbeat, KEY)).verify(KEY.verify_key).record == (
        heartbeat
    )


@FUZZ
@given(ack=acks())
def test_ack_round_trip(ack):
    tried("ack round trip")
    assert decode_ack(encode_ack(ack, KEY)).verify(KEY.verify_key).record == ack


def check_envelope(kind: str, payload: bytes) -> None:
    """Decodes or raises a WireError; what decodes and verifies is the original record."""
    original = DECODERS[kind](PAYLOADS[kind])
    with within_a_moment():
        try:
            unverified = DECODERS[kind](payload)
        except WireError:
            return
    assert unverified.canonical == canonical_bytes(json.loads(payload)["record"])
    try:
        verified = unverified.verify(KEY.verify_key)
    except BadSignature:  # a changed record, or the same record with a damaged signature
        assert (unverified.canonical, unverified.signature) != (
            original.canonical,
            original.signature,
        )
        return
    assert isinstance(verified, Verified)
    assert verified.canonical == original.canonical


@pytest.mark.parametrize("kind", sorted(DECODERS))
@FUZZ
@given(data=st.data())
def test_envelopes_mutated_field_by_field(kind, data):
    tried(f"decode_{kind}, fields mutated")
    envelope = json.loads(PAYLOADS[kind])
    mutated = data.draw(field_mutation(envelope, key_paths(envelope)))
    check_envelope(kind, dumps(mutated))


@pytest.mark.parametrize("kind", sorted(DECODERS))
@FUZZ
@given(data=st.data())
def test_envelopes_with_byte_damage(kind, data):
    tried(f"decode_{kind}, bytes damaged")
    check_envelope(kind, data.draw(byte_damage(PAYLOADS[kind])))


@pytest.mark.parametrize("kind", sorted(DECODERS))
@FUZZ
@given(payload=st.binary(max_size=300) | json_values.map(dumps))
@example(payload=HUGE_INT)
@example(payload=DEEP)
@example(payload=b'{"record": {"v": 1, "kind": ' + deep(990, b'"x"') + b'}, "sig": "x"}')
def test_envelopes_from_nothing(kind, payload):
    tried(f"decode_{kind}, any bytes")
    check_envelope(kind, payload)


# --- seals and the central's admission path ---------------------------------------------------


@FUZZ
@given(payload=st.binary(max_size=500), camera=camera_ids)
def test_seal_round_trip(payload, camera):
    tried("seal round trip")
    assert SEAL.unseal(seal(payload, SEAL.public_raw, camera), camera) == payload


@FUZZ
@given(data=st.data())
@example(data=None)
def test_unseal_refuses_damage_with_unsealable_only(data):
    """A damaged seal, another camera's, or a low-order ephemeral key: Unsealable, always."""
    tried("SealingKey.unseal")
    sealed = seal(PASSAGE_PAYLOAD[:200], SEAL.public_raw, CAMERA)
    if data is None:  # the all-zero ephemeral key of issue 18
        candidate, camera = MAGIC + bytes(32) + sealed[41:], CAMERA
    else:
        candidate = data.draw(byte_damage(sealed) | st.binary(max_size=80).map(MAGIC.__add__))
        camera = data.draw(st.just(CAMERA) | camera_ids)
    with within_a_moment():
        try:
            opened = SEAL.unseal(candidate, camera)
        except Unsealable:
            return
    assert (candidate, camera) == (sealed, CAMERA) and opened == PASSAGE_PAYLOAD[:200]


ADMITTED_CAMERA = Camera(CAMERA, (KEY.verify_key,), "2026-01-01T00:00:00.000Z", "")


@FUZZ
@given(data=st.data(), sealed=st.booleans(), accept_unsealed=st.booleans())
def test_admission_returns_a_refusal_never_an_exception(data, sealed, accept_unsealed):
    """The central's admission (as the ingest pool runs it): unseal, decode, verify. Every
    input is a verified passage or a Refusal; an exception here stalled ingest (issue 18)."""
    tried("central admission (open_and_verify)")
    envelope = json.loads(PASSAGE_PAYLOAD)
    payload = data.draw(st.one_of(
        field_mutation(envelope, key_paths(envelope)).map(dumps),
        byte_damage(PASSAGE_PAYLOAD), st.binary(max_size=100),
        st.just(PASSAGE_PAYLOAD),
    ))  # fmt: skip
    if sealed:
        payload = seal(payload, SEAL.public_raw, CAMERA)
        if data.draw(st.booleans()):
            payload = data.draw(byte_damage(payload))
    with within_a_moment():
        result = open_and_verify(payload, CAMERA, ADMITTED_CAMERA, SEAL, accept_unsealed)
    if isinstance(result, Refusal):
        assert result.reason
        return
    assert isinstance(result, Verified) and result.record == PASSAGE
    assert sealed or accept_unsealed


# --- traffic research: batches and day keys ----------------------------------------------------

DAY = date(2026, 11, 22)
DAY_START = int(datetime(2026, 11, 22, tzinfo=UTC).timestamp())
DAY_KEY = DayKey("utrecht-west", DAY, bytes(range(32)))
UNIT_SEAL = SealingKey.generate()


def make_batch(**changes) -> ResearchBatch:
    values = dict(
        camera_id=CAMERA, key_id=KEY.key_id, seq=7, area="utrecht-west", day=DAY,
        day_key_id=DAY_KEY.key_id,
        sightings=(Sighting(DAY_START + 5, "N", "ab" * 32), Sighting(DAY_START + 90, "S",
                                                                       "cd" * 32)),
    )  # fmt: skip
    values.update(changes)
    return ResearchBatch(**values)


BATCH_PAYLOAD = encode_batch(make_batch(), KEY)


def key_for(camera_id, key_id):
    return KEY.verify_key if (camera_id, key_id) == (CAMERA, KEY.key_id) else None


def signed_again(document: dict, name: str = "record", sig: str = "sig") -> bytes:
    """`document[name]` signed by KEY, when it can be canonicalised at all."""
    try:
        document[sig] = base64.b64encode(KEY.sign(canonical_bytes(document[name]))).decode()
    except (MalformedRecord, KeyError, TypeError):
        pass
    return dumps(document)


@FUZZ
@given(seq=st.integers(0, 2**53 - 1), day=st.dates(date(1971, 1, 1), date(2099, 12, 31)),
       offsets=st.lists(st.integers(0, 86_399), min_size=1, max_size=30))  # fmt: skip
def test_research_batch_round_trip(seq, day, offsets):
    tried("research batch round trip")
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    batch = make_batch(seq=seq, day=day, sightings=tuple(
        Sighting(start + offset, "E", f"{offset:064x}") for offset in offsets))  # fmt: skip
    assert decode_batch(encode_batch(batch, KEY), key_for) == batch


def check_batch(payload: bytes) -> None:
    """Refused with a WireError, or accepted as exactly the record the camera signed."""
    with within_a_moment():
        try:
            batch = decode_batch(payload, key_for)
        except WireError:
            return
    assert canonical_bytes(batch.signed_fields()) == canonical_bytes(
        json.loads(payload)["record"]
    ), "a research batch was accepted in another form than the one the camera signed"


@FUZZ
@given(data=st.data())
@example(data=None)
def test_research_batches_mutated(data):
    tried("research decode_batch")
    envelope = json.loads(BATCH_PAYLOAD)
    if data is None:  # a signed batch whose record nests beyond any parser's limit
        envelope["record"]["extra"] = json.loads(deep(900, b"1"))
        check_batch(signed_again(envelope))
        return
    mutated = data.draw(field_mutation(envelope, key_paths(envelope)))
    payload = data.draw(st.one_of(
        st.just(signed_again(mutated)), st.just(dumps(mutated)), byte_damage(BATCH_PAYLOAD),
        st.binary(max_size=100),
    ))  # fmt: skip
    check_batch(payload)


DAY_KEY_DOCUMENT = seal_day_key(DAY_KEY, CAMERA, UNIT_SEAL.public_raw, KEY)


@FUZZ
@given(key=st.binary(min_size=32, max_size=32), day=st.dates(date(2000, 1, 1)))
def test_day_key_round_trip(key, day):
    tried("research day key round trip")
    day_key = DayKey("utrecht-west", day, key)
    documents = decode_day_keys(
        encode_day_keys([seal_day_key(day_key, CAMERA, UNIT_SEAL.public_raw, KEY)])
    )
    assert [open_day_key(d, CAMERA, UNIT_SEAL, KEY.verify_key) for d in documents] == [day_key]


@FUZZ
@given(data=st.data())
def test_day_keys_mutated(data):
    """The unit's research-key topic: the container and each document it holds."""
    tried("research day keys (decode_day_keys, open_day_key)")
    container = json.loads(encode_day_keys([DAY_KEY_DOCUMENT]))
    mutated = data.draw(field_mutation(container, key_paths(container)))
    document = json.loads(DAY_KEY_DOCUMENT)
    mutated_document = data.draw(field_mutation(document, key_paths(document)))
    payload = data.draw(st.one_of(
        st.just(dumps(mutated)), byte_damage(encode_day_keys([DAY_KEY_DOCUMENT])),
        st.just(signed_again(mutated_document, "document")), st.just(dumps(mutated_document)),
        byte_damage(DAY_KEY_DOCUMENT), st.binary(max_size=100),
    ))  # fmt: skip
    with within_a_moment():
        try:
            documents = decode_day_keys(payload)
        except WireError:
            documents = [payload]
        for one in documents:
            try:
                found = open_day_key(one, CAMERA, UNIT_SEAL, KEY.verify_key)
            except WireError:
                continue
            assert found == DAY_KEY


# --- the unit's hotlist ------------------------------------------------------------------------

UNIT_KEY = b"k" * 32
HOTLIST = UnitHotlist(CAMERA, PASSAGE.captured_at, (
    HashedEntry(plate_digest(UNIT_KEY, "GBL12X"), 17, 1, "NL", PASSAGE.captured_at + timedelta(3)),
    HashedEntry(plate_digest(UNIT_KEY, "GBL12X"), 19, 3, "", PASSAGE.captured_at + timedelta(3)),
    HashedEntry("cd" * 32, 18, 2, "", PASSAGE.captured_at + timedelta(days=1), True),
))  # fmt: skip
HOTLIST_PAYLOAD = encode_unit_hotlist(HOTLIST, KEY)


@FUZZ
@given(entries=st.lists(st.tuples(
    st.from_regex(r"[0-9a-f]{64}", fullmatch=True), st.integers(1, 2**53 - 1),
    st.integers(1, 9), st.sampled_from(["", "NL", "BE"]), moments, st.booleans()), max_size=20),
    issued=moments)  # fmt: skip
def test_unit_hotlist_round_trip(entries, issued):
    tried("unit hotlist round trip")
    hotlist = UnitHotlist(CAMERA, issued, tuple(HashedEntry(*entry) for entry in entries))
    assert decode_unit_hotlist(encode_unit_hotlist(hotlist, KEY), CAMERA, KEY.verify_key) == (
        hotlist
    )


def signed_hotlist(document: dict) -> bytes:
    body = {k: v for k, v in document.items() if k not in ("key_id", "signature")}
    try:
        document["signature"] = base64.b64encode(KEY.sign(canonical_bytes(body))).decode()
    except MalformedRecord:
        pass
    return dumps(document)


def check_unit_hotlist(payload: bytes) -> None:
    """Refused with a WireError, or a list the unit can match against that says exactly what
    the central signed, each entry in its documented form."""
    with within_a_moment():
        try:
            hotlist = decode_unit_hotlist(payload, CAMERA, KEY.verify_key)
        except WireError:
            return
        UnitMatcher(hotlist, UNIT_KEY).hits("GBL12X", "NL", PASSAGE.captured_at)
    body = {k: v for k, v in json.loads(payload).items() if k not in ("key_id", "signature")}
    assert canonical_bytes(hotlist._body()) == canonical_bytes(body)
    for entry in hotlist.entries:
        assert SHA256_HEX.fullmatch(entry.digest) and COUNTRY.fullmatch(entry.country)
        assert type(entry.ref) is int and type(entry.priority) is int


@FUZZ
@given(data=st.data())
def test_unit_hotlists_mutated(data):
    """A hotlist pushed to the unit (or copied to its file), fields mutated, bytes damaged."""
    tried("decode_unit_hotlist")
    document = json.loads(HOTLIST_PAYLOAD)
    mutated = data.draw(field_mutation(document, key_paths(document) + [("entries",)]))
    check_unit_hotlist(data.draw(st.one_of(
        st.just(signed_hotlist(mutated)), st.just(dumps(mutated)), byte_damage(HOTLIST_PAYLOAD),
        st.binary(max_size=100),
    )))  # fmt: skip


@FUZZ
@given(index=st.integers(0, len(HOTLIST.entries) - 1), position=st.integers(0, 5),
       value=json_values, extra=st.none() | st.lists(json_values, max_size=6))  # fmt: skip
def test_unit_hotlist_entries_of_another_form(index, position, value, extra):
    """Signed entries of the wrong form (only the central's key makes them, but a unit must
    not trip over them while matching): refused, or accepted in the documented form."""
    tried("decode_unit_hotlist, signed entries mutated")
    document = json.loads(HOTLIST_PAYLOAD)
    document["entries"][index][position] = value
    if extra is not None:
        document["entries"].append(extra)
    check_unit_hotlist(signed_hotlist(document))


# --- change bundles ----------------------------------------------------------------------------

MANIFEST = Manifest(
    key_id=KEY.key_id, bundle_id="0123456789abcdef", camera_id=CAMERA, version="agent-1.2",
    made_by="j.maker", approved_by="a.approver", approved_at=PASSAGE.captured_at,
    files=(BundleFile("models/plate_reader.onnx", "ab" * 32, 10),),
)  # fmt: skip
MANIFEST_BYTES = sign_manifest(MANIFEST, KEY)
BUNDLE_PATH = r"[a-z0-9_-][a-z0-9_.-]{0,7}(/[a-z0-9_-][a-z0-9_.-]{0,7}){0,2}"


@FUZZ
@given(paths=st.lists(st.from_regex(BUNDLE_PATH, fullmatch=True), min_size=1, max_size=10,
                      unique=True),
       version=labels, camera=camera_ids | st.just("*"))  # fmt: skip
def test_manifest_round_trip(paths, version, camera):
    tried("bundle manifest round trip")
    if any(".." in path.split("/") for path in paths):
        return
    manifest = Manifest(KEY.key_id, "0123456789abcdef", camera, version, "j.maker",
                        "a.approver", PASSAGE.captured_at,
                        tuple(BundleFile(p, "ab" * 32, 1) for p in paths))  # fmt: skip
    assert open_manifest(sign_manifest(manifest, KEY), KEY.verify_key) == manifest


@FUZZ
@given(data=st.data())
def test_manifests_mutated(data):
    tried("bundle open_manifest")
    envelope = json.loads(MANIFEST_BYTES)
    mutated = data.draw(field_mutation(envelope, key_paths(envelope)))
    payload = data.draw(st.one_of(
        st.just(signed_again(mutated)), st.just(dumps(mutated)), byte_damage(MANIFEST_BYTES),
        st.binary(max_size=100),
    ))  # fmt: skip
    with within_a_moment():
        try:
            manifest = open_manifest(payload, KEY.verify_key)
        except WireError:
            return
    assert canonical_bytes(manifest.signed_fields()) == canonical_bytes(
        json.loads(payload)["record"]
    )


def bundle_zip(manifest: bytes, files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        for path, content in files.items():
            archive.writestr(f"files/{path}", content)
    return out.getvalue()


CONTENT = b"0123456789"
GOOD_BUNDLE = bundle_zip(
    sign_manifest(Manifest(KEY.key_id, "0123456789abcdef", CAMERA, "agent-1.2", "j.maker",
                           "a.approver", PASSAGE.captured_at,
                           (BundleFile("models/plate_reader.onnx",
                                       hashlib.sha256(CONTENT).hexdigest(), 10),)),
                  KEY),
    {"models/plate_reader.onnx": CONTENT},
)  # fmt: skip


@FUZZ
@given(data=st.data())
def test_bundle_archives_are_installed_or_refused(data, tmp_path_factory):
    """The file a technician copies to the unit: installed as signed, or BundleRefused."""
    tried("edge_agent install_bundle")
    archive = data.draw(st.one_of(
        byte_damage(GOOD_BUNDLE), st.binary(max_size=200),
        st.builds(bundle_zip, st.sampled_from([MANIFEST_BYTES, b"{}", b"\xff"]),
                  st.dictionaries(st.sampled_from(["models/plate_reader.onnx", "../x", "a"]),
                                  st.binary(max_size=20), max_size=2)),
    ))  # fmt: skip
    folder = tmp_path_factory.mktemp("bundle")
    (folder / "bundle.zip").write_bytes(archive)
    with within_a_moment():
        try:
            manifest = install_bundle(folder / "bundle.zip", CAMERA, KEY.verify_key,
                                      folder / "target")  # fmt: skip
        except BundleRefused:
            return
    assert (folder / "target" / "models" / "plate_reader.onnx").read_bytes() == CONTENT
    assert manifest.camera_id in (CAMERA, "*")


# --- configuration files -----------------------------------------------------------------------


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return '""'  # TOML has no null


def toml_text(document: dict) -> str:
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in document.items()
             if not isinstance(v, dict)]  # fmt: skip
    for section, body in document.items():
        if isinstance(body, dict):
            lines.append(f"[{json.dumps(section)}]")
            lines.extend(f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items())
    return "\n".join(lines) + "\n"


CONFIGS = {
    "central": {
        "storage": {"data_dir": "data", "keys_dir": "keys"},
        "secrets": {
            "session_key_file": "session.key",
            "ack_signing_key_file": "ack.key",
            "seal_key_file": "seal.key",
        },
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "ingest": {"batch_wait_ms": 20},
        "web": {"port": 8080, "demo_views": True},
        "alerts": {
            "unit_hotlist_cameras": ["a12-hm34-n-1"],
            "unit_hotlist_master_key_file": "hotlist.key",
        },
    },
    "agent": {
        "camera": {"id": CAMERA, "lat": 52.09, "lon": 5.12, "direction": "N", "lane": 1},
        "keys": {
            "signing_key": "keys/cam.key",
            "central_public_key": "keys/central.pub",
            "central_seal_public_key": "keys/seal.pub",
        },
        "source": {"path": "replay", "fps": 5.0},
        "spool": {"path": "spool.sqlite", "ack_timeout_s": 2.0},
        "privacy": {"masks": [[[0, 0], [10, 0], [10, 10]]]},
        "mqtt": {"host": "127.0.0.1", "port": 1883},
    },
    "research": {
        "storage": {"data_dir": "research-data"},
        "secrets": {"signing_key_file": "research-signing.key"},
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "web": {"port": 8090},
    },
}


def loader(side: str):
    from central.config import load_config as central
    from edge_agent.config import load_config as agent
    from traffic_research.config import load_config as research

    return {"central": central, "agent": agent, "research": research}[side]


@pytest.mark.parametrize("side", sorted(CONFIGS))
def test_example_configs_load(side, tmp_path):
    """The fuzzed configs start from files that load: the mutations are what fails."""
    path = tmp_path / "config.toml"
    path.write_text(toml_text(CONFIGS[side]))
    loader(side)(path)


@pytest.mark.parametrize("side", sorted(CONFIGS))
@FUZZ
@given(data=st.data())
@example(data=b"\xff\xfe[camera]\n")
@example(data=b"a = " + deep(3000, b"1") + b"\n")
@example(data=b"[" + b"a." * 3000 + b"a]\n")
def test_config_files_load_or_raise_config_error(side, data, tmp_path_factory):
    """A side's TOML file: a validated config, or ConfigError naming the problem; never a
    traceback from the parser or a validator."""
    tried(f"{side} config file")
    if isinstance(data, bytes):
        text = data
    else:
        mutated = data.draw(field_mutation(CONFIGS[side], key_paths(CONFIGS[side])))
        good = toml_text(CONFIGS[side]).encode()
        text = data.draw(st.one_of(
            st.just(toml_text(mutated).encode("utf-8", "surrogatepass")), byte_damage(good),
            st.binary(max_size=100),
        ))  # fmt: skip
    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_bytes(text)
    with within_a_moment():
        try:
            loader(side)(path)
        except ConfigError:
            pass


# --- images the central decodes -----------------------------------------------------------------


def real_jpeg(width: int = 96, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


OVERVIEW = real_jpeg()


@FUZZ
@given(text=st.text(max_size=40) | st.lists(st.lists(
    st.sampled_from(["1", "-5", "0", "1e3", "nan", "inf", "1e400", "99999999999", " 2 ", "x"]),
    min_size=4, max_size=4).map(",".join), max_size=3).map(";".join))  # fmt: skip
@example(text="inf,0,10,10")
@example(text="1e400,0,10,10")
def test_officer_blur_boxes_parse_or_raise_photo_error(text):
    """`?boxes=` of a photo preview and the approval form: boxes, or PhotoError (a 400)."""
    tried("central photo blur boxes (parse_boxes)")
    with within_a_moment():
        try:
            parse_boxes(text)
        except PhotoError:
            pass


def bomb_jpeg(width: int = 60000, height: int = 60000) -> bytes:
    """A small real JPEG whose header claims a huge size (what a hostile unit can sign)."""
    data = bytearray(real_jpeg(8, 8))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@FUZZ
@given(data=st.data())
@example(data=None)
def test_overview_photos_render_or_raise_photo_error(data):
    """An overview JPEG from a unit (signed, but a unit can be hostile) is rendered blurred
    for an officer: a JPEG, or PhotoError; a broken image must not become a 500."""
    tried("central overview rendering (photos.render)")
    if data is None:
        jpeg = OVERVIEW[: len(OVERVIEW) // 2]
    else:
        garbage = st.binary(max_size=100).map(b"\xff\xd8\xff".__add__)
        jpeg = data.draw(byte_damage(OVERVIEW) | garbage | st.just(bomb_jpeg()))
    with within_a_moment():
        try:
            out = render(jpeg, (10, 30, 20, 8), [])
        except PhotoError:
            return
    assert out.startswith(b"\xff\xd8\xff")


# --- the JSON fields in canonical form ----------------------------------------------------------


@FUZZ
@given(text=PORTABLE)
def test_portable_strings_are_written_verbatim(text):
    tried("canonical strings")
    assert canonical_bytes(text) == b'"' + text.encode("ascii") + b'"'


def test_a_version_of_true_is_not_version_1():
    """Found by the fuzzer: `true == 1` in Python, so a manifest signed with `"v": true`
    passed the version check and re-encoded as a different record."""
    from wire.fields import is_version

    envelope = json.loads(MANIFEST_BYTES)
    envelope["record"]["v"] = True
    with pytest.raises(WireError, match="version"):
        open_manifest(signed_again(envelope), KEY.verify_key)
    assert is_version(1, 1) and not is_version(True, 1) and not is_version(1.0, 1)
