"""What a prosecutor's order allows: the request as registered, validated once on entry.

Art. 126jj Sv lets the 28-day store be consulted only on a prosecutor's order, for the
investigation of a crime for which pre-trial detention is allowed or to trace a fugitive,
and only within the order's scope. The scope is therefore data the system checks every
search against, not a note for people to read. An oral order must be followed by the
written one within three days; foreign requests carry conditions that travel with the
results.
"""

from __future__ import annotations

import fnmatch
import re
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
            raise RequestError("the order is written or oral")
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
