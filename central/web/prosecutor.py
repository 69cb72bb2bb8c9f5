"""The prosecutor's desk: hotlists, entries, orders and scope exceptions waiting for a decision.

Only accounts holding the prosecutor role reach it (password and second factor at login,
like everyone). Each approval or refusal is that account's own act: stored with its user
name and time (on the hotlist, or as a step on the request) and entered in the audit trail
with who, when and what. A typed name on a command line or a form proves nothing about who
decided, so no other path approves (`hotlist-approve` refuses and points here).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, redirect, render_template, request

from central.hotlists.alerts import PRIORITY_WORDS, HotlistError
from central.hotlists.approvals import REAPPROVE_AFTER
from central.requests.approvals import confirmation_due, confirmation_late
from central.requests.orders import RequestError
from central.requests.store import Request
from central.web.access import current_session, requires
from central.web.requests import workflow
from central.web.stores import audit_trail, hotlists, requests_db
from node import wallclock

bp = Blueprint("prosecutor", __name__)
DECISIONS = ("approve", "refuse")
ORDER_DECISIONS = ("confirm", "refuse")


def _waiting_requests(now) -> list[dict]:
    """Open requests whose order or scope exception waits for a prosecutor's decision."""
    waiting = []
    for found in requests_db().all():
        approvals = found.approvals
        if found.state.state in ("rejected", "closed"):
            continue
        if approvals.order_decision is None or approvals.exception_pending:
            waiting.append(_request_line(found, now))
    return waiting


def _request_line(found: Request, now) -> dict:
    return {
        "r": found, "order": found.order, "approvals": found.approvals,
        "due": confirmation_due(found.order),
        "late": confirmation_late(found.order, found.approvals, now),
    }  # fmt: skip


def desk_page(error: str | None = None, status: int = 200):
    now = wallclock.now()
    store = hotlists()
    due = store.due_for_approval(now)
    page = render_template(
        "prosecutor.html", session=current_session(), error=error,
        new_lists=[d for d in due if d["approved_until"] is None],
        due_lists=[d for d in due if d["approved_until"] is not None],
        entries=store.waiting_entries(now), requests=_waiting_requests(now),
        max_days=REAPPROVE_AFTER.days, priority_words=PRIORITY_WORDS,
    )  # fmt: skip
    return page, status


@bp.get("/prosecutor")
@requires("prosecutor")
def desk():
    return desk_page()


def _valid_days() -> timedelta:
    # No default: how long an approval holds is the prosecutor's choice, said each time (#23).
    text = request.form.get("valid_days", "").strip()
    if not text.isdigit() or not 1 <= int(text) <= REAPPROVE_AFTER.days:
        raise HotlistError(f"valid for 1 to {REAPPROVE_AFTER.days} days: general lists are "
                           "approved again at least that often")  # fmt: skip
    return timedelta(days=int(text))


@bp.post("/prosecutor/lists/<int:list_id>/<decision>")
@requires("prosecutor")
def decide_list(list_id: int, decision: str):
    if decision not in DECISIONS:
        abort(404)
    who, now, reason = current_session().username, wallclock.now(), request.form.get("reason", "")
    try:
        if decision == "approve":
            valid = _valid_days()
            entries = hotlists().approve(list_id, who, now, valid)
            details = {"list_id": list_id, "valid_until": (now + valid).isoformat(),
                       "entries_approved": entries}  # fmt: skip
            audit_trail().append(who, "hotlist_approved", details, now)
        else:
            hotlists().refuse_list(list_id, who, reason, now)
            audit_trail().append(who, "hotlist_refused", {"list_id": list_id, "reason": reason},
                                 now)  # fmt: skip
    except HotlistError as exc:
        return desk_page(str(exc), 400)
    return redirect("/prosecutor")


@bp.post("/prosecutor/entries/<int:entry_id>/<decision>")
@requires("prosecutor")
def decide_entry(entry_id: int, decision: str):
    if decision not in DECISIONS:
        abort(404)
    who, now, reason = current_session().username, wallclock.now(), request.form.get("reason", "")
    try:
        if decision == "approve":
            list_id = hotlists().approve_entry(entry_id, who, now)
            details = {"list_id": list_id, "entry_id": entry_id}
        else:
            list_id = hotlists().refuse_entry(entry_id, who, reason, now)
            details = {"list_id": list_id, "entry_id": entry_id, "reason": reason}
    except HotlistError as exc:
        return desk_page(str(exc), 400)
    audit_trail().append(who, f"hotlist_entry_{decision}d", details, now)
    return redirect("/prosecutor")


@bp.post("/prosecutor/requests/<int:request_id>/<decision>")
@requires("prosecutor")
def decide_order(request_id: int, decision: str):
    if decision not in ORDER_DECISIONS:
        abort(404)
    who, now, reason = current_session().username, wallclock.now(), request.form.get("reason", "")
    try:
        workflow().confirm_order(request_id, who, decision == "confirm", reason, now)
    except RequestError as exc:
        return desk_page(str(exc), 400)
    return redirect("/prosecutor")


@bp.post("/prosecutor/requests/<int:request_id>/exception/<decision>")
@requires("prosecutor")
def decide_exception(request_id: int, decision: str):
    if decision not in DECISIONS:
        abort(404)
    who, now, reason = current_session().username, wallclock.now(), request.form.get("reason", "")
    try:
        workflow().decide_exception(request_id, who, decision == "approve", reason, now)
    except RequestError as exc:
        return desk_page(str(exc), 400)
    return redirect("/prosecutor")
