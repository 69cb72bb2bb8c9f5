"""Trying to get around the rules on request pages and the API: roles, CSRF, shielding,
lapsed authorisations; and the training instance's marking."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from central import create_app
from central.__main__ import main
from central.accounts.register import Register
from central.accounts.users import Accounts
from central.requests.store import Requests
from tests.conftest import confirm_order, confirm_order_in, current_code, write_central_config
from tests.test_requests import order

PASSWORD = "correct horse battery staple"


class Site:
    def __init__(self, tmp_path, training: bool = False) -> None:
        self.setup = write_central_config(tmp_path, broker_port=1883)
        if training:
            text = self.setup.config_path.read_text().replace("[web]", "[web]\ntraining = true")
            self.setup.config_path.write_text(text)
            from central.config import load_config

            self.setup.config = load_config(self.setup.config_path)
        self.config = self.setup.config
        self.app = create_app(self.config)
        self.secrets: dict[str, str] = {}

    def person(self, name: str, role: str, unit: str = "unit-midden", review_days: int = 90):
        accounts = Accounts(self.config.accounts_path)
        now = datetime.now(UTC)
        self.secrets[name] = accounts.add(name, name, unit, [role], PASSWORD, now)
        if role == "officer":
            due = date.today() + timedelta(days=review_days)
            Register(accounts).authorise(name, unit, "chief", due, now)
        accounts.close()

    def client(self, name: str, home: str = "/requests"):
        client = self.app.test_client()
        form = {"username": name, "password": PASSWORD, "code": current_code(self.secrets[name])}
        assert client.post("/login", data=form).status_code == 302
        page = client.get(home)
        client.csrf = re.search(rb'name="csrf" value="([^"]+)"', page.data).group(1).decode()
        return client

    def request(self, confirmed: bool = True, **changes) -> int:
        """A registered request; its order confirmed by a prosecutor's account, unless not."""
        from central.audit import AuditTrail
        from central.requests.workflow import Workflow

        accounts, requests = (
            Accounts(self.config.accounts_path),
            Requests(self.config.requests_path),
        )
        trail = AuditTrail(self.config.audit_path)
        try:
            flow = Workflow(requests, Register(accounts), trail)
            now = datetime.now(UTC)
            request_id = flow.submit(order(**changes), "r.requester", "unit-midden", now)
            if confirmed:
                confirm_order(flow, request_id, now)
            return request_id
        finally:
            for part in (trail, requests, accounts):
                part.close()

    def events(self) -> list[str]:
        accounts = Accounts(self.config.accounts_path)
        try:
            return [e["event"] for e in accounts.events()]
        finally:
            accounts.close()


@pytest.fixture
def site(tmp_path):
    found = Site(tmp_path)
    for name, role in (("r.requester", "requester"), ("o.north", "officer"),
                       ("a.auditor", "auditor"), ("m.maintainer", "maintainer")):  # fmt: skip
        found.person(name, role)
    return found


def test_only_case_roles_see_requests_and_only_officers_execute(site):
    request_id = site.request()
    maintainer = site.client("m.maintainer", home="/health")
    assert maintainer.get("/requests").status_code == 403
    assert maintainer.get(f"/api/v1/requests/{request_id}").status_code == 403
    requester = site.client("r.requester")
    accept = {"csrf": requester.csrf, "declaration": "yes"}
    assert requester.post(f"/requests/{request_id}/accept", data=accept).status_code == 403
    auditor = site.client("a.auditor")
    close = {"csrf": auditor.csrf, "reason": "x"}
    assert auditor.post(f"/requests/{request_id}/close", data=close).status_code == 403
    assert site.events().count("role_violation") == 4
    assert auditor.get("/audit").status_code == 200
    assert requester.get("/audit").status_code == 403


def test_forms_and_the_api_refuse_a_missing_or_forged_csrf_token(site):
    request_id = site.request()
    officer = site.client("o.north")
    form = {"declaration": "yes"}
    assert officer.post(f"/requests/{request_id}/accept", data=form).status_code == 403
    assert officer.post(f"/requests/{request_id}/accept",
                        data={**form, "csrf": "forged"}).status_code == 403  # fmt: skip
    body = {"step": "accept", "declaration": True}
    url = f"/api/v1/requests/{request_id}/steps"
    assert officer.post(url, json=body).status_code == 403
    done = officer.post(url, json=body, headers={"X-CSRF-Token": officer.csrf})
    assert done.status_code == 200 and done.get_json()["state"] == "in_progress"


