"""Pages a person reads (#23): times in Dutch local time with the UTC time a hover away,
labels instead of internal keys, date-time pickers (Dutch time, converted to UTC at the
edge, the clock changes handled out loud) and no consequential choice made for the user.

Every role's pages are walked with the Flask test client after a real login, over a central
with a request registered through its form, confirmed, executed and searched, a hotlist
waiting for approval, a draft camera plan, camera health, a security event and a calamity.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest

from central.accounts.register import Register
from central.accounts.users import ROLES, Accounts
from central.cameras import CameraRegistry
from central.health.records import HealthRecords
from central.hotlists.lists import CATEGORIES, Hotlists
from central.plan.registry import KINDS, CameraPlan
from central.requests.approvals import KINDS as DECISION_KINDS
from central.requests.forms import dutch_time, moment
from central.requests.lifecycle import STATES
from central.requests.orders import CRIME_TYPES, LEGAL_BASES, ORDER_FORMS, RequestError
from central.requests.verification import VERDICTS
from central.store import open_store
from central.web.display import local_time
from central.web.labels import label
from central.web.security import ALARMING
from tests.conftest import logged_in, verified_passage
from tests.test_plan import entry
from tests.test_search_browser import put_on_the_map
from wire import SigningKey

SEARCH_KINDS = ("full_plate", "partial_plate", "time_place", "convoy", "intersection")
# The code's choice lists: none of their snake_case keys may show as text on a page.
INTERNAL_KEYS = sorted({
    key for keys in (LEGAL_BASES, CRIME_TYPES, ORDER_FORMS, STATES, ROLES, DECISION_KINDS,
                     CATEGORIES, KINDS, SEARCH_KINDS, ALARMING, VERDICTS)
    for key in keys if "_" in key
})  # fmt: skip
# Selects whose choice has legal or lasting consequences: each starts on an empty
# "choose..." option and is required.
CONSEQUENTIAL = {
    "order_form": "the kind of order (an oral one needs its written order within 3 days)",
    "legal_basis": "the legal basis, counted in the yearly report",
    "crime_type": "the crime type, counted in the yearly report",
    "kind": "a plan camera's kind (fixed, mobile, third party)",
    "criterion": "a plan camera's legal criterion",
    "direction": "a plan camera's direction",
}
TIME_FIELDS = {"order_time", "window_start", "window_end", "start", "end", "leg_start",
               "leg_end", "since", "until"}  # fmt: skip
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
T = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


class Page(HTMLParser):
    """A page's visible text, its form fields and its <time> elements."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.fields: list[tuple[str, dict]] = []  # (tag, attributes) of inputs and selects
        self.options: dict[str, list[dict]] = {}
        self.times: list[dict] = []
        self._hidden = 0
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = {k: (v if v is not None else "") for k, v in attrs}
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in ("input", "select", "textarea"):
            self.fields.append((tag, found))
            if tag == "select":
                self._select = found.get("name", "")
                self.options[self._select] = []
        elif tag == "option" and self._select is not None:
            self.options[self._select].append(found)
        elif tag == "time":
            self.times.append(found)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(self.text)


@pytest.fixture
def central(web_setup, app):
    """A central in use: every role logged in, with something on every page."""
    config = web_setup.config
    users = {
        role: logged_in(app.test_client(), config, (role,), f"u.{role.replace('_', '-')}")
        for role in ROLES
    }
    accounts = Accounts(config.accounts_path)
    Register(accounts).authorise("u.officer", "unit-midden", "chief",
                                 date.today() + timedelta(days=90), datetime.now(UTC))  # fmt: skip
    accounts.close()
    key, store, now = SigningKey.generate(), open_store(config), datetime.now(UTC)
    for seq, (camera, minutes) in enumerate((("cam-a", 0), ("cam-b", 30)), 1):
        passage = verified_passage(key, seq=seq, camera_id=camera, captured_at=T + timedelta(
            minutes=minutes))  # fmt: skip
        store.insert_batch([passage], now)
    store.close()
    put_on_the_map(config, now, key)
    registry = CameraRegistry(config.cameras_path)
    registry.add("cam-x", SigningKey.generate().verify_key, now)
    plan = CameraPlan(config.plan_path, registry)
    plan.add_entry(entry("cam-x", kind="third_party", year=now.year), "u.plan-admin", now)
    plan.close()
    registry.close()
    health = HealthRecords(config.health_path)
    health.health_change("cam-a", T - timedelta(days=1), "OK", "")
    health.health_change("cam-b", T + timedelta(minutes=40), "OFFLINE", "no heartbeat for 125 s")
    health.close()
    hotlists = Hotlists(config.hotlists_path)
    list_id = hotlists.create_list("Stolen", "u.operator", "report 2026-7", "stolen_vehicle", 1,
                                   now + timedelta(days=30), now)  # fmt: skip
    hotlists.add_entry(list_id, "GBL12X", "NL", "stolen", "stop", now + timedelta(days=9),
                       "u.operator", now)  # fmt: skip
    hotlists.close()
    users["requester"].get("/audit")  # a security event: a page outside the role
    return config, users


