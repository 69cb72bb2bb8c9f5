"""JSON API (v1) for maintainers: registered cameras, their history, ingest refusals.

Also the rules every JSON endpoint shares: errors as JSON, `limit` and camera id checks.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from central.web.access import MAINTAINERS, requires
from central.web.stores import camera_registry, rejection_log
from wire.fields import CAMERA_ID

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_LIMIT = 500


def limit_arg() -> int:
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, description=f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def camera_id_arg(camera_id: str) -> str:
    if not CAMERA_ID.fullmatch(camera_id):
        abort(400, description="camera id: lower-case letters, digits and '-', 3-64 characters")
    return camera_id


def json_error(error):
    return jsonify({"error": error.name, "detail": error.description}), error.code


def json_errors(blueprint: Blueprint) -> None:
    """Answer a blueprint's client errors as JSON, like every other endpoint of the API."""
    for code in (400, 401, 403, 404, 413):
        blueprint.register_error_handler(code, json_error)


json_errors(bp)


@bp.get("/cameras")
@requires(*MAINTAINERS)
def cameras():
    registry = camera_registry()
    return jsonify(
        [
            {
                "camera_id": camera.camera_id,
                "key_ids": [key.key_id for key in camera.keys],
                "registered_at": camera.registered_at,
                "designations": registry.designations(camera.camera_id),
                "purposes": [p.__dict__ for p in registry.purposes.of(camera.camera_id)],
            }
            for camera in registry.all()
        ]
    )


@bp.get("/ingest/rejections")
@requires(*MAINTAINERS)
def rejections():
    log = rejection_log()
    return jsonify({"counts": log.counts(), "latest": log.latest(limit_arg())})


@bp.get("/cameras/<camera_id>/history")
@requires(*MAINTAINERS)
def camera_history(camera_id: str):
    """Everything that changed for a camera: bundles installed, keys, health, plan."""
    from central.bundles import BundleHistory
    from central.health.records import HealthRecords

    config = current_app.config["ANPR"]
    camera_id = camera_id_arg(camera_id)
    if camera_registry().get(camera_id) is None:
        abort(404, description=f"camera {camera_id} is not registered")
    bundles, health = BundleHistory(config.bundles_path), HealthRecords(config.health_path)
    try:
        return jsonify(
            {
                "camera_id": camera_id,
                "bundles": bundles.for_camera(camera_id),
                "keys": camera_registry().key_history(camera_id),
                "health": health.health_history(camera_id),
                "designations": camera_registry().designations(camera_id),
            }
        )
    finally:
        bundles.close()
        health.close()
