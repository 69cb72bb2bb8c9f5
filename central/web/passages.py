"""Browsing the latest passages: for demos and training instances only.

Outside them (`web.demo_views = false`) passages are reached only through order-bound
searches; browsing the latest ones would be the data mining the law forbids. `passage_json`
is the one JSON form of a stored passage, used by the searches' API too.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template

from central import demo_accounts
from central.store import StoredPassage
from central.web.api import camera_id_arg, json_errors, limit_arg
from central.web.labels import ROLE_LABELS
from central.web.stores import camera_registry, passage_store

bp = Blueprint("passages", __name__)
json_errors(bp)


def passage_json(passage: StoredPassage) -> dict:
    base = f"/api/v1/passages/{passage.camera_id}/{passage.seq}"
    return {
        "camera_id": passage.camera_id,
        "seq": passage.seq,
        "captured_at": passage.captured_at,
        "received_at": passage.received_at,
        "plate": passage.plate,
        "country": passage.country,
        "confidence": passage.confidence_pm / 1000,
        "lat": passage.lat_e7 / 1e7,
        "lon": passage.lon_e7 / 1e7,
        "direction": passage.direction,
        "lane": passage.lane,
        "crop_url": f"{base}/crop.jpg",
        "overview_url": f"{base}/overview.jpg",
    }


def demo_views_only() -> None:
    """Browsing the latest passages is data mining the law forbids; only demos may."""
    if not current_app.config["ANPR"].web.demo_views:
        abort(
            404,
            description="passages are consulted only through order-bound searches; "
            "this view exists only with web.demo_views = true (demo, training)",
        )


def demo_roles() -> list[tuple[str, object, str, str]]:
    """(role, label, demo account, main page): on a demo or practice instance only; a real
    instance names no demo accounts (#23). Names only: passwords are never on a page."""
    if not demo_accounts.is_demo(current_app.config["ANPR"]):
        return []
    return [(role, ROLE_LABELS[role], name, page) for role, name, page in demo_accounts.ACCOUNTS]


@bp.get("/")
def index():
    if not current_app.config["ANPR"].web.demo_views:
        return render_template("home.html", demo_roles=demo_roles())
    passages = [passage_json(p) for p in passage_store().recent(None, 50)]
    return render_template("passages.html", passages=passages, demo_roles=demo_roles())


@bp.get("/api/v1/cameras/<camera_id>/passages")
def camera_passages(camera_id: str):
    demo_views_only()
    camera_id = camera_id_arg(camera_id)
    if camera_registry().get(camera_id) is None:
        abort(404, description=f"camera {camera_id} is not registered")
    rows = passage_store().recent(camera_id, limit_arg())
    return jsonify({"camera_id": camera_id, "passages": [passage_json(p) for p in rows]})


@bp.get("/api/v1/passages")
def recent_passages():
    demo_views_only()
    return jsonify(
        {"passages": [passage_json(p) for p in passage_store().recent(None, limit_arg())]}
    )


@bp.get("/api/v1/passages/<camera_id>/<int:seq>/<which>.jpg")
def passage_image(camera_id: str, seq: int, which: str):
    demo_views_only()
    if which not in ("crop", "overview"):
        abort(404)
    data = passage_store().image(camera_id_arg(camera_id), seq, which)
    if data is None:
        abort(404, description="no such passage")
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response
