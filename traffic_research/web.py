"""Research pages, CSV and JSON: figures only, each cell k-anonymous.

Nothing here can show a sighting, a hash or a single vehicle: every response is built from
`figures.flows` and `figures.od_matrix`, which suppress cells under k. The pages are plain
HTML with server-drawn SVG charts.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date

from flask import Flask, Response, abort, g, jsonify, render_template

from node import wallclock
from traffic_research.config import ResearchConfig
from traffic_research.figures import SLOT_S, FlowCell, OdCell, flows, from_json, od_matrix, to_json
from traffic_research.store import ResearchStore
from wire.research import AREA


def create_app(config: ResearchConfig) -> Flask:
    app = Flask(__name__)
    app.config["RESEARCH"] = config

    def store() -> ResearchStore:
        if "store" not in g:
            g.store = ResearchStore(config.store_path)
        return g.store

    @app.teardown_appcontext
    def close(exc=None) -> None:
        opened = g.pop("store", None)
        if opened is not None:
            opened.close()

    def figures(area: str, day: str) -> tuple[list[FlowCell], list[OdCell], date]:
        if not AREA.fullmatch(area):
            abort(404)
        try:
            when = date.fromisoformat(day)
        except ValueError:
            abort(404, description="the day is YYYY-MM-DD")
        k, window = config.figures.k, config.figures.trip_window_minutes * 60
        settings = f"k={k};window={window}"
        cached = store().cached_figures(area, when, settings)
        if cached is not None:
            return *from_json(cached), when
        arrays = store().day_arrays(area, when)
        flow_cells, od_cells = flows(arrays, k), od_matrix(arrays, k, window)
        if when < wallclock.now().date():  # a closed day: computed once, until a late batch
            store().cache_figures(area, when, settings, to_json(flow_cells, od_cells))
        return flow_cells, od_cells, when

    @app.get("/")
    def index():
        days = {area: store().days(area) for area in store().areas()}
        return render_template("research_index.html", days=days, k=config.figures.k)

    @app.get("/research/<area>/<day>")
    def day_page(area: str, day: str):
        flow_cells, od_cells, when = figures(area, day)
        return render_template(
            "research_day.html", area=area, day=when, k=config.figures.k,
            chart=_slot_chart(flow_cells), totals=_totals(flow_cells), od=od_cells,
            cameras=sorted({c.origin for c in od_cells} | {c.destination for c in od_cells}),
            window=config.figures.trip_window_minutes,
        )  # fmt: skip

    @app.get("/research/<area>/<day>/flows.csv")
    def flows_csv(area: str, day: str):
        rows = [(c.camera_id, c.direction, c.slot_start, _shown(c.vehicles))
                for c in figures(area, day)[0]]  # fmt: skip
        return _csv(["camera_id", "direction", "slot_start_unix", "vehicles"], rows, "flows")

    @app.get("/research/<area>/<day>/od.csv")
    def od_csv(area: str, day: str):
        names = ["p10", "p25", "median", "p75", "p90"]
        rows = [(c.origin, c.destination, _shown(c.trips),
                 *([c.travel_s[n] for n in names] if c.travel_s else [""] * 5))
                for c in figures(area, day)[1]]  # fmt: skip
        header = ["origin", "destination", "trips"] + [f"travel_s_{n}" for n in names]
        return _csv(header, rows, "od")

    @app.get("/api/v1/research/<area>/<day>/flows")
    def flows_json(area: str, day: str):
        cells = figures(area, day)[0]
        return jsonify(k=config.figures.k, slot_s=SLOT_S, cells=[c.__dict__ for c in cells])

    @app.get("/api/v1/research/<area>/<day>/od")
    def od_json(area: str, day: str):
        cells = figures(area, day)[1]
        return jsonify(k=config.figures.k, trip_window_minutes=config.figures.trip_window_minutes,
                       cells=[c.__dict__ for c in cells])  # fmt: skip

    return app


def _shown(value: int | None) -> str | int:
    return "suppressed" if value is None else value


def _csv(header: list[str], rows, name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    disposition = f'attachment; filename="{name}.csv"'
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": disposition})  # fmt: skip


def _totals(cells: list[FlowCell]) -> list[dict]:
    """Per camera and direction: vehicles in shown cells, and how many cells were hidden."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for cell in cells:
        entry = totals[(cell.camera_id, cell.direction)]
        if cell.vehicles is None:
            entry[1] += 1
        else:
            entry[0] += cell.vehicles
    return [{"camera_id": c, "direction": d, "vehicles": v, "suppressed_cells": s}
            for (c, d), (v, s) in sorted(totals.items())]  # fmt: skip


def _slot_chart(cells: list[FlowCell]) -> dict:
    """Bars for the 96 slots of the day: shown vehicles summed over cameras."""
    per_slot: dict[int, int] = defaultdict(int)
    for cell in cells:
        if cell.vehicles is not None:
            per_slot[(cell.slot_start % 86_400) // SLOT_S] += cell.vehicles
    peak = max(per_slot.values(), default=0) or 1
    bars = [{"slot": s, "x": s * 8, "height": round(per_slot.get(s, 0) / peak * 150),
             "vehicles": per_slot.get(s, 0), "label": f"{s // 4:02d}:{s % 4 * 15:02d}"}
            for s in range(96)]  # fmt: skip
    return {"bars": bars, "peak": peak}