def test_a_shielded_request_does_not_exist_for_outsiders(site):
    request_id = site.request(shielded=True)
    officer = site.client("o.north")
    assert officer.get(f"/requests/{request_id}").status_code == 404
    assert officer.get(f"/api/v1/requests/{request_id}").status_code == 404
    assert officer.get("/api/v1/requests").get_json()["requests"] == []
    assert b"OM-2026-0001" not in officer.get("/requests").data
    assert site.client("r.requester").get(f"/requests/{request_id}").status_code == 200


def test_a_lapsed_authorisation_opens_nothing(site):
    site.person("o.lapsed", "officer", review_days=90)
    accounts = Accounts(site.config.accounts_path)
    accounts.db.execute("UPDATE authorisations SET review_due = '2000-01-01' "
                        "WHERE username = 'o.lapsed'")  # fmt: skip
    accounts.close()
    client = site.app.test_client()
    code = current_code(site.secrets["o.lapsed"])
    client.post("/login", data={"username": "o.lapsed", "password": PASSWORD, "code": code})
    assert client.get("/requests").status_code == 403
    assert "role_violation" in site.events()


def test_the_api_registers_and_searches_within_the_order(site):
    requester = site.client("r.requester")
    headers = {"X-CSRF-Token": requester.csrf}
    created = requester.post("/api/v1/requests", json=order().as_json(), headers=headers)
    assert created.status_code == 201
    request_id = created.get_json()["id"]
    again = requester.post("/api/v1/requests", json=order().as_json(), headers=headers)
    assert again.status_code == 400 and "registered already" in again.get_json()["error"]
    confirm_order_in(site.config, request_id, datetime.now(UTC))
    officer = site.client("o.north")
    headers = {"X-CSRF-Token": officer.csrf}
    officer.post(f"/api/v1/requests/{request_id}/steps", json={"step": "accept",
                 "declaration": True}, headers=headers)  # fmt: skip
    window = order().scope.windows[0]
    query = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    refused = officer.post(f"/api/v1/requests/{request_id}/searches",
                           json={**query, "plate": "ZZ999Z"}, headers=headers)  # fmt: skip
    assert refused.status_code == 400 and "scope" in refused.get_json()["error"]
    found = officer.post(f"/api/v1/requests/{request_id}/searches",
                         json={**query, "plate": "GBL12X"}, headers=headers)  # fmt: skip
    assert found.status_code == 200 and found.get_json()["verification"] == "required"
    only_count = {**query, "plate": "GBL12X", "count_only": True}
    counted = officer.post(f"/api/v1/requests/{request_id}/searches", json=only_count,
                           headers=headers)  # fmt: skip
    assert counted.get_json()["count"] == 0, "an empty store"
    verify = site.client("a.auditor").get("/api/v1/audit/verify").get_json()
    assert verify == {"checked": True, "intact": True, "findings": []}


def test_every_page_of_a_training_instance_says_so(tmp_path):
    site = Site(tmp_path, training=True)
    site.person("r.requester", "requester")
    assert main(["--config", str(site.setup.config_path), "training-seed", "--days", "2",
                 "--per-day", "50"]) == 0  # fmt: skip
    client = site.client("r.requester")
    for path in ("/login", "/requests", "/requests/new", "/"):
        response = client.get(path)
        assert b'id="training-banner"' in response.data, path
        assert response.headers["X-ANPR-Training"] == "1"
    assert client.get("/api/v1/requests").headers["X-ANPR-Training"] == "1"
    from central.store import open_store

    store = open_store(site.config)
    assert store.count() == 100
    served = store.recent(None, 100)
    assert store.check_served(served) == {}, "training passages verify like real ones"
    store.close()
    assert main(["--config", str(site.setup.config_path), "training-seed", "--days", "1",
                 "--per-day", "10"]) == 0, "seeding again keeps the cameras' keys"  # fmt: skip


