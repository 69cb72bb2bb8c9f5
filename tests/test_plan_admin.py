"""The plan's admin pages: the same rules as the command line, behind login, role and CSRF."""

import re

from tests.conftest import logged_in


def csrf_of(page: bytes) -> str:
    return re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()


def test_draft_add_sign_ratify_publish_through_the_pages(web_setup, app):
    client = logged_in(app.test_client(), web_setup.config,
                       roles=("plan_admin",), username="p.admin")  # fmt: skip
    csrf = csrf_of(client.get("/plan/admin").data)

    def post(action, **form):
        return client.post(f"/plan/admin/{action}", data={"csrf": csrf, **form})

    assert post("draft", year="2028").status_code == 302
    camera = dict(year="2028", camera_id="a2-vianen-s-1", kind="fixed", owner="Politie",
                  controller="korpschef", road="A2", direction="S", lane="1", lat="51.99",
                  lon="5.09", criterion="b",
                  motivation="Main north-south route, intensive traffic over the Lek.")  # fmt: skip
    assert post("add", **camera).status_code == 302
    refused = post("ratify", year="2028")
    assert (
        "not+signed" in refused.headers["Location"] or "not%20signed" in refused.headers["Location"]
    )
    assert post("sign", year="2028", camera_id="a2-vianen-s-1").status_code == 302
    assert post("ratify", year="2028").status_code == 302
    assert post("publish", year="2028").status_code == 302
    assert client.get("/api/v1/plan/2028").get_json()["version"]["state"] == "published"
    changes = client.get("/api/v1/plan/changes").get_json()["changes"]
    assert {c["actor"] for c in changes} == {"p.admin"}


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
