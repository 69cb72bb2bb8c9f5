"""Bulk photo approval across review pages (#23): a result set larger than one review page
is reviewed page by page, the officer's choices (photos left out, blur boxes added) carried
from page to page, and approved in one act from the last page. The act approves only
photos the officer was shown, with the boxes shown: one unseen page refuses the whole act.
"""

from __future__ import annotations

import re

import pytest

from central.audit import AuditTrail
from central.requests.store import Requests
from central.web.results import REVIEW_PER_PAGE
from tests.conftest import current_code
from tests.test_photo_bulk import ROWS, executed, shown_images  # noqa: F401 - the fixture
from tests.test_readable_pages import csrf

PAGES = -(-ROWS // REVIEW_PER_PAGE)


def approved(config, request_id: int) -> dict:
    requests = Requests(config.requests_path)
    try:
        return requests.photos.approved(request_id)
    finally:
        requests.close()


def test_a_range_act_with_a_page_never_shown_approves_nothing(executed):  # noqa: F811
    config, users, request_id, audit_seq = executed
    officer = users["officer"]
    base = f"/requests/{request_id}/results/{audit_seq}/photos"
    first = officer.get(f"{base}/review?scope=all").get_data(as_text=True)
    assert f"Page 1 of {PAGES}" in first and 'id="approve-range"' not in first
    assert len(shown_images(officer, first)) == REVIEW_PER_PAGE  # page 1 seen, no other
    whole = {"csrf": csrf(officer), "whole": "1", "scope": "range", "first": "1",
             "last": str(ROWS)}  # fmt: skip
    answer = officer.post(f"{base}/approve", data=whole)
    assert answer.status_code == 400 and f"cam-a/{REVIEW_PER_PAGE + 1}".encode() in answer.data
    assert approved(config, request_id) == {}


@pytest.mark.slow
def test_the_officer_reviews_four_pages_and_approves_them_in_one_act(tmp_path, executed, app):  # noqa: F811
    from central.accounts.users import Accounts
    from tests.browser import ARTEFACTS, browser_page, serve, wait_for_true

    config, _users, request_id, audit_seq = executed
    accounts = Accounts(config.accounts_path)
    (secret,) = accounts.db.execute("SELECT totp_secret FROM users WHERE username = ?",
                                    ("u.officer",)).fetchone()  # fmt: skip
    accounts.close()
    all_loaded = ("[...document.querySelectorAll('.review img')]"
                  ".every(i => i.complete && i.naturalWidth > 0)")  # fmt: skip
    photos = f"/requests/{request_id}/results/{audit_seq}/photos"
    with serve(app) as url, browser_page(tmp_path) as page:
        page.goto(f"{url}/login?next={photos}")
        page.fill("input[name=username]", "u.officer")
        page.fill("input[name=password]", "correct horse battery staple")
        page.fill("input[name=code]", current_code(secret, 1))  # its first code is used
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}{photos}")
        page.click("#review-all-set")
        assert f"{ROWS} photos chosen" in page.inner_text("#review-count")
        wait_for_true(page, all_loaded)
        page.uncheck("#review-cam-a-2 input.chosen")  # left out
        page.click("#review-next")
        assert "1 photo left out so far" in page.inner_text("#left-out")
        wait_for_true(page, all_loaded)
        boxes = "input[name='boxes:cam-a/70']"
        page.fill(boxes, "1,1,20,20")
        page.dispatch_event(boxes, "change")  # the preview is sent again, with the box
        wait_for_true(page, "document.querySelector('#review-cam-a-70 img').src"
                            ".includes('boxes=1%2C1%2C20%2C20') && "
                            "document.querySelector('#review-cam-a-70 img').complete")  # fmt: skip
        page.click("#review-next")
        wait_for_true(page, all_loaded)
        page.click("#review-previous")  # back: the box is still there
        assert page.input_value(boxes) == "1,1,20,20"
        page.click("#review-next")
        page.click("#review-next")
        assert f"Page {PAGES} of {PAGES}" in page.inner_text("#review-count")
        wait_for_true(page, all_loaded)
        page.screenshot(path=str(ARTEFACTS / "photo-review-last-page.png"), full_page=True)
        page.click("#approve-range")
        page.wait_for_url(f"{url}{photos}")
        page.screenshot(path=str(ARTEFACTS / "photo-review-approved.png"), full_page=True)

    done = approved(config, request_id)
    assert len(done) == ROWS - 1 and ("cam-a", 2) not in done
    assert done["cam-a", 70]["boxes"] == [[1, 1, 20, 20]]
    trail = AuditTrail(config.audit_path)
    entries = trail.records({"photo_approved"})
    trail.close()
    assert len(entries) == ROWS - 1
    assert {e["details"]["reviewed_set"] for e in entries} == {ROWS - 1}
    assert re.fullmatch(r"cam-a/\d+", entries[0]["details"]["passage"])
