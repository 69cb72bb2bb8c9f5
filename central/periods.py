"""When a camera may fill the 28-day store: pure interval arithmetic over the plan.

A fixed (or third-party) camera may store from the ratification of the year's version (or
1 January, whichever is later) to the end of that year; a mobile camera only during its
recorded deployments of a ratified year. Both are cut by the camera's status history:
only while its latest status is `active` (before any recorded status, a camera is active).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

Period = tuple[datetime, datetime]
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


def year_bounds(year: int) -> Period:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def merge(periods: Iterable[Period]) -> list[Period]:
    result: list[Period] = []
    for start, end in sorted(p for p in periods if p[0] < p[1]):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result


def active_periods(statuses: Iterable[tuple[datetime, str]]) -> list[Period]:
    """From (valid_from, status) changes, the periods in which the camera is active."""
    # Before its first recorded status a camera counts as active, like one without any.
    changes = [(datetime.min.replace(tzinfo=UTC), "active"), *sorted(statuses)]
    periods = []
    bounds = [*changes, (FOREVER, "end")]
    for (start, status), (end, _) in zip(bounds, bounds[1:], strict=False):
        if status == "active":
            periods.append((start, end))
    return merge(periods)


def intersect(a: list[Period], b: list[Period]) -> list[Period]:
    result = []
    for a_start, a_end in a:
        for b_start, b_end in b:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                result.append((start, end))
    return merge(result)


def storage_periods(
    plan_periods: Iterable[Period],
    deployments: Iterable[Period],
    statuses: Iterable[tuple[datetime, str]],
) -> list[Period]:
    return intersect(merge([*plan_periods, *deployments]), active_periods(statuses))
