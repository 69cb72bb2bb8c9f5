"""MQTT topic names. One prefix, one camera per subtree, so broker ACLs can be per camera:
a camera may publish only under its own id and read only its own acknowledgements.
"""

from __future__ import annotations

from wire.errors import MalformedRecord
from wire.fields import CAMERA_ID

PREFIX = "anpr/v1"
PASSAGE_SUBSCRIPTION = f"{PREFIX}/+/passage"
HEARTBEAT_SUBSCRIPTION = f"{PREFIX}/+/heartbeat"
STATUS_SUBSCRIPTION = f"{PREFIX}/+/status"
SELFTEST_SUBSCRIPTION = f"{PREFIX}/+/selftest"
RESEARCH_SUBSCRIPTION = f"{PREFIX}/+/research"


def _checked(camera_id: str) -> str:
    if not CAMERA_ID.fullmatch(camera_id):
        raise MalformedRecord(f"camera id {camera_id!r} is not valid in a topic")
    return camera_id


def passage_topic(camera_id: str) -> str:
    """Camera -> central, QoS 1: signed passages."""
    return f"{PREFIX}/{_checked(camera_id)}/passage"


def heartbeat_topic(camera_id: str) -> str:
    """Camera -> central, QoS 1: signed heartbeats."""
    return f"{PREFIX}/{_checked(camera_id)}/heartbeat"


def ack_topic(camera_id: str) -> str:
    """Central -> camera, QoS 1: signed acknowledgements."""
    return f"{PREFIX}/{_checked(camera_id)}/ack"


def status_topic(camera_id: str) -> str:
    """Camera -> anyone, retained: "online", or "offline" as the broker's last will."""
    return f"{PREFIX}/{_checked(camera_id)}/status"


def selftest_topic(camera_id: str) -> str:
    """Camera -> central, QoS 1: a signed test passage; verified and answered, never stored."""
    return f"{PREFIX}/{_checked(camera_id)}/selftest"


def selftest_ack_topic(camera_id: str) -> str:
    """Central -> camera, QoS 1: the signed answer to a test passage (its time sets the
    unit's clock check)."""
    return f"{PREFIX}/{_checked(camera_id)}/selftest-ack"


def hotlist_topic(camera_id: str) -> str:
    """Central -> camera, QoS 1, retained: the unit's hotlist as keyed hashes, signed
    (`wire/unit_hotlist.py`); the unit keeps the latest it receives."""
    return f"{PREFIX}/{_checked(camera_id)}/hotlist"


def research_topic(camera_id: str) -> str:
    """Camera -> research service only, QoS 1: signed batches of pseudonymised sightings
    (`wire/research.py`). The police side never subscribes to it."""
    return f"{PREFIX}/{_checked(camera_id)}/research"


def research_key_topic(camera_id: str) -> str:
    """Research service -> camera, QoS 1, retained: today's and tomorrow's day keys, each
    sealed to the unit's own research key."""
    return f"{PREFIX}/{_checked(camera_id)}/research-key"


def camera_of(topic: str) -> str:
    """The camera id in a topic, checked; raises MalformedRecord for foreign topics."""
    parts = topic.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != PREFIX:
        raise MalformedRecord(f"topic {topic!r} is not under {PREFIX}/<camera_id>/")
    return _checked(parts[2])
