"""Health for maintainers: a page worst first, the same as JSON, and Prometheus metrics."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from prometheus_client.exposition import choose_encoder

from central import metrics as central_metrics
from central.health.certificates import certificate_states, tls_files
from central.health.monitor import CameraHealth, survey
from central.web.access import MAINTAINERS, current_session, requires
from central.web.stores import camera_registry, health_records
from node import wallclock
from node.tls import is_loopback

bp = Blueprint("health", __name__)


def _survey() -> list[CameraHealth]:
    config = current_app.config["ANPR"]
    return survey(camera_registry(), health_records(), wallclock.now(), config.health.limits())


def _json(health: CameraHealth) -> dict:
    return {
        "camera_id": health.camera_id,
        "state": health.assessment.state.name,
        "since": health.since,
        "reasons": list(health.assessment.reasons),
        "figures": health.assessment.figures,
    }


def _certificates() -> list[dict]:
    config = current_app.config["ANPR"]
    return [asdict(c) for c in certificate_states(tls_files(config), wallclock.now())]


@bp.get("/api/v1/health")
@requires(*MAINTAINERS)
def health_json():
    return jsonify({"cameras": [_json(h) for h in _survey()], "certificates": _certificates()})


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
    return render_template("health.html", cameras=cameras, certificates=_certificates(),
                           session=current_session())  # fmt: skip


def _from_this_host(address: str) -> bool:
    """Loopback, also written as an IPv4-mapped IPv6 address (a dual-stack listener)."""
    if address.lower().startswith("::ffff:"):
        address = address[len("::ffff:") :]
    return is_loopback(address)


@bp.get("/metrics")
def metrics():
    """Prometheus text exposition of the central's figures (central/metrics.py).

    Not behind a login (a scraper has no TOTP) but for the host's own scraper only: the
    web listens on loopback, and a request from any other address is refused here too.
    """
    if not _from_this_host(request.remote_addr or ""):
        abort(403, description="metrics are for a scraper on this host")
    found = current_app.extensions.get("anpr_metrics")
    if found is None:
        found = current_app.extensions["anpr_metrics"] = central_metrics.registry(
            current_app.config["ANPR"]
        )
    # Text format, or OpenMetrics when the scraper asks for it.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(found), content_type=content_type)
