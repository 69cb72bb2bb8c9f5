"""Readable labels for the internal keys the pages show (#23).

The code keeps its keys (`detention_crime`, `full_plate`, `in_progress`, `plan_admin`); the
pages show what a person reads, in the page's language: labels are lazy gettext strings,
read when shown (English outside a request). Each key shown on a page has a label here; a
key without one (a new audit action, say) is shown in a readable form of itself, never as a
crash. The JSON API keeps the keys.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from central.requests.orders import LEGAL_BASES

# By area, so that a new choice in the code has an obvious place here.
LEGAL_BASIS_LABELS = {
    "detention_crime": _l("Crime allowing pre-trial detention"),
    "fugitive": _l("Tracing a fugitive (art. 126jj lid 1 Sv)"),
}  # fmt: skip
CRIME_TYPE_LABELS = {
    "homicide": _l("Homicide"), "violence": _l("Violence"), "robbery": _l("Robbery"),
    "burglary": _l("Burglary"), "theft": _l("Theft"), "vehicle_crime": _l("Vehicle crime"),
    "drugs": _l("Drugs"), "fraud": _l("Fraud"), "sexual": _l("Sexual offence"),
    "terrorism": _l("Terrorism"), "human_trafficking": _l("Human trafficking"),
    "weapons": _l("Weapons"), "other": _l("Other"),
}  # fmt: skip
ORDER_FORM_LABELS = {
    "written": _l("Written"), "oral": _l("Oral (written order due within 3 days)"),
}  # fmt: skip
SEARCH_KIND_LABELS = {
    "full_plate": _l("Full plate"), "partial_plate": _l("Partial plate"),
    "time_place": _l("Time and place"), "convoy": _l("Convoy"), "intersection": _l("Intersection"),
}  # fmt: skip
REQUEST_STATE_LABELS = {
    "received": _l("Received"), "rejected": _l("Rejected"), "in_progress": _l("In progress"),
    "delivered": _l("Delivered"), "closed": _l("Closed"),
}  # fmt: skip
REQUEST_STEP_LABELS = {
    "submit": _l("Registered"), "accept": _l("Accepted for execution"), "reject": _l("Rejected"),
    "hand_over": _l("Handed over"), "deliver": _l("Delivered"), "close": _l("Closed"),
    "reverse": _l("Step reversed"), "written_order": _l("Written order attached"),
    "order_confirmed": _l("Order confirmed"), "order_refused": _l("Order refused"),
    "scope_exception_requested": _l("Scope exception requested"),
    "scope_exception_approved": _l("Scope exception approved"),
    "scope_exception_refused": _l("Scope exception refused"), "search": _l("Search"),
    "count": _l("Count"),
}  # fmt: skip
ROLE_LABELS = {
    "requester": _l("Requester"), "officer": _l("Authorised officer"), "auditor": _l("Auditor"),
    "plan_admin": _l("Camera-plan administrator"), "maintainer": _l("Maintainer"),
    "technician": _l("Technician"), "operator": _l("Control-room operator"),
    "calamity_coordinator": _l("Calamity coordinator"), "prosecutor": _l("Prosecutor"),
}  # fmt: skip
VERDICT_LABELS = {
    "correct": _l("Shows the plate"), "wrong": _l("Does not show the plate"),
    "to verify": _l("To verify"), "not verified": _l("Not verified"),
}  # fmt: skip
ALERT_STATE_LABELS = {
    "new": _l("New"), "acknowledged": _l("Acknowledged"), "closed": _l("Closed"),
}  # fmt: skip
HOTLIST_CATEGORY_LABELS = {
    "stolen_vehicle": _l("Stolen vehicle"), "missing_person": _l("Missing person"),
    "fugitive": _l("Fugitive"), "investigation": _l("Investigation"),
    "unpaid_fine": _l("Unpaid fine"),
}  # fmt: skip
HEALTH_STATE_LABELS = {
    "OK": _l("OK"), "DEGRADED": _l("Degraded"), "OFFLINE": _l("Offline"), "EXPIRED": _l("Expired"),
    "UNREADABLE": _l("Unreadable"),
}  # fmt: skip
PLAN_LABELS = {
    "draft": _l("Draft"), "ratified": _l("Ratified"), "published": _l("Published"),
    "fixed": _l("Fixed"), "mobile": _l("Mobile"), "third_party": _l("Third party"),
}  # fmt: skip
SECURITY_EVENT_LABELS = {
    "login": _l("Login"), "logout": _l("Logout"), "login_failed": _l("Failed login"),
    "locked_out": _l("Account locked out"),
    "login_refused_locked": _l("Login refused: account locked"),
    "login_refused_address": _l("Login refused: too many failures from the address"),
    'role_violation': _l("Page outside the account's roles"),
    "refused_publish": _l("Refused publish on the broker"),
    "account_created": _l("Account created"),
}  # fmt: skip
AUDIT_ACTION_LABELS = {
    "consultation": _l("Search opened"), "consultation_counted": _l("Search counted"),
    "consultation_refused": _l("Search refused"), "verification": _l("Crop verified"),
    "hotlist_approved": _l("Hotlist approved"), "hotlist_refused": _l("Hotlist refused"),
    "hotlist_entry_approved": _l("Hotlist entry approved"),
    "hotlist_entry_refused": _l("Hotlist entry refused"),
    "package_issued": _l("Result package issued"),
    "package_downloaded": _l("Result package downloaded"), "photo_approved": _l("Photo approved"),
    "plan_motivation_signed": _l("Plan motivation signed"),
    "plan_motivation_revised": _l("Plan motivation revised"),
    "calamity_declared": _l("Calamity declared"), "calamity_ended": _l("Calamity ended"),
    "calamity_consulted": _l("Calamity buffer consulted"),
    "calamity_image_viewed": _l("Calamity image viewed"),
    "request_registered": _l("Request registered"), "request_accepted": _l("Request accepted"),
    "request_rejected": _l("Request rejected"), "request_handed_over": _l("Request handed over"),
    "request_delivered": _l("Request delivered"), "request_closed": _l("Request closed"),
    "request_step_reversed": _l("Request step reversed"),
    "written_order_attached": _l("Written order attached"),
}  # fmt: skip
# Field names in step and audit details.
FIELD_LABELS = {
    "legal_basis": _l("Legal basis"), "crime_type": _l("Crime type"),
    "order_form": _l("Order form"), "order_reference": _l("Order reference"),
    "order_prosecutor": _l("Prosecutor"), "photos_wanted": _l("Photos wanted"),
    "request_id": _l("Request"), "camera_id": _l("Camera"), "captured_at": _l("Captured"),
    "written_due": _l("Written order due"), "confirmation_due": _l("Confirmation due"),
    "declared_uninvolved": _l("Declared uninvolved"), "to_unit": _l("To unit"),
    "requested_reason": _l("Reason given"), "list_id": _l("List"), "entry_id": _l("Entry"),
    "valid_until": _l("Valid until"), "entries_approved": _l("Entries approved"),
    "calamity_id": _l("Calamity"), "chief_prosecutor": _l("Chief prosecutor"),
    "end_reason": _l("Reason for ending"), "rows_destroyed": _l("Rows destroyed"),
    "photos_destroyed": _l("Photos destroyed"), "frozen_passages": _l("Passages frozen"),
    "destroyed_passages": _l("Passages destroyed"), "keeps_from": _l("Keeps from"),
    "on_call_notified": _l("On-call officers notified"), "audit_seq": _l("Audit entry"),
    "row_count": _l("Rows"), "scope_exception": _l("Scope exception"),
}  # fmt: skip

PRIORITY_LABELS = {
    "urgent": _l("urgent"), "high": _l("high"), "normal": _l("normal"), "low": _l("low"),
    "routine": _l("routine"),
}  # fmt: skip
# The camera plan's legal criteria (central.plan.registry.CRITERIA), by their text.
CRITERION_LABELS = {
    "risk location": _l("risk location"),
    "intensive traffic or special function": _l("intensive traffic or special function"),
    "known crime location": _l("known crime location"),
}  # fmt: skip
# The yearly report's section titles and row labels (central.requests.report).
REPORT_LABELS = {
    "Requests per unit and month": _l("Requests per unit and month"),
    "Orders: written or oral": _l("Orders: written or oral"),
    "Late written orders": _l("Late written orders"), "late": _l("late"),
    "Rejections by reason": _l("Rejections by reason"),
    "Closed without delivery": _l("Closed without delivery"), "closed": _l("closed"),
    "Crime types": _l("Crime types"), "Legal basis": _l("Legal basis"),
    "Searches by kind": _l("Searches by kind"),
    "Searches per month": _l("Searches per month"),
    "Searches refused (outside the order)": _l("Searches refused (outside the order)"),
    "refused": _l("refused"), "Search window length": _l("Search window length"),
    "How far back": _l("How far back"), "Results": _l("Results"),
    "rows supplied": _l("rows supplied"), "nothing found": _l("nothing found"),
    "withheld (written order late)": _l("withheld (written order late)"),
    "Foreign requests by country": _l("Foreign requests by country"),
    "Photos approved (blurred)": _l("Photos approved (blurred)"), "photos": _l("photos"),
    "Cameras used by kind": _l("Cameras used by kind"),
    "Orders confirmed by a prosecutor": _l("Orders confirmed by a prosecutor"),
    "confirmed": _l("confirmed"),
    "confirmation late or missing": _l("confirmation late or missing"),
    "Scope exceptions": _l("Scope exceptions"), "requested": _l("requested"),
    "approved": _l("approved"), "Deletions by retention": _l("Deletions by retention"),
    "days destroyed": _l("days destroyed"), "rows destroyed": _l("rows destroyed"),
}  # fmt: skip

LABELS: dict[str, object] = {}
for _group in (
    FIELD_LABELS, AUDIT_ACTION_LABELS, SECURITY_EVENT_LABELS, PLAN_LABELS, HEALTH_STATE_LABELS,
    HOTLIST_CATEGORY_LABELS, ALERT_STATE_LABELS, VERDICT_LABELS, ROLE_LABELS,
    REQUEST_STEP_LABELS, REQUEST_STATE_LABELS, SEARCH_KIND_LABELS, ORDER_FORM_LABELS,
    CRIME_TYPE_LABELS, LEGAL_BASIS_LABELS,
):  # fmt: skip
    LABELS.update(_group)
# Every legal basis the code knows has a label, even one added without one here.
for _key, _text in LEGAL_BASES.items():
    LABELS.setdefault(_key, _text[:1].upper() + _text[1:])


def readable(key: str) -> str:
    """A key without a label, made readable: `vehicle_crime` reads "Vehicle crime"."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


