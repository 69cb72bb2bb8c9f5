"""Pages for what a search supplied: result pages, crop verification, photos, the package.

The executing officer pages through result sets (500 rows a page; a 30,000-row result is
read from the request's own copy, not searched again), judges plate-search rows against
their crops (100 a page, keyboard-driven; only crops actually sent to the screen can be
judged), approves blurred photos, and delivers. The requester then downloads the signed
package through an expiring link; each issue and download is in the audit trail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
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
from flask_babel import gettext

from central.requests.downloads import Issue
from central.requests.orders import RequestError
from central.requests.package import PackageError, build_package, require_issuable
from central.requests.photos import PhotoError, parse_boxes, render
from central.requests.results import ResultSet
from central.requests.store import Request, Requests
from central.requests.verification import give_verdict, row_states
from central.store import open_store
from central.web.access import current_session, requires
from central.web.labels import VERDICT_LABELS, translated
from central.web.requests import detail_page, visible_request
from central.web.stores import audit_trail, passage_store, requests_db, work_board
from central.web.work_board import BoardProgress, WorkBoard, WorkState
from node import wallclock
from node.keyfiles import load_signing_key
from wire import SigningKey

bp = Blueprint("results", __name__)
LOG = logging.getLogger(__name__)
ROWS_PER_PAGE = 500
CROPS_PER_PAGE = 100
PHOTOS_PER_PAGE = 20
REVIEW_PER_PAGE = 60  # a compact grid; each approval act covers one review page
SPOOL_IN_MEMORY = 32 * 1024 * 1024  # larger packages are built in a temporary file
STATIC = Path(__file__).parent / "static"


def executor_result_set(request_id: int, audit_seq: int) -> tuple[Request, ResultSet]:
    """The request and its result set, for the officer executing it (else 403/404)."""
    found = visible_request(request_id)
    result_set = requests_db().results.get(audit_seq)
    if result_set is None or result_set.request_id != request_id:
        abort(404, description=f"no result set {audit_seq} on this request")
    if found.state.executor != current_session().username or found.state.state == "closed":
        abort(403, description="results are reviewed by the executing officer only")
    return found, result_set


def _page() -> int:
    return max(0, request.args.get("page", 0, type=int))


@bp.get("/requests/<int:request_id>/results/<int:audit_seq>")
@requires("officer")
def result_page(request_id: int, audit_seq: int):
    found, result_set = executor_result_set(request_id, audit_seq)
    page = _page()
    rows = requests_db().results.rows(audit_seq, page * ROWS_PER_PAGE, ROWS_PER_PAGE)
    return render_template(
        "results.html", session=current_session(), r=found, rs=result_set,
        rows=rows, states=row_states(passage_store(), result_set, rows), page=page,
        pages=max(1, -(-result_set.row_count // ROWS_PER_PAGE)), rs_gaps=result_set.gaps,
        counted=None, error=None,
    )  # fmt: skip


@bp.get("/requests/<int:request_id>/results/<int:audit_seq>/verify")
@requires("officer")
def verify_page(request_id: int, audit_seq: int):
    found, result_set = executor_result_set(request_id, audit_seq)
    if not result_set.needs_verification:
        abort(404, description="time/place results are delivered unverified, marked so")
    page = _page()
    rows = requests_db().results.rows(audit_seq, page * CROPS_PER_PAGE, CROPS_PER_PAGE)
    return render_template(
        "verify.html", session=current_session(), r=found, rs=result_set,
        verdict_labels=translated(VERDICT_LABELS),
        rows=rows, states=row_states(passage_store(), result_set, rows), page=page,
        pages=max(1, -(-result_set.row_count // CROPS_PER_PAGE)), error=None,
    )  # fmt: skip


@bp.get("/requests/<int:request_id>/results/<int:audit_seq>/crops/<camera_id>/<int:seq>.jpg")
@requires("officer")
def crop(request_id: int, audit_seq: int, camera_id: str, seq: int):
    executor_result_set(request_id, audit_seq)
    results = requests_db().results
    if not results.contains(audit_seq, camera_id, seq):
        abort(404)
    image = passage_store().image(camera_id, seq, "crop")
    if image is None:
        abort(404, description="the passage is past 28 days")
    results.crop_shown(audit_seq, camera_id, seq, current_session().username, wallclock.now())
    return Response(image, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.post("/requests/<int:request_id>/results/<int:audit_seq>/verdicts")
@requires("officer")
def verdict(request_id: int, audit_seq: int):
    executor_result_set(request_id, audit_seq)
    form = request.form if request.form else (request.get_json(silent=True) or {})
    try:
        give_verdict(requests_db(), passage_store(), audit_trail(), request_id, audit_seq,
                     current_session().username, str(form.get("camera_id", "")),
                     int(form.get("seq", 0)), str(form.get("verdict", "")),
                     wallclock.now())  # fmt: skip
    except (RequestError, ValueError) as exc:
        if request.is_json:
            return {"error": str(exc)}, 400
        abort(400, description=str(exc))
    if request.is_json:
        return {"ok": True}
    return redirect(f"/requests/{request_id}/results/{audit_seq}/verify?page={_page()}")


# --- photos ---------------------------------------------------------------------------------


def _photo_source(request_id: int, camera_id: str, seq: int) -> tuple[Request, bytes, list | None]:
    found = visible_request(request_id)
    if not found.order.photos_wanted:
        abort(404, description="the order does not ask for photos")
    if found.state.executor != current_session().username:
        abort(403, description="photos are approved by the executing officer")
    if not requests_db().results.request_has(request_id, camera_id, seq):
        abort(404)
    overview = passage_store().image(camera_id, seq, "overview")
    signed = passage_store().signed_record(camera_id, seq)
    if overview is None or signed is None:
        abort(404, description="the passage is past 28 days")
    return found, overview, json.loads(signed[0]).get("plate_box")


@bp.get("/requests/<int:request_id>/results/<int:audit_seq>/photos")
@requires("officer")
def photos_page(request_id: int, audit_seq: int):
    found, result_set = executor_result_set(request_id, audit_seq)
    if not found.order.photos_wanted:
        abort(404, description="the order does not ask for photos")
    page = _page()
    rows = requests_db().results.rows(audit_seq, page * PHOTOS_PER_PAGE, PHOTOS_PER_PAGE)
    return render_template(
        "photos.html", session=current_session(), r=found, rs=result_set,
        rows=rows, approved=requests_db().photos.approved(request_id), page=page,
        pages=max(1, -(-result_set.row_count // PHOTOS_PER_PAGE)), error=None,
    )  # fmt: skip


@bp.get("/requests/<int:request_id>/photos/<camera_id>/<int:seq>.jpg")
@requires("officer")
def photo_preview(request_id: int, camera_id: str, seq: int):
    """The photo blurred (automatic boxes plus ?boxes=); the original is never served. Each
    version sent is recorded for this officer: only a version shown can be approved."""
    _, overview, plate_box = _photo_source(request_id, camera_id, seq)
    try:
        boxes = parse_boxes(request.args.get("boxes", ""))
        image = render(overview, plate_box, boxes)
    except PhotoError as exc:
        abort(400, description=str(exc))
    requests_db().photos.shown(request_id, camera_id, seq, boxes, current_session().username,
                               wallclock.now())  # fmt: skip
    return Response(image, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


def _approve(found: Request, camera_id: str, seq: int, overview: bytes, plate_box, boxes,
             who: str, now, bulk: int | None = None) -> None:  # fmt: skip
    jpeg = render(overview, plate_box, boxes)
    requests_db().photos.approve(found.id, camera_id, seq, boxes, jpeg, who, now)
    details = {
        "request_id": found.id, "order_reference": found.order.reference, "unit": found.unit,
        "passage": f"{camera_id}/{seq}", "automatic_blur": plate_box is not None,
        "officer_boxes": [b.as_list() for b in boxes],
        "sha256": hashlib.sha256(jpeg).hexdigest(),
    }  # fmt: skip
    if bulk is not None:  # one entry per photo; this says it was one of a reviewed set
        details["reviewed_set"] = bulk
    audit_trail().append(who, "photo_approved", details, now)


def _unshown(camera_id: str, seq: int) -> str:
    return gettext(
        "Photo %(passage)s was not shown to you with these blur boxes: preview it first.",
        passage=f"{camera_id}/{seq}",
    )


@bp.post("/requests/<int:request_id>/photos/<camera_id>/<int:seq>/approve")
@requires("officer")
def approve_photo(request_id: int, camera_id: str, seq: int):
    found, overview, plate_box = _photo_source(request_id, camera_id, seq)
    who, now = current_session().username, wallclock.now()
    try:
        boxes = parse_boxes(request.form.get("boxes", ""))
        if not requests_db().photos.was_shown(request_id, camera_id, seq, boxes, who):
            raise PhotoError(_unshown(camera_id, seq))
        _approve(found, camera_id, seq, overview, plate_box, boxes, who, now)
    except PhotoError as exc:
        abort(400, description=str(exc))
    back = request.form.get("back", f"/requests/{request_id}")
    return redirect(back if back.startswith("/requests/") else f"/requests/{request_id}")


# --- bulk approval: choose, review as they will leave, approve the reviewed set ------------
#
# A range (or the whole result set) is reviewed a page at a time. Moving between its pages
# carries what the officer decided (photos left out, blur boxes added) in the form, so the
# last page can approve the whole reviewed range in one act: every photo of the range that
# was not left out, each only if it was sent to this officer's screen with exactly the
# boxes approved. A page's own photos can still be approved on their own.

MAX_ONE_ACT = 20 * REVIEW_PER_PAGE  # photos one act approves at most (1,200)


def _span_from(args, count: int) -> tuple[int, int] | None:
    """(first, last) 1-based positions of `count` rows asked for by scope=page|all|range
    (in the review page's address, or the approval's form); None for photos ticked."""
    scope = args.get("scope", "chosen")
    if scope == "all":
        return 1, count
    if scope == "page":
        start = max(0, args.get("page", 0, type=int)) * PHOTOS_PER_PAGE + 1
        return start, min(count, start + PHOTOS_PER_PAGE - 1)
    if scope == "range":
        first = args.get("first", 1, type=int)
        last = args.get("last", count, type=int)
        if first < 1 or last < first or first > count:
            abort(400, description=gettext("Choose a range within 1 to %(count)d.", count=count))
        return first, min(last, count)
    return None


def _decided(form) -> tuple[set[str], dict[str, str]]:
    """What the officer decided on the review pages so far: the photos left out, and the
    blur boxes added (photo -> boxes). A page sends its photos (`page_passage`) and those
    still ticked (`passage`); earlier pages' decisions come back as `skip` and `boxes:`."""
    ticked, on_page = set(form.getlist("passage")), set(form.getlist("page_passage"))
    skip = (set(form.getlist("skip")) | (on_page - ticked)) - (on_page & ticked)
    boxes = {key.removeprefix("boxes:"): value.strip() for key, value in form.items()
             if key.startswith("boxes:") and value.strip()}  # fmt: skip
    return skip, boxes


