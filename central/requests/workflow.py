"""The steps people take on a request, with the rules the law puts on who may take them.

Each step is checked (state, role, authorisation, involvement), stored on the request and
entered in the audit trail, in that order, so that the trail never misses a step the
request shows. The executing officer declares not to be involved in the investigation;
an officer on the investigation's team is refused and the request must be handed over.
A written order is executed only once a prosecutor's account confirms it; an order beyond
the scope limits is searched beyond them only once a second prosecutor approves the
exception (`approvals.py`, the rules; `ProsecutorActs` below, the acts).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from central.accounts.register import Register
from central.audit import AuditTrail
from central.requests import approvals as rules
from central.requests.lifecycle import written_order_late
from central.requests.orders import Order, RequestError, check_order_horizon, scope_excesses
from central.requests.store import Requests


class ProsecutorActs:
    """The prosecutor's acts on a request, each their own (`Workflow` supplies `requests`,
    `register` and `_audit`)."""

    def _check_prosecutor(self, request_id: int, prosecutor: str):
        if not rules.holds_role(self.register.db, prosecutor, rules.PROSECUTOR):
            raise RequestError(f"{prosecutor} is not a prosecutor's account: only a prosecutor, "
                               "logged in with their own account, takes this decision")  # fmt: skip
        request = self.requests.get(request_id)
        if prosecutor == request.requester:
            raise RequestError("a prosecutor does not decide on a request they registered")
        return request

    def confirm_order(
        self, request_id: int, prosecutor: str, confirm: bool, reason: str, now: datetime
    ) -> None:
        """The order confirmed (or refused, with its reason) by this prosecutor's account."""
        request = self._check_prosecutor(request_id, prosecutor)
        decided = request.approvals.order_decision
        if decided is not None:
            raise RequestError(f"the order is decided already, by {decided.by}")
        exception = request.approvals.exception_approved
        if confirm and exception is not None and exception.by == prosecutor:
            raise RequestError("you approved this order's scope exception: another prosecutor "
                               "confirms the order")  # fmt: skip
        if not confirm and not reason.strip():
            raise RequestError("a refusal states its reason")
        kind = rules.CONFIRMED if confirm else rules.REFUSED
        late = rules.confirmation_late(request.order, request.approvals, now)
        detail = {"reason": reason.strip(), "order_prosecutor": request.order.prosecutor,
                  "late": late}  # fmt: skip
        self.requests.note(request_id, prosecutor, kind, detail, now)
        self._audit(prosecutor, kind, request_id, detail, now)

    def decide_exception(
        self, request_id: int, prosecutor: str, approve: bool, reason: str, now: datetime
    ) -> None:
        """The second, reasoned decision on an order beyond the scope limits."""
        request = self._check_prosecutor(request_id, prosecutor)
        found = request.approvals
        if not found.exception_requested:
            raise RequestError("this order stays within the scope limits: nothing to decide")
        if found.exception_decision is not None:
            raise RequestError(f"the exception is decided already, by "
                               f"{found.exception_decision.by}")  # fmt: skip
        if approve and found.refused is not None:
            raise RequestError("the order itself was refused: its scope cannot be widened")
        if approve and found.confirmed is not None and found.confirmed.by == prosecutor:
            raise RequestError("you confirmed this order: a second prosecutor, not you, decides "
                               "on going past the scope limits")  # fmt: skip
        kind = rules.EXCEPTION_APPROVED if approve else rules.EXCEPTION_REFUSED
        why = rules.check_reason(reason, "approving or refusing a scope exception")
        detail = {"reason": why, "excesses": list(found.excesses),
                  "requested_reason": found.exception_reason}  # fmt: skip
        self.requests.note(request_id, prosecutor, kind, detail, now)
        self._audit(prosecutor, kind, request_id, detail, now)


