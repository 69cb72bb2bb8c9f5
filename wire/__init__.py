"""The contract between roadside agents and the central: records, bytes, signatures, topics.

No I/O happens here. See docs/wire-format.md for the specification this code implements.
"""

from wire.envelope import (
    Unverified,
    Verified,
    decode_ack,
    decode_heartbeat,
    decode_passage,
    encode_ack,
    encode_heartbeat,
    encode_passage,
)
from wire.errors import WireError
from wire.records import SCHEMA_VERSION, Ack, Heartbeat, Passage, Rejection
from wire.signing import SigningKey, VerifyKey

__all__ = [
    "SCHEMA_VERSION",
    "Ack",
    "Heartbeat",
    "Passage",
    "Rejection",
    "SigningKey",
    "Unverified",
    "Verified",
    "VerifyKey",
    "WireError",
    "decode_ack",
    "decode_heartbeat",
    "decode_passage",
    "encode_ack",
    "encode_heartbeat",
    "encode_passage",
]
