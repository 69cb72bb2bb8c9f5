"""Requests and searches from the web form's fields: text in, validated values out.

Times on the forms are UTC (the form says so), written as the browser's datetime-local
value; several windows are one per line as "start end". Lists (plates, cameras, team)
are separated by commas or spaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from central.requests.orders import Foreign, Order, RequestError, Scope, Window
from central.requests.searches import Leg, Query


def moment(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RequestError(f"{what}: {text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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


def windows(text: str) -> tuple[Window, ...]:
    return tuple(
        Window(moment(start, "window start"), moment(end, "window end"))
        for start, end in _lines(text, "start end", "time window")
    )


def order_from_form(form: Mapping[str, str]) -> Order:
    field = lambda name: form.get(name, "").strip()  # noqa: E731
    foreign = None
    if field("foreign_country"):
        foreign = Foreign(field("foreign_country").upper(), field("legal_assistance_ref"))
    return Order(
        reference=field("reference"), prosecutor=field("prosecutor"),
        order_time=moment(field("order_time"), "order time"), order_form=field("order_form"),
        legal_basis=field("legal_basis"), investigation=field("investigation"),
        case_number=field("case_number"), crime=field("crime"), crime_type=field("crime_type"),
        description=field("description"), necessity=field("necessity"),
        scope=Scope(
            windows=windows(field("windows")), plates=words(field("plates"), upper=True),
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


def query_from_form(form: Mapping[str, str]) -> Query:
    """A search from the form: plate or cameras in a window, an intersection, a convoy."""
    found_legs = legs(form.get("legs", ""))
    if found_legs:
        start = min(leg.start for leg in found_legs)
        end = max(leg.end for leg in found_legs)
    else:
        start = moment(form.get("start", ""), "search start")
        end = moment(form.get("end", ""), "search end")
    minutes = form.get("convoy_minutes", "").strip() or "0"
    if not minutes.isdigit():
        raise RequestError("convoy minutes: a whole number")
    return Query(
        start=start, end=end, plate=form.get("plate", "").strip().upper().replace("-", ""),
        cameras=words(form.get("cameras", "")), country=form.get("country", "").strip().upper(),
        direction=form.get("direction", "").strip().upper(), legs=found_legs,
        convoy_minutes=int(minutes),
    )  # fmt: skip
