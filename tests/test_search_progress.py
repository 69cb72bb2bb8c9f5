"""Progress for long counts and searches (#23).

A search is run a UTC day of its window at a time (the store's partitions), which gives the
same rows in the same order as one search over the window, and tells how far it is. On the
pages a count or search that takes longer than `INLINE_S` sends the officer to a progress
page that rises to completion and then shows the answer; only that officer sees it. The
store is slowed (a sleep before each day's search) so that the progress can be watched."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit import AuditTrail
from central.requests.orders import Scope, Window
from central.requests.searches import Query, day_spans, run_search
from central.store import open_store
from central.store.partitioned import DayPartitionedStore
from central.web import search_jobs
from tests.conftest import logged_in, verified_passage
from tests.test_readable_pages import csrf, local, order_form
from wire import SigningKey

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
MIDNIGHT = datetime.combine(NOW.date(), datetime.min.time(), UTC)
DAYS = 5


def test_day_spans_cut_the_window_at_utc_midnights_and_cover_it_exactly():
    start = MIDNIGHT - timedelta(days=2, hours=3)
    spans = day_spans(start, MIDNIGHT + timedelta(hours=1))
    assert [(a.isoformat(), b.isoformat()) for a, b in spans] == [
        (start.isoformat(), (MIDNIGHT - timedelta(days=2)).isoformat()),
        ((MIDNIGHT - timedelta(days=2)).isoformat(), (MIDNIGHT - timedelta(days=1)).isoformat()),
        ((MIDNIGHT - timedelta(days=1)).isoformat(), MIDNIGHT.isoformat()),
        (MIDNIGHT.isoformat(), (MIDNIGHT + timedelta(hours=1)).isoformat()),
    ]
    assert day_spans(MIDNIGHT, MIDNIGHT + timedelta(hours=2)) == [
        (MIDNIGHT, MIDNIGHT + timedelta(hours=2))
    ]
    assert day_spans(MIDNIGHT, MIDNIGHT) == []


def test_a_search_day_by_day_finds_what_one_search_finds_and_tells_its_progress(web_setup):
    key, store = SigningKey.generate(), open_store(web_setup.config)
    moments = [MIDNIGHT - timedelta(days=d) for d in range(DAYS)]  # exactly at midnight
    moments += [m - timedelta(minutes=1) for m in moments] + [NOW - timedelta(minutes=5)]
    store.insert_batch([verified_passage(key, seq=seq, camera_id="cam-a", captured_at=at)
                        for seq, at in enumerate(moments, 1)], NOW)  # fmt: skip
    start, end = MIDNIGHT - timedelta(days=DAYS, hours=2), NOW
    scope = Scope((Window(start, end),), plates=("GBL12X",), cameras=("cam-a",))
    try:
        for query, whole in (
            (Query(start, end, plate="GBL12X"), store.search_plate("GBL12X", start, end)),
            (Query(start, end, cameras=("cam-a",)), store.search_window(["cam-a"], start, end)),
        ):
            told: list[tuple[int, int]] = []
            found = run_search(
                store, scope, query, ["cam-a"], lambda d, t, to=told: to.append((d, t))
            )
            keys = [(r.camera_id, r.seq) for r in found.rows]
            assert keys == [(r.camera_id, r.seq) for r in whole] and len(keys) == len(moments)
            parts = len(day_spans(start, end))
            assert told == [(done, parts) for done in range(1, parts + 1)] and parts == DAYS + 2
    finally:
        store.close()


@pytest.fixture
def accepted(web_setup, app):
    """An order over the last DAYS days, confirmed and accepted; the plate passed each day."""
    config = web_setup.config
    users = {role: logged_in(app.test_client(), config, (role,), f"u.{role}")
             for role in ("requester", "prosecutor", "officer")}  # fmt: skip
    accounts = Accounts(config.accounts_path)
    Register(accounts).authorise("u.officer", "unit-midden", "chief",
                                 date.today() + timedelta(days=90), NOW)  # fmt: skip
    accounts.close()
    key, store = SigningKey.generate(), open_store(config)
    store.insert_batch([verified_passage(key, seq=day + 1, camera_id="cam-a",
                                         captured_at=NOW - timedelta(days=day, hours=1))
                        for day in range(DAYS)], NOW)  # fmt: skip
    store.close()
    from central.cameras import CameraRegistry

    registry = CameraRegistry(config.cameras_path)  # rows are served only verified
    registry.add("cam-a", key.verify_key, NOW - timedelta(days=40))
    registry.close()
    requester, prosecutor, officer = users["requester"], users["prosecutor"], users["officer"]
    window = {"window_start": local(NOW - timedelta(days=DAYS)), "window_end": local(NOW),
              "order_time": local(NOW - timedelta(minutes=10)), "cameras": "cam-a"}  # fmt: skip
    made = requester.post("/requests", data=order_form(csrf(requester), **window))
    assert made.status_code == 302, made.data
    request_id = int(made.headers["Location"].rsplit("/", 1)[1].split("?")[0])
    token = re.search(r'name="csrf" value="([^"]+)"',
                      prosecutor.get("/prosecutor").get_data(as_text=True)).group(1)  # fmt: skip
    assert prosecutor.post(f"/prosecutor/requests/{request_id}/confirm",
                           data={"csrf": token, "reason": ""}).status_code == 302  # fmt: skip
    accept = {"csrf": csrf(officer), "declaration": "yes"}
    assert officer.post(f"/requests/{request_id}/accept", data=accept).status_code == 302
    return config, users, request_id


@pytest.fixture
def slow_store(monkeypatch):
    """Every search waits at each day, as a store of 4 million passages a day would;
    every count and search goes to its progress page."""
    monkeypatch.setattr(search_jobs, "INLINE_S", 0)
    for name in ("search_plate", "search_window"):
        original = getattr(DayPartitionedStore, name)

        def slow(self, *args, _original=original, **kwargs):
            time.sleep(0.25)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(DayPartitionedStore, name, slow)


def watch(client, job: str) -> list[dict]:
    seen, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        state = client.get(f"{job}/progress").get_json()
        seen.append(state)
        if state["ready"]:
            return seen
        time.sleep(0.03)
    raise AssertionError(f"the search did not end: {seen[-3:]}")


def test_a_long_count_shows_rising_progress_then_the_count(accepted, slow_store):
    config, users, request_id = accepted
    officer = users["officer"]
    search = {"csrf": csrf(officer), "plate": "GBL12X", "start": local(NOW - timedelta(days=DAYS)),
              "end": local(NOW)}  # fmt: skip
    started = officer.post(f"/requests/{request_id}/count", data=search)
    assert started.status_code == 302, started.data
    job = started.headers["Location"]
    assert re.fullmatch(rf"/requests/{request_id}/searches/[\w-]+", job)
    page = officer.get(job).get_data(as_text=True)  # while it runs
    assert 'id="search-progress"' in page and '<script src="/searches/progress.js"' in page
    seen = watch(officer, job)
    done = [s["done"] for s in seen if s["total"] is not None]
    assert done == sorted(done) and len(set(done)) >= 3, done
    assert officer.get("/searches/progress.js").mimetype == "text/javascript"
    # Nobody else follows the officer's search, not even another role on the request.
    assert users["requester"].get(job).status_code == 403
    other = logged_in(app_of(officer).test_client(), config, ("officer",), "u.other")
    accounts = Accounts(config.accounts_path)  # an authorised officer, but not the searcher
    Register(accounts).authorise("u.other", "unit-midden", "chief",
                                 date.today() + timedelta(days=90), NOW)  # fmt: skip
    accounts.close()
    assert other.get(f"/requests/{request_id}").status_code == 200
    assert other.get(f"{job}/progress").status_code == 404

    assert seen[-1]["done"] == seen[-1]["total"] == len(day_spans(NOW - timedelta(days=DAYS),
                                                                  NOW))  # fmt: skip
    answer = officer.get(job).get_data(as_text=True)
    assert re.search(r'id="match-count"[^>]*>\s*5\s*<', answer), answer[:2000]
    trail = AuditTrail(config.audit_path)
    (counted,) = trail.records({"consultation_counted"})
    trail.close()
    assert counted["details"]["count"] == 5 and counted["actor"] == "u.officer"
    assert officer.get(job).status_code == 200, "the answer is shown again on a reload"


def test_a_long_search_ends_on_its_results_and_a_refusal_says_why(accepted, slow_store):
    _config, users, request_id = accepted
    officer = users["officer"]
    window = {"csrf": csrf(officer), "start": local(NOW - timedelta(days=DAYS)), "end": local(NOW)}
    job = officer.post(f"/requests/{request_id}/search", data={**window, "plate": "GBL12X"})
    job = job.headers["Location"]
    assert watch(officer, job)[-1]["error"] is None
    opened = officer.get(job)
    assert opened.status_code == 302 and "/results/" in opened.headers["Location"]
    rows = officer.get(opened.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="row-count"[^>]*>\s*5\s*<', rows)

    refused = officer.post(f"/requests/{request_id}/count", data={**window, "plate": "XY999Z"})
    job = refused.headers["Location"]
    assert "not in the order's scope" in watch(officer, job)[-1]["error"]
    answer = officer.get(job)
    assert answer.status_code == 400 and b"not in the order&#39;s scope" in answer.data


def app_of(client):
    return client.application


@pytest.mark.slow
def test_the_officer_sees_the_count_progress_in_the_browser(tmp_path, accepted, app, slow_store):
    from tests.browser import ARTEFACTS, browser_page, serve, wait_for_true
    from tests.conftest import current_code

    config, _users, request_id = accepted
    name, password = "u.officer", "correct horse battery staple"  # as made by `logged_in`
    accounts = Accounts(config.accounts_path)
    (secret,) = accounts.db.execute("SELECT totp_secret FROM users WHERE username = ?",
                                    (name,)).fetchone()  # fmt: skip
    accounts.close()
    with serve(app) as url, browser_page(tmp_path) as page:
        page.goto(f"{url}/login?next=/requests/{request_id}")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", password)
        page.fill("input[name=code]", current_code(secret, 1))  # its first code is used
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/requests/{request_id}")
        form = page.locator("#search-form")
        form.locator("[name=start]").fill(local(NOW - timedelta(days=DAYS)))
        form.locator("[name=end]").fill(local(NOW))
        form.locator("[name=plate]").fill("GBL12X")
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#search-progress")
        wait_for_true(page, "Number(document.querySelector('#search-progress').value) >= 1")
        page.screenshot(path=str(ARTEFACTS / "search-progress.png"), full_page=True)
        page.wait_for_selector("#match-count", timeout=30_000)
        assert page.inner_text("#match-count").strip() == "5"
        page.screenshot(path=str(ARTEFACTS / "search-progress-done.png"), full_page=True)
