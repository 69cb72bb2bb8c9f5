"""What the broker reports to the central: a unit's publish outside its own topics.

The broker's plugin (provisioning/mosquitto/anpr_refusals.c) refuses such a publish and
reports it on `wire.topics.REFUSED_PUBLISH`; ingest records it here as a security event, so
the auditor's /security page and `anpr_security_events_total{event="refused_publish"}` show
a broken or stolen unit trying to speak for another camera. The report comes from the
broker (no client may publish there), but is still read as untrusted bytes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from central.accounts.users import Accounts
from wire.canonical import parse_json_object
from wire.errors import WireError

log = logging.getLogger("central.ingest")
FIELDS = ("client_id", "user", "topic")


def record_refused_publish(accounts: Accounts, payload: bytes, now: datetime) -> bool:
    """Record one report; False (and a log line) when it is not one."""
    try:
        report = parse_json_object(payload, "broker report")
    except WireError as exc:
        log.warning("ingest: unreadable broker report: %s", exc)
        return False
    if not all(isinstance(report.get(f), str) for f in FIELDS):
        log.warning("ingest: broker report without %s", ", ".join(FIELDS))
        return False
    left_out = report.get("left_out", 0)
    more = f" (and {left_out} more not reported)" if isinstance(left_out, int) and left_out else ""
    detail = f"client {report['client_id']} published to {report['topic']}{more}"
    accounts.event(f"unit:{report['user']}", "refused_publish", detail, now)
    log.warning("SECURITY ALERT unit %s: %s, refused by the broker", report["user"], detail)
    return True
