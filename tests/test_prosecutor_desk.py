"""The prosecutor's desk (#20): hotlists, late entries, orders and scope exceptions are
decided by a prosecutor's own account, never by a typed name, and each act is in the audit
trail with who, when and what. Driven through the real pages with a real login."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from central.__main__ import main as central_main
from central.accounts.users import ROLES
from central.audit import AuditTrail
from central.databases import apply_migrations
from central.hotlists.lists import Hotlists
from central.hotlists.schema import MIGRATIONS as HOTLIST_MIGRATIONS
from central.hotlists.unit_export import unit_hotlist
from central.requests.orders import RequestError, Scope, Window
from central.store import open_store
from tests.conftest import verified_passage
from tests.test_request_access import Site
from tests.test_requests import order
from wire import SigningKey

NOW = datetime.now(UTC).replace(microsecond=0)
UNIT_KEY = b"k" * 32
DESK_POSTS = ("/prosecutor/lists/1/approve", "/prosecutor/lists/1/refuse",
              "/prosecutor/entries/1/approve", "/prosecutor/entries/1/refuse",
              "/prosecutor/requests/1/confirm", "/prosecutor/requests/1/refuse",
              "/prosecutor/requests/1/exception/approve",
              "/prosecutor/requests/1/exception/refuse")  # fmt: skip
REASON = "the robbers changed cars twice; the witness saw only the first two letters"


@pytest.fixture
def site(tmp_path):
    found = Site(tmp_path)
    for name, role in (("r.requester", "requester"), ("o.north", "officer"),
                       ("a.auditor", "auditor"), ("p.one", "prosecutor"),
                       ("p.two", "prosecutor")):  # fmt: skip
        found.person(name, role)
    return found


def desk(site: Site, name: str):
    return site.client(name, home="/prosecutor")


def trail(site: Site, *actions: str) -> list[dict]:
    audit = AuditTrail(site.config.audit_path)
    try:
        return audit.records(set(actions))
    finally:
        audit.close()


def test_the_desk_refuses_the_logged_out_and_every_other_role(site):
    anonymous = site.app.test_client()
    for url in ("/prosecutor", *DESK_POSTS):
        answer = anonymous.get(url) if url == "/prosecutor" else anonymous.post(url)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], url
    others = [role for role in ROLES if role != "prosecutor"]
    for role in others:
        name = f"x.{role.replace('_', '-')}"
        site.person(name, role)
        client = site.client(name, home="/")
        assert client.get("/prosecutor").status_code == 403, role
        for url in DESK_POSTS:
            assert client.post(url, data={"csrf": client.csrf}).status_code == 403, (role, url)
    violations = [e for e in site.events() if e == "role_violation"]
    assert len(violations) == len(others) * (1 + len(DESK_POSTS))
    prosecutor = desk(site, "p.one")
    assert prosecutor.get("/prosecutor").status_code == 200
    assert prosecutor.post("/prosecutor/lists/1/approve").status_code == 403, "no CSRF token"
    navigation = prosecutor.get("/").get_data(as_text=True)
    assert 'href="/prosecutor"' in navigation
    assert 'href="/prosecutor"' not in site.client("o.north", home="/").get("/").get_data(
        as_text=True)  # fmt: skip


def _hotlist(site: Site) -> tuple[int, int]:
    store = Hotlists(site.config.hotlists_path)
    try:
        list_id = store.create_list("Stolen", "desk-1", "report 2026-7", "stolen_vehicle", 1,
                                    NOW + timedelta(days=30), NOW)  # fmt: skip
        first = store.add_entry(list_id, "GBL12X", "", "stolen", "stop", NOW + timedelta(days=9),
                                "desk-1", NOW)  # fmt: skip
    finally:
        store.close()
    return list_id, first


def _live(site: Site, plate: str) -> tuple[bool, bool]:
    """(does a read of `plate` match, is it in a unit's exported list)."""
    store = Hotlists(site.config.hotlists_path)
    try:
        hit = bool(store.hits(plate, "NL", NOW))
        exported = unit_hotlist(store, "a12-cam-1", UNIT_KEY, NOW)
        from wire.unit_hotlist import plate_digest

        listed = plate_digest(UNIT_KEY, plate) in {e.digest for e in exported.entries}
    finally:
        store.close()
    return hit, listed


def test_a_hotlist_and_a_late_entry_go_live_only_by_a_prosecutors_own_approval(site, capsys):
    list_id, _ = _hotlist(site)
    base = ["--config", str(site.setup.config_path)]
    typed = [*base, "hotlist-approve", "--list-id", str(list_id), "--prosecutor", "mr. X"]
    assert central_main(typed) != 0, "a typed name approves nothing"
    assert "prosecutor's desk" in capsys.readouterr().err
    assert _live(site, "GBL12X") == (False, False)
    prosecutor = desk(site, "p.one")
    page = prosecutor.get("/prosecutor").get_data(as_text=True)
    assert f'id="list-{list_id}"' in page
    approve = {"csrf": prosecutor.csrf, "valid_days": "30"}
    assert prosecutor.post(f"/prosecutor/lists/{list_id}/approve", data=approve).status_code == 302
    assert _live(site, "GBL12X") == (True, True), "the list and its entries went live"
    store = Hotlists(site.config.hotlists_path)
    late = store.add_entry(list_id, "XT456B", "", "stolen later", "stop",
                           NOW + timedelta(days=9), "desk-1", NOW)  # fmt: skip
    csv = "plate,country,reason,instructions,expires\nKL123M,,stolen,stop,2099-01-01T00:00Z\n"
    assert store.import_csv(list_id, csv, "desk-1", NOW).imported == 1
    store.close()
    assert _live(site, "XT456B") == (False, False), "added after the approval: it waits"
    assert _live(site, "KL123M") == (False, False), "imported after the approval: it waits"
    page = prosecutor.get("/prosecutor").get_data(as_text=True)
    assert f'id="entry-{late}"' in page and "XT456B" in page and "KL123M" in page
    answer = prosecutor.post(f"/prosecutor/entries/{late}/approve", data={"csrf": prosecutor.csrf})
    assert answer.status_code == 302
    assert _live(site, "XT456B") == (True, True), "approved: it matches and is exported"
    refuse = {"csrf": prosecutor.csrf, "reason": "no report of theft on file"}
    assert prosecutor.post(f"/prosecutor/entries/{late + 1}/refuse", data=refuse).status_code == 302
    assert _live(site, "KL123M") == (False, False), "refused: never live"
    acts = trail(site, "hotlist_approved", "hotlist_entry_approved", "hotlist_entry_refused")
    assert [(a["actor"], a["action"]) for a in acts] == [
        ("p.one", "hotlist_approved"), ("p.one", "hotlist_entry_approved"),
        ("p.one", "hotlist_entry_refused")]  # fmt: skip
    assert acts[1]["details"] == {"list_id": list_id, "entry_id": late} and acts[1]["at"]
    store = Hotlists(site.config.hotlists_path)
    approved_by = store.db.execute("SELECT approved_by FROM lists").fetchone()[0]
    store.close()
    assert approved_by == "p.one", "the account's name, not a typed one"


def test_entries_of_lists_approved_before_the_upgrade_stay_live_and_new_ones_wait(tmp_path):
    import sqlite3

    path = tmp_path / "hotlists.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    apply_migrations(old, HOTLIST_MIGRATIONS[:5])
    until = (NOW + timedelta(days=9)).isoformat()
    old.execute("INSERT INTO lists (list_id, name, owner, legal_basis, category, priority, "
                "expires_at, approved_by, approved_at, approved_until) VALUES "
                "(1, 'Stolen', 'd', 'r', 'stolen_vehicle', 1, ?, 'mr. X', ?, ?)",
                (until, NOW.isoformat(), until))  # fmt: skip
    old.execute("INSERT INTO entries (list_id, pattern, country, reason, instructions, "
                "expires_at) VALUES (1, 'GBL12X', '', 'r', 'i', ?)", (until,))  # fmt: skip
    old.close()
    store = Hotlists(path)
    try:
        assert store.hits("GBL12X", "NL", NOW), "approved under the old rule: still live"
        store.add_entry(1, "XT456B", "", "r", "i", NOW + timedelta(days=9), "d", NOW)
        assert store.hits("XT456B", "NL", NOW) == [], "added after the upgrade: it waits"
    finally:
        store.close()


def test_a_written_order_is_executed_only_once_a_prosecutor_account_confirms_it(site):
    request_id = site.request(confirmed=False)
    officer = site.client("o.north")
    accept = {"csrf": officer.csrf, "declaration": "yes"}
    refused = officer.post(f"/requests/{request_id}/accept", data=accept)
    assert refused.status_code == 400 and b"waits for a prosecutor" in refused.data
    api = officer.post(f"/api/v1/requests/{request_id}/steps",
                       json={"step": "accept", "declaration": True},
                       headers={"X-CSRF-Token": officer.csrf})  # fmt: skip
    assert api.status_code == 400
    prosecutor = desk(site, "p.one")
    assert f'id="order-{request_id}"' in prosecutor.get("/prosecutor").get_data(as_text=True)
    confirm = prosecutor.post(f"/prosecutor/requests/{request_id}/confirm",
                              data={"csrf": prosecutor.csrf})  # fmt: skip
    assert confirm.status_code == 302
    again = prosecutor.post(
        f"/prosecutor/requests/{request_id}/refuse",
        data={"csrf": prosecutor.csrf, "reason": "changed my mind"},
    )
    assert again.status_code == 400 and b"decided already, by p.one" in again.data
    page = officer.get(f"/requests/{request_id}").get_data(as_text=True)
    assert re.search(r'id="confirmation">\s*prosecutor account <strong>p.one</strong>', page)
    assert officer.post(f"/requests/{request_id}/accept", data=accept).status_code == 302
    (act,) = trail(site, "order_confirmed")
    assert act["actor"] == "p.one" and act["details"]["request_id"] == request_id
    assert act["details"]["order_prosecutor"] == "mr. J. de Vries", "what the paper says"


def test_an_order_refused_by_a_prosecutor_cannot_be_executed(site):
    request_id = site.request(confirmed=False)
    prosecutor = desk(site, "p.one")
    bare = prosecutor.post(f"/prosecutor/requests/{request_id}/refuse",
                           data={"csrf": prosecutor.csrf})  # fmt: skip
    assert bare.status_code == 400 and b"states its reason" in bare.data
    form = {"csrf": prosecutor.csrf, "reason": "no crime with pre-trial detention"}
    assert (
        prosecutor.post(f"/prosecutor/requests/{request_id}/refuse", data=form).status_code == 302
    )
    officer = site.client("o.north")
    answer = officer.post(f"/requests/{request_id}/accept",
                          data={"csrf": officer.csrf, "declaration": "yes"})  # fmt: skip
    assert answer.status_code == 400 and b"p.one refused the order" in answer.data
    (act,) = trail(site, "order_refused")
    assert act["actor"] == "p.one" and act["details"]["reason"] == form["reason"]


def test_a_typed_name_or_another_role_cannot_confirm_through_the_workflow(site):
    from central.accounts.register import Register
    from central.accounts.users import Accounts
    from central.requests.store import Requests
    from central.requests.workflow import Workflow

    request_id = site.request(confirmed=False)
    accounts, requests = Accounts(site.config.accounts_path), Requests(site.config.requests_path)
    audit = AuditTrail(site.config.audit_path)
    try:
        flow = Workflow(requests, Register(accounts), audit)
        for name in ("mr. J. de Vries", "o.north", "a.auditor"):
            with pytest.raises(RequestError, match="not a prosecutor's account"):
                flow.confirm_order(request_id, name, True, "", NOW)
    finally:
        for part in (audit, requests, accounts):
            part.close()


def test_an_oral_order_proceeds_and_its_late_confirmation_shows_and_is_counted(site):
    registered = NOW - timedelta(days=4)
    window = Window(registered - timedelta(days=2), registered - timedelta(days=1))
    from central.accounts.register import Register
    from central.accounts.users import Accounts
    from central.requests.store import Requests
    from central.requests.workflow import Workflow

    accounts, requests = Accounts(site.config.accounts_path), Requests(site.config.requests_path)
    audit = AuditTrail(site.config.audit_path)
    try:
        flow = Workflow(requests, Register(accounts), audit)
        request_id = flow.submit(
            order(order_form="oral", order_time=registered,
                  scope=Scope(windows=(window,), plates=("GBL12X",))),
            "r.requester", "unit-midden", registered,
        )  # fmt: skip
        flow.accept(request_id, "o.north", True, registered + timedelta(hours=1))
    finally:
        for part in (audit, requests, accounts):
            part.close()
    requester = site.client("r.requester")
    page = requester.get(f"/requests/{request_id}").get_data(as_text=True)
    assert 'id="confirmation-late"' in page and "or missing" in page
    year = registered.year
    auditor = site.client("a.auditor", home="/audit")
    csv = auditor.get(f"/report/{year}/csv").get_data(as_text=True)
    assert "Orders confirmed by a prosecutor,confirmation late or missing,1" in csv
    prosecutor = desk(site, "p.one")
    answer = prosecutor.post(f"/prosecutor/requests/{request_id}/confirm",
                             data={"csrf": prosecutor.csrf})  # fmt: skip
    assert answer.status_code == 302
    (act,) = trail(site, "order_confirmed")
    assert act["actor"] == "p.one" and act["details"]["late"] is True
    csv = auditor.get(f"/report/{year}/csv").get_data(as_text=True)
    assert "Orders confirmed by a prosecutor,confirmation late or missing,1" in csv
    assert "Orders confirmed by a prosecutor,confirmed,1" in csv
    page = requester.get(f"/requests/{request_id}").get_data(as_text=True)
    assert 'id="confirmation-late"' in page and "or missing" not in page


def _wide_form(csrf: str, reference: str, reason: str = "") -> dict:
    """A partial plate with two known characters: past the limit of four."""
    start, end = NOW - timedelta(days=2), NOW - timedelta(days=1)
    return {"csrf": csrf, "reference": reference, "prosecutor": "mr. J. de Vries",
            "order_time": f"{NOW:%Y-%m-%dT%H:%M}", "order_form": "written",
            "legal_basis": "detention_crime", "investigation": "Zwaluw",
            "case_number": "PL-20", "crime": "armed robbery", "crime_type": "robbery",
            "description": "a dark estate car", "necessity": "the getaway car's route",
            "plates": "GB*", "window_start": f"{start:%Y-%m-%dT%H:%M}",
            "window_end": f"{end:%Y-%m-%dT%H:%M}",
            "scope_exception_reason": reason}  # fmt: skip


def _stored_passage(site: Site) -> None:
    from central.cameras import CameraRegistry

    key = SigningKey.generate()
    registry = CameraRegistry(site.config.cameras_path)
    registry.add("test-cam-01", key.verify_key, NOW)
    registry.close()
    store = open_store(site.config)
    store.insert_batch([verified_passage(key, captured_at=NOW - timedelta(days=1, hours=12))],
                       NOW)  # fmt: skip
    store.close()


def _search(officer, request_id: int):
    start, end = NOW - timedelta(days=2), NOW - timedelta(days=1)
    form = {"csrf": officer.csrf, "plate": "GB*", "start": f"{start:%Y-%m-%dT%H:%M}",
            "end": f"{end:%Y-%m-%dT%H:%M}"}  # fmt: skip
    return officer.post(f"/requests/{request_id}/search", data=form)


def test_a_scope_exception_needs_a_reason_and_a_second_prosecutor_then_is_searchable(site):
    _stored_passage(site)
    requester = site.client("r.requester", home="/requests/new")
    bare = requester.post("/requests", data=_wide_form(requester.csrf, "OM-20-1"))
    assert bare.status_code == 400 and b"fixes 2 letters or digits" in bare.data
    short = requester.post("/requests", data=_wide_form(requester.csrf, "OM-20-1", "urgent"))
    assert short.status_code == 400 and b"at least a sentence" in short.data
    assert requester.get("/api/v1/requests").get_json()["requests"] == [], "nothing stored"
    made = requester.post("/requests", data=_wide_form(requester.csrf, "OM-20-1", REASON))
    assert made.status_code == 302
    request_id = int(made.headers["Location"].rsplit("/", 1)[1])
    page = requester.get(f"/requests/{request_id}").get_data(as_text=True)
    assert 'id="scope-exception"' in page and "waiting" in page

    first = desk(site, "p.one")
    page = first.get("/prosecutor").get_data(as_text=True)
    assert f'id="exception-{request_id}"' in page and "fixes 2 letters" in page and REASON in page
    confirm = first.post(f"/prosecutor/requests/{request_id}/confirm", data={"csrf": first.csrf})
    assert confirm.status_code == 302
    own = {"csrf": first.csrf, "reason": "I confirmed the order and I find this justified too"}
    same = first.post(f"/prosecutor/requests/{request_id}/exception/approve", data=own)
    assert same.status_code == 400 and b"a second prosecutor, not you" in same.data

    officer = site.client("o.north")
    accept = {"csrf": officer.csrf, "declaration": "yes"}
    assert officer.post(f"/requests/{request_id}/accept", data=accept).status_code == 302
    before = _search(officer, request_id)
    assert before.status_code == 400 and b"fixes 2 letters or digits" in before.data

    second = desk(site, "p.two")
    bare = second.post(f"/prosecutor/requests/{request_id}/exception/approve",
                       data={"csrf": second.csrf, "reason": "fine"})  # fmt: skip
    assert bare.status_code == 400 and b"at least a sentence" in bare.data
    why = "two letters and the car's route over one day point at one vehicle here"
    approved = second.post(f"/prosecutor/requests/{request_id}/exception/approve",
                           data={"csrf": second.csrf, "reason": why})  # fmt: skip
    assert approved.status_code == 302
    after = _search(officer, request_id)
    assert after.status_code == 302, after.data
    (consulted,) = trail(site, "consultation")
    assert consulted["details"]["supplied"]["rows"] == 1

    acts = trail(site, "scope_exception_requested", "order_confirmed", "scope_exception_approved")
    assert [(a["actor"], a["action"]) for a in acts] == [
        ("r.requester", "scope_exception_requested"), ("p.one", "order_confirmed"),
        ("p.two", "scope_exception_approved")]  # fmt: skip
    assert acts[0]["details"]["reason"] == REASON and acts[2]["details"]["reason"] == why
    assert "fixes 2 letters" in acts[2]["details"]["excesses"][0]


def test_a_refused_scope_exception_holds_the_request_to_the_limits_and_is_counted(site):
    requester = site.client("r.requester", home="/requests/new")
    made = requester.post("/requests", data=_wide_form(requester.csrf, "OM-20-2", REASON))
    request_id = int(made.headers["Location"].rsplit("/", 1)[1])
    first, second = desk(site, "p.one"), desk(site, "p.two")
    first.post(f"/prosecutor/requests/{request_id}/confirm", data={"csrf": first.csrf})
    why = "a partial plate of two characters sweeps up thousands of cars: ask again"
    refused = second.post(f"/prosecutor/requests/{request_id}/exception/refuse",
                          data={"csrf": second.csrf, "reason": why})  # fmt: skip
    assert refused.status_code == 302
    late = first.post(f"/prosecutor/requests/{request_id}/exception/approve",
                      data={"csrf": first.csrf, "reason": why})  # fmt: skip
    assert late.status_code == 400 and b"decided already, by p.two" in late.data
    officer = site.client("o.north")
    officer.post(f"/requests/{request_id}/accept", data={"csrf": officer.csrf,
                                                         "declaration": "yes"})  # fmt: skip
    answer = _search(officer, request_id)
    assert answer.status_code == 400 and b"fixes 2 letters or digits" in answer.data
    (act,) = trail(site, "scope_exception_refused")
    assert act["actor"] == "p.two" and act["details"]["reason"] == why
    auditor = site.client("a.auditor", home="/audit")
    csv = auditor.get(f"/report/{NOW.year}/csv").get_data(as_text=True)
    for item, count in (("requested", 1), ("approved", 0), ("refused", 1)):
        assert f"Scope exceptions,{item},{count}" in csv