def csrf(client) -> str:
    page = client.get("/requests" if client.get("/requests").status_code == 200 else "/")
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    if found is None:  # a role without a page with a form: log out's form is on every page
        raise AssertionError("no CSRF token on the page")
    return found.group(1)


def local(moment_utc: datetime) -> str:
    """What a datetime-local picker sends: Dutch wall-clock time, to the minute."""
    from central.requests.forms import ZONE

    return moment_utc.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def order_form(token: str, **changes) -> dict:
    form = {
        "csrf": token, "reference": "OM-2026-0123", "prosecutor": "mr. B. Smit",
        "order_time": local(T + timedelta(hours=5)), "order_form": "oral",
        "legal_basis": "detention_crime", "investigation": "Merel",
        "case_number": "PL0900-2026-123", "crime": "ram raid", "crime_type": "vehicle_crime",
        "description": "GBL12X", "necessity": "routes on the night", "plates": "GBL12X",
        "cameras": "cam-a cam-b", "window_start": local(T - timedelta(hours=2)),
        "window_end": local(T + timedelta(hours=3)), "photos_wanted": "1",
    }  # fmt: skip
    form.update(changes)
    return form


def executed_request(central) -> tuple[int, int]:
    """A request registered through the form, confirmed, accepted, counted and searched;
    returns its id and its result set's audit entry."""
    _config, users = central
    requester, prosecutor, officer = users["requester"], users["prosecutor"], users["officer"]
    made = requester.post("/requests", data=order_form(csrf(requester)))
    assert made.status_code == 302, made.data
    request_id = int(made.headers["Location"].rsplit("/", 1)[1].split("?")[0])
    token = re.search(r'name="csrf" value="([^"]+)"',
                      prosecutor.get("/prosecutor").get_data(as_text=True)).group(1)  # fmt: skip
    confirmed = prosecutor.post(f"/prosecutor/requests/{request_id}/confirm",
                                data={"csrf": token, "reason": ""})  # fmt: skip
    assert confirmed.status_code == 302
    token = csrf(officer)
    accept = {"csrf": token, "declaration": "yes"}
    assert officer.post(f"/requests/{request_id}/accept", data=accept).status_code == 302
    search = {"csrf": token, "plate": "GBL12X", "start": local(T - timedelta(hours=1)),
              "end": local(T + timedelta(hours=2))}  # fmt: skip
    opened = officer.post(f"/requests/{request_id}/search", data=search)
    assert opened.status_code == 302, opened.data
    return request_id, int(opened.headers["Location"].rsplit("/", 1)[1])


def pages_of_each_role(central) -> dict[str, list[str]]:
    config, users = central
    request_id, seq = executed_request(central)
    calamity = users["calamity_coordinator"]
    token = re.search(r'name="csrf" value="([^"]+)"',
                      calamity.get("/calamity").get_data(as_text=True)).group(1)  # fmt: skip
    declared = calamity.post(
        "/calamity/declare",
        data={"csrf": token, "reason": "a hostage taking in progress", "chief_prosecutor": "mr. H"},
    )
    assert declared.status_code == 302
    year = datetime.now(UTC).year
    return {
        "requester": ["/requests", "/requests/new", f"/requests/{request_id}"],
        "officer": [f"/requests/{request_id}", f"/requests/{request_id}/results/{seq}",
                    f"/requests/{request_id}/results/{seq}/verify",
                    f"/requests/{request_id}/results/{seq}/photos"],
        "prosecutor": ["/prosecutor", "/plan/sign"],
        "auditor": ["/audit", "/security", f"/requests/{request_id}", f"/report/{year}"],
        "plan_admin": ["/plan/admin"],
        "maintainer": ["/health", "/health/fleet", "/health/cameras/cam-b"],
        "operator": ["/alerts", "/alerts/volume"],
        "calamity_coordinator": ["/calamity",
                                 f"/calamity/search?since={local(T - timedelta(hours=1))}"],
    }  # fmt: skip


