"""Pages for requests: the team overview, registering an order, the steps, searching in it.

Plain server-rendered forms; every POST carries the session's CSRF token (checked by
`requires`), every step names the logged-in person and goes through `Workflow`, which
enters it in the audit trail. A shielded request is not shown to anyone outside it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)  # fmt: skip
from werkzeug.datastructures import MultiDict

from central.accounts.register import Register
from central.plan.basemap import PLACED_KINDS
from central.requests.approvals import confirmation_due, confirmation_late
from central.requests.forms import order_from_form, query_from_form
from central.requests.lifecycle import results_withheld, written_order_late
from central.requests.orders import (
    CRIME_TYPES,
    KINGDOM_PARTS,
    LEGAL_BASES,
    ORDER_FORMS,
    RequestError,
)
from central.requests.overview import team_overview
from central.requests.store import Request
from central.requests.verification import still_to_verify
from central.requests.workflow import UnknownStep, Workflow
from central.web import search_jobs
from central.web.access import current_session, requires
from central.web.map_assets import map_cameras
from central.web.plan import live_states
from central.web.stores import (
    accounts,
    audit_trail,
    camera_plan,
    camera_registry,
    health_records,
    passage_store,
    requests_db,
    store_shelf,
    work_board,
)
from node import wallclock

bp = Blueprint("requests", __name__)
STATIC = Path(__file__).parent / "static"
CASE_ROLES = ("requester", "officer", "auditor")
OFFICER_STEPS = {"accept", "hand_over", "reject", "deliver", "search", "count"}
# Rows of pickers for the order's time windows and a search's intersection windows.
WINDOW_ROWS = 4
LEG_ROWS = 3
# Said on the request's page after it was registered with a time that occurs twice.
AMBIGUOUS = (
    "A time you entered falls in the hour that occurs twice when the clocks go back; "
    "the first (summer time, CEST) was taken. Check the times below."
)


def workflow() -> Workflow:
    def pending(request_id: int) -> int:
        return still_to_verify(passage_store(), requests_db(), request_id)

    return Workflow(requests_db(), Register(accounts()), audit_trail(), pending)


def search_context() -> dict:
    """What every search needs beside the query: the store, the cameras, their health."""
    cameras = [c.camera_id for c in camera_registry().all()]
    return {"store": passage_store(), "trail": audit_trail(), "all_cameras": cameras,
            "health": health_records()}  # fmt: skip


def visible_request(request_id: int) -> Request:
    """The request, if this person may see it; a shielded one is 404 to outsiders."""
    session = current_session()
    try:
        found = requests_db().get(request_id)
    except RequestError:
        abort(404, description=f"no request {request_id}")
    if not found.visible_to(session.username, session.roles):
        accounts().role_violation(session.username, request.path, wallclock.now())
        abort(404, description=f"no request {request_id}")
    return found


@bp.get("/requests")
@requires(*CASE_ROLES)
def overview():
    session = current_session()
    now = wallclock.now()
    mine = [r for r in requests_db().all() if r.visible_to(session.username, session.roles)]
    open_lines, finished = team_overview(mine, now)
    return render_template(
        "requests.html", session=session, open_lines=open_lines, finished=finished,
        notifications=requests_db().notifications.of(session.username),
    )  # fmt: skip


def _new_form(error: str | None = None, form=None, status: int = 200):
    page = render_template(
        "request_new.html", session=current_session(), error=error, form=form or MultiDict(),
        crime_types=CRIME_TYPES, legal_bases=LEGAL_BASES, kingdom_parts=KINGDOM_PARTS,
        order_forms=ORDER_FORMS, window_rows=WINDOW_ROWS,
    )  # fmt: skip
    return page, status


@bp.get("/requests/new")
@requires("requester")
def new_request():
    return _new_form()


@bp.post("/requests")
@requires("requester")
def create_request():
    session = current_session()
    unit = accounts().unit_of(session.username)
    notes: list[str] = []
    try:
        order = order_from_form(request.form, notes)
        reason = request.form.get("scope_exception_reason", "")
        request_id = workflow().submit(order, session.username, unit, wallclock.now(), reason)
    except RequestError as exc:
        return _new_form(str(exc), request.form, 400)
    return redirect(f"/requests/{request_id}" + ("?ambiguous=1" if notes else ""))


def detail_page(
    found: Request,
    error: str | None = None,
    counted=None,
    status: int = 200,
    notes: list[str] | None = None,
):
    now = wallclock.now()
    if notes is None:
        notes = [AMBIGUOUS] if request.args.get("ambiguous") else []
    state = found.state
    page = render_template(
        "request.html", plan_map=_scope_map(found, now), session=current_session(), r=found,
        state=state, error=error, notes=notes, leg_rows=LEG_ROWS,
        counted=counted, late=written_order_late(found.order, state, now),
        result_sets=requests_db().results.for_request(found.id),
        issues=requests_db().downloads.issues(found.id),
        withheld=results_withheld(found.order, state, now), approvals=found.approvals,
        confirmation_due=confirmation_due(found.order),
        confirmation_late=confirmation_late(found.order, found.approvals, now),
    )  # fmt: skip
    return page, status


def _scope_map(found: Request, now: datetime) -> dict | None:
    """The camera plan's map, for picking the order's cameras with a click (fixed cameras
    of this year's plan only, with their health now; mobile ones are ticked in the list).
    Only the officer executing the search sees it, as the page shows the form only to them."""
    session, state = current_session(), found.state
    searching = state.state == "in_progress" and session and state.executor == session.username
    if not searching or not found.order.scope.cameras:
        return None
    entries = [e for e in camera_plan().entries(now.year) if e.kind in PLACED_KINDS]
    if not {e.camera_id for e in entries} & set(found.order.scope.cameras):
        return None
    return map_cameras(entries, live_states())


@bp.get("/requests/<int:request_id>")
@requires(*CASE_ROLES)
def request_page(request_id: int):
    return detail_page(visible_request(request_id))


@bp.post("/requests/<int:request_id>/<action>")
@requires("requester", "officer")
def request_action(request_id: int, action: str):
    found = visible_request(request_id)
    session = current_session()
    who, now, form = session.username, wallclock.now(), request.form
    if action in OFFICER_STEPS and "officer" not in session.roles:
        accounts().role_violation(who, request.path, now)
        abort(403, description="only an authorised officer takes this step")
    if "officer" not in session.roles and found.requester != who:
        accounts().role_violation(who, request.path, now)
        abort(403, description="only the requester or an officer takes steps on a request")
    try:
        if action in ("search", "count"):
            return _search(found, who, now, open_rows=action == "search")
        if action == "written_order":
            upload = request.files.get("document")
            if upload is None or not upload.filename:
                raise RequestError("choose the written order's file")
            workflow().attach_written_order(request_id, who, upload.filename, upload.read(), now)
        else:
            workflow().take(request_id, who, action, form, now)
    except UnknownStep:
        abort(404)
    except RequestError as exc:
        return detail_page(requests_db().get(request_id), str(exc), status=400)
    return redirect(f"/requests/{request_id}")


def _search(found: Request, who: str, now: datetime, open_rows: bool):
    """Count first (the officer sees how many rows before opening them), then open. Both run
    as a search job (search_jobs.py): answered here when quick, else on a progress page."""
    form = MultiDict(request.form)
    # Sent again, as they came, by the form that opens the counted results.
    sent = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf"]
    picked = form.poplist("camera")  # ticked in the order's list of cameras
    if picked:
        form["cameras"] = ",".join(filter(None, [form.get("cameras", ""), *picked]))
    notes: list[str] = []
    try:
        query = query_from_form(form, local=True, notes=notes)
    except RequestError as exc:
        return detail_page(requests_db().get(found.id), f"search refused: {exc}", status=400)
    cameras = [c.camera_id for c in camera_registry().all()]
    job = search_jobs.SearchJob(found.id, who, open_rows, {"form": form, "sent": sent,
                                                           "notes": notes})  # fmt: skip
    token = search_jobs.start(current_app.config["ANPR"], job, query, now, cameras, store_shelf())
    if job.finished.wait(search_jobs.INLINE_S):
        return _answer(found.id, job)
    return redirect(f"/requests/{found.id}/searches/{token}")


def _answer(request_id: int, job: search_jobs.SearchJob):
    """What a finished count or search shows: the count on the request's page, a search's
    rows on its results page, or why it was refused."""
    if job.error is not None:
        return detail_page(requests_db().get(request_id), job.error, status=400)
    if job.open_rows:
        return redirect(f"/requests/{request_id}/results/{job.audit_seq}")
    number, gaps = job.counted
    counted = {"count": number, "gaps": gaps, "form": job.shown["form"],
               "sent": job.shown["sent"]}  # fmt: skip
    return detail_page(requests_db().get(request_id), counted=counted, notes=job.shown["notes"])


@bp.get("/requests/<int:request_id>/searches/<token>")
@requires("officer")
def search_job(request_id: int, token: str):
    """A long count or search: its progress while it runs (the page asks again), then its
    answer. Only for the officer who started it."""
    found = visible_request(request_id)
    job = search_jobs.job_of(work_board(), token, request_id, current_session().username)
    if job is None:
        abort(404, description="no such search running: count again")
    if job.finished.is_set():
        return _answer(request_id, job)
    return render_template("search_progress.html", session=current_session(), r=found, job=job,
                           token=token, error=None)  # fmt: skip


@bp.get("/requests/<int:request_id>/searches/<token>/progress")
@requires("officer")
def search_job_progress(request_id: int, token: str):
    visible_request(request_id)
    job = search_jobs.job_of(work_board(), token, request_id, current_session().username)
    if job is None:
        abort(404, description="no such search running")
    return jsonify(job.as_json())


@bp.get("/searches/progress.js")
def search_progress_script():
    """The progress page's script (the package build's too), served from the package (the
    CSP runs no inline code)."""
    response = Response((STATIC / "progress.js").read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/requests/<int:request_id>/documents/<sha256>")
@requires(*CASE_ROLES)
def document(request_id: int, sha256: str):
    visible_request(request_id)
    found = requests_db().written_orders.get(request_id, sha256)
    if found is None:
        abort(404, description="no such document on this request")
    name, content = found
    safe = "".join(c for c in name if c.isalnum() or c in "._-") or "order"
    return Response(
        content, mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )  # fmt: skip
