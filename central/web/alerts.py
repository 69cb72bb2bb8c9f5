"""The control room: alerts, most urgent first, with the unblurred images, to act on.

The desk (#23) shows one row per alert with its passes grouped under it, every open alert
(paged, with the total), and patches itself in place: the stream says that something
changed, the page asks `/alerts/changes` for the alerts changed since its cursor and
replaces only their read-only parts, never a field the operator is typing in.
"""

from __future__ import annotations

import time
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
)
from flask_babel import gettext

from central.hotlists.alerts import ACKNOWLEDGE_WITHIN, PRIORITY_WORDS, AlertFilter
from central.hotlists.lists import HotlistError, Hotlists
from central.web.access import current_session, requires
from central.web.alert_map import passes_map_svg
from central.web.stores import hotlists
from node import wallclock

bp = Blueprint("alerts", __name__)
CONTROL_ROOM = ("operator", "calamity_coordinator")
# Requesters see the alerts of the investigation lists they own, and nothing else.
OPERATORS = (*CONTROL_ROOM, "requester")
STATIC = Path(__file__).parent / "static"
# Open alerts per page: the desk shows every open alert, this many at a time, with the total.
PAGE_SIZE = 50
MAX_PER_PAGE = 500
OPEN = AlertFilter(open_only=True)


def _viewer() -> dict:
    session = current_session()
    return {"viewer": session.username, "control_room": bool(session.roles & set(CONTROL_ROOM))}


def _number(name: str, default: int, lowest: int, highest: int) -> int:
    """A whole-number query argument within bounds; anything else is the caller's error."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not lowest <= int(raw) <= highest:
        abort(400, description=f"{name} must be a whole number from {lowest} to {highest}")
    return int(raw)


def _with_passes(alerts: list[dict]) -> list[dict]:
    """Each alert with its passes (camera, time, place; images by their own URL)."""
    passes = hotlists().passes([a["alert_id"] for a in alerts])
    for alert in alerts:
        alert["passes"] = passes[alert["alert_id"]]
    return alerts


@bp.get("/api/v1/alerts")
@requires(*OPERATORS)
def alerts_json():
    """Alerts with their passes, a page at a time, and how many there are in all."""
    which = AlertFilter(state=request.args.get("state") or None)
    per_page = _number("per_page", 100, 1, MAX_PER_PAGE)
    page = _number("page", 0, 0, 10**9)
    desk = hotlists()
    found = desk.alerts(limit=per_page, offset=page * per_page, which=which, **_viewer())
    return jsonify({
        "alerts": _with_passes(found),
        "total": desk.count_alerts(which=which, **_viewer()),
        "page": page,
        "per_page": per_page,
    })  # fmt: skip


def _visible(alert_id: int) -> None:
    if not hotlists().may_see(alert_id, **_viewer()):
        abort(404)


def _page_values(page: int) -> dict:
    """One page of the open alerts this person may see, with the total and the cursor."""
    desk = hotlists()
    cursor = desk.change_cursor()  # read first: a change racing the query is fetched again
    total = desk.count_alerts(which=OPEN, **_viewer())
    found = desk.alerts(limit=PAGE_SIZE, offset=page * PAGE_SIZE, which=OPEN, **_viewer())
    return {
        "alerts": _with_passes(found),
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "first": page * PAGE_SIZE + 1 if found else 0,
        "last": page * PAGE_SIZE + len(found),
        "cursor": cursor,
    }


def _desk_context() -> dict:
    return {
        "session": current_session(),
        "priority_words": PRIORITY_WORDS,
        "acknowledge_within": ACKNOWLEDGE_WITHIN,
        "passes_map": passes_map_svg,
    }


@bp.get("/alerts")
@requires(*OPERATORS)
def alerts_page():
    values = _page_values(_number("page", 0, 0, 10**9))
    return render_template("alerts.html", **values, **_desk_context(), desk_words=_desk_words())


def _desk_words() -> dict[str, str]:
    """What the desk's script writes on the page, in the page's language (#23)."""
    return {
        "sound_on": gettext("sound on for urgent alerts"), "sound_off": gettext("sound off"),
        "mute": gettext("Mute"), "unmute": gettext("Unmute"),
        "news": gettext("New alerts arrived: see page 1."),
        "alert": gettext("open alert"), "alerts": gettext("open alerts"),
        "live": gettext("live"), "reconnecting": gettext("reconnecting"),
    }  # fmt: skip


@bp.get("/alerts/changes")
@requires(*OPERATORS)
def alert_changes():
    """The alerts changed since `since` (the page's cursor), each as its rendered row with
    its state, and the new cursor and open total: what the live page patches in place."""
    since = _number("since", 0, 0, 2**62)
    desk = hotlists()
    cursor = desk.change_cursor()
    which = AlertFilter(changed_since=since)
    changed = _with_passes(desk.alerts(limit=MAX_PER_PAGE, which=which, **_viewer()))
    context = _desk_context()
    rows = [
        {
            "alert_id": a["alert_id"],
            "state": a["state"],
            "priority": a["priority"],
            "pass_count": a["pass_count"],
            "changed": a["changed"],
            "html": render_template("_alert.html", a=a, **context),
        }
        for a in changed
    ]
    # More than a page changed at once, or alerts expired (gone, not changed): the page
    # reloads rather than miss any or keep showing them.
    complete = len(changed) < MAX_PER_PAGE and not desk.expired_since(since)
    return jsonify({
        "cursor": cursor if complete else since,
        "complete": complete,
        "total": desk.count_alerts(which=OPEN, **_viewer()),
        "alerts": rows,
    })  # fmt: skip


@bp.get("/alerts/desk.js")
def desk_script():
    """The desk's script, a file served from the package (the CSP runs no inline code
    without the page's nonce, and nothing comes from elsewhere)."""
    response = Response((STATIC / "alerts.js").read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/alerts/stream")
@requires(*OPERATORS)
def alert_stream():
    """Server-sent events: an `alerts` event (data: the change cursor) within half a second
    of any change. The stream ends after `max_s` seconds (default 60); the browser
    reconnects by itself."""
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


def _image(alert_id: int, pass_id: int | None, which: str) -> Response:
    if which not in ("crop", "overview"):
        abort(404)
    _visible(alert_id)
    data = hotlists().pass_image(alert_id, pass_id, which)
    if data is None:
        abort(404)
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/alerts/<int:alert_id>/<which>.jpg")
@requires(*OPERATORS)
def alert_image(alert_id: int, which: str):
    """The crop or overview of the alert's latest pass."""
    return _image(alert_id, None, which)


@bp.get("/alerts/<int:alert_id>/passes/<int:pass_id>/<which>.jpg")
@requires(*OPERATORS)
def pass_image(alert_id: int, pass_id: int, which: str):
    """The crop or overview of one pass grouped under the alert."""
    return _image(alert_id, pass_id, which)


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
