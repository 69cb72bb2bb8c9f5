"""The plan as the law publishes it: a CSV, a printable page, a map and JSON, all the same.

Fixed cameras by location with their criterion and motivation (the law makes them part of
the plan); mobile cameras by number and kind of location; last year's mobile deployments;
cameras that only feed hotlists listed apart, so nobody takes them for plan cameras.

Only a published version is shown, and never more than the page shows: no draft, no future
mobile deployment (where and why a camera will stand is operational), no staff account. A
motivation is shown as signed by the full name of the prosecutor's account that signed it,
never by the account's user name.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict
from xml.sax.saxutils import escape

from central.plan.geodata import CITIES, MOTORWAYS, OUTLINE
from central.plan.registry import CRITERIA, CameraPlan, Entry

CSV_FIELDS = (
    "year", "camera_id", "kind", "owner", "controller", "road", "direction", "lane", "lat",
    "lon", "criterion", "criterion_text", "motivation", "signed_by", "signed_at",
)  # fmt: skip
CRITERION_COLOURS = {"a": "#c0392b", "b": "#1f5fa8", "c": "#7d3c98"}
STATE_COLOURS = {"OK": "#0a6b2d", "DEGRADED": "#d68a00", "OFFLINE": "#b00020"}


# What the public sees of an entry: the account behind a signature stays inside.
PRIVATE_ENTRY_FIELDS = ("signed_by", "signer_name", "motivation_sha256")


def signer_of(entry: Entry) -> str:
    """The signer's full name, as their account gives it ('' when unsigned or void)."""
    return (entry.signer_name or "") if entry.signed else ""


def public_entry(entry: Entry) -> dict:
    fields = {k: v for k, v in asdict(entry).items() if k not in PRIVATE_ENTRY_FIELDS}
    return {**fields, "signed_by": signer_of(entry), "signed_at": entry.signed_at or "",
            "lat": entry.lat_e7 / 1e7, "lon": entry.lon_e7 / 1e7}  # fmt: skip


def plan_csv(plan: CameraPlan, year: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for e in plan.entries(year):
        writer.writerow(
            (
                e.year,
                e.camera_id,
                e.kind,
                e.owner,
                e.controller,
                e.road,
                e.direction,
                e.lane,
                e.lat_e7 / 1e7,
                e.lon_e7 / 1e7,
                e.criterion,
                CRITERIA[e.criterion],
                e.motivation,
                signer_of(e),
                e.signed_at if e.signed else "",
            )  # fmt: skip
        )
    return out.getvalue()


PUBLIC_VERSION_FIELDS = ("year", "state", "ratified_at", "published_at")


def published_version(plan: CameraPlan, year: int) -> dict | None:
    """The version as the public may see it, or None when it is not published."""
    version = plan.version(year)
    if version is None or version["state"] != "published":
        return None
    return {k: version[k] for k in PUBLIC_VERSION_FIELDS}


def published_versions(plan: CameraPlan) -> list[dict]:
    return [v for v in (published_version(plan, x["year"]) for x in plan.versions()) if v]


def public_plan(plan: CameraPlan, year: int) -> dict:
    """The page's content as JSON (the caller has checked the version is published)."""
    context = plan_context(plan, year)
    return {
        "version": context["version"],
        "fixed": [public_entry(e) for e in context["fixed"]],
        "mobile_count": context["mobile_count"],
        "mobile_by_criterion": context["mobile_by_criterion"],
        "last_year_deployments": context["last_year_deployments"],
        "hotlist_only": context["hotlist_only"],
        "locations": plan.locations(),
    }


def plan_context(plan: CameraPlan, year: int) -> dict:
    entries = plan.entries(year)
    fixed = [e for e in entries if e.kind in ("fixed", "third_party")]
    mobile = [e for e in entries if e.kind == "mobile"]
    return {
        "year": year,
        "version": published_version(plan, year),
        "fixed": fixed,
        "mobile_count": len(mobile),
        "mobile_by_criterion": dict(Counter(CRITERIA[e.criterion] for e in mobile)),
        "last_year_deployments": plan.deployments(year - 1),
        "hotlist_only": plan.hotlist_only(),
        "criteria": CRITERIA,
        "signers": {e.camera_id: signer_of(e) for e in entries},
        "acceptance": {e.camera_id: plan.acceptance(e.camera_id) for e in entries},
    }


class Projection:
    """Equirectangular, with longitude shrunk by cos(52°) so the country keeps its shape."""

    def __init__(self, width: int = 520, margin: int = 12) -> None:
        lons = [p[0] for p in OUTLINE]
        lats = [p[1] for p in OUTLINE]
        self.min_lon, self.max_lat = min(lons), max(lats)
        self.scale = (width - 2 * margin) / ((max(lons) - self.min_lon) * 0.616)
        self.margin = margin
        self.width = width
        self.height = round((self.max_lat - min(lats)) * self.scale + 2 * margin)

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        x = self.margin + (lon - self.min_lon) * 0.616 * self.scale
        y = self.margin + (self.max_lat - lat) * self.scale
        return round(x, 1), round(y, 1)


def plan_map_svg(plan: CameraPlan, year: int, states: dict[str, str] | None = None) -> str:
    """Fixed cameras as dots coloured by criterion; with `states`, ringed by live health."""
    project = Projection()
    points = " ".join(f"{x},{y}" for x, y in (project(*p) for p in OUTLINE))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {project.width} {project.height}" '
        f'width="{project.width}" height="{project.height}" role="img" '
        f'aria-label="Camera plan {year}">',
        f"<title>Camera plan {year}</title>",
        f'<polygon points="{points}" fill="#f4f1e8" stroke="#888" stroke-width="1"/>',
    ]
    for name, line in MOTORWAYS.items():
        path = " ".join(f"{x},{y}" for x, y in (project(*p) for p in line))
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="#e0a030" stroke-width="2">'
            f"<title>{name}</title></polyline>"
        )
    for name, (lon, lat) in CITIES.items():
        x, y = project(lon, lat)
        parts.append(f'<text x="{x + 4}" y="{y - 3}" font-size="9" fill="#555">{name}</text>')
    for entry in plan.entries(year):
        if entry.kind == "mobile":
            continue  # the law publishes mobile cameras by number, not by place
        x, y = project(entry.lon_e7 / 1e7, entry.lat_e7 / 1e7)
        colour = CRITERION_COLOURS[entry.criterion]
        label = escape(f"{entry.camera_id} ({entry.road} {entry.direction}): criterion "
                       f"{entry.criterion}, {CRITERIA[entry.criterion]}")  # fmt: skip
        ring = ""
        if states is not None:
            state = states.get(entry.camera_id, "OFFLINE")
            ring = f' stroke="{STATE_COLOURS[state]}" stroke-width="3"'
            label += escape(f"; now {state}")
        parts.append(
            f'<circle class="camera" data-camera="{escape(entry.camera_id)}" cx="{x}" cy="{y}" '
            f'r="5" fill="{colour}"{ring}><title>{label}</title></circle>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