@bp.route("/requests/<int:request_id>/results/<int:audit_seq>/photos/review",
          methods=["GET", "POST"])  # fmt: skip
@requires("officer")
def photos_review(request_id: int, audit_seq: int):
    """The chosen photos in a compact grid, each blurred as it will leave; paged for large
    sets. Only what this page sends to the screen can then be approved. A POST moves to
    another page of the review, carrying the decisions made (no act is done by it)."""
    found, result_set = executor_result_set(request_id, audit_seq)
    if not found.order.photos_wanted:
        abort(404, description="the order does not ask for photos")
    results, chosen = requests_db().results, request.args.getlist("passage")
    span = _span_from(request.args, result_set.row_count)
    moving = request.method == "POST"
    page = max(0, (request.form if moving else request.args).get("rpage", 0, type=int))
    if span is None:
        keys = []
        for value in chosen[:REVIEW_PER_PAGE]:
            camera_id, _sep, seq = value.rpartition("/")
            if not seq.isdigit() or not results.contains(audit_seq, camera_id, int(seq)):
                abort(400, description=f"{value} is not in this result set")
            keys.append((camera_id, int(seq)))
        total, first = len(keys), 1
        wanted = set(keys)
        near = results.rows(audit_seq, _page() * PHOTOS_PER_PAGE, PHOTOS_PER_PAGE)
        rows = [row for row in near if (row.camera_id, row.seq) in wanted]
        if len(rows) < len(wanted):  # chosen elsewhere than on the page named
            rows = [row for row in results.rows(audit_seq) if (row.camera_id, row.seq) in wanted]
    else:
        first, last = span
        total = last - first + 1
        offset = first - 1 + page * REVIEW_PER_PAGE
        limit = max(0, min(REVIEW_PER_PAGE, last - offset))
        rows = results.rows(audit_seq, offset, limit) if limit else []
    skip, boxes = _decided(request.form) if moving and span else (set(), {})
    here = {f"{row.camera_id}/{row.seq}" for row in rows}
    pages = max(1, -(-total // REVIEW_PER_PAGE))
    keep = {k: v for k, v in request.args.items(multi=True) if k != "rpage"}
    return render_template(
        "photos_review.html", session=current_session(), r=found, rs=result_set, rows=rows,
        approved=requests_db().photos.approved(request_id), total=total, rpage=page,
        rpages=pages, shown_from=first + page * REVIEW_PER_PAGE if span else 1, keep=keep,
        query=request.query_string.decode(), error=None, span=span,
        skip=skip, decided_boxes=boxes, carried_skip=sorted(skip - here),
        carried_boxes=sorted((k, v) for k, v in boxes.items() if k not in here),
        left_out=len(skip), one_act=span is not None and total <= MAX_ONE_ACT,
    )  # fmt: skip


def _reviewed_range(result_set: ResultSet, audit_seq: int) -> list[str]:
    """The photos of the reviewed range the officer did not leave out, in order."""
    span = _span_from(request.form, result_set.row_count)
    if span is None:
        abort(400, description="no reviewed range named")
    first, last = span
    if last - first + 1 > MAX_ONE_ACT:
        abort(400, description=f"at most {MAX_ONE_ACT} photos in one act")
    skip, _boxes = _decided(request.form)
    rows = requests_db().results.rows(audit_seq, first - 1, last - first + 1)
    return [key for row in rows if (key := f"{row.camera_id}/{row.seq}") not in skip]


@bp.post("/requests/<int:request_id>/results/<int:audit_seq>/photos/approve")
@requires("officer")
def approve_reviewed(request_id: int, audit_seq: int):
    """Approve the reviewed set in one act: every photo named must be in this result set and
    have been shown to this officer with exactly the boxes approved, or nothing is approved.
    The set is the ticked photos of one review page, or (`whole`) the reviewed range."""
    found, result_set = executor_result_set(request_id, audit_seq)
    if not found.order.photos_wanted:
        abort(404, description="the order does not ask for photos")
    who, now, results = current_session().username, wallclock.now(), requests_db().results
    if request.form.get("whole"):
        chosen = _reviewed_range(result_set, audit_seq)
    else:
        chosen = request.form.getlist("passage")
        if len(chosen) > REVIEW_PER_PAGE:
            abort(400, description=f"at most {REVIEW_PER_PAGE} photos in one act")
    if not chosen:
        abort(400, description=gettext("No photo was chosen."))
    plan = []
    try:
        for value in dict.fromkeys(chosen):
            camera_id, _sep, seq_text = value.rpartition("/")
            if not seq_text.isdigit() or not results.contains(audit_seq, camera_id, int(seq_text)):
                abort(400, description=f"{value} is not in this result set")
            seq = int(seq_text)
            boxes = parse_boxes(request.form.get(f"boxes:{value}", ""))
            if not requests_db().photos.was_shown(request_id, camera_id, seq, boxes, who):
                raise PhotoError(_unshown(camera_id, seq))
            plan.append((camera_id, seq, boxes))
        sources = [(c, s, b, *_photo_source(request_id, c, s)[1:]) for c, s, b in plan]
        for camera_id, seq, boxes, overview, plate_box in sources:
            _approve(found, camera_id, seq, overview, plate_box, boxes, who, now, len(plan))
    except PhotoError as exc:
        abort(400, description=str(exc))
    back = request.form.get("back", "")
    if not back.startswith(f"/requests/{request_id}/"):
        back = f"/requests/{request_id}/results/{audit_seq}/photos"
    return redirect(back)


# --- the package ------------------------------------------------------------------------------


def _package_key() -> SigningKey:
    key_file = current_app.config["ANPR"].secrets.audit_signing_key_file
    if key_file is None:
        abort(503, description="no signing key (secrets.audit_signing_key_file): no packages")
    return load_signing_key(key_file)


@bp.post("/requests/<int:request_id>/package")
@requires("requester")
def issue_package(request_id: int):
    found = visible_request(request_id)
    who, now = current_session().username, wallclock.now()
    try:
        require_issuable(found, who)
    except RequestError as exc:
        return detail_page(found, str(exc), status=400)
    token, issue = requests_db().downloads.issue(request_id, who, now)
    audit_trail().append(who, "package_issued", {
        "request_id": request_id, "order_reference": found.order.reference, "unit": found.unit,
        "issue": issue.number, "issued_to": who,
    }, now)  # fmt: skip
    return redirect(f"/packages/{token}")


# A package is built in a thread of its own, on the node first asked for the link, while
# the requester's page shows how many rows are in (polled by static/progress.js, or a
# refresh without scripts). The finished file goes on the work board (work_board.py),
# sealed under the link's token, with its digest and counts: the same link then hands it
# over once, from whichever web node the browser reaches.


def _build(cfg, found: Request, key: SigningKey, issue: Issue, token: str) -> None:
    """The thread's work: its own connections (SQLite's are bound to their thread). How it
    goes and how it ends are told to the board only: every node, this one too, reads them
    there."""
    requests, store, board = Requests(cfg.requests_path), open_store(cfg), WorkBoard(cfg.work_path)
    error = None
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as file:
            progress = BoardProgress(board, token)
            supplied = build_package(found, requests, store, key, issue, file, progress)
            digest, size = _digest(file)
            answer = {"sha256": digest, "bytes": size, "rows": supplied.rows,
                      "withheld": supplied.withheld,
                      "integrity_withheld": supplied.integrity_withheld}  # fmt: skip
            board.finish(token, wallclock.now(), answer=answer, body=file)
    except (RequestError, PackageError) as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - the page must end, and the log say why
        LOG.exception("package build for request %s failed", found.id)
        error = f"the package could not be built: {type(exc).__name__}"
    finally:
        try:
            if error is not None:
                board.finish(token, wallclock.now(), error=error)
        finally:
            for part in (board, store, requests):
                part.close()


def _redeemed(token: str) -> tuple[Request, Issue]:
    who, now = current_session().username, wallclock.now()
    try:
        request_id, issue = requests_db().downloads.redeem(token, who, now)
        found = requests_db().get(request_id)
        require_issuable(found, who)
    except RequestError as exc:
        abort(410 if "expired" in str(exc) else 403, description=str(exc))
    return found, issue


def _package_state(token: str, found: Request, issue: Issue) -> WorkState:
    """The link's build as the board tells it; started here when nobody has started it."""
    state = work_board().state(token)
    if state is None:
        key = _package_key()
        who = current_session().username
        if work_board().post(token, "package", who, found.id, wallclock.now()):
            worker = threading.Thread(
                target=_build, args=(current_app.config["ANPR"], found, key, issue, token),
                name=f"package-{found.id}-{issue.number}", daemon=True,
            )  # fmt: skip
            worker.start()
        state = work_board().state(token)
    if state is None or state.kind != "package":
        abort(409, description="this package was just handed over: open the link again")
    return state


@bp.get("/packages/<token>")
@requires("requester")
def download(token: str):
    """First call: start the build and show its progress; once built: the file, once."""
    found, issue = _redeemed(token)
    state = _package_state(token, found, issue)
    if not state.ready:
        return render_template("package_progress.html", session=current_session(), r=found,
                               issue=issue, build=state, token=token, error=None)  # fmt: skip
    return _hand_over(found, issue, token, state)


@bp.get("/packages/<token>/progress")
@requires("requester")
def package_progress(token: str):
    """How far the package is: rows done of rows in all, and whether it is ready."""
    _redeemed(token)
    state = work_board().state(token)
    if state is None or state.kind != "package":
        return jsonify({"done": 0, "total": None, "ready": False, "error": None,
                        "started": False})  # fmt: skip
    return jsonify({**state.as_json(), "started": True})


@bp.get("/packages/progress.js")
def progress_script():
    """The progress page's script, served from the package (the CSP runs no inline code
    without the page's nonce)."""
    response = Response((STATIC / "progress.js").read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/photos/photos.js")
def photos_script():
    """The photo pages' script (blur boxes drawn on a photo, previews), from the package."""
    response = Response((STATIC / "photos.js").read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _hand_over(found: Request, issue: Issue, token: str, state: WorkState):
    if state.error is not None or state.answer is None:
        work_board().forget(token)
        abort(403, description=state.error or "the package could not be built")
    if not work_board().take(token):
        abort(409, description="this package is being handed over on another request")
    who, now, built = current_session().username, wallclock.now(), state.answer
    audit_trail().append(who, "package_downloaded", {
        "request_id": found.id, "order_reference": found.order.reference, "unit": found.unit,
        "issue": issue.number, "sha256": built["sha256"],
        "supplied": {"bytes": built["bytes"], "rows": built["rows"],
                     "withheld": built["withheld"],
                     "integrity_withheld": built["integrity_withheld"]},
        "supply_time": now.isoformat(),
    }, now)  # fmt: skip
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in found.order.reference)
    response = Response(_pieces(current_app.config["ANPR"], token), mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{name}-issue-{issue.number}.zip"'
    )
    response.headers["Content-Length"] = str(built["bytes"])
    response.headers["Cache-Control"] = "no-store"
    return response


def _pieces(cfg, token: str):
    """The file from the board, with a connection of its own (the request's stores close
    when the view returns; the response streams after)."""
    board = WorkBoard(cfg.work_path)
    try:
        yield from board.pieces(token)
    finally:
        board.close()


def _digest(package) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    package.seek(0)
    while chunk := package.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    package.seek(0)
    return digest.hexdigest(), size
