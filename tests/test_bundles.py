"""Change control: only signed, approved bundles meant for this unit are installed."""

import json
import zipfile
from datetime import UTC, datetime

import pytest

from central import create_app
from central.__main__ import main as central
from central.audit import AuditTrail
from central.bundles import BundleHistory, SourceFile, make_bundle
from central.databases import IntegrityError
from edge_agent.__main__ import main as agent
from edge_agent.bundles import BundleRefused, history, install_bundle
from node.keyfiles import load_signing_key, load_verify_key
from provisioning.__main__ import main as provision
from tests.conftest import current_code, logged_in, make_user, write_central_config
from wire import SigningKey
from wire.errors import MalformedRecord

CAMERA = "a12-hm34-n-1"
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def release(tmp_path):
    provision(["release-key", "--out", str(tmp_path / "release")])
    return tmp_path / "release"


@pytest.fixture
def payload(tmp_path):
    folder = tmp_path / "payload"
    folder.mkdir()
    (folder / "agent.toml").write_text("# new agent settings\n")
    (folder / "plate_reader.onnx").write_bytes(b"\x08\x01model-bytes")
    return folder


def secrets_of(config, tmp_path, username, roles=("maintainer",)):
    """A personal account, and a file only its owner reads with its password and a code."""
    _, password, secret = make_user(config, username, roles)
    path = tmp_path / f"{username}.secrets"
    path.write_text(f"{password}\n{current_code(secret)}\n")
    path.chmod(0o600)
    return path


def bundle_make(setup, release, payload, out, maker, approver, maker_secrets, approver_secrets):
    return central(
        ["--config", str(setup.config_path), "bundle-make",
         "--release-key", str(release / "release.key"), "--camera-id", CAMERA,
         "--version", "agent-0.2.0", "--maker", maker, "--approver", approver,
         "--maker-secrets", str(maker_secrets), "--approver-secrets", str(approver_secrets),
         "--file", str(payload / "agent.toml"),
         "--file", f"{payload / 'plate_reader.onnx'}=models/plate_reader.onnx",
         "--out", str(out)]
    )  # fmt: skip


def test_make_record_install_and_show_in_history(tmp_path, release, payload, capsys):
    setup = write_central_config(tmp_path / "central", broker_port=1883)
    provision(["camera-key", "--camera-id", CAMERA, "--out", str(tmp_path / "keys")])
    config = ["--config", str(setup.config_path)]
    central(config + ["camera-add", "--camera-id", CAMERA, "--public-key",
                      str(tmp_path / "keys" / f"{CAMERA}.pub")])  # fmt: skip
    bundle = tmp_path / "bundle.zip"
    jan = secrets_of(setup.config, tmp_path, "dev-jan")
    marie = secrets_of(setup.config, tmp_path, "cab-marie")
    assert bundle_make(setup, release, payload, bundle, "dev-jan", "cab-marie", jan, marie) == 0

    unit = tmp_path / "unit"
    unit.mkdir()
    (unit / "agent.toml").write_text(f"""
[camera]
id = "{CAMERA}"
lat = 52.0
lon = 5.0
direction = "N"
[keys]
signing_key = "k"
central_public_key = "c"
release_public_key = "{release / "release.pub"}"
[source]
path = "replay"
[spool]
path = "spool.sqlite"
""")
    assert agent(["--config", str(unit / "agent.toml"), "--install-bundle", str(bundle)]) == 0
    assert (unit / "agent.toml").read_text() == "# new agent settings\n"
    assert (unit / "models" / "plate_reader.onnx").read_bytes() == b"\x08\x01model-bytes"
    (entry,) = history(unit)
    assert (entry["version"], entry["approved_by"]) == ("agent-0.2.0", "cab-marie")

    client = logged_in(create_app(setup.config).test_client(), setup.config)
    recorded = client.get(f"/api/v1/cameras/{CAMERA}/history").get_json()["bundles"]
    assert [(b["version"], b["made_by"], b["approved_by"], b["confirmed"]) for b in recorded] == [
        ("agent-0.2.0", "dev-jan", "cab-marie", True)
    ]
    trail = AuditTrail(setup.config.audit_path)
    try:
        acts = [(e["actor"], e["action"], json.loads(e["details"])) for e in trail.entries()]
    finally:
        trail.close()
    made, approved = [a for a in reversed(acts) if a[1] in ("bundle_made", "bundle_approved")]
    assert (made[:2], approved[:2]) == (
        ("dev-jan", "bundle_made"),
        ("cab-marie", "bundle_approved"),
    )
    assert made[2]["bundle_id"] == entry["bundle_id"] and len(made[2]["manifest_sha256"]) == 64
    central_history = BundleHistory(setup.config.bundles_path)
    try:
        with pytest.raises(IntegrityError, match="append-only"):
            central_history.db.execute("UPDATE bundles SET approved_by = 'someone-else'")
    finally:
        central_history.close()


