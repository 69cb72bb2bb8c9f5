"""The plan built with the CLI, published as CSV, JSON, a printable page and a map, and
the plan, map and health pages rendered in a real headless Chromium."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from central import create_app
from central.__main__ import main as central
from central.accounts.users import Accounts
from central.audit import AuditTrail
from provisioning.__main__ import main as provision
from tests.browser import ARTEFACTS, browser_page, serve
from tests.conftest import current_code, logged_in, make_user, write_central_config

YEAR = 2027
CAMERAS = {
    "a12-oudenrijn-e-1": ("fixed", "b", 52.07, 5.06, "A12", "E"),
    "a2-everdingen-s-1": ("fixed", "a", 51.97, 5.14, "A2", "S"),
    "n201-prov-3": ("third_party", "b", 52.22, 4.85, "N201", "W"),
    "mobile-07": ("mobile", "c", 52.2, 4.8, "N201", "N"),
}


def prosecutor_secrets(config, tmp_path, username="a.jansen", roles=("prosecutor",)):
    """A prosecutor's account, and a file only its owner reads with password and code."""
    accounts = Accounts(config.accounts_path)
    try:
        secret = accounts.add(username, "mr. A. Jansen", "OM Midden-Nederland", list(roles),
                              "correct horse battery staple", datetime.now(UTC))  # fmt: skip
    finally:
        accounts.close()
    path = tmp_path / f"{username}.secrets"
    path.write_text(f"correct horse battery staple\n{current_code(secret)}\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def published(tmp_path):
    setup = write_central_config(tmp_path, broker_port=1883)
    base = ["--config", str(setup.config_path)]

    def run(*args: str) -> None:
        assert central(base + list(args)) == 0, args

    keys = tmp_path / "keys"
    for camera_id in [*CAMERAS, "speed-cam-99"]:
        provision(["camera-key", "--camera-id", camera_id, "--out", str(keys)])
        run("camera-add", "--camera-id", camera_id, "--public-key", str(keys / f"{camera_id}.pub"))
    run("plan-draft", "--year", str(YEAR), "--by", "plan-admin")
    run("plan-location", "--id", "oudenrijn", "--name", "Knooppunt Oudenrijn", "--road", "A12",
        "--lat", "52.07", "--lon", "5.06", "--by", "plan-admin")  # fmt: skip
    run("plan-section", "--id", "oudenrijn-e", "--location", "oudenrijn",
        "--name", "eastbound exit 17", "--direction", "E", "--by", "plan-admin")  # fmt: skip
    for camera_id, (kind, criterion, lat, lon, road, direction) in CAMERAS.items():
        run("plan-add", "--year", str(YEAR), "--camera-id", camera_id, "--kind", kind,
            "--owner", "Politie Midden-Nederland", "--controller", "korpschef",
            "--lat", str(lat), "--lon", str(lon), "--road", road, "--direction", direction,
            "--criterion", criterion, "--by", "plan-admin",
            "--motivation", f"{road}: documented serious crime on this route.")  # fmt: skip
    secrets = prosecutor_secrets(setup.config, tmp_path)
    run("plan-sign", "--year", str(YEAR), "--as", "a.jansen", "--secrets", str(secrets),
        *[arg for camera_id in CAMERAS for arg in ("--camera-id", camera_id)])  # fmt: skip
    run("plan-accept", "--camera-id", "a12-oudenrijn-e-1", "--reads", "200", "--correct", "194",
        "--by", "technician-4")  # fmt: skip
    run("plan-ratify", "--year", str(YEAR), "--by", "hoofdofficier")
    run("plan-publish", "--year", str(YEAR), "--by", "plan-admin")
    return setup


def test_csv_json_and_page(published):
    client = create_app(published.config).test_client()
    rows = list(csv.DictReader(io.StringIO(client.get(f"/plan/{YEAR}.csv").get_data(as_text=True))))
    assert sorted(r["camera_id"] for r in rows) == sorted(CAMERAS)
    assert {r["camera_id"]: r["criterion"] for r in rows}["a2-everdingen-s-1"] == "a"
    assert all(r["signed_by"] == "mr. A. Jansen" for r in rows)

    body = client.get(f"/api/v1/plan/{YEAR}").get_json()
    assert body["version"]["state"] == "published"
    assert body["fixed"][0]["signed_by"] == "mr. A. Jansen", "the name, never the account"
    assert "a.jansen" not in json.dumps(body) and "motivation_sha256" not in json.dumps(body)
    assert body["locations"][0]["sections"][0]["name"] == "eastbound exit 17"
    assert client.get("/api/v1/plan").get_json()["hotlist_only"] == ["speed-cam-99"]
    assert client.get("/api/v1/plan/1999").status_code == 404

    page = client.get(f"/plan/{YEAR}").get_data(as_text=True)
    assert "a12-oudenrijn-e-1" in page and "194/200 passed" in page
    assert "mobile-07" not in page.split("Mobile cameras")[0], "mobile cameras by number only"
    assert "speed-cam-99" in page.split("outside the plan")[1]
    auditor = logged_in(create_app(published.config).test_client(), published.config,
                        ("auditor",), "a.auditor")  # fmt: skip
    changes = auditor.get("/api/v1/plan/changes").get_json()["changes"]
    assert {"plan-admin", "hoofdofficier", "a.jansen", "technician-4"} <= {
        c["actor"] for c in changes
    }


def test_cli_refuses_what_the_plan_rules_forbid(published, capsys):
    base = ["--config", str(published.config_path)]
    args = ["plan-add", "--year", str(YEAR), "--camera-id", "late-cam-1", "--kind", "fixed",
            "--owner", "o", "--controller", "c", "--lat", "52", "--lon", "5", "--road", "A1",
            "--direction", "E", "--criterion", "a", "--by", "x",
            "--motivation", "A motivation long enough to be a real one."]  # fmt: skip
    assert central(base + args) == 2
    assert "published, not draft" in capsys.readouterr().err


@pytest.mark.slow
def test_plan_map_and_health_pages_render_in_chromium(published, tmp_path):
    app = create_app(published.config)
    with serve(app) as url, browser_page(tmp_path) as page:
        page.goto(f"{url}/plan/{YEAR}")
        assert page.title() == f"Camera plan {YEAR}"
        # The Leaflet map (#23): its cameras clustered at first, apart when zoomed in.
        from tests.test_map import split_clusters

        split_clusters(page, "#plan-map", 3)  # fixed and third-party only
        assert page.locator("#plan-map circle.camera").count() == 3, "fixed and third-party only"
        page.screenshot(path=str(ARTEFACTS / "plan-page.png"), full_page=True)

        username, password, secret = make_user(published.config)
        page.goto(f"{url}/health")  # not logged in: sent to the login page
        assert page.title() == "ANPR central: log in"
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.fill("input[name=code]", current_code(secret))
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/health")
        rows = page.locator("#cameras tbody tr")
        assert rows.count() == len(CAMERAS) + 1
        assert page.locator("#cameras td.OFFLINE").count() == len(CAMERAS) + 1
        page.screenshot(path=str(ARTEFACTS / "health-page.png"), full_page=True)

        page.goto(f"{url}/plan/{YEAR}/map.svg?live=1")  # logged in as a maintainer
        tooltip = page.locator('circle[data-camera="a12-oudenrijn-e-1"] title').text_content()
        assert "now OFFLINE" in tooltip
        page.screenshot(path=str(ARTEFACTS / "plan-map-live.png"))
    for name in ("plan-page.png", "plan-map-live.png", "health-page.png"):
        assert (ARTEFACTS / name).stat().st_size > 5000


def test_only_the_published_plan_is_public_and_as_the_page_shows_it(published):
    run = ["--config", str(published.config_path)]
    # Next year's plan drafted and ratified, with a mobile deployment planned: not public.
    assert central(run + ["plan-draft", "--year", str(YEAR + 1), "--by", "plan-admin"]) == 0
    client = create_app(published.config).test_client()
    for path in (f"/plan/{YEAR + 1}", f"/plan/{YEAR + 1}.csv", f"/plan/{YEAR + 1}/map.svg",
                 f"/api/v1/plan/{YEAR + 1}"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    deploy = ["plan-deploy", "--year", str(YEAR), "--camera-id", "mobile-07",
              "--place", "Kerkstraat 12, Houten", "--place-kind", "c", "--lat", "52.03",
              "--lon", "5.17", "--from", f"{YEAR}-06-01T00:00:00Z",
              "--until", f"{YEAR}-06-08T00:00:00Z", "--reason", "suspect's home street",
              "--by", "plan-admin"]  # fmt: skip
    assert central(run + deploy) == 0
    body = client.get(f"/api/v1/plan/{YEAR}").get_data(as_text=True)
    assert "Kerkstraat" not in body and "suspect" not in body, "this year's deployments"
    assert "mobile-07" not in body, "mobile cameras by number only, as on the page"
    versions = client.get("/api/v1/plan").get_data(as_text=True)
    assert "plan-admin" not in versions and "hoofdofficier" not in versions, "no staff names"
    assert [v["year"] for v in client.get("/api/v1/plan").get_json()["versions"]] == [YEAR]
    assert client.get("/api/v1/plan/changes").status_code == 401
    live = client.get(f"/plan/{YEAR}/map.svg?live=1")
    assert live.status_code == 401, "which cameras are down is not public"
    assert "OFFLINE" not in client.get(f"/plan/{YEAR}/map.svg").get_data(as_text=True)
    operator = logged_in(create_app(published.config).test_client(), published.config,
                         ("operator",), "c.operator")  # fmt: skip
    assert operator.get(f"/plan/{YEAR}/map.svg?live=1").status_code == 403
    assert operator.get("/api/v1/plan/changes").status_code == 403


def test_a_cli_signature_needs_the_prosecutors_own_password_and_code(tmp_path, capsys):
    setup = write_central_config(tmp_path, broker_port=1883)
    base = ["--config", str(setup.config_path)]
    assert central(base + ["plan-draft", "--year", str(YEAR), "--by", "p.admin"]) == 0
    assert (
        central(
            base
            + [
                "plan-add",
                "--year",
                str(YEAR),
                "--camera-id",
                "a2-vianen-s-1",
                "--kind",
                "fixed",
                "--owner",
                "Politie",
                "--controller",
                "korpschef",
                "--lat",
                "51.99",
                "--lon",
                "5.09",
                "--road",
                "A2",
                "--direction",
                "S",
                "--criterion",
                "b",
                "--by",
                "p.admin",
                "--motivation",
                "Main route over the Lek, intensive traffic.",
            ]
        )
        == 0
    )
    sign = base + ["plan-sign", "--year", str(YEAR), "--camera-id", "a2-vianen-s-1", "--as"]

    admin = prosecutor_secrets(setup.config, tmp_path, "p.admin2", ("plan_admin",))
    assert central(sign + ["p.admin2", "--secrets", str(admin)]) == 2
    assert "does not hold the role prosecutor" in capsys.readouterr().err

    secrets = prosecutor_secrets(setup.config, tmp_path)
    secrets.chmod(0o644)
    assert central(sign + ["a.jansen", "--secrets", str(secrets)]) == 2
    assert "can be read by others: chmod 600" in capsys.readouterr().err
    secrets.chmod(0o600)
    password, code = secrets.read_text().splitlines()
    secrets.write_text(f"{password}\n{'000000' if code != '000000' else '111111'}\n")
    assert central(sign + ["a.jansen", "--secrets", str(secrets)]) == 2
    assert "wrong user name, password or code" in capsys.readouterr().err

    secrets.write_text(f"{password}\n{code}\n")
    assert central(sign + ["a.jansen", "--secrets", str(secrets)]) == 0
    out = capsys.readouterr().out
    assert "Main route over the Lek" in out and "sha256 " in out
    trail = AuditTrail(setup.config.audit_path)
    try:
        (signed,) = [e for e in trail.entries() if e["action"] == "plan_motivation_signed"]
    finally:
        trail.close()
    assert signed["actor"] == "a.jansen"
    assert json.loads(signed["details"])["camera_id"] == "a2-vianen-s-1"


def test_publication_reads_the_same_from_each_backend(store_location, tmp_path):
    """The published plan as CSV, JSON and map, built straight on the plan's store: the same
    from a SQLite file and from PostgreSQL (#21)."""
    from central.cameras import CameraRegistry
    from central.plan.publication import plan_csv, plan_map_svg, public_plan, published_versions
    from central.plan.registry import CameraPlan, motivation_digest
    from tests.test_plan import PROSECUTOR, entry
    from wire import SigningKey

    now = datetime(YEAR, 1, 10, 9, tzinfo=UTC)
    cameras = CameraRegistry(store_location("cameras"))
    plan = CameraPlan(store_location("plan"), cameras)
    trail = AuditTrail(tmp_path / "audit.sqlite")
    try:
        for camera_id in [*CAMERAS, "speed-cam-99"]:
            cameras.add(camera_id, SigningKey.generate().verify_key, now)
        plan.draft(YEAR, "plan-admin", now)
        plan.add_location("oudenrijn", "Knooppunt Oudenrijn", "A12", 52.07, 5.06, "plan-admin",
                          now)  # fmt: skip
        plan.add_section("oudenrijn-e", "oudenrijn", "eastbound exit 17", "E", "plan-admin", now)
        for camera_id, (kind, criterion, lat, lon, road, direction) in CAMERAS.items():
            plan.add_entry(entry(camera_id, year=YEAR, kind=kind, criterion=criterion,
                                 lat_e7=round(lat * 1e7), lon_e7=round(lon * 1e7), road=road,
                                 direction=direction), "plan-admin", now)  # fmt: skip
            motivation = plan.entry(YEAR, camera_id).motivation
            plan.sign(YEAR, camera_id, PROSECUTOR, motivation_digest(motivation), trail, now)
        plan.record_acceptance("a12-oudenrijn-e-1", 200, 194, "technician-4", now)
        assert published_versions(plan) == []
        plan.ratify(YEAR, "hoofdofficier", now)
        plan.publish(YEAR, "plan-admin", now)

        rows = list(csv.DictReader(io.StringIO(plan_csv(plan, YEAR))))
        assert sorted(r["camera_id"] for r in rows) == sorted(CAMERAS)
        assert {r["signed_by"] for r in rows} == {"mr. P. Visser"}
        body = public_plan(plan, YEAR)
        assert body["version"]["state"] == "published" and body["mobile_count"] == 1
        assert body["locations"][0]["sections"][0]["name"] == "eastbound exit 17"
        assert body["hotlist_only"] == ["speed-cam-99"]
        assert "p.visser" not in json.dumps(body), "the name, never the account"
        assert [v["year"] for v in published_versions(plan)] == [YEAR]
        svg = plan_map_svg(plan, YEAR, {"a12-oudenrijn-e-1": "OK"})
        assert svg.count('class="camera"') == 3 and "mobile-07" not in svg
        assert cameras.designated("a12-oudenrijn-e-1", datetime(YEAR, 6, 1, tzinfo=UTC))
    finally:
        trail.close()
        plan.close()
        cameras.close()
