"""Where an alert's passes were seen, as a small inline SVG on the alert desk.

Drawn on the plan map's outline of the Netherlands (`central.plan.geodata`, shipped with the
code: no tile server, no script), so an operator sees at a glance where the listed vehicle
passed and in which order.

Kept as SVG when the other pages got the Leaflet map (#23), on purpose: the desk patches an
alert's passes in place on every live update (`static/alerts.js` replaces them), which
would tear down a Leaflet map and its zoom each time; a page holds up to 50 alerts, each
with its own map; and what an operator needs here is the route in time order, numbered,
not pan and zoom. The provinces are drawn faintly, as on the basemap, to place the passes.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from central.plan.geodata import MOTORWAYS, OUTLINE, PROVINCES
from central.plan.publication import Projection

WIDTH = 180


def _points(project: Projection, line: list[tuple[float, float]]) -> str:
    return " ".join(f"{x},{y}" for x, y in (project(*p) for p in line))


def _located(passes: list[dict]) -> list[tuple[float, float, dict]]:
    """Passes with a recorded location (those from before #23 have none), oldest first."""
    return [
        (p["lon_e7"] / 1e7, p["lat_e7"] / 1e7, p)
        for p in passes
        if p.get("lat_e7") is not None and p.get("lon_e7") is not None
    ]


def passes_map_svg(passes: list[dict]) -> Markup:
    """The outline, the motorways, each pass's camera as a numbered dot (the latest in red)
    and a line through them in time order; a sentence instead when no pass has a place."""
    located = _located(passes)
    if not located:
        return Markup('<p class="no-map">No location recorded for these passes.</p>')
    project = Projection(width=WIDTH, margin=6)
    parts = [
        f'<svg class="alert-map" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {project.width} {project.height}" width="{project.width}" '
        f'height="{project.height}" role="img" aria-label="Where the passes were seen">',
        f'<polygon points="{_points(project, OUTLINE)}" fill="#f4f1e8" stroke="#888"/>',
    ]
    for province in PROVINCES.values():
        parts.append(
            f'<polygon points="{_points(project, province)}" fill="none" stroke="#d6d0c0"/>'
        )
    for line in MOTORWAYS.values():
        parts.append(f'<polyline points="{_points(project, line)}" fill="none" stroke="#e0a030"/>')
    if len(located) > 1:
        route = _points(project, [(lon, lat) for lon, lat, _ in located])
        parts.append(f'<polyline class="route" points="{route}" fill="none" stroke="#1d4ed8"/>')
    for number, (lon, lat, one) in enumerate(located, start=1):
        x, y = project(lon, lat)
        colour = "#c81e1e" if number == len(located) else "#1d4ed8"
        label = escape(f"{number}: {one['camera_id']} at {one['captured_at']}")
        parts.append(
            f'<circle class="pass-dot" data-camera="{escape(one["camera_id"])}" cx="{x}" '
            f'cy="{y}" r="4" fill="{colour}"><title>{label}</title></circle>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
