"""The team overview: open requests by urgency, counting down to the data's destruction.

Passages expire 28 days after capture, so an order for last month's window loses a day of
its data every day it waits. Each open request shows how many days remain before the first
part of its requested period is destroyed, and before all of it is; most urgent first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.expiry import RETENTION
from central.requests.lifecycle import OPEN_STATES, written_order_late
from central.requests.store import Request


@dataclass(frozen=True)
class Line:
    request: Request
    state: str
    first_loss_days: float  # until the earliest requested data is destroyed (<0: already)
    all_lost_days: float  # until the last of it is
    written_late: bool

    @property
    def countdown(self) -> str:
        if self.all_lost_days <= 0:
            return "all requested data destroyed"
        if self.first_loss_days <= 0:
            return f"partly destroyed; the rest within {self.all_lost_days:.1f} days"
        return f"{self.first_loss_days:.1f} days"


def _line(request: Request, now: datetime) -> Line:
    windows = request.order.scope.windows
    first = min(w.start for w in windows) + RETENTION - now
    last = max(w.end for w in windows) + RETENTION - now
    state = request.state
    return Line(
        request, state.state, first.total_seconds() / 86400, last.total_seconds() / 86400,
        written_order_late(request.order, state, now),
    )  # fmt: skip


def team_overview(requests: list[Request], now: datetime) -> tuple[list[Line], list[Line]]:
    """(open requests, most urgent first; finished requests, newest first)."""
    lines = [_line(r, now) for r in requests]
    open_lines = sorted(
        (x for x in lines if x.state in OPEN_STATES),
        key=lambda x: (not x.request.order.urgent, x.first_loss_days),
    )
    finished = sorted(
        (x for x in lines if x.state not in OPEN_STATES),
        key=lambda x: x.request.registered_at,
        reverse=True,
    )
    return open_lines, finished