class Workflow(ProsecutorActs):
    def __init__(
        self, requests: Requests, register: Register, trail: AuditTrail,
        pending_verifications: Callable[[int], int] = lambda request_id: 0,
    ) -> None:  # fmt: skip
        self.requests = requests
        self.register = register
        self.trail = trail
        self.pending_verifications = pending_verifications

    def _audit(self, actor: str, action: str, request_id: int, details: dict, now: datetime):
        request = self.requests.get(request_id)
        base = {"request_id": request_id, "order_reference": request.order.reference,
                "unit": request.unit}  # fmt: skip
        self.trail.append(actor, action, {**base, **details}, now)

    def submit(
        self, order: Order, requester: str, unit: str, now: datetime, exception_reason: str = ""
    ) -> int:
        """Register the order; one past the scope limits only with the requester's reason,
        and then it waits for a second prosecutor's approval to be searched past them."""
        check_order_horizon(order, now)  # no approval lifts these
        excesses = scope_excesses(order)  # no fishing: refused before anything is stored...
        if excesses and not exception_reason.strip():
            raise RequestError("; ".join(excesses) + ". Or, when this case needs it, give a "
                               "written reason for a scope exception: a second prosecutor "
                               "then decides on it")  # fmt: skip
        if excesses:  # ... unless the requester says why, for a second prosecutor to judge
            exception_reason = rules.check_reason(exception_reason, "a scope exception")
        request_id = self.requests.register(order, requester, unit, now)
        due = rules.confirmation_due(order)
        self._audit(requester, "request_registered", request_id, {
            "order_form": order.order_form, "crime_type": order.crime_type,
            "legal_basis": order.legal_basis, "urgent": order.urgent,
            "foreign": order.foreign.country if order.foreign else "",
            "written_due": order.written_due.isoformat() if order.written_due else None,
            "photos_wanted": order.photos_wanted, "shielded": order.shielded,
            "confirmation_due": due.isoformat() if due else None,
            "scope_exception": bool(excesses),
        }, now)  # fmt: skip
        if excesses:
            detail = {"excesses": excesses, "reason": exception_reason}
            self.requests.note(request_id, requester, rules.EXCEPTION_REQUESTED, detail, now)
            self._audit(requester, rules.EXCEPTION_REQUESTED, request_id, detail, now)
        if order.urgent:
            self._notify_on_call(request_id, order, now)
        return request_id

    def _notify_on_call(self, request_id: int, order: Order, now: datetime) -> None:
        officers = [
            name for name in self.requests.rota.on_call(now)
            if self.register.authorised(name, now) and name not in order.team
        ]  # fmt: skip
        text = f"urgent request {order.reference} ({order.crime}) waits for an officer"
        for name in officers:
            self.requests.notifications.send(name, request_id, text, now)
        self.requests.note(request_id, "system", "on_call_notified", {"officers": officers}, now)
        self._audit("system", "on_call_notified", request_id, {"officers": officers}, now)

    def attach_written_order(
        self, request_id: int, actor: str, name: str, content: bytes, now: datetime
    ) -> None:
        request = self.requests.get(request_id)
        digest = self.requests.written_orders.attach(request_id, name, content)
        late = written_order_late(request.order, request.state, now)
        self.requests.step(request_id, actor, "written_order",
                           {"name": name, "sha256": digest, "late": late}, now)  # fmt: skip
        self._audit(actor, "written_order_attached", request_id,
                    {"sha256": digest, "late": late}, now)  # fmt: skip

    def accept(self, request_id: int, officer: str, declared: bool, now: datetime) -> None:
        """The officer takes the request on, declaring not to be involved."""
        request = self.requests.get(request_id)
        state = request.state
        if not self.register.authorised(officer, now):
            raise RequestError("only an authorised officer with a current review may execute")
        if state.assignee not in (None, officer):
            raise RequestError(f"the request is handed over to {state.assignee}")
        if officer == request.requester:
            raise RequestError("the requesting officer cannot execute their own request")
        if officer in request.order.team:
            self._audit(officer, "execution_refused", request_id,
                        {"reason": "registered on the investigation"}, now)  # fmt: skip
            raise RequestError(
                "you are registered on this investigation: hand the request over to another "
                "authorised officer"
            )
        if not declared:
            raise RequestError("declare that you are not involved in the investigation")
        rules.check_may_execute(request.order, request.approvals)
        self.requests.step(request_id, officer, "accepted", {"declared_uninvolved": True}, now)
        self._audit(officer, "request_accepted", request_id, {"declared_uninvolved": True}, now)

    def hand_over(self, request_id: int, actor: str, to: str, reason: str, now: datetime) -> None:
        request = self.requests.get(request_id)
        if to in request.order.team or to == request.requester:
            raise RequestError(f"{to} is involved in the investigation")
        if not self.register.authorised(to, now):
            raise RequestError(f"{to} is not a currently authorised officer")
        if not reason.strip():
            raise RequestError("say why the request is handed over")
        unit = self.register.unit_of(to, now)
        detail = {"to": to, "to_unit": unit, "reason": reason}
        self.requests.step(request_id, actor, "handed_over", detail, now)
        self._audit(actor, "request_handed_over", request_id, detail, now)

    def reject(self, request_id: int, officer: str, reason: str, now: datetime) -> None:
        if not reason.strip():
            raise RequestError("a rejection states its reason")
        self.requests.step(request_id, officer, "rejected", {"reason": reason}, now)
        self._audit(officer, "request_rejected", request_id, {"reason": reason}, now)

    def deliver(self, request_id: int, officer: str, now: datetime) -> None:
        if self.requests.get(request_id).state.executor != officer:
            raise RequestError("only the executing officer delivers")
        pending = self.pending_verifications(request_id)
        if pending:
            raise RequestError(f"verify the {pending} plate-search rows left before delivering")
        self.requests.step(request_id, officer, "delivered", {}, now)
        self._audit(officer, "request_delivered", request_id, {}, now)

    def close(self, request_id: int, actor: str, reason: str, now: datetime) -> None:
        if not reason.strip():
            raise RequestError("closing states its reason")
        self.requests.step(request_id, actor, "closed", {"reason": reason}, now)
        # The supplied rows and approved photos were for this request only.
        rows = self.requests.results.destroy_for_request(request_id)
        photos = self.requests.photos.destroy_for_request(request_id)
        details = {"reason": reason, "rows_destroyed": rows, "photos_destroyed": photos}
        self._audit(actor, "request_closed", request_id, details, now)

    def reverse(self, request_id: int, actor: str, reason: str, now: datetime) -> None:
        step = self.requests.reverse(request_id, actor, reason, now)
        self._audit(actor, "request_step_reversed", request_id, step.detail, now)

    def take(self, request_id: int, actor: str, step: str, fields, now: datetime) -> None:
        """One step named as the forms and the API name it, with its fields."""
        reason = str(fields.get("reason", ""))
        if step == "accept":
            self.accept(request_id, actor, fields.get("declaration") in ("yes", True), now)
        elif step == "hand_over":
            self.hand_over(request_id, actor, str(fields.get("to", "")).strip(), reason, now)
        elif step == "reject":
            self.reject(request_id, actor, reason, now)
        elif step == "deliver":
            self.deliver(request_id, actor, now)
        elif step == "close":
            self.close(request_id, actor, reason, now)
        elif step == "reverse":
            self.reverse(request_id, actor, reason, now)
        else:
            raise UnknownStep(step)


class UnknownStep(RequestError):
    """No such step (a 404 on the web)."""
