"""A request's state, derived from its steps; a step taken in error is reversed, never edited.

The steps are the history: received, rejected with reason, accepted by an executing officer
(in progress), handed over, delivered, closed with reason. Folding them gives the state.
A reversal is a step of its own naming the step it cancels, so the history still shows
what happened and who put it right. Closing is allowed from every state, so a request
entered wrongly is never stuck.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.requests.orders import Order, RequestError

OPEN_STATES = ("received", "in_progress")
STATES = ("received", "rejected", "in_progress", "delivered", "closed")
# Which steps may follow in which state; "closed" may follow any state but closed.
ALLOWED = {
    "rejected": ("received",),
    "accepted": ("received",),
    "handed_over": ("received", "in_progress"),
    "delivered": ("in_progress",),
    "closed": ("received", "rejected", "in_progress", "delivered"),
    "written_order": ("received", "in_progress", "delivered"),
}
REVERSIBLE = frozenset(ALLOWED)


@dataclass(frozen=True)
class Step:
    id: int
    at: datetime
    actor: str
    kind: str
    detail: dict


@dataclass(frozen=True)
class RequestState:
    state: str
    assignee: str | None  # the officer the request is handed to, until accepted
    executor: str | None  # the officer who declared and executes
    written_received_at: datetime | None
    last_reversible: Step | None
    reason: str = ""  # of the rejection or the closing


def fold(steps: list[Step]) -> RequestState:
    reversed_ids = {s.detail["step"] for s in steps if s.kind == "reversed"}
    state, assignee, executor, written, reason = "received", None, None, None, ""
    last: Step | None = None
    for step in steps:
        if step.id in reversed_ids or step.kind not in REVERSIBLE:
            continue
        last = step
        if step.kind == "written_order":
            written = step.at
        elif step.kind == "handed_over":
            state, assignee, executor = "received", step.detail["to"], None
        elif step.kind == "accepted":
            state, executor = "in_progress", step.actor
        elif step.kind in ("rejected", "closed"):
            state, reason = step.kind, step.detail["reason"]
        elif step.kind == "delivered":
            state = "delivered"
    return RequestState(state, assignee, executor, written, last, reason)


def check_step(current: RequestState, kind: str) -> None:
    if kind not in ALLOWED:
        raise RequestError(f"unknown step {kind!r}")
    if current.state not in ALLOWED[kind]:
        raise RequestError(f"a request that is {current.state.replace('_', ' ')} cannot be {kind}")


def written_order_late(order: Order, state: RequestState, now: datetime) -> bool:
    """An oral order whose written order came after its deadline, or has not come by now."""
    due = order.written_due
    if due is None:
        return False
    if state.written_received_at is not None:
        return state.written_received_at > due
    return now > due


def results_withheld(order: Order, state: RequestState, now: datetime) -> bool:
    """Withheld while the written order is overdue and still missing."""
    due = order.written_due
    return due is not None and state.written_received_at is None and now > due
