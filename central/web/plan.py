"""Publication of the plan (page, CSV, map) and its JSON API."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from central.health.monitor import survey
from central.plan.publication import (
    plan_context,
    plan_csv,
    plan_map_svg,
    public_plan,
    published_version,
    published_versions,
)
from central.web.access import MAINTAINERS, current_session, requires
from central.web.map_assets import GEOJSON, map_cameras
from central.web.stores import camera_plan, camera_registry, health_records
from node import wallclock

bp = Blueprint("plan", __name__)


def _published_or_404(year: int) -> dict:
    """Drafts and ratified-but-unpublished versions do not exist for the public."""
    version = published_version(camera_plan(), year)
    if version is None:
        abort(404, description=f"there is no published camera plan for {year}")
    return version


LIVE_MAP_ROLES = ("officer", *MAINTAINERS)


def live_states() -> dict[str, str]:
    config = current_app.config["ANPR"]
    health = survey(camera_registry(), health_records(), wallclock.now(), config.health.limits())
    return {h.camera_id: h.assessment.state.name for h in health}


@bp.get("/plan/<int:year>")
def plan_page(year: int):
    _published_or_404(year)
    context = plan_context(camera_plan(), year)
    context["map_cameras"] = map_cameras(camera_plan().entries(year))
    return render_template("plan.html", **context)


@bp.get("/plan/<int:year>.csv")
def plan_csv_file(year: int):
    _published_or_404(year)
    response = Response(plan_csv(camera_plan(), year), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="camera-plan-{year}.csv"'
    return response


def _asked_states() -> dict[str, str] | None:
    """`?live=1`: each camera's current health, for those whose roles show it."""
    if request.args.get("live") != "1":
        return None
    session = current_session()
    if session is None:
        abort(401, description="the live map shows which cameras are down: log in first")
    if not session.roles & set(LIVE_MAP_ROLES):
        abort(403, description="your roles do not include the live camera map")
    return live_states()


@bp.get("/plan/<int:year>/map.svg")
def plan_map(year: int):
    """`?live=1` rings each camera with its current health, for officers choosing cameras."""
    _published_or_404(year)
    states = _asked_states()
    return Response(plan_map_svg(camera_plan(), year, states), mimetype="image/svg+xml")


@bp.get("/plan/<int:year>/cameras.geojson")
def plan_cameras(year: int):
    """The plan's fixed cameras as GeoJSON points (road, direction, criterion); `?live=1`
    adds each one's health state, as on the live map."""
    _published_or_404(year)
    states = _asked_states()
    body = map_cameras(camera_plan().entries(year), states)
    response = Response(json.dumps(body, separators=(",", ":")), mimetype=GEOJSON)
    response.headers["Cache-Control"] = "private, no-cache" if states else "public, max-age=300"
    return response


@bp.get("/api/v1/plan")
def plan_versions():
    """Published versions (no staff names) and the cameras outside any plan."""
    plan = camera_plan()
    return jsonify({"versions": published_versions(plan), "hotlist_only": plan.hotlist_only()})


@bp.get("/api/v1/plan/<int:year>")
def plan_json(year: int):
    _published_or_404(year)
    return jsonify(public_plan(camera_plan(), year))


@bp.get("/api/v1/plan/changes")
@requires("plan_admin", "auditor")
def plan_changes():
    return jsonify({"changes": camera_plan().changes()})
