"""Readable labels for the internal keys the pages show (#23).

The code keeps its keys (`detention_crime`, `full_plate`, `in_progress`, `plan_admin`); the
pages show what a person reads. Each key shown on a page has a label here; a key without one
(a new audit action, say) is shown in a readable form of itself, never as a crash. The JSON
API keeps the keys.
"""

from __future__ import annotations

from central.requests.orders import LEGAL_BASES

# By area, so that a new choice in the code has an obvious place here.
LEGAL_BASIS_LABELS = {
    "detention_crime": "Crime allowing pre-trial detention",
    "fugitive": "Tracing a fugitive (art. 126jj lid 1 Sv)",
}
CRIME_TYPE_LABELS = {
    "homicide": "Homicide", "violence": "Violence", "robbery": "Robbery",
    "burglary": "Burglary", "theft": "Theft", "vehicle_crime": "Vehicle crime",
    "drugs": "Drugs", "fraud": "Fraud", "sexual": "Sexual offence", "terrorism": "Terrorism",
    "human_trafficking": "Human trafficking", "weapons": "Weapons", "other": "Other",
}  # fmt: skip
ORDER_FORM_LABELS = {"written": "Written", "oral": "Oral (written order due within 3 days)"}
SEARCH_KIND_LABELS = {
    "full_plate": "Full plate", "partial_plate": "Partial plate",
    "time_place": "Time and place", "convoy": "Convoy", "intersection": "Intersection",
}  # fmt: skip
REQUEST_STATE_LABELS = {
    "received": "Received", "rejected": "Rejected", "in_progress": "In progress",
    "delivered": "Delivered", "closed": "Closed",
}  # fmt: skip
REQUEST_STEP_LABELS = {
    "submit": "Registered", "accept": "Accepted for execution", "reject": "Rejected",
    "hand_over": "Handed over", "deliver": "Delivered", "close": "Closed",
    "reverse": "Step reversed", "written_order": "Written order attached",
    "order_confirmed": "Order confirmed", "order_refused": "Order refused",
    "scope_exception_requested": "Scope exception requested",
    "scope_exception_approved": "Scope exception approved",
    "scope_exception_refused": "Scope exception refused",
    "search": "Search", "count": "Count",
}  # fmt: skip
ROLE_LABELS = {
    "requester": "Requester", "officer": "Authorised officer", "auditor": "Auditor",
    "plan_admin": "Camera-plan administrator", "maintainer": "Maintainer",
    "technician": "Technician", "operator": "Control-room operator",
    "calamity_coordinator": "Calamity coordinator", "prosecutor": "Prosecutor",
}  # fmt: skip
VERDICT_LABELS = {
    "correct": "Shows the plate", "wrong": "Does not show the plate", "to verify": "To verify",
    "not verified": "Not verified",
}  # fmt: skip
ALERT_STATE_LABELS = {"new": "New", "acknowledged": "Acknowledged", "closed": "Closed"}
HOTLIST_CATEGORY_LABELS = {
    "stolen_vehicle": "Stolen vehicle", "missing_person": "Missing person",
    "fugitive": "Fugitive", "investigation": "Investigation", "unpaid_fine": "Unpaid fine",
}  # fmt: skip
HEALTH_STATE_LABELS = {
    "OK": "OK", "DEGRADED": "Degraded", "OFFLINE": "Offline", "EXPIRED": "Expired",
    "UNREADABLE": "Unreadable",
}  # fmt: skip
PLAN_LABELS = {
    "draft": "Draft", "ratified": "Ratified", "published": "Published",
    "fixed": "Fixed", "mobile": "Mobile", "third_party": "Third party",
}  # fmt: skip
SECURITY_EVENT_LABELS = {
    "login": "Login", "logout": "Logout", "login_failed": "Failed login",
    "locked_out": "Account locked out", "login_refused_locked": "Login refused: account locked",
    "login_refused_address": "Login refused: too many failures from the address",
    "role_violation": "Page outside the account's roles",
    "refused_publish": "Refused publish on the broker", "account_created": "Account created",
}  # fmt: skip
AUDIT_ACTION_LABELS = {
    "consultation": "Search opened", "consultation_counted": "Search counted",
    "consultation_refused": "Search refused", "verification": "Crop verified",
    "hotlist_approved": "Hotlist approved", "hotlist_refused": "Hotlist refused",
    "hotlist_entry_approved": "Hotlist entry approved",
    "hotlist_entry_refused": "Hotlist entry refused",
    "package_issued": "Result package issued", "package_downloaded": "Result package downloaded",
    "photo_approved": "Photo approved", "plan_motivation_signed": "Plan motivation signed",
    "plan_motivation_revised": "Plan motivation revised",
    "calamity_declared": "Calamity declared", "calamity_ended": "Calamity ended",
    "calamity_consulted": "Calamity buffer consulted",
    "calamity_image_viewed": "Calamity image viewed",
    "request_registered": "Request registered", "request_accepted": "Request accepted",
    "request_rejected": "Request rejected", "request_handed_over": "Request handed over",
    "request_delivered": "Request delivered", "request_closed": "Request closed",
    "request_step_reversed": "Request step reversed",
    "written_order_attached": "Written order attached",
}  # fmt: skip
# Field names in step and audit details.
FIELD_LABELS = {
    "legal_basis": "Legal basis", "crime_type": "Crime type", "order_form": "Order form",
    "order_reference": "Order reference", "order_prosecutor": "Prosecutor",
    "photos_wanted": "Photos wanted", "request_id": "Request", "camera_id": "Camera",
    "captured_at": "Captured", "written_due": "Written order due",
    "confirmation_due": "Confirmation due", "declared_uninvolved": "Declared uninvolved",
    "to_unit": "To unit", "requested_reason": "Reason given", "list_id": "List",
    "entry_id": "Entry", "valid_until": "Valid until", "entries_approved": "Entries approved",
    "calamity_id": "Calamity", "chief_prosecutor": "Chief prosecutor",
    "end_reason": "Reason for ending", "rows_destroyed": "Rows destroyed",
    "photos_destroyed": "Photos destroyed", "frozen_passages": "Passages frozen",
    "destroyed_passages": "Passages destroyed", "keeps_from": "Keeps from",
    "on_call_notified": "On-call officers notified", "audit_seq": "Audit entry",
    "row_count": "Rows", "scope_exception": "Scope exception",
}  # fmt: skip

LABELS: dict[str, str] = {}
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
    "field": FIELD_LABELS,
}  # fmt: skip


def label(key: object, group: str | None = None) -> str:
    """The label for a key, looked up first among `group`'s labels where one is named (a
    key may mean two things: "fugitive" is a legal basis and a hotlist category); anything
    else (None, a number, an unknown key) stays readable."""
    if key is None:
        return ""
    text = str(key)
    if group is not None and text in GROUPS.get(group, {}):
        return GROUPS[group][text]
    return LABELS.get(text) or readable(text)
