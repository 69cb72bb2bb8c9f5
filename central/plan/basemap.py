"""The map's data as GeoJSON (RFC 7946): a basemap of the Netherlands and the cameras (#23).

No tile server exists where the central runs, so the basemap is drawn in the browser from
vector layers built here from `central.plan.geodata` (coordinates shipped with the code):
the country's outline, its provinces, the main motorways and a few cities. Coarse, as the
plan map always was: enough to see where a camera stands, not for navigation.

Cameras are points with what the map draws: their road and direction (a compass point, and
its bearing in degrees for the arrow), their plan criterion and, where the caller knows it,
their health state and the page that shows more of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from central.plan.geodata import CITIES, MOTORWAYS, OUTLINE, PROVINCES
from central.plan.registry import CRITERIA, Entry

# Where the Netherlands lies (WGS84, with its islands and a margin): every feature is inside.
BOUNDS = {"west": 3.2, "south": 50.7, "east": 7.3, "north": 53.6}
BEARINGS = {"N": 0, "NE": 45, "E": 90, "SE": 135, "S": 180, "SW": 225, "W": 270, "NW": 315}
# Cameras the public may place on a map: the law publishes mobile ones by number only.
PLACED_KINDS = ("fixed", "third_party")


def _ring(points: list[tuple[float, float]]) -> list[list[float]]:
    """A closed linear ring, anticlockwise as RFC 7946 asks for an exterior ring."""
    ring = [[lon, lat] for lon, lat in points]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:], strict=False))
    return ring if area2 > 0 else ring[::-1]


def _feature(geometry: dict, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def basemap_features() -> dict:
    features = [
        _feature({"type": "Polygon", "coordinates": [_ring(OUTLINE)]}, layer="country",
                 name="Nederland"),
    ]  # fmt: skip
    for name, outline in PROVINCES.items():
        polygon = {"type": "Polygon", "coordinates": [_ring(outline)]}
        features.append(_feature(polygon, layer="province", name=name))
    for name, line in MOTORWAYS.items():
        path = {"type": "LineString", "coordinates": [[lon, lat] for lon, lat in line]}
        features.append(_feature(path, layer="motorway", name=name))
    for name, (lon, lat) in CITIES.items():
        features.append(_feature({"type": "Point", "coordinates": [lon, lat]}, layer="city",
                                 name=name))  # fmt: skip
    return {"type": "FeatureCollection", "bbox": _bbox(), "features": features}


def _bbox() -> list[float]:
    return [BOUNDS["west"], BOUNDS["south"], BOUNDS["east"], BOUNDS["north"]]


def camera_features(
    entries: Iterable[Entry],
    states: dict[str, str] | None = None,
    links: dict[str, str] | None = None,
) -> dict:
    """Fixed cameras as points; `states` adds each one's health (OFFLINE when unknown),
    `links` the page to open from it."""
    features = []
    for e in entries:
        if e.kind not in PLACED_KINDS:
            continue
        properties = {
            "camera_id": e.camera_id,
            "road": e.road,
            "direction": e.direction,
            "bearing": BEARINGS.get(e.direction),
            "criterion": e.criterion,
            "criterion_text": CRITERIA[e.criterion],
        }
        if states is not None:
            properties["state"] = states.get(e.camera_id, "OFFLINE")
        if links is not None and e.camera_id in links:
            properties["link"] = links[e.camera_id]
        point = {"type": "Point", "coordinates": [e.lon_e7 / 1e7, e.lat_e7 / 1e7]}
        features.append(_feature(point, **properties))
    return {"type": "FeatureCollection", "features": features}
