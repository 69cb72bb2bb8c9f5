"""MQTT topic names. One prefix, one camera per subtree, so broker ACLs can be per camera:
a camera may publish only under its own id and read only its own acknowledgements.
"""

from __future__ import annotations

from wire.errors import MalformedRecord
from wire.fields import CAMERA_ID

PREFIX = "anpr/v1"
# The last level of a camera's topics: what the message is.
KINDS = ("passage", "heartbeat", "status", "ack", "selftest", "selftest-ack", "hotlist",
         "research", "research-key", "commissioning")  # fmt: skip


def every_camera(kind: str) -> str:
    """The subscription (and broker ACL pattern) for one kind of message of all cameras."""
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"{PREFIX}/+/{kind}"


PASSAGE_SUBSCRIPTION = every_camera("passage")
HEARTBEAT_SUBSCRIPTION = every_camera("heartbeat")
STATUS_SUBSCRIPTION = every_camera("status")
SELFTEST_SUBSCRIPTION = every_camera("selftest")
COMMISSIONING_SUBSCRIPTION = every_camera("commissioning")
RESEARCH_SUBSCRIPTION = every_camera("research")
# Alerts for control-room consoles, by priority, and for the owners of investigation lists.
ALERTS_SUBSCRIPTION = f"{PREFIX}/alerts/#"
ESCALATED_ALERTS = f"{PREFIX}/alerts/escalated"
EVERY_INVESTIGATION_ALERTS = f"{PREFIX}/investigations/+/alerts"
# The broker -> central: a unit's publish outside its own topics, refused by the broker's
# plugin (provisioning/mosquitto/anpr_refusals.c) and reported as JSON.
REFUSED_PUBLISH = f"{PREFIX}/security/refused-publish"
# Mosquitto's ACL pattern for "the investigation alerts of the connecting user".
OWN_INVESTIGATION_ALERTS_PATTERN = f"{PREFIX}/investigations/%u/alerts"


def _checked(camera_id: str) -> str:
    if not CAMERA_ID.fullmatch(camera_id):
        raise MalformedRecord(f"camera id {camera_id!r} is not valid in a topic")
    return camera_id


def camera_topic(camera_id: str, kind: str) -> str:
    """One camera's topic of one kind, checked (the functions below name each kind)."""
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"{PREFIX}/{_checked(camera_id)}/{kind}"


def passage_topic(camera_id: str) -> str:
    """Camera -> central, QoS 1: signed passages."""
    return camera_topic(camera_id, "passage")


def heartbeat_topic(camera_id: str) -> str:
    """Camera -> central, QoS 1: signed heartbeats."""
    return camera_topic(camera_id, "heartbeat")


def ack_topic(camera_id: str) -> str:
    """Central -> camera, QoS 1: signed acknowledgements."""
    return camera_topic(camera_id, "ack")


def status_topic(camera_id: str) -> str:
    """Camera -> anyone, retained: "online", or "offline" as the broker's last will."""
    return camera_topic(camera_id, "status")


def selftest_topic(camera_id: str) -> str:
    """Camera -> central, QoS 1: a signed test passage; verified and answered, never stored."""
    return camera_topic(camera_id, "selftest")


def selftest_ack_topic(camera_id: str) -> str:
    """Central -> camera, QoS 1: the signed answer to a test passage (its time sets the
    unit's clock check)."""
    return camera_topic(camera_id, "selftest-ack")


def commissioning_topic(camera_id: str) -> str:
    """Camera -> central, QoS 1: the signed commissioning report of the on-site self-test
    (`wire/commissioning.py`); kept with the camera's plan entry and answered on
    `selftest-ack` with the report's id."""
    return camera_topic(camera_id, "commissioning")


def hotlist_topic(camera_id: str) -> str:
    """Central -> camera, QoS 1, retained: the unit's hotlist as keyed hashes, signed
    (`wire/unit_hotlist.py`); the unit keeps the latest it receives."""
    return camera_topic(camera_id, "hotlist")


def research_topic(camera_id: str) -> str:
    """Camera -> research service only, QoS 1: signed batches of pseudonymised sightings
    (`wire/research.py`). The police side never subscribes to it."""
    return camera_topic(camera_id, "research")


def research_key_topic(camera_id: str) -> str:
    """Research service -> camera, QoS 1, retained: today's and tomorrow's day keys, each
    sealed to the unit's own research key."""
    return camera_topic(camera_id, "research-key")


def alert_topic(priority: int) -> str:
    """Central -> control room, QoS 1: `anpr/v1/alerts/p1` (act now) ... `p5`."""
    return f"{PREFIX}/alerts/p{priority}"


def investigation_alerts_topic(owner: str) -> str | None:
    """Central -> one investigation list's owner: that list's alerts only (the broker lets
    only a client of that name read it); None when the name cannot be a topic level."""
    if not owner or any(c in owner for c in "/+#\0") or not owner.isprintable():
        return None
    return f"{PREFIX}/investigations/{owner}/alerts"


def kind_of(topic: str) -> str:
    """The last level of a camera topic ("passage", "heartbeat", ...), or "" for others."""
    kind = topic.rsplit("/", 1)[-1]
    return kind if kind in KINDS else ""


def camera_of(topic: str) -> str:
    """The camera id in a topic, checked; raises MalformedRecord for foreign topics."""
    parts = topic.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != PREFIX:
        raise MalformedRecord(f"topic {topic!r} is not under {PREFIX}/<camera_id>/")
    return _checked(parts[2])
