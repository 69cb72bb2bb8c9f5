"""The plan's admin pages: the same rules as the command line, behind login, role and CSRF;
motivations signed on the prosecutor's own account (#20)."""

import json
import re
from datetime import UTC, datetime

from central.accounts.users import Accounts
from central.audit import AuditTrail
from tests.conftest import current_code, logged_in

CAMERA = dict(year="2028", camera_id="a2-vianen-s-1", kind="fixed", owner="Politie",
              controller="korpschef", road="A2", direction="S", lane="1", lat="51.99",
              lon="5.09", criterion="b",
              motivation="Main north-south route, intensive traffic over the Lek.")  # fmt: skip


def csrf_of(page: bytes) -> str:
    return re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()


def prosecutor_client(app, config, username="p.visser", roles=("prosecutor",)):
    """A client logged in, with password and code, as a prosecutor with a full name."""
    accounts = Accounts(config.accounts_path)
    try:
        secret = accounts.add(username, "mr. P. Visser", "OM Midden-Nederland", list(roles),
                              "correct horse battery staple", datetime.now(UTC))  # fmt: skip
    finally:
        accounts.close()
    client = app.test_client()
    form = {"username": username, "password": "correct horse battery staple",
            "code": current_code(secret)}  # fmt: skip
    assert client.post("/login", data=form).status_code == 302
    return client


def admin_with_a_draft(app, config):
    """A plan admin's client, and a post() for their forms, with plan 2028 drafted."""
    admin = logged_in(app.test_client(), config, roles=("plan_admin",), username="p.admin")
    csrf = csrf_of(admin.get("/plan/admin").data)

    def post(action, **form):
        return admin.post(f"/plan/admin/{action}", data={"csrf": csrf, **form})

    assert post("draft", year="2028").status_code == 302
    assert post("add", **CAMERA).status_code == 302
    return admin, post


def sign_form(page: bytes) -> dict:
    digest = re.search(rb'name="motivation_sha256" value="([0-9a-f]{64})"', page).group(1)
    return {"csrf": csrf_of(page), "year": "2028", "camera_id": "a2-vianen-s-1",
            "motivation_sha256": digest.decode()}  # fmt: skip


def test_draft_add_sign_ratify_publish_through_the_pages(web_setup, app):
    admin, post = admin_with_a_draft(app, web_setup.config)
    refused = post("ratify", year="2028")
    assert "not%20signed" in refused.headers["Location"]
    assert post("sign", year="2028", camera_id="a2-vianen-s-1").status_code == 404

    prosecutor = prosecutor_client(app, web_setup.config)
    page = prosecutor.get("/plan/sign")
    assert b"Main north-south route" in page.data
    assert prosecutor.post("/plan/sign", data=sign_form(page.data)).headers["Location"] == (
        "/plan/sign"
    )
    assert b"signed by mr. P. Visser" in prosecutor.get("/plan/sign").data
    assert post("ratify", year="2028").status_code == 302
    assert post("publish", year="2028").status_code == 302
    published = admin.get("/api/v1/plan/2028").get_json()
    assert published["version"]["state"] == "published"
    (camera,) = published["fixed"]
    assert camera["signed_by"] == "mr. P. Visser" and "p.visser" not in json.dumps(published)
    assert "mr. P. Visser" in admin.get("/plan/2028").get_data(as_text=True)
    changes = admin.get("/api/v1/plan/changes").get_json()["changes"]
    assert {c["actor"] for c in changes} == {"p.admin", "p.visser"}

    trail = AuditTrail(web_setup.config.audit_path)
    try:
        (signed,) = [e for e in trail.entries() if e["action"] == "plan_motivation_signed"]
    finally:
        trail.close()
    assert signed["actor"] == "p.visser"
    assert (
        json.loads(signed["details"])["motivation_sha256"]
        == sign_form(page.data)["motivation_sha256"]
    )


def test_plan_admins_cannot_sign_and_signing_needs_csrf_and_the_text_shown(web_setup, app):
    admin, post = admin_with_a_draft(app, web_setup.config)
    form = sign_form(prosecutor_client(app, web_setup.config).get("/plan/sign").data)
    assert admin.get("/plan/sign").status_code == 403
    assert admin.post("/plan/sign", data={**form, "csrf": csrf_of(admin.get("/plan/admin").data)}
                      ).status_code == 403  # fmt: skip
    both = prosecutor_client(app, web_setup.config, "p.both", ("prosecutor", "plan_admin"))
    refused = both.post("/plan/sign", data={**form, "csrf": csrf_of(both.get("/plan/sign").data)})
    assert "did%20not%20write%20it" in refused.headers["Location"]

    prosecutor = prosecutor_client(app, web_setup.config, "p.bakker")
    page = prosecutor.get("/plan/sign").data
    assert prosecutor.post("/plan/sign", data={**sign_form(page), "csrf": "forged"}
                           ).status_code == 403  # fmt: skip
    post("revise", year="2028", camera_id="a2-vianen-s-1",
         motivation="Revised after the page was shown: a different reason altogether.")  # fmt: skip
    stale = prosecutor.post("/plan/sign", data=sign_form(page))
    assert "changed%20since%20it%20was%20shown" in stale.headers["Location"]
    assert b"awaiting a prosecutor" in admin.get("/plan/admin").data


def test_admin_pages_need_the_role_and_a_csrf_token(web_setup, app):
    anonymous = app.test_client()
    assert anonymous.get("/plan/admin").status_code == 302
    maintainer = logged_in(app.test_client(), web_setup.config)
    assert maintainer.get("/plan/admin").status_code == 403
    admin = logged_in(app.test_client(), web_setup.config, roles=("plan_admin",), username="p.a")
    assert admin.post("/plan/admin/draft", data={"year": "2029"}).status_code == 403
    assert (
        admin.post("/plan/admin/draft", data={"year": "2029", "csrf": "forged"}).status_code == 403
    )
