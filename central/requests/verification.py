"""Verification of plate-search rows against their crops, as the law requires.

A plate search hands out a passage only after a person has checked that its crop shows the
plate asked for; a row whose crop does not is withheld and the withholding recorded. A
verdict can be given only on a crop that was actually sent to that officer's screen (the
crop endpoint records it), so nothing is "bulk-approved without looking". Verdicts live in
the passage's day file: later searches within the 28 days see them, and they are destroyed
with the passage. Time/place rows are handed out unverified and marked so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from central.audit import AuditTrail
from central.requests.orders import RequestError
from central.requests.results import ResultSet
from central.requests.store import Requests
from central.store.partitioned import DayPartitionedStore, SearchError
from central.store.records import StoredPassage

VERDICTS = ("correct", "wrong")


def open_result_set(requests: Requests, audit_seq: int, request_id: int, officer: str) -> ResultSet:
    """The result set, if it belongs to this request and this officer executes it."""
    found = requests.results.get(audit_seq)
    if found is None or found.request_id != request_id:
        raise RequestError(f"no result set {audit_seq} on request {request_id}")
    state = requests.get(request_id).state
    if state.state != "in_progress" or state.executor != officer:
        raise RequestError("only the executing officer reviews results, while in progress")
    return found


def give_verdict(
    requests: Requests, store: DayPartitionedStore, trail: AuditTrail, request_id: int,
    audit_seq: int, officer: str, camera_id: str, seq: int, verdict: str, now: datetime,
) -> None:  # fmt: skip
    result_set = open_result_set(requests, audit_seq, request_id, officer)
    if verdict not in VERDICTS:
        raise RequestError(f"a verdict is one of {', '.join(VERDICTS)}")
    if not requests.results.contains(audit_seq, camera_id, seq):
        raise RequestError(f"passage {camera_id}/{seq} is not in this result set")
    if not requests.results.was_shown(audit_seq, camera_id, seq, officer):
        raise RequestError(f"look at the crop of {camera_id}/{seq} before judging it")
    try:
        store.add_verdict(camera_id, seq, verdict, officer, now)
    except SearchError as exc:
        raise RequestError(str(exc)) from None
    request = requests.get(request_id)
    trail.append(officer, "verification", {
        "request_id": request_id, "order_reference": request.order.reference,
        "unit": request.unit, "result_set": audit_seq, "passage": f"{camera_id}/{seq}",
        "asked": result_set.query.get("plate", ""), "verdict": verdict,
        "withheld": verdict == "wrong",
    }, now)  # fmt: skip


def row_states(
    store: DayPartitionedStore, result_set: ResultSet, rows: Sequence[StoredPassage]
) -> dict[tuple[str, int], str]:
    """Per row: correct, wrong (withheld), to verify, or not verified (time/place)."""
    verdicts = store.verdicts([(r.camera_id, r.seq) for r in rows])
    states = {}
    for row in rows:
        key = (row.camera_id, row.seq)
        if key in verdicts:
            states[key] = verdicts[key][0]
        else:
            states[key] = "to verify" if result_set.needs_verification else "not verified"
    return states


def still_to_verify(store: DayPartitionedStore, requests: Requests, request_id: int) -> int:
    """Rows of this request's plate searches that nobody has judged yet."""
    pending = 0
    for result_set in requests.results.for_request(request_id):
        if result_set.needs_verification:
            rows = requests.results.rows(result_set.audit_seq)
            pending += sum(s == "to verify" for s in row_states(store, result_set, rows).values())
    return pending
