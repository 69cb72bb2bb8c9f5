"""One consultation of the 28-day store on a request: scope check, search, supply, audit.

Every consultation, refused or not, is entered in the audit trail with the decree's fields:
(a) executing officer, (b) requesting officer, (c) order reference, (d) investigation,
(e) request time, (f) consultation time, (g) request data and the query as entered,
(h) what was supplied, "nothing found" included, (i) supply time. Results of a request
whose written order is overdue are withheld (and that is what the trail records). Every row
is held against the record its camera signed before it is supplied; a row that no longer
matches is withheld, named with its problems in the trail, and logged as an integrity alert.
A search on an order a prosecutor refused, or on a written order not yet confirmed, is
refused; the scope limits give way only to an approved scope exception.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from central.audit import AuditTrail
from central.health.records import HealthRecords
from central.requests.approvals import check_may_execute
from central.requests.coverage import camera_gaps
from central.requests.lifecycle import results_withheld, written_order_late
from central.requests.orders import RequestError
from central.requests.searches import Found, Leg, Progress, Query, check_scope, run_search
from central.requests.store import Request, Requests
from central.store.partitioned import DayPartitionedStore, SearchError
from central.store.records import StoredPassage

__all__ = ["Consultation", "Leg", "Query", "consult", "count", "sound_rows"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consultation:
    audit_seq: int
    rows: list[StoredPassage]
    withheld: str  # why the results are withheld; '' when supplied
    gaps: list[dict]  # searched cameras down or degraded during the window
    needs_verification: bool
    # rows found but not supplied: they differ from their signed record ({passage, problems})
    integrity_withheld: list[dict] = field(default_factory=list)


def sound_rows(
    store: DayPartitionedStore, rows: list[StoredPassage], what: str
) -> tuple[list[StoredPassage], list[dict]]:
    """(rows that are what their camera signed, the others with their problems). A row that
    fails is never handed out as evidence: it is withheld and raised as an integrity alert,
    since someone changed the store behind the code's back (docs/operations.md)."""
    problems = store.check_served(rows)
    if not problems:
        return rows, []
    bad = [{"passage": f"{c}/{s}", "problems": p} for (c, s), p in sorted(problems.items())]
    for entry in bad:
        log.error("INTEGRITY ALERT %s: passage %s withheld, it differs from its signed record: "
                  "%s", what, entry["passage"], "; ".join(entry["problems"]))  # fmt: skip
    return [r for r in rows if (r.camera_id, r.seq) not in problems], bad


def _fields(request: Request, officer: str, query: Query, now: datetime) -> dict:
    order = request.order
    return {
        "request_id": request.id,
        "unit": request.unit,
        "executing_officer": officer,  # (a)
        "requesting_officer": request.requester,  # (b)
        "order_reference": order.reference,  # (c)
        "investigation": f"{order.investigation} ({order.case_number})",  # (d)
        "request_time": request.registered_at.isoformat(),  # (e)
        "consultation_time": now.isoformat(),  # (f)
        "request": {"legal_basis": order.legal_basis, "scope": order.scope.as_json()},  # (g)
        "query": query.as_entered(),  # (g), as entered
        "search_kind": query.kind,
        "window_hours": round((query.end - query.start).total_seconds() / 3600, 2),
        "days_back": (now - query.start).days,
        "foreign": order.foreign.country if order.foreign else "",
    }


def _search(
    requests: Requests, request_id: int, officer: str, query: Query, store: DayPartitionedStore,
    trail: AuditTrail, now: datetime, all_cameras: Sequence[str], progress: Progress | None,
) -> tuple[Request, dict, float, Found]:  # fmt: skip
    """Check who searches and the scope, run the search; a refusal is logged and raised."""
    request = requests.get(request_id)
    state = request.state
    if state.state != "in_progress" or state.executor != officer:
        raise RequestError("only the officer executing a request in progress may search on it")
    fields = _fields(request, officer, query, now)
    try:
        check_may_execute(request.order, request.approvals)
        share = check_scope(request.order.scope, query, request.approvals.beyond_limits)
        found = run_search(store, request.order.scope, query, all_cameras, progress)
    except (RequestError, SearchError) as exc:
        trail.append(officer, "consultation_refused", {**fields, "refused": str(exc)}, now)
        raise RequestError(str(exc)) from None
    return request, fields, share, found


def count(
    requests: Requests, request_id: int, officer: str, query: Query, store: DayPartitionedStore,
    trail: AuditTrail, now: datetime, all_cameras: Sequence[str] = (),
    health: HealthRecords | None = None, progress: Progress | None = None,
) -> tuple[int | None, list[dict]]:  # fmt: skip
    """How many rows a search would supply, before they are opened (logged as such); None
    while results are withheld, since a count is a result too."""
    request, fields, share, found = _search(requests, request_id, officer, query, store, trail,
                                            now, all_cameras, progress)  # fmt: skip
    gaps = _gaps(health, found, query)
    number = None if results_withheld(request.order, request.state, now) else len(found.rows)
    trail.append(officer, "consultation_counted",
                 {**fields, "scope_share": round(share, 3), "count": number,
                  "camera_gaps": gaps}, now)  # fmt: skip
    return number, gaps


def _gaps(health: HealthRecords | None, found: Found, query: Query) -> list[dict]:
    if health is None:
        return []
    return [gap.as_json() for gap in camera_gaps(health, found.cameras, query.start, query.end)]


def consult(
    requests: Requests, request_id: int, officer: str, query: Query, store: DayPartitionedStore,
    trail: AuditTrail, now: datetime, all_cameras: Sequence[str] = (),
    health: HealthRecords | None = None, progress: Progress | None = None,
) -> Consultation:  # fmt: skip
    request, fields, share, found = _search(requests, request_id, officer, query, store, trail,
                                            now, all_cameras, progress)  # fmt: skip
    rows = found.rows
    gaps = _gaps(health, found, query)
    withheld, tampered = "", []
    if results_withheld(request.order, request.state, now):
        withheld = "the written order is overdue: results withheld until it is attached"
    else:
        rows, tampered = sound_rows(store, rows, f"consultation on request {request_id}")
    supplied = {
        "rows": 0 if withheld else len(rows),
        "passages": [] if withheld else [f"{r.camera_id}/{r.seq}" for r in rows],
        "nothing_found": not rows and not tampered,
        "withheld": withheld,
        "integrity_withheld": tampered,
        "verified": False,
        "camera_gaps": gaps,
    }
    details = {
        **fields,
        "scope_share": round(share, 3),
        "written_order_late": written_order_late(request.order, request.state, now),
        "supplied": supplied,  # (h)
        "supply_time": now.isoformat(),  # (i)
    }
    seq = trail.append(officer, "consultation", details, now)
    supplied_rows = [] if withheld else rows
    requests.results.save(seq, request_id, query.kind, query.needs_verification, gaps,
                          query.as_entered(), supplied_rows, now, withheld,
                          len(tampered))  # fmt: skip
    note = {"audit_seq": seq, "rows": supplied["rows"], "withheld": withheld,
            "integrity_withheld": len(tampered)}  # fmt: skip
    requests.note(request_id, officer, "consultation", note, now)
    return Consultation(seq, supplied_rows, withheld, gaps, query.needs_verification, tampered)
