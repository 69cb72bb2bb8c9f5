"""Bulk photo approval with a review step, and a package built with progress (#23).

Through the Flask client with real logins: the officer picks a range of photos, the review
page sends each blurred photo to their screen, and one POST approves exactly the reviewed
set, refusing any photo not shown (or shown with other boxes) and approving nothing then;
each approved photo has its own audit entry. The requester's package of a few hundred rows
is built in the background while its progress rises to completion, then downloaded once."""

from __future__ import annotations

import io
import re
import time
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest

from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit import AuditTrail
from central.requests import package as package_module
from central.store import open_store
from tests.conftest import logged_in, verified_passage
from tests.test_readable_pages import csrf, local, order_form
from tests.test_search_browser import put_on_the_map
from tests.test_searches import noise_jpeg
from wire import SigningKey

T = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
ROWS = 240


@pytest.fixture
def executed(web_setup, app):
    """A request with photos wanted, accepted and searched by time and place over cam-a:
    ROWS passages, each with a small overview photo."""
    config = web_setup.config
    users = {role: logged_in(app.test_client(), config, (role,), f"u.{role}")
             for role in ("requester", "prosecutor", "officer")}  # fmt: skip
    accounts = Accounts(config.accounts_path)
    Register(accounts).authorise("u.officer", "unit-midden", "chief",
                                 date.today() + timedelta(days=90), datetime.now(UTC))  # fmt: skip
    accounts.close()
    key, store, now = SigningKey.generate(), open_store(config), datetime.now(UTC)
    overview = noise_jpeg(160, 90, seed=3)
    store.insert_batch([verified_passage(
        key, seq=seq, camera_id="cam-a", captured_at=T + timedelta(seconds=10 * seq),
        plate_box=(60, 60, 30, 8), overview_jpeg=overview,
    ) for seq in range(1, ROWS + 1)], now)  # fmt: skip
    store.close()
    put_on_the_map(config, now, key)
    requester, prosecutor, officer = users["requester"], users["prosecutor"], users["officer"]
    made = requester.post("/requests", data=order_form(csrf(requester)))
    assert made.status_code == 302, made.data
    request_id = int(made.headers["Location"].rsplit("/", 1)[1].split("?")[0])
    token = re.search(r'name="csrf" value="([^"]+)"',
                      prosecutor.get("/prosecutor").get_data(as_text=True)).group(1)  # fmt: skip
    assert prosecutor.post(f"/prosecutor/requests/{request_id}/confirm",
                           data={"csrf": token, "reason": ""}).status_code == 302  # fmt: skip
    token = csrf(officer)
    accept = {"csrf": token, "declaration": "yes"}
    assert officer.post(f"/requests/{request_id}/accept", data=accept).status_code == 302
    window = {"start": local(T - timedelta(hours=1)), "end": local(T + timedelta(hours=2))}
    search = {"csrf": token, "plate": "", "camera": "cam-a", **window}
    opened = officer.post(f"/requests/{request_id}/search", data=search)
    assert opened.status_code == 302, opened.data
    audit_seq = int(opened.headers["Location"].rsplit("/", 1)[1])
    return config, users, request_id, audit_seq


def shown_images(client, html: str) -> list[str]:
    """Fetch each photo the page names, as a browser would; returns their passages."""
    passages = []
    for src in re.findall(r'<img src="(/requests/\d+/photos/[^"]+)"', html):
        answer = client.get(src.replace("&amp;", "&"))
        assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
        passages.append(re.search(r"/photos/(.+)\.jpg", src).group(1))
    return passages


