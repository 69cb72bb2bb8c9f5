"""The prosecutor's own acts on a request: confirming the order, deciding a scope exception.

The order's prosecutor is typed by the requester, as the paper says it; that proves nothing
about whether a prosecutor agreed. So a prosecutor confirms (or refuses) the order with
their own account on the prosecutor's desk, and a written order is executed only after
that. An oral order is given in urgency: it proceeds at once, and its confirmation is due
like the written order (three days), shown late on the request and counted when it is not.

An order beyond the scope limits (`orders.scope_excesses`) is registered only with the
requester's written reason, and nothing beyond the limits is searched until a *second*
prosecutor, not the one who confirmed the order, approves the exception with a reason of
their own. A refused exception leaves the request held to the limits.

Every act is a step on the request (append-only, never reversible by the officers: these
kinds are not in `lifecycle.ALLOWED`) and an entry in the audit trail, made by `Workflow`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from central.requests.lifecycle import Step
from central.requests.orders import WRITTEN_ORDER_DUE, Order, RequestError

PROSECUTOR = "prosecutor"
# "A reason" is at least a sentence: a word or two ("urgent", "see file") explains nothing.
MIN_REASON_WORDS = 6
CONFIRMED, REFUSED = "order_confirmed", "order_refused"
EXCEPTION_REQUESTED = "scope_exception_requested"
EXCEPTION_APPROVED, EXCEPTION_REFUSED = "scope_exception_approved", "scope_exception_refused"
KINDS = (CONFIRMED, REFUSED, EXCEPTION_REQUESTED, EXCEPTION_APPROVED, EXCEPTION_REFUSED)
_FIELDS = {CONFIRMED: "confirmed", REFUSED: "refused", EXCEPTION_APPROVED: "exception_approved",
           EXCEPTION_REFUSED: "exception_refused"}  # fmt: skip


@dataclass(frozen=True)
class Act:
    """One decision: by which account, when, why."""

    by: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class Approvals:
    """What the prosecutors decided on one request, folded from its steps."""

    confirmed: Act | None = None
    refused: Act | None = None
    exception_reason: str = ""  # the requester's, when the order goes past the limits
    excesses: tuple[str, ...] = ()
    exception_approved: Act | None = None
    exception_refused: Act | None = None

    @property
    def order_decision(self) -> Act | None:
        return self.confirmed or self.refused

    @property
    def exception_requested(self) -> bool:
        return bool(self.excesses)

    @property
    def exception_pending(self) -> bool:
        return self.exception_requested and self.exception_decision is None

    @property
    def exception_decision(self) -> Act | None:
        return self.exception_approved or self.exception_refused

    @property
    def beyond_limits(self) -> bool:
        """May searches go past the scope limits (within the order)?"""
        return self.exception_approved is not None

    def as_json(self) -> dict:
        def act(found: Act | None) -> dict | None:
            return None if found is None else {"by": found.by, "at": found.at.isoformat(),
                                               "reason": found.reason}  # fmt: skip

        return {
            "confirmed": act(self.confirmed), "refused": act(self.refused),
            "scope_exception": None if not self.excesses else {
                "excesses": list(self.excesses), "reason": self.exception_reason,
                "approved": act(self.exception_approved),
                "refused": act(self.exception_refused),
            },
        }  # fmt: skip


def fold_approvals(steps: Iterable[Step]) -> Approvals:
    found: dict = {}
    for step in steps:
        if step.kind not in KINDS:
            continue
        if step.kind == EXCEPTION_REQUESTED:
            found["exception_reason"] = step.detail["reason"]
            found["excesses"] = tuple(step.detail["excesses"])
            continue
        act = Act(step.actor, step.at, step.detail.get("reason", ""))
        found.setdefault(_FIELDS[step.kind], act)
    return Approvals(**found)


def proceeds_before_confirmation(order: Order) -> bool:
    """An oral order is given only in urgency; it is executed at once, confirmed after."""
    return order.order_form == "oral"


def confirmation_due(order: Order) -> datetime | None:
    """When an order that proceeds at once must be confirmed (like its written order)."""
    return order.order_time + WRITTEN_ORDER_DUE if proceeds_before_confirmation(order) else None


def confirmation_late(order: Order, approvals: Approvals, now: datetime) -> bool:
    """Confirmed (or refused) after it was due, or not yet and due already."""
    due = confirmation_due(order)
    if due is None:
        return False
    decided = approvals.order_decision
    return decided.at > due if decided is not None else now > due


def check_may_execute(order: Order, approvals: Approvals) -> None:
    """Refuse executing (accepting, searching) an order a prosecutor refused, or a written
    order no prosecutor has confirmed yet."""
    if approvals.refused is not None:
        raise RequestError(
            f"prosecutor {approvals.refused.by} refused the order: {approvals.refused.reason}"
        )
    if approvals.confirmed is None and not proceeds_before_confirmation(order):
        raise RequestError(
            "the order waits for a prosecutor's confirmation: a written order is executed only "
            "once a prosecutor confirms it with their own account on the prosecutor's desk"
        )


def check_reason(text: str, what: str) -> str:
    """A reason of at least a sentence, returned stripped."""
    if len(text.split()) < MIN_REASON_WORDS:
        raise RequestError(
            f"{what} needs a written reason of at least a sentence ({MIN_REASON_WORDS} words "
            "or more): say why this case needs it"
        )
    return text.strip()


def holds_role(accounts_db, username: str, role: str) -> bool:
    """Whether `username` is an account holding `role` (read from accounts.sqlite, whose
    handle the officers' register already shares)."""
    row = accounts_db.execute("SELECT roles FROM users WHERE username = ?", (username,)).fetchone()
    return row is not None and role in row[0].split(",")
