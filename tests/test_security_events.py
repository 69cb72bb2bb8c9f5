"""The auditor sees refused logins, lock-outs and role violations as they happen; nobody else
sees them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import logged_in, make_user


def test_refusals_show_on_the_auditors_page_and_api(web_setup, app):
    make_user(web_setup.config, "j.jansen", ("maintainer",))
    visitor = app.test_client()
    for _ in range(5):
        visitor.post("/login", data={"username": "j.jansen", "password": "x", "code": "000000"})
    maintainer = logged_in(app.test_client(), web_setup.config, ("maintainer",), "m.other")
    assert maintainer.get("/api/v1/security/events").status_code == 403
    assert maintainer.get("/requests").status_code == 403
    auditor = logged_in(app.test_client(), web_setup.config, ("auditor",), "a.auditor")
    body = auditor.get("/api/v1/security/events").get_json()
    assert body["last_day"]["login_failed"] == 5 and body["last_day"]["locked_out"] == 1
    assert body["last_day"]["role_violation"] == 2, "the events page and the requests page"
    assert {"m.other", "j.jansen"} <= {e["username"] for e in body["events"]}
    only = auditor.get("/api/v1/security/events?kind=locked_out").get_json()["events"]
    assert [e["event"] for e in only] == ["locked_out"]
    page = auditor.get("/security").get_data(as_text=True)
    assert "locked_out" in page and "role_violation" in page and 'class="flag"' in page
    assert app.test_client().get("/api/v1/security/events").status_code == 401


def test_security_events_are_counted_in_metrics(web_setup, app, client):
    make_user(web_setup.config, "j.jansen", ("maintainer",))
    for _ in range(6):
        client.post("/login", data={"username": "j.jansen", "password": "x", "code": "000000"})
    samples = {
        (s.name, s.labels.get("event")): s.value
        for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
        for s in family.samples
    }
    assert samples[("anpr_security_events_total", "login_failed")] == 5
    assert samples[("anpr_security_events_total", "locked_out")] == 1
    assert samples[("anpr_security_events_total", "login_refused_locked")] == 1
