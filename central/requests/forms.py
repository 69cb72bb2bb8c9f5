"""Requests and searches from the web form's fields: text in, validated values out.

Times on the web forms are Dutch local time (Europe/Amsterdam, the form says so), written as
the browser's datetime-local value, and turned into UTC here, at the edge (#23): a local
time that does not exist (the hour skipped when the clocks go forward) is refused; one that
occurs twice (the hour repeated when they go back) is taken at its first occurrence, and a
note says so. A time with an explicit offset ("Z", "+01:00") is taken as written. The JSON
API keeps UTC: `query_from_form` without `local` reads naive times as UTC, and its
intersection windows as text, one per line, "cameras start end". Time windows on the web
forms are rows of pickers (`window_start`/`window_end`, `leg_cameras`/`leg_start`/`leg_end`).
Lists (plates, cameras, team) are separated by commas or spaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from central.requests.orders import Foreign, Order, RequestError, Scope, Window
from central.requests.searches import Leg, Query

ZONE = ZoneInfo("Europe/Amsterdam")
# What the forms say next to each picker.
ZONE_NOTE = "Dutch time (CET/CEST)"


def moment(text: str, what: str, local: bool = False, notes: list[str] | None = None) -> datetime:
    """A time from a form, in UTC. Naive times are UTC, or Dutch local time when `local`."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RequestError(f"{what}: {text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    if not local:
        return value.replace(tzinfo=UTC)
    return dutch_time(value, what, notes)


def dutch_time(value: datetime, what: str, notes: list[str] | None = None) -> datetime:
    """A naive Dutch wall-clock time as UTC: refused where the clocks skip it, the first of
    the two where they repeat it (with a note in `notes`)."""
    first = value.replace(tzinfo=ZONE, fold=0)
    shown = f"{value:%d-%m-%Y %H:%M}"
    if first.astimezone(UTC).astimezone(ZONE).replace(tzinfo=None) != value:
        raise RequestError(
            f"{what}: {shown} does not exist in Dutch time (the clocks go forward an hour that "
            "night): choose a time before or after the skipped hour"
        )
    second = value.replace(tzinfo=ZONE, fold=1)
    if first.utcoffset() != second.utcoffset() and notes is not None:
        notes.append(
            f"{what}: {shown} occurs twice in Dutch time (the clocks go back an hour that "
            f"night); the first was taken, {shown} {first.tzname()} "
            f"({first.astimezone(UTC):%H:%M} UTC)"
        )
    return first.astimezone(UTC)


def values(form: Mapping, name: str) -> list[str]:
    """Every value of a field sent more than once (rows of pickers)."""
    if hasattr(form, "getlist"):
        return [str(v) for v in form.getlist(name)]
    found = form.get(name)
    if found is None:
        return []
    return [found] if isinstance(found, str) else [str(v) for v in found]


def _rows(form: Mapping, names: tuple[str, ...], what: str) -> list[list[str]]:
    """Rows of fields sent in step (one value per row for each name), blank rows skipped;
    a row filled only in part is the user's error."""
    columns = [values(form, name) for name in names]
    longest = max((len(c) for c in columns), default=0)
    rows = []
    for number in range(longest):
        row = [c[number].strip() if number < len(c) else "" for c in columns]
        if not any(row):
            continue
        if not all(row):
            raise RequestError(f"{what} {number + 1}: fill in {', '.join(names)}, or none")
        rows.append(row)
    return rows


def window_rows(form: Mapping, notes: list[str] | None = None) -> tuple[Window, ...]:
    """The order's time windows from rows of Dutch-time pickers."""
    return tuple(
        Window(moment(start, f"window {n} start", True, notes),
               moment(end, f"window {n} end", True, notes))
        for n, (start, end) in enumerate(
            _rows(form, ("window_start", "window_end"), "time window"), 1)
    )  # fmt: skip


def leg_rows(form: Mapping, notes: list[str] | None = None) -> tuple[Leg, ...]:
    """Intersection windows from rows of cameras and Dutch-time pickers."""
    return tuple(
        Leg(words(cameras), moment(start, f"intersection {n} start", True, notes),
            moment(end, f"intersection {n} end", True, notes))
        for n, (cameras, start, end) in enumerate(
            _rows(form, ("leg_cameras", "leg_start", "leg_end"), "intersection window"), 1)
    )  # fmt: skip


def words(text: str, upper: bool = False) -> tuple[str, ...]:
    items = [w for w in re.split(r"[,\s]+", text.strip()) if w]
    return tuple(w.upper().replace("-", "") if upper else w for w in items)


def _lines(text: str, layout: str, what: str) -> list[list[str]]:
    """One item per non-empty line, its fields separated by spaces, as `layout` names them."""
    found = []
    for line in text.strip().splitlines():
        parts = line.split()
        if parts and len(parts) != len(layout.split()):
            raise RequestError(f"{what} {line!r}: write '{layout}', one per line")
        if parts:
            found.append(parts)
    return found


def order_from_form(form: Mapping[str, str], notes: list[str] | None = None) -> Order:
    """The order from the register form; its times are Dutch local time."""
    field = lambda name: str(form.get(name, "")).strip()  # noqa: E731
    foreign = None
    if field("foreign_country"):
        foreign = Foreign(field("foreign_country").upper(), field("legal_assistance_ref"))
    return Order(
        reference=field("reference"), prosecutor=field("prosecutor"),
        order_time=moment(field("order_time"), "order time", True, notes),
        order_form=field("order_form"),
        legal_basis=field("legal_basis"), investigation=field("investigation"),
        case_number=field("case_number"), crime=field("crime"), crime_type=field("crime_type"),
        description=field("description"), necessity=field("necessity"),
        scope=Scope(
            windows=window_rows(form, notes), plates=words(field("plates"), upper=True),
            cameras=words(field("cameras")), country=field("country").upper(),
        ),
        photos_wanted=bool(form.get("photos_wanted")), urgent=bool(form.get("urgent")),
        foreign=foreign, shielded=bool(form.get("shielded")), team=words(field("team")),
    )  # fmt: skip


def legs(text: str) -> tuple[Leg, ...]:
    """Intersection windows, one per line: 'camera[,camera..] start end'."""
    return tuple(
        Leg(words(cameras), moment(start, "window start"), moment(end, "window end"))
        for cameras, start, end in _lines(text, "cameras start end", "window")
    )


def query_from_form(
    form: Mapping[str, str], local: bool = False, notes: list[str] | None = None
) -> Query:
    """A search: plate or cameras in a window, an intersection, a convoy. From the web form
    (`local`) its times are Dutch local time and its intersection windows rows of fields;
    from the JSON API they are UTC and text."""
    found_legs = leg_rows(form, notes) if local else legs(form.get("legs", ""))
    if found_legs:
        start = min(leg.start for leg in found_legs)
        end = max(leg.end for leg in found_legs)
    else:
        start = moment(form.get("start", ""), "search start", local, notes)
        end = moment(form.get("end", ""), "search end", local, notes)
    minutes = form.get("convoy_minutes", "").strip() or "0"
    if not minutes.isdigit():
        raise RequestError("convoy minutes: a whole number")
    return Query(
        start=start, end=end, plate=form.get("plate", "").strip().upper().replace("-", ""),
        cameras=words(form.get("cameras", "")), country=form.get("country", "").strip().upper(),
        direction=form.get("direction", "").strip().upper(), legs=found_legs,
        convoy_minutes=int(minutes),
    )  # fmt: skip