def test_bulk_approval_approves_exactly_the_reviewed_photos_and_refuses_unshown_ones(executed):
    config, users, request_id, audit_seq = executed
    officer = users["officer"]
    base = f"/requests/{request_id}/results/{audit_seq}/photos"
    assert "review-range" in officer.get(base).get_data(as_text=True)

    review = officer.get(f"{base}/review?scope=range&first=3&last=7")
    html = review.get_data(as_text=True)
    assert review.status_code == 200 and "5 photos chosen" in html
    reviewed = shown_images(officer, html)
    assert reviewed == [f"cam-a/{seq}" for seq in range(3, 8)]
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    approve = f"{base}/approve"

    # No CSRF token: refused, nothing approved.
    assert officer.post(approve, data={"passage": reviewed}).status_code == 403
    # One photo the review page did not show (cam-a/9): the whole act is refused.
    answer = officer.post(approve, data={"csrf": token, "passage": [*reviewed, "cam-a/9"]})
    assert answer.status_code == 400 and b"cam-a/9" in answer.data
    # A shown photo with boxes it was not shown with: refused too.
    answer = officer.post(approve, data={"csrf": token, "passage": reviewed,
                                         "boxes:cam-a/4": "1,1,20,20"})  # fmt: skip
    assert answer.status_code == 400
    trail = AuditTrail(config.audit_path)
    assert trail.records({"photo_approved"}) == []

    # The officer adds a box to cam-a/4 (its preview is sent again) and unticks cam-a/6.
    assert (
        officer.get(f"/requests/{request_id}/photos/cam-a/4.jpg?boxes=1,1,20,20").status_code == 200
    )
    chosen = [p for p in reviewed if p != "cam-a/6"]
    answer = officer.post(approve, data={"csrf": token, "passage": chosen,
                                         "boxes:cam-a/4": "1,1,20,20"})  # fmt: skip
    assert answer.status_code == 302
    page = officer.get(base).get_data(as_text=True)
    assert page.count("approved by u.officer") == 4

    entries = trail.records({"photo_approved"})  # one entry per photo, naming its set's size
    assert sorted(e["details"]["passage"] for e in entries) == sorted(chosen)
    assert all(e["details"]["reviewed_set"] == 4 and e["actor"] == "u.officer" for e in entries)
    (boxed,) = [e for e in entries if e["details"]["passage"] == "cam-a/4"]
    assert boxed["details"]["officer_boxes"] == [[1, 1, 20, 20]]
    trail.close()

    # Someone else (the requester) cannot use the officer's review.
    other = users["requester"].post(approve, data={"csrf": csrf(users["requester"]),
                                                   "passage": ["cam-a/6"]})  # fmt: skip
    assert other.status_code == 403


def test_the_review_is_paged_with_the_count(executed):
    _config, users, request_id, audit_seq = executed
    officer = users["officer"]
    base = f"/requests/{request_id}/results/{audit_seq}/photos/review?scope=all"
    first = officer.get(base).get_data(as_text=True)
    assert f"{ROWS} photos chosen" in first and "Page 1 of 4: photos 1 to 60." in first
    assert len(re.findall(r'class="chosen" name="passage"', first)) == 60
    last = officer.get(f"{base}&rpage=3").get_data(as_text=True)
    assert "photos 181 to 240." in last and "review-next" not in last
    ticked = officer.get(
        f"/requests/{request_id}/results/{audit_seq}/photos/review?scope=chosen"
        "&passage=cam-a/2&passage=cam-a/11"
    ).get_data(as_text=True)
    assert "2 photos chosen" in ticked


def test_a_package_is_built_with_rising_progress_and_downloaded_once(executed, monkeypatch):
    config, users, request_id, _audit_seq = executed
    officer, requester = users["officer"], users["requester"]
    deliver = officer.post(f"/requests/{request_id}/deliver", data={"csrf": csrf(officer)})
    assert deliver.status_code == 302, deliver.data
    slow = package_module._add_row

    def add_row(*args, **kwargs):  # a few ms a row: the build lasts long enough to watch
        time.sleep(0.003)
        return slow(*args, **kwargs)

    monkeypatch.setattr(package_module, "_add_row", add_row)
    issued = requester.post(f"/requests/{request_id}/package", data={"csrf": csrf(requester)})
    assert issued.status_code == 302
    link = issued.headers["Location"]
    page = requester.get(link)
    assert page.status_code == 200 and b"/packages/progress.js" in page.data
    assert b'<script src="/packages/progress.js"' in page.data, "a served script, no inline one"
    seen, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        state = requester.get(f"{link}/progress").get_json()
        seen.append(state)
        if state["ready"]:
            break
        time.sleep(0.05)
    assert seen[-1]["ready"] and seen[-1]["error"] is None
    done = [s["done"] for s in seen if s["total"] is not None]
    assert done == sorted(done) and len(set(done)) >= 3, done
    assert seen[-1]["done"] == seen[-1]["total"] == ROWS
    assert users["officer"].get(f"{link}/progress").status_code == 403, "the requester's only"

    download = requester.get(link)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    download.close()  # hands the spooled file back
    assert len([n for n in archive.namelist() if n.startswith("crops/")]) == ROWS
    trail = AuditTrail(config.audit_path)
    (entry,) = trail.records({"package_downloaded"})
    assert entry["details"]["supplied"]["rows"] == ROWS
    assert entry["details"]["supplied"]["bytes"] == len(download.data)
    # The same link again starts a new build (a new download), never the old file twice.
    again = requester.get(link)
    assert again.status_code == 200 and again.mimetype == "text/html"
    while not requester.get(f"{link}/progress").get_json()["ready"]:
        time.sleep(0.05)
    with requester.get(link) as second:
        assert second.mimetype == "application/zip"
    assert len(trail.records({"package_downloaded"})) == 2
    trail.close()
