"""The auditor's pages: the trail and its verification, unusual use, the register, the report.

Auditors read; they take no steps on requests. The trail's verification runs against the
checkpoint key on every visit, so a page that says "intact" has just checked.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template

from central.accounts.register import Register
from central.requests.report import yearly_report
from central.requests.review import unusual_use
from central.web.access import current_session, requires
from central.web.stores import accounts, audit_trail, camera_plan
from node import wallclock
from node.keyfiles import load_signing_key

bp = Blueprint("oversight", __name__)


def verify_trail() -> tuple[bool, list]:
    """(checked, findings): unchecked when no checkpoint key is configured."""
    key_file = current_app.config["ANPR"].secrets.audit_signing_key_file
    if key_file is None:
        return False, []
    return True, audit_trail().verify(load_signing_key(key_file).verify_key)


@bp.get("/audit")
@requires("auditor")
def audit_page():
    now = wallclock.now()
    checked, findings = verify_trail()
    register = Register(accounts())
    return render_template(
        "audit.html", session=current_session(), entries=audit_trail().entries(200),
        checked=checked, findings=findings, unusual=unusual_use(audit_trail()),
        authorisations=register.active(now), warnings=register.warnings(now),
        events=accounts().events(50), year=now.year,
    )  # fmt: skip


def report_for(year: int):
    if not 2000 <= year <= 2200:
        abort(404, description="no report for that year")
    kinds = {e.camera_id: e.kind for e in camera_plan().entries(year)}
    return yearly_report(audit_trail(), year, wallclock.now(), kinds)


@bp.get("/report/<int:year>")
@requires("auditor")
def report_page(year: int):
    return render_template("report.html", session=current_session(), report=report_for(year))


@bp.get("/report/<int:year>/csv")
@requires("auditor")
def report_csv(year: int):
    return Response(
        report_for(year).to_csv(), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="anpr-report-{year}.csv"'},
    )  # fmt: skip
