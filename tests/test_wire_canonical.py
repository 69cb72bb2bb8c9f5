"""The canonical encoding: one byte string per value, and refusal of what has no portable form."""

import pytest

from wire.canonical import canonical_bytes, parse_json_object
from wire.errors import MalformedRecord


def test_keys_are_sorted_and_there_is_no_whitespace():
    assert canonical_bytes({"b": 1, "a": [True, False, "x"], "c": {"z": 0, "y": -5}}) == (
        b'{"a":[true,false,"x"],"b":1,"c":{"y":-5,"z":0}}'
    )


def test_same_value_in_any_key_order_gives_same_bytes():
    assert canonical_bytes({"a": 1, "b": 2}) == canonical_bytes({"b": 2, "a": 1})


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        {"plate": "AB\u00e912"},
        {"plate": 'AB"12'},
        {"plate": "AB\\12"},
        {"plate": "AB\n12"},
        2**53,
        b"bytes",
        None,
    ],
)
def test_values_without_portable_form_are_refused(value):
    with pytest.raises(MalformedRecord):
        canonical_bytes(value)


def test_parser_refuses_duplicate_keys():
    with pytest.raises(MalformedRecord, match="duplicate key 'a'"):
        parse_json_object(b'{"a":1,"a":2}', "test")


@pytest.mark.parametrize("text", [b'{"a":1.0}', b'{"a":NaN}', b'{"a":1e3}'])
def test_parser_refuses_floats(text):
    with pytest.raises(MalformedRecord, match="no floats|not an integer"):
        parse_json_object(text, "test")


@pytest.mark.parametrize("text", [b"[1,2]", b"not json", b"\xff\xfe", b""])
def test_parser_refuses_non_objects(text):
    with pytest.raises(MalformedRecord):
        parse_json_object(text, "test")


def test_fast_path_equals_the_strict_encoder_for_validated_records():
    from tests.conftest import make_passage
    from wire import Ack, SigningKey
    from wire.canonical import canonical_bytes_of_validated
    from wire.records import Rejection

    key = SigningKey.from_seed(bytes(32))
    passage = make_passage(key).signed_fields()
    ack = Ack("cam-001", key.key_id, make_passage(key).captured_at, (1, 2), (Rejection(3, "x"),))
    for record in (passage, ack.signed_fields()):
        assert canonical_bytes_of_validated(record) == canonical_bytes(record)


@pytest.mark.parametrize(
    "text",
    [
        b'{"seq": ' + b"9" * 5000 + b"}",
        b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"a": ' + b'{"b": ' * 3000 + b"1" + b"}" * 3001,
    ],
    ids=["5000-digit integer", "arrays 5000 deep", "objects 3000 deep"],
)
def test_hostile_json_is_refused_as_malformed_not_raised_otherwise(text):
    """A unit's 5 KB payload must not cost quadratic time or escape as another error."""
    with pytest.raises(MalformedRecord):
        parse_json_object(text, "record")