def test_training_data_is_refused_by_a_real_instance(site, capsys):
    assert main(["--config", str(site.setup.config_path), "training-seed"]) == 2
    assert "not a training instance" in capsys.readouterr().err
    response = site.client("r.requester").get("/requests")
    assert b"training-banner" not in response.data and "X-ANPR-Training" not in response.headers


def test_a_training_instance_serves_pages_and_never_connects_to_the_broker(tmp_path, capsys):
    import socket
    import threading
    import urllib.request

    from central.commands.service import serve_training
    from tests.conftest import free_port, wait_for_port

    site = Site(tmp_path, training=True)
    broker = socket.socket()
    broker.bind(("127.0.0.1", 0))  # where the broker would be
    broker.listen()
    broker.settimeout(2.0)
    port = free_port()
    config = site.config.model_copy(update={
        "web": site.config.web.model_copy(update={"port": port}),
        "mqtt": site.config.mqtt.model_copy(update={"port": broker.getsockname()[1]}),
    })  # fmt: skip
    stop = threading.Event()
    runner = threading.Thread(target=serve_training, args=(config, stop))
    runner.start()
    try:
        wait_for_port(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as page:
            assert b"training-banner" in page.read()
        with pytest.raises(TimeoutError):
            broker.accept()  # nobody came
    finally:
        stop.set()
        runner.join(timeout=10)
        broker.close()
    assert main(["--config", str(site.setup.config_path), "ingest"]) == 2
    assert "training instance has no ingest" in capsys.readouterr().err


def test_the_api_and_the_form_refuse_a_fishing_order_with_the_reason(site):
    """#20, finding 3: an order scoped `A*` is refused with what to change, nothing stored."""
    from tests.test_requests import Scope

    requester = site.client("r.requester")
    window = order().scope.windows[0]
    fishing = order(scope=Scope(windows=(window,), plates=("A*",))).as_json()
    answer = requester.post("/api/v1/requests", json=fishing,
                            headers={"X-CSRF-Token": requester.csrf})  # fmt: skip
    assert answer.status_code == 400
    assert "fixes 1 letters or digits: a partial plate needs at least 4" in answer.get_json()[
        "error"]  # fmt: skip
    form = {"csrf": requester.csrf, "reference": "OM-9", "prosecutor": "mr. X",
            "order_time": f"{datetime.now(UTC):%Y-%m-%dT%H:%M}", "order_form": "written",
            "legal_basis": "detention_crime", "investigation": "Zwaluw", "case_number": "PL-9",
            "crime": "robbery", "crime_type": "robbery", "description": "d", "necessity": "n",
            "plates": "GBL12X", "window_start": "2001-01-01T00:00",
            "window_end": "2001-01-02T00:00"}  # fmt: skip
    page = requester.post("/requests", data=form)
    assert page.status_code == 400 and b"before the store&#39;s horizon" in page.data
    assert requester.get("/api/v1/requests").get_json()["requests"] == []


def test_the_order_form_preselects_no_legal_choice(site):
    """Crime type and legal basis are counted in the yearly report: a form that preselects
    one records it for every requester who did not look (a request was once a homicide)."""
    requester = site.client("r.requester", home="/requests/new")
    page = requester.get("/requests/new").get_data(as_text=True)
    for name in ("order_form", "legal_basis", "crime_type"):
        select = page.split(f'<select name="{name}"')[1].split("</select>")[0]
        assert "required" in select.split(">")[0], name
        chosen = [o for o in select.split("<option")[1:] if " selected" in o.split(">")[0]]
        assert len(chosen) == 1 and 'value=""' in chosen[0], f"{name} preselects {chosen}"
    form = {"csrf": requester.csrf, "reference": "OM-2026-0099", "prosecutor": "mr. A",
            "order_time": "2026-12-01T10:00:00Z", "order_form": "written",
            "legal_basis": "detention_crime", "investigation": "X", "case_number": "PL-1",
            "crime": "theft", "description": "d", "necessity": "n", "plates": "GBL12X",
            "window_start": "2026-11-30T10:00:00Z",
            "window_end": "2026-11-30T12:00:00Z"}  # fmt: skip
    refused = requester.post("/requests", data=form)
    assert refused.status_code == 400 and b"crime type: choose" in refused.data
