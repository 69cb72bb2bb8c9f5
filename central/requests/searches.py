"""The searches an order allows, each checked against the order's scope before it runs.

Kinds: a full or partial plate (with country) in a window; a place-time window at chosen
cameras (and direction); an intersection of several place-time windows (vehicles seen in
all of them); a convoy (vehicles passing the same cameras within N minutes of a given
plate). Every search is concrete: a time bound and a plate or a place. A search outside
the order is refused with the reason; the caller logs the refusal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from central.requests.orders import (
    RequestError,
    Scope,
    check_place_breadth,
    check_plate_breadth,
)
from central.store.partitioned import MAX_RESULTS, DayPartitionedStore
from central.store.records import StoredPassage

MAX_CONVOY_MINUTES = 30
# Told how far a search is: (parts done, parts in all); a part is a UTC day of the window
# (the store keeps one partition per day), a window of an intersection, or a passage of the
# plate a convoy search goes round. The pages show it for long searches (#23).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Leg:
    """One place-time window of an intersection search."""

    cameras: tuple[str, ...]
    start: datetime
    end: datetime

    def as_json(self) -> dict:
        return {"cameras": list(self.cameras), "start": self.start.isoformat(),
                "end": self.end.isoformat()}  # fmt: skip


@dataclass(frozen=True)
class Query:
    """A search as the officer entered it."""

    start: datetime
    end: datetime
    plate: str = ""
    cameras: tuple[str, ...] = ()
    country: str = ""
    direction: str = ""
    legs: tuple[Leg, ...] = ()
    convoy_minutes: int = 0

    @property
    def kind(self) -> str:
        if self.legs:
            return "intersection"
        if self.convoy_minutes:
            return "convoy"
        if self.plate:
            return "partial_plate" if set("?*") & set(self.plate) else "full_plate"
        return "time_place"

    @property
    def needs_verification(self) -> bool:
        """Plate searches: each row is checked against its crop before it is handed out."""
        return self.kind in ("full_plate", "partial_plate")

    def as_entered(self) -> dict:
        return {
            "kind": self.kind, "start": self.start.isoformat(), "end": self.end.isoformat(),
            "plate": self.plate, "cameras": list(self.cameras), "country": self.country,
            "direction": self.direction, "legs": [leg.as_json() for leg in self.legs],
            "convoy_minutes": self.convoy_minutes,
        }  # fmt: skip


def _window_share(scope: Scope, start: datetime, end: datetime, what: str) -> float:
    if end <= start:
        raise RequestError(f"{what} ends before it starts")
    window = scope.window_for(start, end)
    if window is None:
        raise RequestError(f"{what} lies outside the order's time windows")
    return (end - start) / (window.end - window.start)


def _cameras_in_scope(scope: Scope, cameras: Sequence[str]) -> None:
    outside = sorted(set(cameras) - set(scope.cameras))
    if outside:
        raise RequestError(f"cameras outside the order's scope: {', '.join(outside)}")


def _within_the_order(*_limits) -> None:
    """The breadth check under an approved scope exception: the order's scope, checked
    beside it, is then the only bound."""


def check_scope(scope: Scope, query: Query, beyond_limits: bool = False) -> float:
    """Refuse a search outside the order, or wider than the scope limits (an order
    registered before them, or beyond them while its exception is not approved); returns
    the largest share of an order window that it takes (for the auditor's review of
    searches "to be sure"). `beyond_limits`: a second prosecutor approved the order's scope
    exception, so the breadth limits give way to the order's own scope, never more."""
    plate_breadth = _within_the_order if beyond_limits else check_plate_breadth
    place_breadth = _within_the_order if beyond_limits else check_place_breadth
    if query.plate and not scope.allows_plate(query.plate):
        raise RequestError(f"plate {query.plate} is not in the order's scope")
    if query.plate:
        plate_breadth(query.plate)
    if scope.country and query.country not in ("", scope.country):
        raise RequestError(f"the order covers country {scope.country} only")
    if query.legs:
        if len(query.legs) < 2:
            raise RequestError("an intersection needs at least two place-time windows")
        shares = []
        for number, leg in enumerate(query.legs, 1):
            if not leg.cameras:
                raise RequestError(f"window {number} of the intersection names no camera")
            _cameras_in_scope(scope, leg.cameras)
            place_breadth(len(leg.cameras), [leg.end - leg.start], f"window {number}")
            shares.append(_window_share(scope, leg.start, leg.end, f"window {number}"))
        return max(shares)
    share = _window_share(scope, query.start, query.end, "the search window")
    if query.convoy_minutes:
        if not query.plate or set("?*") & set(query.plate):
            raise RequestError("a convoy search starts from one full plate")
        if not 1 <= query.convoy_minutes <= MAX_CONVOY_MINUTES:
            raise RequestError(f"a convoy search looks 1 to {MAX_CONVOY_MINUTES} minutes around")
        if not scope.cameras:
            raise RequestError("the order names no cameras: a convoy search needs places")
        return share
    if not query.plate and not query.cameras:
        raise RequestError("a search needs a plate or cameras: no open-ended searches")
    if query.cameras:
        _cameras_in_scope(scope, query.cameras)
        if not query.plate:
            place_breadth(len(query.cameras), [query.end - query.start], "the search")
    return share


