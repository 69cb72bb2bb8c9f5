"""The pages with charts (#23): a camera's history, the fleet, alert volume, the yearly report.

Each chart is its own `image/svg+xml` route (charts.py draws it), shown on its page with
`<img>`, so it needs no script and reads the same outside the page. Who may see a chart is
who may see the page its figures come from: maintainers for health, the alert desk's roles
(and auditors, counts only) for alert volume, auditors for the report.

Health hours are kept in UTC (`health.sqlite`); a camera's hours and days are shown in
Dutch time. The fleet's days are UTC days, counted in the database for ~1,300 cameras.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext

from central.health.records import hour_key
from central.hotlists.alerts import PRIORITY_WORDS
from central.requests.forms import ZONE
from central.web import charts
from central.web.access import MAINTAINERS, current_session, requires
from central.web.alerts import CONTROL_ROOM, OPERATORS
from central.web.labels import label
from central.web.oversight import report_for
from central.web.stores import camera_registry, health_records, hotlists
from node import wallclock

bp = Blueprint("charts", __name__)
WINDOWS = (7, 28)  # days a camera's or the fleet's history covers
STATES = ("OK", "DEGRADED", "OFFLINE")
# Each camera's mean read confidence falls in one of these (lower bound, label) bins.
QUALITY_BINS = ((0.95, "≥ 0.95"), (0.90, "0.90-0.95"), (0.80, "0.80-0.90"),
                (0.70, "0.70-0.80"), (0.50, "0.50-0.70"), (0.0, "< 0.50"))  # fmt: skip
ALERT_VIEWERS = (*OPERATORS, "auditor")


def _svg(text: str) -> Response:
    return Response(text, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


def _number(name: str, default: int, allowed) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in allowed:
        abort(400, description=gettext("%(name)s is not one of the choices", name=name))
    return int(raw)


def _days() -> int:
    return _number("days", WINDOWS[0], WINDOWS)


def _this_hour() -> datetime:
    return wallclock.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- a camera's history ------------------------------------------------------------------


def _known_camera(camera_id: str) -> None:
    if camera_registry().get(camera_id) is None:
        abort(404, description=gettext("no such camera"))


def _hours(days: int) -> list[datetime]:
    """The hours of the last `days` days, this (incomplete) hour last."""
    last = _this_hour()
    return [last - timedelta(hours=h) for h in range(days * 24 - 1, -1, -1)]


def _hour_label(hour: datetime) -> str:
    return hour.astimezone(ZONE).strftime("%d-%m %H:00")


def _changes(camera_id: str, hours: list[datetime]) -> list[dict]:
    """Changes of state within the window, each with the index of its hour."""
    start, end = hours[0], hours[-1] + timedelta(hours=1)
    found = []
    for change in health_records().states_during(camera_id, start, end):
        at = datetime.fromisoformat(change["at"].replace("Z", "+00:00"))
        if at > start:
            found.append({**change, "index": int((at - start).total_seconds() // 3600)})
    return found


def _markers(changes: list[dict], length: int, height: float) -> tuple[list, list]:
    """A dots-only series per state the camera changed to, at the top of the chart."""
    series, colours = [], []
    for state in STATES:
        points: list = [None] * length
        for change in changes:
            if change["state"] == state:
                points[change["index"]] = {"value": height, "label": change["reasons"]}
        if any(p is not None for p in points):
            series.append((gettext("Became %(state)s", state=label(state, "health")), points))
            colours.append(charts.STATE_COLOURS[state])
    return series, colours


def camera_passages_svg(camera_id: str, days: int) -> str:
    hours = _hours(days)
    found = health_records().passages_by_hour(camera_id, hours[0], hours[-1] + timedelta(hours=1))
    passages = [found.get(hour_key(h), (0, 0))[0] for h in hours]
    markers, colours = _markers(
        _changes(camera_id, hours), len(hours), max(passages, default=0) or 1
    )
    return charts.line(
        gettext("Passages per hour, %(camera)s, last %(days)s days", camera=camera_id, days=days),
        [_hour_label(h) for h in hours], [(gettext("Passages"), passages)],
        markers=markers, marker_colours=colours,
    )  # fmt: skip


def camera_confidence_svg(camera_id: str, days: int) -> str:
    hours = _hours(days)
    found = health_records().passages_by_hour(camera_id, hours[0], hours[-1] + timedelta(hours=1))
    means = []
    for hour in hours:
        passages, confidence = found.get(hour_key(hour), (0, 0))
        means.append(round(confidence / passages / 1000, 3) if passages else None)
    markers, colours = _markers(_changes(camera_id, hours), len(hours), 1.0)
    return charts.line(
        gettext("Mean read confidence per hour, %(camera)s", camera=camera_id),
        [_hour_label(h) for h in hours], [(gettext("Mean read confidence"), means)],
        formatter=charts.decimal, y_range=(0, 1), markers=markers, marker_colours=colours,
    )  # fmt: skip


def camera_coverage_svg(camera_id: str, days: int) -> str:
    """Per Dutch day, the hours that brought a heartbeat."""
    hours = _hours(days)
    seen = health_records().heartbeat_hours_between(
        camera_id, hours[0], hours[-1] + timedelta(hours=1)
    )
    per_day: Counter = Counter()
    order: list[date] = []
    for hour in hours:
        day = hour.astimezone(ZONE).date()
        if day not in order:
            order.append(day)
        per_day[day] += hour_key(hour) in seen
    return charts.bars(
        gettext("Hours with a heartbeat per day, %(camera)s", camera=camera_id),
        [d.strftime("%d-%m") for d in order], [(gettext("Hours with a heartbeat"),
                                                [per_day[d] for d in order])],
    )  # fmt: skip


CAMERA_CHARTS = {"passages": camera_passages_svg, "confidence": camera_confidence_svg,
                 "coverage": camera_coverage_svg}  # fmt: skip


@bp.get("/health/cameras/<camera:camera_id>")
@requires(*MAINTAINERS)
def camera_page(camera_id: str):
    _known_camera(camera_id)
    days = _days()
    hours = _hours(days)
    return render_template(
        "camera_health.html", session=current_session(), camera_id=camera_id, days=days,
        windows=WINDOWS, charts=CAMERA_CHARTS, changes=_changes(camera_id, hours)[::-1],
    )  # fmt: skip


@bp.get("/health/cameras/<camera:camera_id>/<chart>.svg")
@requires(*MAINTAINERS)
def camera_chart(camera_id: str, chart: str):
    if chart not in CAMERA_CHARTS:
        abort(404)
    _known_camera(camera_id)
    return _svg(CAMERA_CHARTS[chart](camera_id, _days()))


# --- the fleet -----------------------------------------------------------------------------


def _fleet_days(days: int) -> tuple[date, date]:
    end = _this_hour().date() + timedelta(days=1)
    return end - timedelta(days=days), end


def _per_camera(days: int) -> dict[str, tuple[int, int]]:
    """Every registered camera's (passages, confidence sum) over the window."""
    start, end = _fleet_days(days)
    totals = {c.camera_id: (0, 0) for c in camera_registry().all()}
    for (camera, _day), (passages, confidence) in (
        health_records().passages_by_camera_day(start, end).items()
    ):
        if camera in totals:
            had = totals[camera]
            totals[camera] = (had[0] + passages, had[1] + confidence)
    return totals


