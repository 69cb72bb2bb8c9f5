"""Research figures from a day's sightings: flows, origin-destination pairs, travel times.

Every cell that counts fewer than k vehicles is suppressed (reported as None), so no
figure describes a single vehicle or a handful of them: a lone night-time trip between two
villages is not visible in the output. Trips are consecutive sightings of one vehicle at
two different cameras within the trip window; a vehicle seen at A, B and C makes A->B and
B->C. Computed with numpy over the whole day at once: a day of 5 million sightings takes
seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

SLOT_S = 15 * 60
QUANTILES = {"p10": 0.10, "p25": 0.25, "median": 0.50, "p75": 0.75, "p90": 0.90}


@dataclass(frozen=True)
class FlowCell:
    camera_id: str
    direction: str
    slot_start: int  # Unix seconds of the 15-minute slot
    vehicles: int | None  # None: fewer than k, suppressed


@dataclass(frozen=True)
class OdCell:
    origin: str
    destination: str
    trips: int | None  # None: fewer than k, suppressed
    travel_s: dict[str, float] | None  # quantiles of the travel time in seconds


def flows(day: dict[str, np.ndarray], k: int) -> list[FlowCell]:
    """Vehicles per camera, direction and 15-minute slot."""
    if not len(day["at"]):
        return []
    directions, direction_index = day["directions"], day["direction"].astype(np.int64)
    first_slot = int(day["at"].min()) // SLOT_S
    slots = day["at"] // SLOT_S - first_slot
    span = int(slots.max()) + 1
    # One integer per (camera, direction, slot): a 1-D unique is far faster than rows.
    codes = (day["camera"].astype(np.int64) * len(directions) + direction_index) * span + slots
    cells, counts = np.unique(codes, return_counts=True)
    camera, rest = np.divmod(cells, len(directions) * span)
    direction, slot = np.divmod(rest, span)
    return [
        FlowCell(str(day["cameras"][c]), str(directions[d]), int((s + first_slot) * SLOT_S),
                 int(n) if n >= k else None)
        for c, d, s, n in zip(camera, direction, slot, counts, strict=True)
    ]  # fmt: skip


def trips(day: dict[str, np.ndarray], window_s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origin camera index, destination camera index, travel seconds) of every trip."""
    order = np.lexsort((day["at"], day["vehicle"]))
    vehicle, at, camera = day["vehicle"][order], day["at"][order], day["camera"][order]
    dt = at[1:] - at[:-1]
    keep = (vehicle[1:] == vehicle[:-1]) & (camera[1:] != camera[:-1]) & (dt > 0) & (dt <= window_s)
    return camera[:-1][keep], camera[1:][keep], dt[keep]


def od_matrix(day: dict[str, np.ndarray], k: int, window_s: int) -> list[OdCell]:
    origin, destination, travel = trips(day, window_s)
    if not len(travel):
        return []
    size = len(day["cameras"])
    pair = origin.astype(np.int64) * size + destination
    order = np.lexsort((travel, pair))
    pair, travel = pair[order], travel[order]
    pairs, starts, counts = np.unique(pair, return_index=True, return_counts=True)
    quantiles = {
        name: travel[starts + np.floor(q * (counts - 1)).astype(np.int64)]
        for name, q in QUANTILES.items()
    }
    cells = []
    for index, (code, n) in enumerate(zip(pairs, counts, strict=True)):
        shown = n >= k
        cells.append(OdCell(
            str(day["cameras"][code // size]), str(day["cameras"][code % size]),
            int(n) if shown else None,
            {name: float(values[index]) for name, values in quantiles.items()} if shown else None,
        ))  # fmt: skip
    return cells


def to_json(flow_cells: list[FlowCell], od_cells: list[OdCell]) -> str:
    return json.dumps({"flows": [c.__dict__ for c in flow_cells],
                       "od": [c.__dict__ for c in od_cells]})  # fmt: skip


def from_json(text: str) -> tuple[list[FlowCell], list[OdCell]]:
    data = json.loads(text)
    return [FlowCell(**c) for c in data["flows"]], [OdCell(**c) for c in data["od"]]
