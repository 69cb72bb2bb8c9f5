"""A unit registers its keys at the central with a one-time token, exactly once."""

from datetime import UTC, datetime, timedelta

import pytest

from central.__main__ import main as central
from central.cameras import CameraRegistry
from central.enrollment import EnrollmentRefused, enroll, issue_token
from node.keyfiles import load_verify_key
from provisioning.__main__ import main as provision
from provisioning.enroll import certificate_fingerprint
from tests.browser import serve

CAMERA = "a12-hm34-n-1"


@pytest.fixture
def unit(tmp_path):
    """A unit initialised on site and certified by the CA."""
    provision(["ca-init", "--ca", str(tmp_path / "ca")])
    provision(["unit-init", "--camera-id", CAMERA, "--out", str(tmp_path / "unit")])
    provision(["enroll", "--ca", str(tmp_path / "ca"), "--camera-id", CAMERA,
               "--csr", str(tmp_path / "unit" / "tls.csr"),
               "--out", str(tmp_path / "unit" / "tls.crt")])  # fmt: skip
    return tmp_path / "unit"


def test_register_with_a_one_time_token_over_http(unit, capsys, web_setup, app):
    config = ["--config", str(web_setup.config_path)]
    assert central(config + ["enrollment-token", "--camera-id", CAMERA, "--by", "plan-admin"]) == 0
    token = capsys.readouterr().out.strip()
    with serve(app) as url:
        register = ["register", "--central", url, "--token", token, "--camera-id", CAMERA,
                    "--credentials", str(unit)]  # fmt: skip
        assert provision(register) == 0
        assert "key_id=" in capsys.readouterr().out
        assert provision(register) == 2
        assert "already been used" in capsys.readouterr().err
        assert provision(["register", "--central", url, "--token", "guess", "--camera-id",
                          CAMERA, "--credentials", str(unit)]) == 2  # fmt: skip
        assert "unknown enrollment token" in capsys.readouterr().err
    registry = CameraRegistry(web_setup.config.cameras_path)
    camera = registry.get(CAMERA)
    fingerprint = registry.db.execute(
        "SELECT tls_fingerprint FROM cameras WHERE camera_id = ?", (CAMERA,)
    ).fetchone()[0]
    registry.close()
    assert camera.keys == (load_verify_key(unit / f"{CAMERA}.pub"),)
    assert fingerprint == certificate_fingerprint(unit / "tls.crt")


def test_tokens_are_bound_to_their_camera_and_expire(tmp_path, unit):
    registry = CameraRegistry(tmp_path / "cameras.sqlite")
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    public = load_verify_key(unit / f"{CAMERA}.pub").b64
    fp = certificate_fingerprint(unit / "tls.crt")
    token = issue_token(registry, CAMERA, "admin", now, timedelta(hours=1))
    with pytest.raises(EnrollmentRefused, match="unknown"):
        enroll(registry, token, "other-cam-01", public, fp, now)
    with pytest.raises(EnrollmentRefused, match="expired"):
        enroll(registry, token, CAMERA, public, fp, now + timedelta(hours=2))
    stored = registry.db.execute("SELECT token_sha256 FROM enrollment_tokens").fetchone()[0]
    assert token not in stored, "only the token's digest is kept"
    registry.close()


def test_malformed_enrollment_is_a_400(web_setup, app):
    client = app.test_client()
    response = client.post("/api/v1/enroll", json={"camera_id": CAMERA})
    assert response.status_code == 400 and "string fields" in response.get_json()["detail"]


def test_register_over_https_needs_the_project_ca(unit, capsys):
    """The central's certificate is checked against the project's CA in the credentials
    folder, not the system's store; without one, a sentence says where to put it."""
    args = ["register", "--central", "https://central.example", "--token", "t",
            "--camera-id", CAMERA, "--credentials", str(unit)]  # fmt: skip
    assert provision(args) == 2
    assert "ca.crt" in capsys.readouterr().err


def test_enrollment_tokens_never_look_like_an_option(web_setup):
    """The technician passes the token as `--token TOKEN`: one starting with "-" would be
    read as an option."""
    from datetime import UTC, datetime, timedelta

    from central.enrollment import issue_token

    registry = CameraRegistry(web_setup.config.cameras_path)
    try:
        now = datetime.now(UTC)
        tokens = [issue_token(registry, CAMERA, "admin", now, timedelta(hours=1))
                  for _ in range(200)]  # fmt: skip
    finally:
        registry.close()
    assert not [t for t in tokens if t.startswith("-")]
    assert len(set(tokens)) == 200 and all(len(t) >= 43 for t in tokens)


class _UsedMeanwhile:
    """The registry's connection, with another node enrolling the same token between this
    call's check and its write lock: the race two central nodes can run."""

    def __init__(self, db, other) -> None:
        self.db, self.other = db, other

    def execute(self, sql, params=()):
        if sql == "BEGIN IMMEDIATE":
            self.other()
        return self.db.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self.db, name)


def test_a_token_enrolled_on_two_nodes_at_once_registers_one_key(store_location, unit):
    registry = CameraRegistry(store_location("cameras"))
    other_node = CameraRegistry(store_location("cameras"))
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    public = load_verify_key(unit / f"{CAMERA}.pub").b64
    fp = certificate_fingerprint(unit / "tls.crt")
    token = issue_token(registry, CAMERA, "admin", now, timedelta(hours=1))
    registry.db = _UsedMeanwhile(
        registry.db, lambda: enroll(other_node, token, CAMERA, public, fp, now)
    )
    with pytest.raises(EnrollmentRefused, match="already been used"):
        enroll(registry, token, CAMERA, public, fp, now)
    assert len(other_node.get(CAMERA).keys) == 1
    registry.db = registry.db.db
    for store in (registry, other_node):
        store.close()
