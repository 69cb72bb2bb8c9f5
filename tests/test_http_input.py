"""Malformed HTTP input is the client's mistake: a 400 or 413 with a reason, never a 500; and
every response carries the headers that stop a browser doing what our pages never do."""

from __future__ import annotations

from datetime import UTC, datetime

from central import MAX_REQUEST_BYTES
from tests.conftest import confirm_order_in
from tests.test_request_access import site  # noqa: F401 - the fixture
from tests.test_requests import order

DEEP = "[" * 100_000 + "]" * 100_000


def test_deep_json_to_the_unauthenticated_enrollment_is_a_400(client):
    response = client.post("/api/v1/enroll", data=DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["detail"]


def test_enrollment_needs_a_json_object(client):
    for body in ("[1, 2]", '"x"', "{", ""):
        response = client.post("/api/v1/enroll", data=body, content_type="application/json")
        assert response.status_code == 400, body


def test_deep_json_and_wrong_types_to_requests_and_searches_are_400s(site):  # noqa: F811
    requester = site.client("r.requester")
    headers = {"X-CSRF-Token": requester.csrf}
    deep = requester.post("/api/v1/requests", data=DEEP, content_type="application/json",
                          headers=headers)  # fmt: skip
    assert deep.status_code == 400
    request_id = requester.post("/api/v1/requests", json=order().as_json(),
                                headers=headers).get_json()["id"]  # fmt: skip
    confirm_order_in(site.config, request_id, datetime.now(UTC))
    officer = site.client("o.north")
    headers = {"X-CSRF-Token": officer.csrf}
    officer.post(f"/api/v1/requests/{request_id}/steps",
                 json={"step": "accept", "declaration": True}, headers=headers)  # fmt: skip
    window = order().scope.windows[0]
    query = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    searches = f"/api/v1/requests/{request_id}/searches"
    wrong_leg = {"cameras": "a", "start": [], "end": "x"}
    for wrong in ({"plate": [1]}, {"plate": {"a": 1}}, {"cameras": [1, 2]}, {"legs": "x"},
                  {"legs": [wrong_leg]}, {"plate": None}):  # fmt: skip
        response = officer.post(searches, json={**query, **wrong}, headers=headers)
        assert response.status_code == 400, wrong
    fine = officer.post(searches, json={**query, "plate": "GBL12X"}, headers=headers)
    assert fine.status_code == 200


def test_bodies_over_the_limit_are_refused_before_they_are_read(client):
    huge = b"x" * (MAX_REQUEST_BYTES + 1)
    response = client.post("/api/v1/enroll", data=huge, content_type="application/json")
    assert response.status_code == 413


def test_every_response_carries_the_security_headers(client):
    for path in ("/login", "/api/v1/cameras", "/healthz", "/no-such-page"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self' 'nonce-" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in headers, "HSTS only over HTTPS"
    secure = client.get("/login", base_url="https://central.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_inline_scripts_carry_this_responses_nonce(site):  # noqa: F811
    site.person("c.operator", "operator")
    operator = site.client("c.operator", home="/alerts")
    response = operator.get("/alerts")
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert len(nonce) >= 16 and f'<script nonce="{nonce}">'.encode() in response.data
    again = operator.get("/alerts").headers["Content-Security-Policy"]
    assert nonce not in again, "a fresh nonce per response"


def test_after_login_a_person_stays_on_this_site(web_setup, client):
    """`next` is where the login form sends you: never another site, never a broken header."""
    from tests.conftest import current_code, make_user

    targets = ("//evil.example/x", "/\\evil.example/x", "https://evil.example",
               "/requests\r\nSet-Cookie: x=1", "/health")  # fmt: skip
    for number, target in enumerate(targets):
        username, password, secret = make_user(web_setup.config, f"m.person{number}")
        form = {"username": username, "password": password, "next": target,
                "code": current_code(secret)}  # fmt: skip
        response = client.post("/login", data=form)
        assert response.status_code == 302, target
        expected = "/health" if target == "/health" else "/"
        assert response.headers["Location"] == expected, target


def test_a_path_with_an_empty_segment_names_nothing(client):
    """Werkzeug merged `//` and redirected (308) to a path another route took, before any
    role check: `/packages//progress` went to `/packages/progress` (found by fuzzing)."""
    for path in ("/packages//progress", "/health/cameras//passages.svg", "/requests//results/1"):
        response = client.get(path)
        assert response.status_code == 404, path
