"""The camera plan's admin pages: draft, add cameras, sign, ratify, publish.

For the plan_admin role (signing: the prosecutor's account holds the plan_admin role for
this purpose, and their name is what the signature records). Every change goes through the
same `CameraPlan` rules as the command line, names the logged-in person, and is logged.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from central.plan.registry import CRITERIA, KINDS, Entry, PlanError
from central.web.access import current_session, requires
from central.web.stores import camera_plan
from node import wallclock
from wire.fields import DIRECTIONS

bp = Blueprint("plan_admin", __name__)


@bp.get("/plan/admin")
@requires("plan_admin")
def admin_page():
    plan = camera_plan()
    versions = plan.versions()
    entries = {v["year"]: plan.entries(v["year"]) for v in versions}
    return render_template(
        "plan_admin.html", versions=versions, entries=entries, session=current_session(),
        kinds=KINDS, criteria=CRITERIA, directions=DIRECTIONS, error=request.args.get("error"),
        changes=plan.changes(20),
    )  # fmt: skip


def _number(name: str, kind=float):
    try:
        return kind(request.form[name])
    except (KeyError, ValueError):
        abort(400, description=f"{name} must be a number")


@bp.post("/plan/admin/<action>")
@requires("plan_admin")
def admin_action(action: str):
    plan = camera_plan()
    who = current_session().username
    now = wallclock.now()
    form = request.form
    try:
        if action == "draft":
            plan.draft(_number("year", int), who, now)
        elif action == "add":
            plan.add_entry(
                Entry(
                    year=_number("year", int), camera_id=form.get("camera_id", ""),
                    kind=form.get("kind", ""), owner=form.get("owner", ""),
                    controller=form.get("controller", ""), section_id=form.get("section") or None,
                    lat_e7=round(_number("lat") * 1e7), lon_e7=round(_number("lon") * 1e7),
                    road=form.get("road", ""), direction=form.get("direction", ""),
                    lane=_number("lane", int), criterion=form.get("criterion", ""),
                    motivation=form.get("motivation", ""), signed_by=None, signed_at=None,
                ),
                who,
                now,
            )  # fmt: skip
        elif action == "sign":
            plan.sign(_number("year", int), form.get("camera_id", ""), who, now)
        elif action == "ratify":
            plan.ratify(_number("year", int), who, now)
        elif action == "publish":
            plan.publish(_number("year", int), who, now)
        else:
            abort(404)
    except PlanError as exc:
        return redirect(f"/plan/admin?error={exc}")
    return redirect("/plan/admin")
