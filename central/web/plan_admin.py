"""The camera plan's pages: administration (draft, add, revise, ratify, publish) for the
plan_admin role, and signing for the prosecutor role.

A signature is the act of the logged-in prosecutor's account: it records that account and
the full name it holds, never a typed name, and only for the motivation text the page
showed (its digest travels with the form). Plan administrators cannot sign. Every change
goes through the same `CameraPlan` rules as the command line and is logged; signatures and
revisions also go into the audit trail.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, abort, redirect, render_template, request

from central.accounts.users import Identity
from central.plan.registry import CRITERIA, KINDS, Entry, PlanError, motivation_digest
from central.web.access import current_session, requires
from central.web.stores import accounts, audit_trail, camera_plan
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


def _entry_from_form() -> Entry:
    form = request.form
    return Entry(
        year=_number("year", int), camera_id=form.get("camera_id", ""), kind=form.get("kind", ""),
        owner=form.get("owner", ""), controller=form.get("controller", ""),
        section_id=form.get("section") or None, lat_e7=round(_number("lat") * 1e7),
        lon_e7=round(_number("lon") * 1e7), road=form.get("road", ""),
        direction=form.get("direction", ""), lane=_number("lane", int),
        criterion=form.get("criterion", ""), motivation=form.get("motivation", ""),
        signed_by=None, signed_at=None,
    )  # fmt: skip


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
            plan.add_entry(_entry_from_form(), who, now)
        elif action == "revise":
            plan.revise(_number("year", int), form.get("camera_id", ""),
                        form.get("motivation", ""), who, audit_trail(), now)  # fmt: skip
        elif action == "ratify":
            plan.ratify(_number("year", int), who, now)
        elif action == "publish":
            plan.publish(_number("year", int), who, now)
        else:
            abort(404)
    except PlanError as exc:
        return redirect(f"/plan/admin?error={quote(str(exc))}")
    return redirect("/plan/admin")


@bp.get("/plan/sign")
@requires("prosecutor")
def sign_page():
    """Draft motivations as the prosecutor reads them, each with the digest they would sign."""
    plan = camera_plan()
    drafts = [v for v in plan.versions() if v["state"] == "draft"]
    entries = {v["year"]: plan.entries(v["year"]) for v in drafts}
    digests = {(e.year, e.camera_id): motivation_digest(e.motivation)
               for year in entries for e in entries[year]}  # fmt: skip
    return render_template(
        "plan_sign.html", drafts=drafts, entries=entries, digests=digests, criteria=CRITERIA,
        session=current_session(), error=request.args.get("error"),
    )  # fmt: skip


@bp.post("/plan/sign")
@requires("prosecutor")
def sign_action():
    session = current_session()
    signer = Identity(session.username, accounts().full_name(session.username), session.roles)
    form = request.form
    try:
        camera_plan().sign(
            _number("year", int), form.get("camera_id", ""), signer,
            form.get("motivation_sha256", ""), audit_trail(), wallclock.now(),
        )  # fmt: skip
    except PlanError as exc:
        return redirect(f"/plan/sign?error={quote(str(exc))}")
    return redirect("/plan/sign")
