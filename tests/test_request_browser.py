"""A request walked through the pages in a real headless Chromium, then the trail checked.

Registration with an oral order whose written order comes late (results withheld), a
refusal and hand-over because the first officer is on the investigation, searches, the
late written order attached, delivery, closing; then the auditor's page verifies the chain,
and a tampered entry is found at its position.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

from central.accounts.register import Register
from central.accounts.users import Accounts
from central.cameras import CameraRegistry
from central.requests.forms import ZONE
from central.store import open_store
from central.web.labels import label
from tests.browser import ARTEFACTS, Logins, browser_page, serve, wait_for_true
from tests.conftest import verified_passage
from wire import SigningKey

PASSWORD = "correct horse battery staple"


def people(config) -> dict[str, str]:
    """Requester, officer on the team, officer of another unit, auditor: TOTP secrets."""
    accounts = Accounts(config.accounts_path)
    now = datetime.now(UTC)
    secrets = {}
    for name, unit, role in (("r.requester", "unit-midden", "requester"),
                             ("o.team", "unit-midden", "officer"),
                             ("o.north", "unit-noord", "officer"),
                             ("a.auditor", "unit-midden", "auditor")):  # fmt: skip
        secrets[name] = accounts.add(name, name, unit, [role], PASSWORD, now)
    register = Register(accounts)
    for name, unit in (("o.team", "unit-midden"), ("o.north", "unit-noord")):
        register.authorise(name, unit, "chief", date.today() + timedelta(days=180), now)
    accounts.close()
    return secrets


def test_a_request_from_oral_order_to_close_and_the_audit_chain(tmp_path, web_setup, app):
    secrets = people(web_setup.config)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    key = SigningKey.generate()
    registry = CameraRegistry(web_setup.config.cameras_path)  # rows are served only verified
    registry.add("test-cam-01", key.verify_key, now)
    registry.close()
    store = open_store(web_setup.config)
    store.insert_batch([verified_passage(key, seq=1, captured_at=now - timedelta(days=2))], now)
    store.close()
    # What a datetime-local picker takes: Dutch wall-clock time (#23).
    utc = lambda moment: moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")  # noqa: E731

    with serve(app) as url, browser_page(tmp_path) as page:
        log_in = Logins(page, url, secrets, PASSWORD)

        def log_out() -> None:
            page.click("form[action='/logout'] button")
            page.wait_for_url(f"{url}/login")

        def step(action: str, **fields) -> None:
            form = page.locator(f"form[action$='/{action}']")
            for name, value in fields.items():
                if value is True:
                    form.locator(f"input[name={name}]").check()
                else:
                    form.locator(f"[name={name}]").fill(value)
            form.locator("button[type=submit]").click()
            page.wait_for_load_state()

        log_in("r.requester")
        page.click("text=Register a request")
        form = {
            "reference": "OM-2026-0042", "prosecutor": "mr. A. Jansen",
            "order_time": utc(now - timedelta(days=4)), "investigation": "Zwaluw",
            "case_number": "PL0900-2026-42", "crime": "armed robbery",
            "description": "dark Volvo GBL12X", "necessity": "route of the getaway car",
            "team": "o.team", "plates": "GBL12X",
            "window_start": utc(now - timedelta(days=3)),
            "window_end": utc(now - timedelta(days=1)),
        }  # fmt: skip
        for name, value in form.items():
            page.fill(f"[name={name}]", value)
        page.select_option("select[name=order_form]", "oral")
        page.select_option("select[name=legal_basis]", "detention_crime")
        page.select_option("select[name=crime_type]", "robbery")
        page.click("form[action='/requests'] button[type=submit]")
        page.wait_for_selector("#late")  # oral order of 4 days ago: written order overdue
        request_url = page.url
        log_out()

        log_in("o.team")
        page.goto(request_url)
        step("accept", declaration=True)
        assert "registered on this investigation" in page.inner_text("[role=alert]")
        step("hand_over", to="o.north", reason="o.team works on Zwaluw")
        assert page.inner_text("#assignee") == "o.north"
        log_out()

        log_in("o.north")
        page.goto(request_url)
        step("accept", declaration=True)
        assert page.inner_text("#executor") == "o.north"
        search = {"start": utc(now - timedelta(days=3)), "end": utc(now - timedelta(days=1))}
        step("count", plate="XY999Z", **search)
        assert "not in the order's scope" in page.inner_text("[role=alert]")
        step("count", plate="GBL12X", **search)
        assert page.locator("#count-withheld").count() == 1, "a count is a result too"
        page.click("#open-results")
        assert "written order is overdue" in page.inner_text("#results-withheld")
        assert page.inner_text("#row-count") == "0"
        log_out()

        log_in("r.requester")
        page.goto(request_url)
        order_file = tmp_path / "written-order.pdf"
        order_file.write_bytes(b"%PDF-1.4 written order OM-2026-0042")
        page.set_input_files("input[name=document]", str(order_file))
        page.click("form[action$='/written_order'] button[type=submit]")
        page.wait_for_selector("#history >> text=written-order.pdf")
        assert page.locator("#withheld").count() == 0
        log_out()

        log_in("o.north")
        page.goto(request_url)
        step("count", plate="GBL12X", **search)
        assert page.inner_text("#match-count") == "1"
        page.click("#open-results")
        assert page.inner_text("#row-count") == "1" and "GBL12X" in page.inner_text("#rows")
        page.goto(request_url)
        step("deliver")
        assert "verify the 1 plate-search rows" in page.inner_text("[role=alert]")
        page.goto(request_url)
        page.click("#result-sets a >> nth=-1")
        page.click("#verify-link")
        page.wait_for_selector(".crop.current img")
        wait_for_true(page, "document.querySelector('.crop img').complete")
        page.keyboard.press("y")
        page.wait_for_selector(".crop.correct")
        page.goto(request_url)
        step("deliver")
        step("close", reason="delivered to the team")
        assert page.inner_text("#state") == "Closed"
        page.screenshot(path=str(ARTEFACTS / "request-closed.png"), full_page=True)
        log_out()

        log_in("a.auditor")
        page.goto(f"{url}/audit")
        assert page.locator("#audit-intact").count() == 1
        actions = page.inner_text("#entries")
        for action in (
            "consultation_counted",
            "verification",
            "request_registered",
            "execution_refused",
            "request_handed_over",
            "request_accepted",
            "consultation_refused",
            "consultation",
            "written_order_attached",
            "request_delivered",
            "request_closed",
        ):
            assert label(action, "audit_action") in actions, action  # as labelled (#23)
        assert "outside the order" in page.inner_text("#unusual")

        raw = sqlite3.connect(web_setup.config.audit_path)
        raw.execute("DROP TRIGGER entries_no_update")  # someone with the file, not the app
        (seq,) = raw.execute(
            "SELECT seq FROM entries WHERE action = 'consultation' ORDER BY seq LIMIT 1"
        ).fetchone()
        raw.execute(
            "UPDATE entries SET details = replace(details, 'GBL12X', 'AB123C') WHERE seq = ?",
            (seq,),
        )
        raw.commit()
        raw.close()
        page.goto(f"{url}/audit")
        broken = page.inner_text("#audit-broken")
        assert f"entry {seq}: content altered" in broken
        page.screenshot(path=str(ARTEFACTS / "audit-broken.png"), full_page=True)
