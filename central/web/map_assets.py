"""The map's library, served by the central itself from registry packages (#23).

Leaflet and its MarkerCluster plug-in come from PyPI as XStatic packages (pinned in
pyproject.toml); their files are served here, under a URL that names the version, so a
browser may keep them for a year and an upgrade is a new URL. Nothing comes from a CDN: the
central runs without internet, and the CSP allows scripts and styles only from 'self'.

Also the map's own script (`static/map.js`) and the basemap of the Netherlands as GeoJSON
(`central.plan.basemap`, drawn from coordinates shipped with the code: no tile server).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote

import xstatic.pkg.leaflet as leaflet
import xstatic.pkg.leaflet_markercluster as markercluster
from flask import Blueprint, Response, abort, request, url_for
from werkzeug.security import safe_join

from central.plan.basemap import basemap_features, camera_features
from central.plan.registry import Entry
from central.web.labels import label
from central.web.stores import camera_plan, commissioning_reports
from node import wallclock

bp = Blueprint("map_assets", __name__)

PACKAGES = {
    "leaflet": (leaflet.VERSION, Path(leaflet.BASE_DIR)),
    "leaflet-markercluster": (markercluster.VERSION, Path(markercluster.BASE_DIR)),
}
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".map": "application/json",
}
YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"
STATIC = Path(__file__).parent / "static"
GEOJSON = "application/geo+json"


def asset_url(package: str, name: str) -> str:
    """The versioned URL of one of a package's files, for the templates."""
    version, _ = PACKAGES[package]
    return url_for("map_assets.asset", package=package, version=version, name=name)


def template_values() -> dict:
    return {"asset_url": asset_url, "health_map": health_map}


def health_map(cameras: list[dict]) -> dict:
    """The health page's cameras (each a dict with camera_id and state) where this year's
    plan places them, coloured by state, each linking to its own health page."""
    states = {c["camera_id"]: c["state"] for c in cameras}
    entries = [e for e in camera_plan().entries(wallclock.now().year) if e.camera_id in states]
    links = {e.camera_id: f"/health/cameras/{quote(e.camera_id, safe='')}" for e in entries}
    cameras = map_cameras(entries, states, links)
    commissioned = commissioning_reports().verdicts()  # the aim snapshot in the popup (#22)
    for feature in cameras["features"]:
        p = feature["properties"]
        if p["camera_id"] in commissioned:
            p["aim"] = f"{links[p['camera_id']]}/aim.jpg"
    return cameras


def map_cameras(
    entries: list[Entry],
    states: dict[str, str] | None = None,
    links: dict[str, str] | None = None,
) -> dict:
    """The cameras as a page's map draws them, with their state and criterion in words."""
    cameras = camera_features(entries, states, links)
    for feature in cameras["features"]:
        p = feature["properties"]
        p["criterion_label"] = str(label(p["criterion_text"], "criterion"))
        if "state" in p:
            p["state_label"] = str(label(p["state"], "health"))
    return cameras


@bp.get("/assets/<package>/<version>/<path:name>")
def asset(package: str, version: str, name: str):
    """A file of a pinned package: only its own version, only the kinds of file it holds."""
    if package not in PACKAGES or PACKAGES[package][0] != version:
        abort(404, description="no such package version")
    mimetype = TYPES.get(Path(name).suffix)
    if mimetype is None:
        abort(404, description="no such file")
    path = safe_join(str(PACKAGES[package][1]), name)  # None for a path that leaves it
    if path is None or not Path(path).is_file():
        abort(404, description="no such file")
    body = Path(path).read_bytes()  # small files, read whole: nothing left open
    response = Response(body, mimetype=mimetype)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.make_conditional(request)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def _own_file(name: str, mimetype: str) -> Response:
    response = Response((STATIC / name).read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/map/map.js")
def map_script():
    """The map's script: a file from the package (no inline code beyond a page's data)."""
    return _own_file("map.js", "text/javascript")


@bp.get("/map/map.css")
def map_style():
    """The map's own styles (camera markers, clusters by health, the legend)."""
    return _own_file("map.css", "text/css")


@bp.get("/map/basemap.geojson")
def basemap():
    """The Netherlands: outline, provinces, motorways and cities (public, as on any atlas)."""
    body = json.dumps(basemap_features(), separators=(",", ":"))
    response = Response(body, mimetype=GEOJSON)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
