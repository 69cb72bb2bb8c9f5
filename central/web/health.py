"""Health for maintainers: a page worst first, the same as JSON, and Prometheus metrics.

The page holds ~1,300 cameras: it filters by state and by text (camera id, location, road,
region) and groups by location or region, all from query parameters, so it works without a
script (#23). A camera's location and region come from this year's camera plan: the
location is its section's location (else its road and direction), the region its owner.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import gettext
from prometheus_client.exposition import choose_encoder

from central import metrics as central_metrics
from central.health.certificates import certificate_states, tls_files
from central.health.monitor import CameraHealth, survey
from central.health.rules import State
from central.web.access import MAINTAINERS, current_session, requires
from central.web.stores import camera_plan, camera_registry, health_records
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


STATES = tuple(state.name for state in State)
GROUPINGS = ("location", "region")
MAX_QUERY = 100


def _places() -> dict[str, dict]:
    """Per camera in this year's plan: its location and region."""
    plan, year = camera_plan(), wallclock.now().year
    named = {s["section_id"]: place["name"] for place in plan.locations()
             for s in place["sections"]}  # fmt: skip
    return {
        e.camera_id: {"location": named.get(e.section_id or "") or f"{e.road} {e.direction}",
                      "road": e.road, "region": e.owner}
        for e in plan.entries(year)
    }  # fmt: skip


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    value = request.args.get(name, "")
    if value and value not in allowed:
        abort(400, description=gettext("%(name)s is not one of the choices", name=name))
    return value


def table_filter() -> dict:
    """The table's filter and grouping from the query: state, text, grouping."""
    text = request.args.get("q", "").strip()
    if len(text) > MAX_QUERY:
        abort(400, description=gettext("the search text is too long"))
    return {"state": _choice("state", STATES), "q": text, "group": _choice("group", GROUPINGS)}


def shown_cameras(cameras: list[dict], chosen: dict) -> list[dict]:
    """The cameras that pass the filter, worst first (the survey's order)."""
    text = chosen["q"].casefold()
    return [
        c for c in cameras
        if (not chosen["state"] or c["state"] == chosen["state"])
        and (not text or any(text in str(c.get(k) or "").casefold()
                             for k in ("camera_id", "location", "road", "region")))
    ]  # fmt: skip


def grouped(cameras: list[dict], by: str) -> list[dict]:
    """Groups of cameras by `by`, the group with the worst camera first (then the most
    cameras in trouble, then the name); within a group, worst first."""
    groups: dict[str, list[dict]] = {}
    for camera in cameras:
        groups.setdefault(camera.get(by) or "", []).append(camera)
    rank = {name: i for i, name in enumerate(STATES)}

    def order(item):
        name, members = item
        states = [rank[m["state"]] for m in members]
        return (-max(states), -sum(1 for s in states if s), name == "", name)

    return [
        {"name": name, "cameras": members,
         "states": {s: sum(m["state"] == s for m in members) for s in STATES}}
        for name, members in sorted(groups.items(), key=order)
    ]  # fmt: skip


@bp.get("/health")
@requires(*MAINTAINERS)
def health_page():
    chosen = table_filter()
    places = _places()
    cameras = [{**_json(h), **places.get(h.camera_id, {})} for h in _survey()]
    shown = shown_cameras(cameras, chosen)
    for camera in shown:
        camera["history"] = health_records().health_history(camera["camera_id"], 10)
    groups = grouped(shown, chosen["group"]) if chosen["group"] and shown else [
        {"name": None, "cameras": shown, "states": {}}]  # fmt: skip
    return render_template(
        "health.html", cameras=shown, groups=groups, total=len(cameras), chosen=chosen,
        states=STATES, groupings=GROUPINGS, certificates=_certificates(),
        session=current_session(),
    )  # fmt: skip


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
