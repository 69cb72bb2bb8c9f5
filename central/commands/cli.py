"""The command line's shared conventions: moments are ISO 8601 with a zone, and every change
a command makes is entered in the audit trail under the person who made it."""

from __future__ import annotations

from datetime import UTC, datetime

from central import audit_trails
from central.audit import cli_actor
from central.cameras import CameraRegistryError
from central.config import CentralConfig
from node import wallclock


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CameraRegistryError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CameraRegistryError(f"{text!r} has no time zone; write e.g. 2027-01-01T00:00Z")
    return moment.astimezone(UTC)


def record_action(
    config: CentralConfig, action: str, details: dict, actor: str | None = None
) -> None:
    audit_trails.record_in(config, actor or cli_actor(), action, details, wallclock.now())
