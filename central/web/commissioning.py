"""A camera's commissioning report on its health page, and its aim snapshot (#22).

The report is the one the unit's on-site self-test signed and sent; the central keeps it
with the camera's plan entry (`central/plan/commissioning.py`). The page shows its verdict,
each check with its figure and advice, whether its signature still holds under the
camera's registered key, and the aim snapshot: masked and with plates blurred on the unit.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort
from flask_babel import lazy_gettext

from central.plan.commissioning import KeptReport
from central.web.access import MAINTAINERS, requires
from central.web.stores import camera_registry, commissioning_reports

bp = Blueprint("commissioning", __name__)

# The report's check names, as the maintainer reads them.
CHECK_TITLES = {
    "frame_rate": lazy_gettext("Frame rate reached"),
    "focus": lazy_gettext("Focus"),
    "exposure": lazy_gettext("Exposure"),
    "plates_read": lazy_gettext("Plates read"),
    "plate_width": lazy_gettext("Plate width"),
    "plate_angle": lazy_gettext("Plate angle"),
    "recognition": lazy_gettext("Recognition of the test image"),
    "broker": lazy_gettext("Broker accepts the unit"),
    "round_trip": lazy_gettext("Test passage round trip"),
    "clock": lazy_gettext("Clock within 100 ms of the central"),
}
RESULT_TITLES = {"pass": lazy_gettext("PASS"), "warn": lazy_gettext("WARN"),
                 "fail": lazy_gettext("FAIL")}  # fmt: skip
LIGHT_TITLES = {"day": lazy_gettext("day"), "night": lazy_gettext("night (infrared)"),
                "unknown": lazy_gettext("unknown")}  # fmt: skip


def latest_report(camera_id: str) -> KeptReport | None:
    """The camera's latest commissioning report, its signature checked again now."""
    return commissioning_reports().latest(camera_id, camera_registry())


@bp.app_template_global("commissioning_report")
def commissioning_report(camera_id: str) -> KeptReport | None:
    return latest_report(camera_id)


@bp.app_template_global("commissioning_titles")
def commissioning_titles() -> dict:
    return {"checks": CHECK_TITLES, "results": RESULT_TITLES, "lights": LIGHT_TITLES}


@bp.get("/health/cameras/<camera:camera_id>/aim.jpg")
@requires(*MAINTAINERS)
def aim_snapshot(camera_id: str):
    snapshot = commissioning_reports().snapshot(camera_id)
    if snapshot is None:
        abort(404, description="no commissioning report for this camera")
    response = Response(snapshot, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-cache"
    return response
