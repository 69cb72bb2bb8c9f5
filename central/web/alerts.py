"""The control room: alerts, most urgent first, with the unblurred images, to act on."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)

from central.hotlists.lists import HotlistError, Hotlists
from central.web.access import current_session, requires
from central.web.stores import hotlists
from node import wallclock

bp = Blueprint("alerts", __name__)
CONTROL_ROOM = ("operator", "calamity_coordinator")
# Requesters see the alerts of the investigation lists they own, and nothing else.
OPERATORS = (*CONTROL_ROOM, "requester")


def _viewer() -> dict:
    session = current_session()
    return {"viewer": session.username, "control_room": bool(session.roles & set(CONTROL_ROOM))}


@bp.get("/api/v1/alerts")
@requires(*OPERATORS)
def alerts_json():
    state = request.args.get("state")
    return jsonify({"alerts": hotlists().alerts(state, **_viewer())})


def _open_alerts() -> list[dict]:
    """What this person may see (other owners' investigation hits are left out), open ones."""
    return [a for a in hotlists().alerts(**_viewer()) if a["state"] != "closed"]


def _visible(alert_id: int) -> None:
    if not hotlists().may_see(alert_id, **_viewer()):
        abort(404)


@bp.get("/alerts")
@requires(*OPERATORS)
def alerts_page():
    return render_template("alerts.html", alerts=_open_alerts(), session=current_session())


@bp.get("/alerts/rows")
@requires(*OPERATORS)
def alert_rows():
    """The table body alone: what the live page swaps in when the stream says so."""
    return render_template("_alert_rows.html", alerts=_open_alerts(), session=current_session())


@bp.get("/alerts/stream")
@requires(*OPERATORS)
def alert_stream():
    """Server-sent events: an `alerts` event within half a second of any change. The stream
    ends after `max_s` seconds (default 60); the browser reconnects by itself."""
    path = current_app.config["ANPR"].hotlists_path
    max_s = min(float(request.args.get("max_s", "60")), 300.0)

    def events():
        store = Hotlists(path)
        try:
            seen = store.state_version()
            yield f"retry: 1000\nevent: hello\ndata: {seen}\n\n"
            deadline = time.monotonic() + max_s
            while time.monotonic() < deadline:
                time.sleep(0.5)
                version = store.state_version()
                if version != seen:
                    seen = version
                    yield f"event: alerts\ndata: {version}\n\n"
        finally:
            store.close()

    response = Response(events(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.get("/alerts/<int:alert_id>/<which>.jpg")
@requires(*OPERATORS)
def alert_image(alert_id: int, which: str):
    if which not in ("crop", "overview"):
        abort(404)
    _visible(alert_id)
    row = (
        hotlists()
        .db.execute(f"SELECT {which} FROM alerts WHERE alert_id = ?", (alert_id,))
        .fetchone()
    )
    if row is None:
        abort(404)
    response = Response(row[0], mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/alerts/<int:alert_id>/handle")
@requires(*OPERATORS)
def handle_alert(alert_id: int):
    _visible(alert_id)
    try:
        hotlists().handle(
            alert_id,
            request.form.get("state", ""),
            current_session().username,
            request.form.get("outcome", ""),
            wallclock.now(),
        )
    except HotlistError as exc:
        abort(400, description=str(exc))
    return redirect("/alerts")


@bp.post("/alerts/<int:alert_id>/assign")
@requires(*OPERATORS)
def assign_alert(alert_id: int):
    """Hand the alert to one operator (form field `to`, a user name)."""
    _visible(alert_id)
    try:
        hotlists().assign(
            alert_id, request.form.get("to", ""), current_session().username, wallclock.now()
        )
    except HotlistError as exc:
        abort(400, description=str(exc))
    return redirect("/alerts")
