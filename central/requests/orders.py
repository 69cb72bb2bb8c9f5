"""What a prosecutor's order allows: the request as registered, validated once on entry.

Art. 126jj Sv lets the 28-day store be consulted only on a prosecutor's order, for the
investigation of a crime for which pre-trial detention is allowed or to trace a fugitive,
and only within the order's scope. The scope is therefore data the system checks every
search against, not a note for people to read. An oral order must be followed by the
written one within three days; foreign requests carry conditions that travel with the
results.

An order is also refused when its scope is a fishing expedition, which the law forbids
(`check_order_scope`, at registration; the same limits again per search in `searches.py`,
for orders registered before them), unless the requester writes why and a second
prosecutor approves the exception (`approvals.py`). The limits, and why these numbers, are
in docs/operations.md ("Scope limits").
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

WRITTEN_ORDER_DUE = timedelta(days=3)
LEGAL_BASES = {
    "detention_crime": "investigation of a crime for which pre-trial detention is allowed",
    "fugitive": "tracing a fugitive (art. 126jj lid 1 Sv)",
}
CRIME_TYPES = (
    "homicide", "violence", "robbery", "burglary", "theft", "vehicle_crime", "drugs", "fraud",
    "sexual", "terrorism", "human_trafficking", "weapons", "other",
)  # fmt: skip
ORDER_FORMS = ("written", "oral")
# The Caribbean parts of the Kingdom have their own codes: Aruba, Curaçao, Sint Maarten,
# and Bonaire, Sint Eustatius and Saba (BQ) request through the same channel.
KINGDOM_PARTS = ("AW", "CW", "SX", "BQ")
FOREIGN_CONDITIONS = (
    "use only for the purpose stated in the request",
    "destroy the data once that purpose is served",
    "no onward transfer to third parties or states",
)
_PLATE = re.compile(r"[A-Z0-9?*]{1,12}")
_COUNTRY = re.compile(r"[A-Z]{2}")

# The store keeps 28 days (central/expiry.py); an order cannot ask for more.
STORE_DAYS = 28
# Time an officer takes to fill in the form: a window that starts at "28 days back" when
# the order was typed is not refused for the minutes spent typing.
HORIZON_GRACE = timedelta(hours=1)
# A partial plate must fix at least this many letters or digits. A Dutch plate has 6
# characters (recognition/plate_formats.py, side-codes 4-11): with 4 fixed and 2 unknown a
# pattern covers at most 16 x 16 = 256 registrations of one side-code (its letters) and
# about 1,300 strings of any characters; with 3 fixed it is 4,096 to 46,656, a slice of
# the fleet rather than a witness's memory of one vehicle.
MIN_FIXED_CHARACTERS = 4
# A place and time scope: at most this many cameras (about five locations: 1,324 plan
# cameras stand at ~300 locations, 4.4 a location) ...
MAX_ORDER_CAMERAS = 24
# ... and at most this many camera-hours over all its windows: ten camera-days, e.g. one
# day at two locations. 55 % of searches look at less than a day, and a time and place
# search gives ~6,000 passages for half an hour at one busy spot; at the national mean of
# ~135 passages per camera-hour (4.3 million a day over 1,324 cameras) this is ~32,000
# passages, while 28 days at every camera is 3,700 times more.
MAX_CAMERA_HOURS = 240


class RequestError(Exception):
    """A request, a step on it or a search on it is refused; the message says why."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise RequestError("time windows need a time zone")
        if self.end <= self.start:
            raise RequestError(f"time window {self.start:%Y-%m-%d %H:%M} ends before it starts")

    def contains(self, start: datetime, end: datetime) -> bool:
        return self.start <= start and end <= self.end

    def as_json(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Scope:
    """What the order allows: time windows always, and plates and/or cameras."""

    windows: tuple[Window, ...]
    plates: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    country: str = ""

    def __post_init__(self) -> None:
        if not self.windows:
            raise RequestError("the order's scope needs at least one time window")
        if not self.plates and not self.cameras:
            raise RequestError("the order's scope needs plates or cameras: no open-ended orders")
        for plate in self.plates:
            if not _PLATE.fullmatch(plate) or plate.strip("?*") == "":
                raise RequestError(f"plate {plate!r}: letters, digits, ? and * only")
        if self.country and not _COUNTRY.fullmatch(self.country):
            raise RequestError(f"country {self.country!r}: two letters (ISO 3166)")

    def window_for(self, start: datetime, end: datetime) -> Window | None:
        return next((w for w in self.windows if w.contains(start, end)), None)

    def allows_plate(self, pattern: str) -> bool:
        """Equal to a scope plate, or a full plate that a scope pattern covers."""
        for allowed in self.plates:
            if pattern == allowed:
                return True
            if not set("?*") & set(pattern) and fnmatch.fnmatchcase(pattern, allowed):
                return True
        return False

    def as_json(self) -> dict:
        return {
            "windows": [w.as_json() for w in self.windows],
            "plates": list(self.plates),
            "cameras": list(self.cameras),
            "country": self.country,
        }

    @classmethod
    def from_json(cls, data: dict) -> Scope:
        return cls(
            windows=tuple(
                Window(datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
                for w in data["windows"]
            ),
            plates=tuple(data["plates"]),
            cameras=tuple(data["cameras"]),
            country=data["country"],
        )


def fixed_characters(pattern: str) -> int:
    """The letters and digits a plate pattern fixes (`?` and `*` fix none)."""
    return sum(ch.isalnum() for ch in pattern)


def check_plate_breadth(pattern: str) -> None:
    """Refuse a partial plate so open that it sweeps up many vehicles."""
    if set("?*") & set(pattern) and fixed_characters(pattern) < MIN_FIXED_CHARACTERS:
        raise RequestError(
            f"plate pattern {pattern} fixes {fixed_characters(pattern)} letters or digits: a "
            f"partial plate needs at least {MIN_FIXED_CHARACTERS} (a Dutch plate has 6) so that "
            "it points at one vehicle, not a slice of the fleet; add the characters the witness "
            "is sure of, or ask by time and place"
        )


def camera_hours(cameras: int, spans: Sequence[timedelta]) -> float:
    return cameras * sum(span.total_seconds() for span in spans) / 3600


def check_place_breadth(cameras: int, spans: Sequence[timedelta], what: str) -> None:
    """Refuse a place and time scope that covers a region or weeks rather than a place."""
    if cameras > MAX_ORDER_CAMERAS:
        raise RequestError(
            f"{what} names {cameras} cameras: at most {MAX_ORDER_CAMERAS} (about five "
            "locations); name the places the investigation points to"
        )
    hours = camera_hours(cameras, spans)
    if hours > MAX_CAMERA_HOURS:
        raise RequestError(
            f"{what} covers {hours:,.0f} camera-hours ({cameras} camera(s) x "
            f"{hours / max(cameras, 1):,.1f} h): at most {MAX_CAMERA_HOURS}, e.g. one day at "
            "ten cameras; shorten the windows or name fewer cameras"
        )


def check_order_scope(order: Order, now: datetime) -> None:
    """Refuse at registration an order the law forbids: a window past the 28 days, before
    the store's horizon or reaching into the future (`check_order_horizon`), a partial plate
    too open, a place and time scope too wide (`scope_excesses`). Kept out of `Scope` itself
    so that orders registered before these limits still load; their searches are held to
    the same limits (`searches.py`)."""
    check_order_horizon(order, now)
    excesses = scope_excesses(order)
    if excesses:
        raise RequestError("; ".join(excesses))


def check_order_horizon(order: Order, now: datetime) -> None:
    """The limits no approval lifts: the store holds 28 days back from now, and nothing
    after now (watching from now on is a hotlist's work)."""
    if order.order_time > now + HORIZON_GRACE:
        raise RequestError(
            f"the order time {order.order_time:%Y-%m-%d %H:%M} lies in the future: enter the "
            "time the prosecutor gave the order"
        )
    horizon = now - timedelta(days=STORE_DAYS)
    for number, window in enumerate(order.scope.windows, 1):
        what = f"time window {number}"
        if window.end - window.start > timedelta(days=STORE_DAYS):
            raise RequestError(
                f"{what} spans {(window.end - window.start).days} days: the store keeps "
                f"{STORE_DAYS}, so no window may be longer"
            )
        if window.start < horizon - HORIZON_GRACE:
            raise RequestError(
                f"{what} starts {window.start:%Y-%m-%d %H:%M}, before the store's horizon "
                f"({horizon:%Y-%m-%d %H:%M} UTC): passages older than {STORE_DAYS} days are "
                "destroyed; start it at or after the horizon"
            )
        if window.end > now + HORIZON_GRACE:
            raise RequestError(
                f"{what} ends {window.end:%Y-%m-%d %H:%M}, after the order is registered "
                f"({now:%Y-%m-%d %H:%M} UTC): an order covers passages already recorded; "
                "watching for a vehicle from now on is a hotlist's work"
            )


def scope_excesses(order: Order) -> list[str]:
    """The breadth limits this order goes past, each as its refusal says it: what a reasoned
    second approval by a prosecutor may lift for this one order (`approvals.py`)."""
    found = []
    for plate in order.scope.plates:
        try:
            check_plate_breadth(plate)
        except RequestError as exc:
            found.append(str(exc))
    if order.scope.cameras:
        spans = [w.end - w.start for w in order.scope.windows]
        try:
            check_place_breadth(len(order.scope.cameras), spans,
                                "the order's place and time scope")  # fmt: skip
        except RequestError as exc:
            found.append(str(exc))
    return found


@dataclass(frozen=True)
class Foreign:
    """A request from abroad or from the Caribbean parts of the Kingdom."""

    country: str
    legal_assistance_ref: str
    conditions: tuple[str, ...] = FOREIGN_CONDITIONS

    def __post_init__(self) -> None:
        if not _COUNTRY.fullmatch(self.country) or self.country == "NL":
            raise RequestError("the requesting country: two letters, not NL")
        if not self.legal_assistance_ref.strip():
            raise RequestError("a foreign request needs its legal-assistance reference")


@dataclass(frozen=True)
class Order:
    """The request as registered by the requesting officer."""

    reference: str
    prosecutor: str
    order_time: datetime
    order_form: str
    legal_basis: str
    investigation: str
    case_number: str
    crime: str
    crime_type: str
    description: str
    necessity: str
    scope: Scope
    photos_wanted: bool = False
    urgent: bool = False
    foreign: Foreign | None = None
    shielded: bool = False
    team: tuple[str, ...] = field(default=())  # officers registered on the investigation

    def __post_init__(self) -> None:
        for name in ("reference", "prosecutor", "investigation", "case_number", "crime",
                     "description", "necessity"):  # fmt: skip
            if not getattr(self, name).strip():
                raise RequestError(f"{name.replace('_', ' ')} is required")
        if self.order_form not in ORDER_FORMS:
            raise RequestError("the order is written or oral: choose which")
        if not self.legal_basis:
            raise RequestError("legal basis: choose the one the order names")
        if not self.crime_type:
            raise RequestError("crime type: choose the one the order names (it is counted in the "
                               "yearly report)")  # fmt: skip
        if self.legal_basis not in LEGAL_BASES:
            raise RequestError(f"legal basis: one of {', '.join(LEGAL_BASES)}")
        if self.crime_type not in CRIME_TYPES:
            raise RequestError(f"crime type: one of {', '.join(CRIME_TYPES)}")
        if self.order_time.tzinfo is None:
            raise RequestError("the order time needs a time zone")

    @property
    def written_due(self) -> datetime | None:
        return self.order_time + WRITTEN_ORDER_DUE if self.order_form == "oral" else None

    def as_json(self) -> dict:
        return {
            "reference": self.reference,
            "prosecutor": self.prosecutor,
            "order_time": self.order_time.isoformat(),
            "order_form": self.order_form,
            "legal_basis": self.legal_basis,
            "investigation": self.investigation,
            "case_number": self.case_number,
            "crime": self.crime,
            "crime_type": self.crime_type,
            "description": self.description,
            "necessity": self.necessity,
            "scope": self.scope.as_json(),
            "photos_wanted": self.photos_wanted,
            "urgent": self.urgent,
            "foreign": None
            if self.foreign is None
            else {
                "country": self.foreign.country,
                "legal_assistance_ref": self.foreign.legal_assistance_ref,
                "conditions": list(self.foreign.conditions),
            },
            "shielded": self.shielded,
            "team": list(self.team),
        }

    @classmethod
    def from_json(cls, data: dict) -> Order:
        foreign = data.get("foreign")
        return cls(
            **{
                k: data[k]
                for k in (
                    "reference",
                    "prosecutor",
                    "order_form",
                    "legal_basis",
                    "investigation",
                    "case_number",
                    "crime",
                    "crime_type",
                    "description",
                    "necessity",
                    "photos_wanted",
                    "urgent",
                    "shielded",
                )
            },  # fmt: skip
            order_time=datetime.fromisoformat(data["order_time"]),
            scope=Scope.from_json(data["scope"]),
            foreign=None
            if foreign is None
            else Foreign(
                foreign["country"], foreign["legal_assistance_ref"], tuple(foreign["conditions"])
            ),
            team=tuple(data["team"]),
        )