def fleet_passages_svg(days: int, n: int) -> str:
    """Mean passages per day: the `n` busiest and the `n` quietest cameras, the rest as
    one bar (their mean) between them; 1,300 bars would say nothing."""
    per_day = sorted((-p, c) for c, (p, _s) in _per_camera(days).items())
    shown = [(c, -p / days) for p, c in per_day]
    if len(shown) > 2 * n:
        rest = shown[n:-n]
        mean = sum(v for _c, v in rest) / len(rest)
        others = gettext("%(count)s other cameras (mean)", count=len(rest))
        shown = [*shown[:n], (others, mean), *shown[-n:]]
    return charts.bars(
        gettext("Passages per day per camera, mean over the last %(days)s days", days=days),
        [c for c, _v in shown], [(gettext("Passages per day"), [round(v, 1) for _c, v in shown])],
        horizontal=True, height=max(300, 22 * len(shown) + 120), formatter=charts.decimal,
    )  # fmt: skip


def fleet_quality_svg(days: int, n: int) -> str:
    """How many cameras read with what mean confidence."""
    bins: Counter = Counter()
    for passages, confidence in _per_camera(days).values():
        if not passages:
            bins[None] += 1
            continue
        mean = confidence / passages / 1000
        bins[next(name for low, name in QUALITY_BINS if mean >= low)] += 1
    names = [name for _low, name in reversed(QUALITY_BINS)]
    return charts.bars(
        gettext("Cameras by mean read confidence, last %(days)s days", days=days),
        [*names, gettext("no passages")],
        [(gettext("Cameras"), [bins[x] for x in names] + [bins[None]])],
    )  # fmt: skip


