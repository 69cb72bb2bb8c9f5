"""Every page shows the same navigation bar, offering exactly the pages the guards admit."""

from __future__ import annotations

import re

import pytest

from central import create_app
from central.web.navigation_bar import PAGES
from tests.conftest import logged_in, write_central_config


@pytest.fixture
def central(tmp_path):
    return write_central_config(tmp_path, broker_port=1883).config


def offered(page: str) -> list[str]:
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S)
    assert nav, "no navigation bar"
    return re.findall(r'href="([^"]+)"', nav.group(1))


def test_every_listed_page_is_guarded(central):
    app = create_app(central)
    adapter = app.url_map.bind("localhost")
    for _, path in PAGES:
        endpoint, _ = adapter.match(path, method="GET")
        assert getattr(app.view_functions[endpoint], "roles", ()), path


@pytest.mark.parametrize(
    ("roles", "page", "expected"),
    [
        (("maintainer",), "/health", ["/", "/health"]),
        (("calamity_coordinator",), "/calamity", ["/", "/alerts", "/calamity"]),
        (("plan_admin",), "/plan/admin", ["/", "/health", "/plan/admin"]),
        (("auditor",), "/requests", ["/", "/requests", "/health", "/audit", "/security"]),
        (("operator",), "/alerts", ["/", "/alerts"]),
    ],
)
def test_each_role_is_offered_its_own_pages_and_no_other(central, roles, page, expected):
    client = logged_in(create_app(central).test_client(), central, roles)
    response = client.get(page)
    assert response.status_code == 200
    assert offered(response.get_data(as_text=True)) == expected
    for path in expected:  # and each offered page opens
        assert client.get(path).status_code == 200, path


def test_the_login_page_offers_nothing_before_logging_in(central):
    page = create_app(central).test_client().get("/login").get_data(as_text=True)
    assert "<nav>" not in page and "Log out" not in page


def test_a_coordinator_moves_between_pages_by_the_bar_and_logs_out(central, tmp_path):
    from tests.browser import ARTEFACTS, Logins, browser_page, serve
    from tests.conftest import make_user

    name, password, secret = make_user(central, "c.coordinator", ("calamity_coordinator",))
    with serve(create_app(central)) as url, browser_page(tmp_path) as page:
        Logins(page, url, {name: secret}, password)(name, "/calamity")
        page.click("nav >> text=Alerts")
        page.wait_for_url(f"{url}/alerts")
        assert page.inner_text("h1") == "Alerts"
        page.click("nav >> text=Calamity buffer")
        page.wait_for_url(f"{url}/calamity")
        page.screenshot(path=str(ARTEFACTS / "navigation-calamity.png"), full_page=True)
        assert [a.inner_text() for a in page.query_selector_all("nav a")] == [
            "Home", "Alerts", "Calamity buffer"
        ]  # fmt: skip
        page.click("form[action='/logout'] button")
        page.wait_for_url(f"{url}/**")
        assert page.query_selector("nav") is None
