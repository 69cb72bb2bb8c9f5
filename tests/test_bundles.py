"""Change control: only signed, approved bundles meant for this unit are installed."""

import zipfile
from datetime import UTC, datetime

import pytest

from central import create_app
from central.__main__ import main as central
from central.bundles import SourceFile, make_bundle
from edge_agent.__main__ import main as agent
from edge_agent.bundles import BundleRefused, history, install_bundle
from node.keyfiles import load_signing_key, load_verify_key
from provisioning.__main__ import main as provision
from tests.conftest import logged_in, write_central_config
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


def test_make_record_install_and_show_in_history(tmp_path, release, payload, capsys):
    setup = write_central_config(tmp_path / "central", broker_port=1883)
    provision(["camera-key", "--camera-id", CAMERA, "--out", str(tmp_path / "keys")])
    config = ["--config", str(setup.config_path)]
    central(config + ["camera-add", "--camera-id", CAMERA, "--public-key",
                      str(tmp_path / "keys" / f"{CAMERA}.pub")])  # fmt: skip
    bundle = tmp_path / "bundle.zip"
    make = ["bundle-make", "--release-key", str(release / "release.key"), "--camera-id", CAMERA,
            "--version", "agent-0.2.0", "--made-by", "dev-jan", "--approved-by", "cab-marie",
            "--file", str(payload / "agent.toml"),
            "--file", f"{payload / 'plate_reader.onnx'}=models/plate_reader.onnx",
            "--out", str(bundle)]  # fmt: skip
    assert central(config + make) == 0

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
    assert [(b["version"], b["made_by"], b["approved_by"]) for b in recorded] == [
        ("agent-0.2.0", "dev-jan", "cab-marie")
    ]


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
