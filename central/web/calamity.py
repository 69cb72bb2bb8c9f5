"""The calamity page: declare and end a calamity, and consult the frozen passages.

The only way into the calamity buffer from the web, for calamity coordinators only. Every
search and every image shown is entered in the audit trail by `CalamityBuffer` itself.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, redirect, render_template, request

from central.calamity.buffer import CalamityError, Query
from central.requests.forms import moment
from central.requests.orders import RequestError
from central.web.access import current_session, requires
from central.web.stores import calamity_buffer
from node import wallclock

bp = Blueprint("calamity", __name__)
COORDINATOR = "calamity_coordinator"


def _page(
    error: str | None = None,
    results: list[dict] | None = None,
    status: int = 200,
    notes: list[str] | None = None,
):
    count, oldest = calamity_buffer().buffered()
    html = render_template(
        "calamity.html", session=current_session(), active=calamity_buffer().active(),
        history=calamity_buffer().history(), buffered=count, oldest=oldest, results=results,
        query=request.args, error=error, notes=notes or [],
    )  # fmt: skip
    return html, status


@bp.get("/calamity")
@requires(COORDINATOR)
def calamity_page():
    return _page()


def _moment(name: str, what: str, notes: list[str]) -> datetime | None:
    """A picker's Dutch local time as UTC (#23); a skipped hour is refused."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return moment(text, what, local=True, notes=notes)
    except RequestError as exc:
        raise CalamityError(str(exc)) from None


@bp.get("/calamity/search")
@requires(COORDINATOR)
def calamity_search():
    notes: list[str] = []
    try:
        query = Query(
            plate=request.args.get("plate", "").strip(),
            camera_id=request.args.get("camera_id", "").strip(),
            since=_moment("since", "from", notes),
            until=_moment("until", "until", notes),
        )
        results = calamity_buffer().search(current_session().username, query, wallclock.now())
    except CalamityError as exc:
        return _page(error=str(exc), status=400)
    return _page(results=results, notes=notes)


@bp.get("/calamity/passages/<int:passage_id>/<which>.jpg")
@requires(COORDINATOR)
def calamity_image(passage_id: int, which: str):
    try:
        data = calamity_buffer().image(
            current_session().username, passage_id, which, wallclock.now()
        )
    except CalamityError as exc:
        abort(404, description=str(exc))
    if data is None:
        abort(404)
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/calamity/declare")
@requires(COORDINATOR)
def declare():
    try:
        calamity_buffer().declare(
            current_session().username,
            request.form.get("reason", ""),
            request.form.get("chief_prosecutor", ""),
            wallclock.now(),
        )
    except CalamityError as exc:
        return _page(error=str(exc), status=400)
    return redirect("/calamity")


@bp.post("/calamity/end")
@requires(COORDINATOR)
def end():
    try:
        calamity_buffer().end(
            current_session().username, request.form.get("reason", ""), wallclock.now()
        )
    except CalamityError as exc:
        return _page(error=str(exc), status=400)
    return redirect("/calamity")