@dataclass(frozen=True)
class Found:
    rows: list[StoredPassage]
    cameras: tuple[str, ...]  # the cameras this search looked at (for the outage report)


def day_spans(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at UTC midnights: the store's day partitions, searched one by one.
    The store's bounds are half-open and its rows come in time order, so the spans' rows
    joined are the window's rows, in the same order."""
    spans, moment = [], start
    while moment < end:
        midnight = datetime.combine(moment.astimezone(UTC).date() + timedelta(days=1),
                                    datetime.min.time(), UTC)  # fmt: skip
        spans.append((moment, min(end, midnight)))
        moment = midnight
    return spans


def _by_day(search: Callable[[datetime, datetime, int], list[StoredPassage]], start: datetime,
            end: datetime, progress: Progress | None) -> list[StoredPassage]:  # fmt: skip
    spans = day_spans(start, end)
    rows: list[StoredPassage] = []
    for done, (since, until) in enumerate(spans, 1):
        rows += search(since, until, MAX_RESULTS - len(rows))
        if progress is not None:
            progress(done, len(spans))
        if len(rows) >= MAX_RESULTS:
            break
    return rows


def run_search(
    store: DayPartitionedStore, scope: Scope, query: Query, all_cameras: Sequence[str],
    progress: Progress | None = None,
) -> Found:  # fmt: skip
    direction = query.direction or None
    if query.legs:
        return _intersection(store, query.legs, direction, progress)
    if query.convoy_minutes:
        return _convoy(store, scope, query, progress)
    if query.plate:
        country = query.country or None

        def plate_rows(since: datetime, until: datetime, limit: int) -> list[StoredPassage]:
            return store.search_plate(query.plate, since, until, country, limit)

        return Found(_by_day(plate_rows, query.start, query.end, progress), tuple(all_cameras))

    def place_rows(since: datetime, until: datetime, limit: int) -> list[StoredPassage]:
        return store.search_window(query.cameras, since, until, direction, limit)

    return Found(_by_day(place_rows, query.start, query.end, progress), query.cameras)


def _intersection(store: DayPartitionedStore, legs: Sequence[Leg], direction,
                  progress: Progress | None = None) -> Found:  # fmt: skip
    per_leg = []
    for done, leg in enumerate(legs, 1):
        per_leg.append(store.search_window(leg.cameras, leg.start, leg.end, direction))
        if progress is not None:
            progress(done, len(legs))
    common = set.intersection(*({row.plate for row in rows} for rows in per_leg))
    rows = sorted(
        {(r.camera_id, r.seq): r for rows in per_leg for r in rows if r.plate in common}.values(),
        key=lambda r: (r.plate, r.captured_at),
    )
    return Found(rows, tuple(sorted({c for leg in legs for c in leg.cameras})))


def _convoy(store: DayPartitionedStore, scope: Scope, query: Query,
            progress: Progress | None = None) -> Found:  # fmt: skip
    """Vehicles seen within N minutes of the plate at the same cameras, at least twice
    (or once, when the plate itself passed only once)."""
    base = store.search_plate(query.plate, query.start, query.end, query.country or None)
    base = [row for row in base if row.camera_id in scope.cameras]
    around = timedelta(minutes=query.convoy_minutes)
    # plate -> which of the base passages it was seen near -> its rows there
    seen: dict[str, dict[int, list[StoredPassage]]] = defaultdict(lambda: defaultdict(list))
    for index, passage in enumerate(base):
        moment = datetime.fromisoformat(passage.captured_at)
        start, end = max(query.start, moment - around), min(query.end, moment + around)
        for row in store.search_window([passage.camera_id], start, end):
            if row.plate != query.plate:
                seen[row.plate][index].append(row)
        if progress is not None:
            progress(index + 1, len(base))
    needed = min(2, len(base))
    companions = {
        (row.camera_id, row.seq): row
        for near in seen.values() if len(near) >= needed
        for rows in near.values() for row in rows
    }  # fmt: skip
    rows = sorted(base + list(companions.values()), key=lambda r: (r.captured_at, r.camera_id))
    return Found(rows, tuple(sorted({row.camera_id for row in base})))
