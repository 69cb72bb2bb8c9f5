"""Health for maintainers: a page worst first, the same as JSON, and Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, render_template

from central.health.monitor import CameraHealth, survey
from central.health.rules import State
from central.web.access import MAINTAINERS, current_session, requires
from central.web.stores import camera_registry, health_records

bp = Blueprint("health", __name__)


def _survey() -> list[CameraHealth]:
    config = current_app.config["ANPR"]
    return survey(camera_registry(), health_records(), datetime.now(UTC), config.health.limits())


def _json(health: CameraHealth) -> dict:
    return {
        "camera_id": health.camera_id,
        "state": health.assessment.state.name,
        "since": health.since,
        "reasons": list(health.assessment.reasons),
        "figures": health.assessment.figures,
    }


@bp.get("/api/v1/health")
@requires(*MAINTAINERS)
def health_json():
    return jsonify({"cameras": [_json(h) for h in _survey()]})


@bp.get("/api/v1/health/<camera_id>/history")
@requires(*MAINTAINERS)
def health_history(camera_id: str):
    return jsonify({"camera_id": camera_id, "changes": health_records().health_history(camera_id)})


@bp.get("/health")
@requires(*MAINTAINERS)
def health_page():
    cameras = [_json(h) for h in _survey()]
    for camera in cameras:
        camera["history"] = health_records().health_history(camera["camera_id"], 10)
    return render_template("health.html", cameras=cameras, session=current_session())


@bp.get("/metrics")
def metrics():
    """Prometheus text exposition (version 0.0.4)."""
    lines = [
        "# HELP anpr_camera_state Camera health: 0 OK, 1 DEGRADED, 2 OFFLINE.",
        "# TYPE anpr_camera_state gauge",
    ]
    gauges = {
        "anpr_camera_last_heartbeat_seconds": (
            "last_heartbeat_s_ago",
            "Seconds since last heartbeat.",
        ),
        "anpr_camera_clock_offset_seconds": ("clock_offset_s", "Unit clock minus central clock."),
        "anpr_camera_spool_depth": ("spool_depth", "Records waiting on the unit."),
        "anpr_camera_spool_oldest_age_seconds": ("spool_oldest_age_s", "Age of the oldest."),
        "anpr_camera_frames_dropped": ("frames_dropped", "Frames dropped since agent start."),
    }
    surveyed = _survey()
    for health in surveyed:
        lines.append(
            f'anpr_camera_state{{camera="{health.camera_id}"}} {int(health.assessment.state)}'
        )
    for name, (key, help_text) in gauges.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for health in surveyed:
            if key in health.assessment.figures:
                value = float(health.assessment.figures[key])
                lines.append(f'{name}{{camera="{health.camera_id}"}} {value}')
    lines += ["# HELP anpr_cameras Cameras per state.", "# TYPE anpr_cameras gauge"]
    for state in State:
        count = sum(1 for h in surveyed if h.assessment.state is state)
        lines.append(f'anpr_cameras{{state="{state.name}"}} {count}')
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
