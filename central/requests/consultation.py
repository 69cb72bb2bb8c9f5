"""One consultation of the 28-day store on a request: scope check, search, supply, audit.

Every consultation, refused or not, is entered in the audit trail with the decree's fields:
(a) executing officer, (b) requesting officer, (c) order reference, (d) investigation,
(e) request time, (f) consultation time, (g) request data and the query as entered,
(h) what was supplied, "nothing found" included, (i) supply time. Results of a request
whose written order is overdue are withheld (and that is what the trail records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.audit import AuditTrail
from central.requests.lifecycle import results_withheld, written_order_late
from central.requests.orders import RequestError
from central.requests.store import Request, Requests
from central.store.partitioned import DayPartitionedStore, SearchError
from central.store.records import StoredPassage

SEARCH_KINDS = ("full_plate", "partial_plate", "time_place", "intersection", "convoy")


@dataclass(frozen=True)
class Query:
    """A search as the officer entered it: a plate or cameras, always inside a time window."""

    start: datetime
    end: datetime
    plate: str = ""
    cameras: tuple[str, ...] = ()
    country: str = ""

    @property
    def kind(self) -> str:
        if self.plate:
            return "partial_plate" if set("?*") & set(self.plate) else "full_plate"
        return "time_place"

    def as_entered(self) -> dict:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "plate": self.plate,
            "cameras": list(self.cameras), "country": self.country,
        }  # fmt: skip


@dataclass(frozen=True)
class Consultation:
    audit_seq: int
    rows: list[StoredPassage]
    withheld: str  # why the results are withheld; '' when supplied


def check_scope(request: Request, query: Query) -> float:
    """Refuse a search outside the order; returns the share of the order's window it takes."""
    scope = request.order.scope
    if query.end <= query.start:
        raise RequestError("the search window ends before it starts")
    if not query.plate and not query.cameras:
        raise RequestError("a search needs a plate or cameras: no open-ended searches")
    window = scope.window_for(query.start, query.end)
    if window is None:
        raise RequestError("the search window lies outside the order's time windows")
    if query.plate and not scope.allows_plate(query.plate):
        raise RequestError(f"plate {query.plate} is not in the order's scope")
    if query.cameras:
        outside = sorted(set(query.cameras) - set(scope.cameras))
        if outside:
            raise RequestError(f"cameras outside the order's scope: {', '.join(outside)}")
    if scope.country and query.country not in ("", scope.country):
        raise RequestError(f"the order covers country {scope.country} only")
    return (query.end - query.start) / (window.end - window.start)


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


def consult(
    requests: Requests,
    request_id: int,
    officer: str,
    query: Query,
    store: DayPartitionedStore,
    trail: AuditTrail,
    now: datetime,
) -> Consultation:
    request = requests.get(request_id)
    state = request.state
    if state.state != "in_progress" or state.executor != officer:
        raise RequestError("only the officer executing a request in progress may search on it")
    fields = _fields(request, officer, query, now)
    try:
        share = check_scope(request, query)
        rows = (
            store.search_plate(query.plate, query.start, query.end, query.country or None)
            if query.plate
            else store.search_window(query.cameras, query.start, query.end)
        )
    except (RequestError, SearchError) as exc:
        trail.append(officer, "consultation_refused", {**fields, "refused": str(exc)}, now)
        raise RequestError(str(exc)) from None
    withheld = ""
    if results_withheld(request.order, state, now):
        withheld = "the written order is overdue: results withheld until it is attached"
    supplied = {
        "rows": 0 if withheld else len(rows),
        "passages": [] if withheld else [f"{r.camera_id}/{r.seq}" for r in rows],
        "nothing_found": not rows,
        "withheld": withheld,
        "verified": False,
    }
    details = {
        **fields,
        "scope_share": round(share, 3),
        "written_order_late": written_order_late(request.order, state, now),
        "supplied": supplied,  # (h)
        "supply_time": now.isoformat(),  # (i)
    }
    seq = trail.append(officer, "consultation", details, now)
    requests.note(
        request_id,
        officer,
        "consultation",
        {"audit_seq": seq, "rows": supplied["rows"], "withheld": withheld},
        now,
    )
    return Consultation(seq, [] if withheld else rows, withheld)