def test_a_stored_utc_time_shows_in_dutch_time_with_the_utc_time_at_hand():
    winter = str(local_time("2026-11-22T12:00:00.000Z"))
    assert ">22-11-2026 13:00:00 CET</time>" in winter
    assert (
        'datetime="2026-11-22T12:00:00Z"' in winter and 'title="2026-11-22 12:00:00 UTC"' in winter
    )
    summer = str(local_time(datetime(2026, 7, 1, 12, 0, 0, 123000, tzinfo=UTC), "minutes"))
    assert (
        ">01-07-2026 14:00 CEST</time>" in summer
        and 'datetime="2026-07-01T12:00:00.123Z"' in summer
    )
    # Around the change back to winter time the same wall-clock hour comes twice.
    first, second = (str(local_time(f"2026-10-25T0{h}:30:00Z")) for h in (0, 1))
    assert "02:30:00 CEST" in first and "02:30:00 CET" in second
    assert str(local_time(None)) == "-" and str(local_time("")) == "-"
    assert str(local_time("<not a time>")) == "&lt;not a time&gt;"


def test_a_picker_time_is_dutch_time_and_the_clock_changes_are_said():
    assert moment("2026-11-22T13:00", "t", local=True) == datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert moment("2026-07-01T14:00", "t", local=True) == datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert moment("2026-07-01T14:00Z", "t", local=True) == datetime(2026, 7, 1, 14, tzinfo=UTC)
    assert moment("2026-07-01T14:00", "t") == datetime(2026, 7, 1, 14, tzinfo=UTC), "API: UTC"
    with pytest.raises(RequestError, match="29-03-2026 02:30 does not exist in Dutch time"):
        dutch_time(datetime(2026, 3, 29, 2, 30), "window start")
    notes: list[str] = []
    taken = dutch_time(datetime(2026, 10, 25, 2, 30), "order time", notes)
    assert taken == datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "the first, summer-time one"
    assert notes and "occurs twice" in notes[0] and "CEST (00:30 UTC)" in notes[0]
    assert dutch_time(datetime(2026, 10, 25, 4, 30), "t", notes) and len(notes) == 1


def test_an_unknown_key_reads_as_words_and_a_key_is_labelled_in_its_group():
    assert label("detention_crime") == "Crime allowing pre-trial detention"
    assert label("fugitive", "category") == "Fugitive"
    assert label("fugitive", "legal_basis").startswith("Tracing a fugitive")
    assert label("some_new_action") == "Some new action"
    assert label(None) == "" and label(3) == "3"
    for key in INTERNAL_KEYS:
        assert "_" not in label(key), key


def speak(users: dict, language: str) -> None:
    """Every role's client chooses `language` with the switch on its pages (#23)."""
    for client in users.values():
        page = client.get("/").get_data(as_text=True)
        token = re.search(r'id="language-switch".*?name="csrf" value="([^"]+)"', page, re.S)
        answer = client.post("/language", data={"csrf": token.group(1), "language": language})
        assert answer.status_code == 302


@pytest.mark.parametrize("language", ["en", "nl"])
def test_no_page_shows_an_internal_key_or_an_iso_utc_time(central, language):
    _config, users = central
    speak(users, language)
    walked = 0
    for role, paths in pages_of_each_role(central).items():
        for path in paths:
            response = users[role].get(path)
            assert response.status_code == 200, (role, path, response.data[:300])
            page = Page(response.get_data(as_text=True))
            assert f'<html lang="{language}">' in response.get_data(as_text=True), path
            shown = [k for k in INTERNAL_KEYS if re.search(rf"\b{k}\b", page.visible)]
            assert not shown, f"{path} ({role}) shows internal keys {shown}"
            iso = ISO_TIME.findall(page.visible)
            assert not iso, f"{path} ({role}) shows ISO times {iso}"
            for element in page.times:
                assert element["datetime"].endswith("Z") and element["title"].endswith(" UTC")
            walked += 1
    assert walked >= 16


