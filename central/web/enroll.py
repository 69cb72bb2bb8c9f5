"""Enrollment: a unit registers its keys with a one-time token (anpr-provision register).

The one endpoint a unit reaches without an account: the token is its credential.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify

from central import audit_trails, enrollment
from central.cameras import CameraRegistryError
from central.web.api import camera_id_arg, json_errors
from central.web.bodies import json_object
from central.web.stores import camera_registry
from node import wallclock
from wire import WireError

bp = Blueprint("enroll", __name__, url_prefix="/api/v1")
json_errors(bp)


@bp.post("/enroll")
def enroll_unit():
    """A unit registers its keys with a one-time token (anpr-provision register)."""
    body = json_object()
    fields = ("camera_id", "token", "public_key", "tls_fingerprint")
    if not all(isinstance(body.get(f), str) for f in fields):
        abort(400, description=f"send JSON with string fields {', '.join(fields)}")
    try:
        key = enrollment.enroll(
            camera_registry(),
            body["token"],
            camera_id_arg(body["camera_id"]),
            body["public_key"],
            body["tls_fingerprint"],
            wallclock.now(),
        )
    except enrollment.EnrollmentRefused as exc:
        abort(403, description=str(exc))
    except (CameraRegistryError, WireError) as exc:
        abort(400, description=str(exc))
    config = current_app.config["ANPR"]
    audit_trails.record_in(
        config,
        f"unit:{body['camera_id']}",
        "unit_enrolled",
        {"camera_id": body["camera_id"], "key_id": key.key_id},
        wallclock.now(),
    )
    return jsonify({"camera_id": body["camera_id"], "key_id": key.key_id}), 201