def test_a_bundle_needs_two_different_confirmed_people(tmp_path, release, payload, capsys):
    setup = write_central_config(tmp_path / "central", broker_port=1883)
    out = tmp_path / "bundle.zip"
    jan = secrets_of(setup.config, tmp_path, "dev-jan")
    with_jan = (setup, release, payload, out, "dev-jan")
    assert bundle_make(*with_jan, "dev-jan", jan, jan) == 2
    assert "cannot approve their own bundle" in capsys.readouterr().err

    assert bundle_make(*with_jan, "cab-nobody", jan, jan) == 2  # no such account
    assert "cab-nobody not confirmed" in capsys.readouterr().err
    jan = secrets_of(setup.config, tmp_path, "dev-jan2")  # jan's code was spent above
    officer = secrets_of(setup.config, tmp_path, "o.officer", roles=("plan_admin",))
    assert bundle_make(setup, release, payload, out, "dev-jan2", "o.officer", jan, officer) == 2
    assert "does not hold the role maintainer" in capsys.readouterr().err

    marie = secrets_of(setup.config, tmp_path, "cab-marie")
    password, code = marie.read_text().splitlines()
    marie.write_text(f"{password}\n{'000000' if code != '000000' else '111111'}\n")
    jan = secrets_of(setup.config, tmp_path, "dev-jan3")
    assert bundle_make(setup, release, payload, out, "dev-jan3", "cab-marie", jan, marie) == 2
    assert "wrong user name, password or code" in capsys.readouterr().err

    marie.write_text(f"{password}\n{code}\n")
    marie.chmod(0o640)
    jan = secrets_of(setup.config, tmp_path, "dev-jan4")
    assert bundle_make(setup, release, payload, out, "dev-jan4", "cab-marie", jan, marie) == 2
    assert "can be read by others" in capsys.readouterr().err
    assert not out.exists(), "no bundle is signed for a refused pair"
    central_history = BundleHistory(setup.config.bundles_path)
    try:
        assert central_history.for_camera(CAMERA) == []
    finally:
        central_history.close()


def bundle_for(tmp_path, release_dir, payload, camera_id=CAMERA, key=None):
    key = key or load_signing_key(release_dir / "release.key")
    out = tmp_path / f"b-{camera_id}.zip"
    make_bundle([SourceFile(payload / "agent.toml", "agent.toml")], camera_id, "v1", "dev-jan",
                "cab-marie", key, NOW, out)  # fmt: skip
    return out


def test_refusals(tmp_path, release, payload):
    release_key = load_verify_key(release / "release.pub")
    target = tmp_path / "unit"
    target.mkdir()

    other = bundle_for(tmp_path, release, payload, key=SigningKey.generate())
    with pytest.raises(BundleRefused, match="not the release key"):
        install_bundle(other, CAMERA, release_key, target)

    elsewhere = bundle_for(tmp_path, release, payload, camera_id="other-cam-02")
    with pytest.raises(BundleRefused, match="for camera other-cam-02"):
        install_bundle(elsewhere, CAMERA, release_key, target)

    good = bundle_for(tmp_path, release, payload)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tampered, "w") as dst:
        dst.writestr("manifest.json", src.read("manifest.json"))
        dst.writestr("files/agent.toml", b"# evil settings\n")
    with pytest.raises(BundleRefused, match="does not match the signed manifest"):
        install_bundle(tampered, CAMERA, release_key, target)

    unsigned = tmp_path / "unsigned.zip"
    with zipfile.ZipFile(unsigned, "w") as dst:
        dst.writestr("files/agent.toml", b"x")
    with pytest.raises(BundleRefused, match="unsigned"):
        install_bundle(unsigned, CAMERA, release_key, target)

    assert not (target / "agent.toml").exists() and history(target) == []


def test_a_maker_cannot_approve_their_own_bundle(tmp_path, release, payload):
    key = load_signing_key(release / "release.key")
    files = [SourceFile(payload / "agent.toml", "agent.toml")]
    with pytest.raises(MalformedRecord, match="someone other than its maker"):
        make_bundle(files, CAMERA, "v1", "dev-jan", "dev-jan", key, NOW, tmp_path / "x.zip")


@pytest.mark.parametrize("path", ["../etc/passwd", "/abs/path", "a/../b", ".hidden"])
def test_bundle_paths_cannot_escape(tmp_path, release, payload, path):
    with pytest.raises(MalformedRecord):
        make_bundle([SourceFile(payload / "agent.toml", path)], CAMERA, "v1", "a", "b",
                    load_signing_key(release / "release.key"), NOW, tmp_path / "x.zip")  # fmt: skip


def test_the_history_is_append_only_on_each_backend(
    store_location, tmp_path, release, payload, backend
):
    """The bundle history (#21): what the unit's history shows, and no change afterwards."""
    key = load_signing_key(release / "release.key")
    files = [SourceFile(payload / "agent.toml", "agent.toml")]
    made = []
    for camera, version, hour in ((CAMERA, "v1", 9), ("*", "v2", 10), ("other-cam-02", "v3", 11)):
        out = tmp_path / f"{version}.zip"
        approved = NOW.replace(hour=hour)
        made.append(make_bundle(files, camera, version, "dev-jan", "cab-marie", key, approved, out))
    bundles = BundleHistory(store_location("bundles"))
    try:
        for manifest, confirmed in zip(made, (False, True, True), strict=True):
            bundles.record(manifest, b"manifest bytes", confirmed)
        shown = [(b["version"], b["camera_id"], b["confirmed"]) for b in bundles.for_camera(CAMERA)]
        assert shown == [("v2", "*", True), ("v1", CAMERA, False)]
        with pytest.raises(IntegrityError):
            bundles.record(made[0], b"manifest bytes", True)  # a bundle is recorded once
        refused = ["UPDATE bundles SET approved_by = 'someone-else'", "DELETE FROM bundles"]
        if backend == "postgresql":  # TRUNCATE skips row triggers; SQLite has no TRUNCATE
            refused.append("TRUNCATE bundles")
        for statement in refused:
            with pytest.raises(IntegrityError, match="append-only"):
                bundles.db.execute(statement)
        assert len(bundles.for_camera(CAMERA)) == 2
    finally:
        bundles.close()