def test_times_show_in_dutch_time_on_the_request_and_its_results(central):
    _config, users = central
    request_id, seq = executed_request(central)
    page = users["auditor"].get(f"/requests/{request_id}").get_data(as_text=True)
    window_start = (T - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'<time datetime="{window_start}"' in page
    assert "Crime allowing pre-trial detention" in page and "Vehicle crime" in page
    results = users["officer"].get(f"/requests/{request_id}/results/{seq}").get_data(as_text=True)
    captured = T.strftime("%Y-%m-%dT%H:%M:%S")
    assert f'<time datetime="{captured}' in results and "Full plate" in results


def test_time_fields_are_pickers_and_no_consequential_choice_is_preselected(central):
    config, users = central
    request_id, _seq = executed_request(central)
    forms = {
        "requester": ["/requests/new"],
        "officer": [f"/requests/{request_id}"],
        "plan_admin": ["/plan/admin"],
        "prosecutor": ["/prosecutor"],
        "calamity_coordinator": ["/calamity"],
    }
    seen = set()
    for role, paths in forms.items():
        for path in paths:
            page = Page(users[role].get(path).get_data(as_text=True))
            for tag, attrs in page.fields:
                name = attrs.get("name", "")
                seen.add(name)
                if name in TIME_FIELDS:
                    assert tag == "input" and attrs.get("type") == "datetime-local", (path, name)
                assert name not in ("windows", "legs"), f"{path}: {name} is free text"
                if tag == "input" and attrs.get("type") == "radio":
                    assert "checked" not in attrs, f"{path}: radio {name} preselected"
                if tag == "select" and name in CONSEQUENTIAL:
                    assert "required" in attrs, f"{path}: {name} is not required"
                    options = page.options[name]
                    chosen = [o for o in options if "selected" in o] or options[:1]
                    assert chosen[0].get("value") == "", f"{path} preselects {name}: {chosen}"
            if "valid_days" in page.visible or any(a.get("name") == "valid_days"
                                                   for _t, a in page.fields):  # fmt: skip
                days = [a for _t, a in page.fields if a.get("name") == "valid_days"]
                assert all(not a.get("value") and "required" in a for a in days), path
    assert {"order_form", "legal_basis", "crime_type", "kind", "criterion", "direction",
            "window_start", "leg_start", "start"} <= seen  # fmt: skip


def test_a_skipped_hour_is_refused_and_a_repeated_one_is_said(central):
    _config, users = central
    requester = users["requester"]
    skipped = requester.post("/requests", data=order_form(
        csrf(requester), order_time="2026-03-29T02:30"))  # fmt: skip
    assert skipped.status_code == 400
    assert b"29-03-2026 02:30 does not exist in Dutch time" in skipped.data
    assert b'value="2026-03-29T02:30"' in skipped.data, "what was typed stays in the field"
    repeated = requester.post("/requests", data=order_form(
        csrf(requester), reference="OM-2026-0124", order_time=local(T)))  # fmt: skip
    assert repeated.status_code == 302 and not repeated.headers["Location"].endswith("=1")
    coordinator = users["calamity_coordinator"]
    token = re.search(r'name="csrf" value="([^"]+)"',
                      coordinator.get("/calamity").get_data(as_text=True)).group(1)  # fmt: skip
    coordinator.post("/calamity/declare", data={"csrf": token, "reason": "a hostage taking",
                                                "chief_prosecutor": "mr. H"})  # fmt: skip
    refused = coordinator.get("/calamity/search?since=2026-03-29T02:15")
    assert refused.status_code == 400 and b"does not exist in Dutch time" in refused.data
    twice = coordinator.get("/calamity/search?since=2026-10-25T02:15")
    assert twice.status_code == 200 and b"occurs twice in Dutch time" in twice.data


def test_a_repeated_hour_in_the_order_is_taken_first_and_said(central):
    _config, users = central
    requester = users["requester"]
    made = requester.post("/requests", data=order_form(
        csrf(requester), order_time="2025-10-26T02:30", order_form="written"))  # fmt: skip
    assert made.status_code == 302 and made.headers["Location"].endswith("?ambiguous=1")
    page = requester.get(made.headers["Location"]).get_data(as_text=True)
    assert "occurs twice when the clocks go back" in page
    assert 'datetime="2025-10-26T00:30:00Z"' in page, "the first: 02:30 CEST"