def fleet_states_svg(days: int, n: int) -> str:
    """Cameras per state at the end of each UTC day (now, for today), from the recorded
    changes; a camera never assessed counts as unknown."""
    start, end = _fleet_days(days)
    cameras = {c.camera_id for c in camera_registry().all()}
    moments = [datetime.combine(start + timedelta(days=i + 1), datetime.min.time(), UTC)
               for i in range(days)]  # fmt: skip
    moments[-1] = min(moments[-1], wallclock.now().astimezone(UTC))
    changes = health_records().changes_until(moments[-1])
    state: dict[str, str] = {}
    counts: list[Counter] = []
    position = 0
    for moment in moments:
        while position < len(changes) and changes[position]["at"] < _stamp(moment):
            change = changes[position]
            if change["camera_id"] in cameras:
                state[change["camera_id"]] = change["state"]
            position += 1
        counts.append(Counter(state.values()))
        counts[-1]["unknown"] = len(cameras) - len(state)
    series = [(label(s, "health"), [c[s] for c in counts]) for s in STATES]
    series.append((gettext("not yet assessed"), [c["unknown"] for c in counts]))
    return charts.bars(
        gettext("Cameras per health state at the end of each day"),
        [(m - timedelta(seconds=1)).strftime("%d-%m") for m in moments], series, stacked=True,
        colours=[charts.STATE_COLOURS[s] for s in STATES] + ["#9a9a9a"],
    )  # fmt: skip


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


FLEET_CHARTS = {"passages": fleet_passages_svg, "quality": fleet_quality_svg,
                "states": fleet_states_svg}  # fmt: skip


def _top() -> int:
    return _number("n", 15, range(1, 101))


@bp.get("/health/fleet")
@requires(*MAINTAINERS)
def fleet_page():
    return render_template("fleet_health.html", session=current_session(), days=_days(),
                           n=_top(), windows=WINDOWS, charts=FLEET_CHARTS)  # fmt: skip


@bp.get("/health/fleet/<chart>.svg")
@requires(*MAINTAINERS)
def fleet_chart(chart: str):
    if chart not in FLEET_CHARTS:
        abort(404)
    return _svg(FLEET_CHARTS[chart](_days(), _top()))


# --- alert volume --------------------------------------------------------------------------


def _alert_viewer() -> dict:
    """The alert desk's view of this person; an auditor counts what the control room sees."""
    session = current_session()
    return {"viewer": session.username,
            "control_room": bool(session.roles & {*CONTROL_ROOM, "auditor"})}  # fmt: skip


def alert_volume_svg(days: int) -> str:
    last = wallclock.now().astimezone(UTC).date()
    order = [last - timedelta(days=i) for i in range(days - 1, -1, -1)]
    found = hotlists().volume_per_day(order[0].isoformat(), **_alert_viewer())
    series = [
        (label(word, "priority"), [found.get((d.isoformat(), number), 0) for d in order])
        for number, word in sorted(PRIORITY_WORDS.items())
    ]
    return charts.bars(
        gettext("Alerts raised per day by priority, last %(days)s days", days=days),
        [d.strftime("%d-%m") for d in order], series, stacked=True,
        colours=charts.PRIORITY_COLOURS,
    )  # fmt: skip


@bp.get("/alerts/volume")
@requires(*ALERT_VIEWERS)
def alert_volume_page():
    return render_template("alert_volume.html", session=current_session(), days=_days(),
                           windows=WINDOWS)  # fmt: skip


@bp.get("/alerts/volume.svg")
@requires(*ALERT_VIEWERS)
def alert_volume_chart():
    return _svg(alert_volume_svg(_days()))


# --- the yearly report ---------------------------------------------------------------------


def _counter_bars(title: str, counter: Counter, group: str) -> str:
    items = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return charts.bars(
        title, [label(k, group) for k, _n in items], [(gettext("Count"), [n for _k, n in items])],
        horizontal=True, height=max(260, 30 * len(items) + 120),
    )  # fmt: skip


def _searches_per_month(report) -> str:
    months = [f"{report.year}-{m:02d}" for m in range(1, 13)]
    return charts.bars(
        gettext("Searches per month"), [m[5:] for m in months],
        [(gettext("Searches"), [report.searches_per_month[m] for m in months])],
    )  # fmt: skip


def _withheld_late(report) -> str:
    figures = (gettext("Late written orders"), gettext("Searches withheld (written order late)"))
    return charts.bars(
        gettext("Withheld and late"), list(figures),
        [(gettext("Count"), [report.late_written_orders, report.withheld])],
    )  # fmt: skip


REPORT_CHARTS = {
    "crime_types": lambda r: _counter_bars(gettext("Requests by crime type"), r.crime_types,
                                           "crime_type"),
    "legal_bases": lambda r: _counter_bars(gettext("Requests by legal basis"), r.legal_bases,
                                           "legal_basis"),
    "searches_per_month": _searches_per_month,
    "withheld_late": _withheld_late,
}  # fmt: skip


@bp.get("/report/<int:year>/charts/<chart>.svg")
@requires("auditor")
def report_chart(year: int, chart: str):
    if chart not in REPORT_CHARTS:
        abort(404)
    return _svg(REPORT_CHARTS[chart](report_for(year)))