GROUPS = {
    "legal_basis": LEGAL_BASIS_LABELS, "crime_type": CRIME_TYPE_LABELS,
    "order_form": ORDER_FORM_LABELS, "search_kind": SEARCH_KIND_LABELS,
    "request_state": REQUEST_STATE_LABELS, "step": REQUEST_STEP_LABELS, "role": ROLE_LABELS,
    "verdict": VERDICT_LABELS, "alert_state": ALERT_STATE_LABELS,
    "category": HOTLIST_CATEGORY_LABELS, "health": HEALTH_STATE_LABELS, "plan": PLAN_LABELS,
    "security_event": SECURITY_EVENT_LABELS, "audit_action": AUDIT_ACTION_LABELS,
    "field": FIELD_LABELS, "priority": PRIORITY_LABELS, "criterion": CRITERION_LABELS,
    "report": REPORT_LABELS,
}  # fmt: skip
# Groups of phrases rather than keys: a phrase not among them is shown as it is.
PHRASES = {"priority", "criterion", "report"}


def label(key: object, group: str | None = None) -> str:
    """The label for a key, looked up first among `group`'s labels where one is named (a
    key may mean two things: "fugitive" is a legal basis and a hotlist category); anything
    else (None, a number, an unknown key) stays readable."""
    if key is None:
        return ""
    text = str(key)
    if group is not None and text in GROUPS.get(group, {}):
        return str(GROUPS[group][text])
    if group in PHRASES:
        return text
    found = LABELS.get(text)
    return str(found) if found is not None else readable(text)


def translated(labels: dict[str, object]) -> dict[str, str]:
    """A group's labels as plain text in the current language (for JSON on a page)."""
    return {key: str(text) for key, text in labels.items()}
