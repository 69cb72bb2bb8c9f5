"""Publication of the plan (page, CSV, map) and its JSON API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from central.health.monitor import survey
from central.plan.publication import plan_context, plan_csv, plan_map_svg
from central.web.stores import camera_plan, camera_registry, health_records

bp = Blueprint("plan", __name__)


def _published_or_404(year: int) -> dict:
    version = camera_plan().version(year)
    if version is None:
        abort(404, description=f"there is no camera plan for {year}")
    return version


def _live_states() -> dict[str, str]:
    config = current_app.config["ANPR"]
    health = survey(camera_registry(), health_records(), datetime.now(UTC), config.health.limits())
    return {h.camera_id: h.assessment.state.name for h in health}


@bp.get("/plan/<int:year>")
def plan_page(year: int):
    _published_or_404(year)
    context = plan_context(camera_plan(), year)
    context["map_svg"] = plan_map_svg(camera_plan(), year)
    return render_template("plan.html", **context)


@bp.get("/plan/<int:year>.csv")
def plan_csv_file(year: int):
    _published_or_404(year)
    response = Response(plan_csv(camera_plan(), year), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="camera-plan-{year}.csv"'
    return response


@bp.get("/plan/<int:year>/map.svg")
def plan_map(year: int):
    """`?live=1` rings each camera with its current health, for officers choosing cameras."""
    _published_or_404(year)
    states = _live_states() if request.args.get("live") == "1" else None
    return Response(plan_map_svg(camera_plan(), year, states), mimetype="image/svg+xml")


@bp.get("/api/v1/plan")
def plan_versions():
    return jsonify(
        {"versions": camera_plan().versions(), "hotlist_only": camera_plan().hotlist_only()}
    )


@bp.get("/api/v1/plan/<int:year>")
def plan_json(year: int):
    version = _published_or_404(year)
    plan = camera_plan()
    return jsonify(
        {
            "version": version,
            "entries": [asdict(e) for e in plan.entries(year)],
            "locations": plan.locations(),
            "deployments": plan.deployments(year),
        }
    )


@bp.get("/api/v1/plan/changes")
def plan_changes():
    return jsonify({"changes": camera_plan().changes()})
