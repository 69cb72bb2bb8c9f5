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
import tempfile

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
)  # fmt: skip

from central.requests.orders import RequestError
from central.requests.package import PackageError, build_package, require_issuable
from central.requests.photos import PhotoError, parse_boxes, render
from central.requests.results import ResultSet
from central.requests.store import Request
from central.requests.verification import give_verdict, row_states
from central.web.access import current_session, requires
from central.web.labels import VERDICT_LABELS, translated
from central.web.requests import detail_page, visible_request
from central.web.stores import audit_trail, passage_store, requests_db
from node import wallclock
from node.keyfiles import load_signing_key
from wire import SigningKey

bp = Blueprint("results", __name__)
ROWS_PER_PAGE = 500
CROPS_PER_PAGE = 100
PHOTOS_PER_PAGE = 20
SPOOL_IN_MEMORY = 32 * 1024 * 1024  # larger packages are built in a temporary file


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
    """The photo blurred (automatic boxes plus ?boxes=); the original is never served."""
    _, overview, plate_box = _photo_source(request_id, camera_id, seq)
    try:
        image = render(overview, plate_box, parse_boxes(request.args.get("boxes", "")))
    except PhotoError as exc:
        abort(400, description=str(exc))
    return Response(image, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.post("/requests/<int:request_id>/photos/<camera_id>/<int:seq>/approve")
@requires("officer")
def approve_photo(request_id: int, camera_id: str, seq: int):
    found, overview, plate_box = _photo_source(request_id, camera_id, seq)
    who, now = current_session().username, wallclock.now()
    try:
        boxes = parse_boxes(request.form.get("boxes", ""))
        jpeg = render(overview, plate_box, boxes)
    except PhotoError as exc:
        abort(400, description=str(exc))
    requests_db().photos.approve(request_id, camera_id, seq, boxes, jpeg, who, now)
    audit_trail().append(who, "photo_approved", {
        "request_id": request_id, "order_reference": found.order.reference, "unit": found.unit,
        "passage": f"{camera_id}/{seq}", "automatic_blur": plate_box is not None,
        "officer_boxes": [b.as_list() for b in boxes],
        "sha256": hashlib.sha256(jpeg).hexdigest(),
    }, now)  # fmt: skip
    back = request.form.get("back", f"/requests/{request_id}")
    return redirect(back if back.startswith("/requests/") else f"/requests/{request_id}")


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


@bp.get("/packages/<token>")
@requires("requester")
def download(token: str):
    who, now = current_session().username, wallclock.now()
    package = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # closed once sent
    try:
        request_id, issue = requests_db().downloads.redeem(token, who, now)
        found = requests_db().get(request_id)
        require_issuable(found, who)
        supplied = build_package(found, requests_db(), passage_store(), _package_key(), issue,
                                 package)  # fmt: skip
    except (RequestError, PackageError) as exc:
        package.close()
        abort(410 if "expired" in str(exc) else 403, description=str(exc))
    digest, size = _digest(package)
    audit_trail().append(who, "package_downloaded", {
        "request_id": request_id, "order_reference": found.order.reference, "unit": found.unit,
        "issue": issue.number, "sha256": digest,
        "supplied": {"bytes": size, "rows": supplied.rows, "withheld": supplied.withheld,
                     "integrity_withheld": supplied.integrity_withheld},
        "supply_time": now.isoformat(),
    }, now)  # fmt: skip
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in found.order.reference)
    response = send_file(package, mimetype="application/zip", as_attachment=True,
                         download_name=f"{name}-issue-{issue.number}.zip")  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


def _digest(package) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    package.seek(0)
    while chunk := package.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    package.seek(0)
    return digest.hexdigest(), size
