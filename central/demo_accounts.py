"""Demo data for `make demo` (#23): one account per role, a hotlist that hits and an order in
progress, so a first run shows the product.

Only demo and practice instances (`web.demo_views` or `web.training`) ever name these
accounts: the start page lists them there for a logged-out visitor, and `scripts/demo.py`
prints their passwords and second factors. A real instance shows none of it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from werkzeug.datastructures import MultiDict

from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit_trails import open_audit_trail
from central.config import CentralConfig
from central.hotlists.lists import Hotlists
from central.requests.forms import ZONE, order_from_form
from central.requests.store import Requests
from central.requests.workflow import Workflow

UNIT = "demo-unit"
# (role, demo account, its main page)
ACCOUNTS = (
    ("requester", "demo-requester", "/requests"),
    ("officer", "demo-officer", "/requests"),
    ("auditor", "demo-auditor", "/audit"),
    ("plan_admin", "demo-plan-admin", "/plan/admin"),
    ("maintainer", "demo-maintainer", "/health"),
    ("technician", "demo-technician", "/health"),
    ("operator", "demo-operator", "/alerts"),
    ("calamity_coordinator", "demo-calamity", "/calamity"),
    ("prosecutor", "demo-prosecutor", "/prosecutor"),
)


def is_demo(config: CentralConfig) -> bool:
    """A demo or practice instance: the only kind that may name demo accounts."""
    return bool(config.web.demo_views or config.web.training)


def _local(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def seed(
    config: CentralConfig,
    password: str,
    camera_id: str,
    plates: list[str],
    now: datetime,
    with_order: bool = True,
) -> dict[str, str]:
    """Create the demo accounts (all with `password`), a hotlist of `plates` approved by the
    demo prosecutor and (`with_order`) an order confirmed by them and accepted by the demo
    officer over the two hours before `now`; returns each account's TOTP secret. `make demo`
    files its order later (`seed_order`), once passages exist: an order cannot reach into
    the future, so one filed at start would find nothing."""
    if not is_demo(config):
        raise ValueError("demo accounts only on a demo or practice instance")
    accounts = Accounts(config.accounts_path)
    requests = Requests(config.requests_path)
    trail = open_audit_trail(config)
    hotlists = Hotlists(config.hotlists_path)
    try:
        secrets = {
            name: accounts.add(name, f"Demo {role}", UNIT, [role], password, now)
            for role, name, _page in ACCOUNTS
        }
        register = Register(accounts)
        register.authorise("demo-officer", UNIT, "demo-auditor", date.today() + timedelta(90), now)
        # The hotlist: created by the operator, approved the way the prosecutor's desk does
        # (`decide_list`): the prosecutor account's own act, entered in the audit trail.
        list_id = hotlists.create_list(
            "Demo: stolen vehicles", "demo-operator", "demo report 2026-1", "stolen_vehicle", 1,
            now + timedelta(days=30), now,
        )  # fmt: skip
        for plate in plates:
            hotlists.add_entry(list_id, plate, "NL", "demo: stolen", "demo: stop and report",
                               now + timedelta(days=30), "demo-operator", now)  # fmt: skip
        valid = timedelta(days=30)
        entries = hotlists.approve(list_id, "demo-prosecutor", now, valid)
        trail.append("demo-prosecutor", "hotlist_approved", {
            "list_id": list_id, "valid_until": (now + valid).isoformat(),
            "entries_approved": entries}, now)  # fmt: skip
        if with_order:
            _order(requests, register, trail, camera_id, plates[0],
                   now - timedelta(hours=2), now - timedelta(minutes=1), now)  # fmt: skip
    finally:
        hotlists.close()
        requests.close()
        accounts.close()
        trail.close()
    return secrets


def seed_order(
    config: CentralConfig,
    camera_id: str,
    plate: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> None:
    """The demo order DEMO-OM-0001 for `plate` at `camera_id` over [start, end]."""
    if not is_demo(config):
        raise ValueError("demo data only on a demo or practice instance")
    accounts = Accounts(config.accounts_path)
    requests = Requests(config.requests_path)
    trail = open_audit_trail(config)
    try:
        _order(requests, Register(accounts), trail, camera_id, plate, start, end, now)
    finally:
        requests.close()
        accounts.close()
        trail.close()


def _order(requests, register, trail, camera_id: str, plate: str, start: datetime,
           end: datetime, now: datetime) -> None:  # fmt: skip
    """Registered by the requester, confirmed by the prosecutor, accepted by the officer
    (the same workflow calls as the request pages and the prosecutor's desk)."""
    workflow = Workflow(requests, register, trail)
    form = MultiDict({
        "reference": "DEMO-OM-0001", "prosecutor": "demo prosecutor",
        "order_time": _local(now - timedelta(minutes=10)), "order_form": "written",
        "legal_basis": "detention_crime", "investigation": "Demo",
        "case_number": "DEMO-2026-001", "crime": "demo: ram raid",
        "crime_type": "vehicle_crime", "description": plate,
        "necessity": "demo: the route on the day", "plates": plate,
        "cameras": camera_id, "window_start": _local(start), "window_end": _local(end),
        "photos_wanted": "1",
    })  # fmt: skip
    request_id = workflow.submit(order_from_form(form), "demo-requester", UNIT, now)
    workflow.confirm_order(request_id, "demo-prosecutor", True, "", now)
    workflow.accept(request_id, "demo-officer", True, now)
