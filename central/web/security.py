"""Security events for the auditor: lock-outs, refused logins, role violations, as they happen.

The law asks for detection of unauthorised access, not only its prevention: every refusal
the guards make is recorded (`accounts.users.Accounts.event`) and shown here, counted over
the last day and week, so a pattern (one address spraying names, one person probing pages)
is seen while it happens, not at the yearly review.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, jsonify, render_template, request

from central.web.access import requires
from central.web.api import json_errors, limit_arg
from central.web.stores import accounts
from node import wallclock

bp = Blueprint("security", __name__)
json_errors(bp)
# The events that mean someone tried what they may not; the rest (logins) are context.
ALARMING = ("login_failed", "locked_out", "login_refused_locked", "login_refused_address",
            "role_violation", "refused_publish")  # fmt: skip


def _summary() -> dict:
    now = wallclock.now()
    store = accounts()
    kind = request.args.get("kind", "")
    return {
        "last_day": store.event_counts(now - timedelta(days=1)),
        "last_week": store.event_counts(now - timedelta(days=7)),
        "kind": kind,
        "events": store.events(limit_arg() if "limit" in request.args else 200, kind),
    }


@bp.get("/security")
@requires("auditor")
def security_page():
    return render_template("security.html", alarming=ALARMING, **_summary())


@bp.get("/api/v1/security/events")
@requires("auditor")
def security_events():
    return jsonify(_summary())
