"""JSON API (v1): recent passages per camera, their images, registered cameras, ingest health."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from central import audit, enrollment
from central.accounts.web import requires
from central.cameras import CameraRegistry, CameraRegistryError
from central.rejections import RejectionLog
from central.store import PassageStore, StoredPassage, open_store
from wire import WireError
from wire.fields import CAMERA_ID

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_LIMIT = 500


def passage_store() -> PassageStore:
    if "passages" not in g:
        g.passages = open_store(current_app.config["ANPR"])
    return g.passages


def camera_registry() -> CameraRegistry:
    if "cameras" not in g:
        g.cameras = CameraRegistry(current_app.config["ANPR"].cameras_path)
    return g.cameras


def rejection_log() -> RejectionLog:
    if "rejections" not in g:
        g.rejections = RejectionLog(current_app.config["ANPR"].rejections_path)
    return g.rejections


def close_stores(exc: BaseException | None = None) -> None:
    for name in ("passages", "cameras", "rejections"):
        store = g.pop(name, None)
        if store is not None:
            store.close()


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


def _limit() -> int:
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, description=f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _camera_id(camera_id: str) -> str:
    if not CAMERA_ID.fullmatch(camera_id):
        abort(400, description="camera id: lower-case letters, digits and '-', 3-64 characters")
    return camera_id


MAINTAINERS = ("maintainer", "technician", "plan_admin", "auditor")


@bp.get("/cameras")
@requires(*MAINTAINERS)
def cameras():
    registry = camera_registry()
    return jsonify(
        [
            {
                "camera_id": camera.camera_id,
                "key_ids": [key.key_id for key in camera.keys],
                "registered_at": camera.registered_at,
                "designations": registry.designations(camera.camera_id),
                "purposes": [p.__dict__ for p in registry.purposes.of(camera.camera_id)],
            }
            for camera in registry.all()
        ]
    )


@bp.get("/cameras/<camera_id>/passages")
def camera_passages(camera_id: str):
    demo_views_only()
    camera_id = _camera_id(camera_id)
    if camera_registry().get(camera_id) is None:
        abort(404, description=f"camera {camera_id} is not registered")
    rows = passage_store().recent(camera_id, _limit())
    return jsonify({"camera_id": camera_id, "passages": [passage_json(p) for p in rows]})


@bp.get("/passages")
def recent_passages():
    demo_views_only()
    return jsonify({"passages": [passage_json(p) for p in passage_store().recent(None, _limit())]})


@bp.get("/passages/<camera_id>/<int:seq>/<which>.jpg")
def passage_image(camera_id: str, seq: int, which: str):
    demo_views_only()
    if which not in ("crop", "overview"):
        abort(404)
    data = passage_store().image(_camera_id(camera_id), seq, which)
    if data is None:
        abort(404, description="no such passage")
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/ingest/rejections")
@requires(*MAINTAINERS)
def rejections():
    log = rejection_log()
    return jsonify({"counts": log.counts(), "latest": log.latest(_limit())})


@bp.get("/cameras/<camera_id>/history")
@requires(*MAINTAINERS)
def camera_history(camera_id: str):
    """Everything that changed for a camera: bundles installed, keys, health, plan."""
    from central.bundles import BundleHistory
    from central.health.records import HealthRecords

    config = current_app.config["ANPR"]
    camera_id = _camera_id(camera_id)
    if camera_registry().get(camera_id) is None:
        abort(404, description=f"camera {camera_id} is not registered")
    bundles, health = BundleHistory(config.bundles_path), HealthRecords(config.health_path)
    try:
        return jsonify(
            {
                "camera_id": camera_id,
                "bundles": bundles.for_camera(camera_id),
                "keys": camera_registry().key_history(camera_id),
                "health": health.health_history(camera_id),
                "designations": camera_registry().designations(camera_id),
            }
        )
    finally:
        bundles.close()
        health.close()


@bp.post("/enroll")
def enroll_unit():
    """A unit registers its keys with a one-time token (anpr-provision register)."""
    body = request.get_json(silent=True)
    fields = ("camera_id", "token", "public_key", "tls_fingerprint")
    if not isinstance(body, dict) or not all(isinstance(body.get(f), str) for f in fields):
        abort(400, description=f"send JSON with string fields {', '.join(fields)}")
    try:
        key = enrollment.enroll(
            camera_registry(),
            body["token"],
            _camera_id(body["camera_id"]),
            body["public_key"],
            body["tls_fingerprint"],
            datetime.now(UTC),
        )
    except enrollment.EnrollmentRefused as exc:
        abort(403, description=str(exc))
    except (CameraRegistryError, WireError) as exc:
        abort(400, description=str(exc))
    audit.record(
        current_app.config["ANPR"].audit_path,
        f"unit:{body['camera_id']}",
        "unit_enrolled",
        {"camera_id": body["camera_id"], "key_id": key.key_id},
        datetime.now(UTC),
    )
    return jsonify({"camera_id": body["camera_id"], "key_id": key.key_id}), 201


@bp.errorhandler(400)
@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
def json_error(error):
    return jsonify({"error": error.name, "detail": error.description}), error.code
