"""JSON API for requests, searches on them, the audit check and the yearly report.

The same rules as the pages (they share `Workflow`, `consult` and the scope checks); POSTs
carry the session's CSRF token in the X-CSRF-Token header. Documented in docs/openapi.json.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify

from central.requests.consultation import consult, count
from central.requests.forms import query_from_form
from central.requests.orders import Order, RequestError
from central.requests.workflow import UnknownStep
from central.web.access import current_session, requires
from central.web.bodies import json_object, text_field, text_list
from central.web.oversight import report_for, verify_trail
from central.web.passages import passage_json
from central.web.requests import (
    CASE_ROLES,
    OFFICER_STEPS,
    search_context,
    visible_request,
    workflow,
)
from central.web.stores import accounts, requests_db
from node import wallclock

bp = Blueprint("requests_api", __name__)


def _refused(exc: Exception):
    return jsonify(error=str(exc)), 400


@bp.get("/api/v1/requests")
@requires(*CASE_ROLES)
def list_requests():
    session = current_session()
    found = [r for r in requests_db().all() if r.visible_to(session.username, session.roles)]
    return jsonify(requests=[r.as_json() for r in found])


@bp.post("/api/v1/requests")
@requires("requester")
def create_request():
    session = current_session()
    try:
        body = json_object()
        order = Order.from_json(body)
        reason = text_field(body, "scope_exception_reason")
        unit = accounts().unit_of(session.username)
        request_id = workflow().submit(order, session.username, unit, wallclock.now(), reason)
    except (RequestError, KeyError, TypeError, ValueError) as exc:
        return _refused(exc if isinstance(exc, RequestError) else f"bad order: {exc!r}")
    return jsonify(id=request_id), 201


@bp.get("/api/v1/requests/<int:request_id>")
@requires(*CASE_ROLES)
def get_request(request_id: int):
    return jsonify(visible_request(request_id).as_json())


@bp.post("/api/v1/requests/<int:request_id>/steps")
@requires("requester", "officer")
def take_step(request_id: int):
    found = visible_request(request_id)
    session = current_session()
    body = json_object()
    step = str(body.get("step", ""))
    if (step in OFFICER_STEPS and "officer" not in session.roles) or (
        "officer" not in session.roles and found.requester != session.username
    ):
        abort(403, description="your role does not allow this step")
    try:
        workflow().take(request_id, session.username, step, body, wallclock.now())
    except UnknownStep:
        abort(404, description=f"no step {step!r}")
    except RequestError as exc:
        return _refused(exc)
    return jsonify(requests_db().get(request_id).as_json())


def search_fields(raw: dict) -> dict[str, str]:
    """The JSON search as the search form's fields; 400 for a field of the wrong type."""
    fields = {name: ",".join(text_list(raw, name)) if name == "cameras" else text_field(raw, name)
              for name in raw if name not in ("legs", "count_only")}  # fmt: skip
    legs = raw.get("legs", [])
    if not isinstance(legs, list) or not all(isinstance(leg, dict) for leg in legs):
        abort(400, description="legs: a list of {cameras, start, end} objects")
    if legs:
        fields["legs"] = "\n".join(
            f"{','.join(text_list(leg, 'cameras'))} {text_field(leg, 'start')} "
            f"{text_field(leg, 'end')}"
            for leg in legs
        )
    return fields


@bp.post("/api/v1/requests/<int:request_id>/searches")
@requires("officer")
def search(request_id: int):
    visible_request(request_id)
    raw = json_object()
    body = search_fields(raw)
    who, now = current_session().username, wallclock.now()
    try:
        query = query_from_form(body)
        if raw.get("count_only"):
            number, gaps = count(requests_db(), request_id, who, query, **search_context(),
                                 now=now)  # fmt: skip
            return jsonify(count=number, camera_gaps=gaps)
        result = consult(requests_db(), request_id, who, query, **search_context(), now=now)
    except (RequestError, KeyError, TypeError) as exc:
        return _refused(exc)
    return jsonify(
        audit_seq=result.audit_seq, withheld=result.withheld, camera_gaps=result.gaps,
        integrity_withheld=result.integrity_withheld,
        verification="required" if result.needs_verification else "not verified",
        passages=[passage_json(p) for p in result.rows],
    )  # fmt: skip


@bp.get("/api/v1/audit/verify")
@requires("auditor")
def audit_verify():
    checked, findings = verify_trail()
    return jsonify(
        checked=checked, intact=checked and not findings,
        findings=[{"seq": f.seq, "problem": f.problem} for f in findings],
    )  # fmt: skip


@bp.get("/api/v1/reports/<int:year>")
@requires("auditor")
def yearly(year: int):
    report = report_for(year)
    return jsonify(
        year=year,
        sections=[{"title": t, "items": [{"item": k, "count": n} for k, n in items]}
                  for t, items in report.sections()],
    )  # fmt: skip
