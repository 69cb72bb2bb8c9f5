"""Signed software updates with rollback (#22): a release goes into a new slot, becomes
current with one rename, and stays only if its agent confirms healthy in time.

The releases are small real wheels built here (the distribution `anpr` with an `anpr-agent`
program, and a dependency wheel it needs), installed by pip offline into real venvs; the
agent is restarted by a real script standing in for `systemctl restart`, and confirms the
way the real agent does: a health mark with its release beside the spool. A broken release
fails at import, as a release with a missing module would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from central.__main__ import main as central
from central.bundles import SourceFile, make_bundle
from edge_agent.__main__ import main as agent
from edge_agent.agent import Agent
from edge_agent.bundles import BundleRefused, history, install_bundle
from edge_agent.config import load_config
from edge_agent.releases import health_mark_path, last_update_failed, read_state
from node.keyfiles import load_signing_key, load_verify_key
from provisioning.__main__ import main as provision
from tests.conftest import (
    REPO,
    current_code,
    make_user,
    wait_until,
    write_agent_config,
    write_central_config,
)
from wire import SigningKey
from wire.bundles import Software, open_manifest
from wire.errors import MalformedRecord

CAMERA = "a12-hm34-n-1"
NOW = datetime(2026, 12, 6, 7, tzinfo=UTC)

GOOD_AGENT = """
import json, os, sys, time, tomllib
from datetime import UTC, datetime
from pathlib import Path

import anpr_helper


def main():
    config_path = Path(sys.argv[sys.argv.index("--config") + 1])
    config = tomllib.loads(config_path.read_text())
    spool = config_path.parent / config["spool"]["path"]
    try:
        release = json.loads((Path(sys.prefix) / "release.json").read_text())["version"]
    except OSError:
        release = "base"  # the install itself, made before any release slot
    mark = spool.parent / f"health-{config['camera']['id']}.json"
    mark.write_text(json.dumps({"camera_id": config["camera"]["id"], "release": release,
                                "pid": os.getpid(), "at": datetime.now(UTC).isoformat()}))
    anpr_helper.serve()
"""
BROKEN_AGENT = "import anpr_module_that_this_release_forgot\n\ndef main():\n    pass\n"
HELPER = "import time\n\ndef serve():\n    time.sleep(600)\n"

RESTART = """#!/bin/sh
# Stands in for `systemctl restart anpr-agent@<camera-id>`: stop the agent, start current's.
if [ -f "{pidfile}" ]; then kill "$(cat "{pidfile}")" 2>/dev/null; fi
"{root}/current/bin/anpr-agent" --config "{config}" >>"{log}" 2>&1 &
echo $! > "{pidfile}"
"""


def wheel(out: Path, name: str, version: str, files: dict[str, str], requires=(), scripts=None):
    """A real (pure Python) wheel: the files, METADATA, WHEEL, entry points and RECORD."""
    info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    contents[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if scripts:
        contents[f"{info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items()
        )
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    contents[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    path = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name_in, text in contents.items():
            archive.writestr(name_in, text)
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    helper = wheel(out, "anpr_helper", "1.0", {"anpr_helper.py": HELPER})
    made = {"helper": helper}
    for version in ("0.9.0", "1.0.0", "1.1.0", "1.3.0", "1.4.0"):
        made[version] = wheel(out, "anpr", version, {"anpr_probe.py": GOOD_AGENT},
                              requires=["anpr-helper"],
                              scripts={"anpr-agent": "anpr_probe:main"})  # fmt: skip
    made["1.2.0"] = wheel(out, "anpr", "1.2.0", {"anpr_probe.py": BROKEN_AGENT},
                          scripts={"anpr-agent": "anpr_probe:main"})  # fmt: skip
    return made


@pytest.fixture
def release(tmp_path):
    provision(["release-key", "--out", str(tmp_path / "release")])
    return tmp_path / "release"


@pytest.fixture
def unit(tmp_path, release):
    """The unit: its config (/etc/anpr), its install root (/opt/anpr), a stand-in restart."""
    etc = tmp_path / "etc"
    etc.mkdir()
    config = etc / "agent.toml"
    config.write_text(f"""
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
path = "state/spool.sqlite"
""")
    (etc / "state").mkdir()
    root = tmp_path / "opt-anpr"
    root.mkdir()
    pidfile = tmp_path / "agent.pid"
    restart = tmp_path / "restart.sh"
    restart.write_text(RESTART.format(pidfile=pidfile, root=root, config=config,
                                      log=tmp_path / "agent.log"))  # fmt: skip
    yield Unit(config, root, restart, etc / "state" / f"health-{CAMERA}.json")
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


class Unit:
    def __init__(self, config: Path, root: Path, restart: Path, mark: Path) -> None:
        self.config, self.root, self.restart, self.mark = config, root, restart, mark

    def update_args(self, bundle: Path, deadline_s: float = 20) -> list[str]:
        return ["update", "--config", str(self.config), "--bundle", str(bundle),
                "--root", str(self.root), "--restart-command", f"sh {self.restart}",
                "--deadline-s", str(deadline_s)]  # fmt: skip

    def update(self, bundle: Path, deadline_s: float = 20) -> int:
        return agent(self.update_args(bundle, deadline_s))

    @property
    def current(self) -> str:
        return os.readlink(self.root / "current")

    def slots(self) -> list[str]:
        return sorted(p.name for p in (self.root / "releases").iterdir())

    def history(self) -> list[dict]:
        return history(self.config.parent)

    def health(self) -> dict:
        """The agent's health mark; empty while there is none (or it is being written)."""
        try:
            return json.loads(self.mark.read_text())
        except (OSError, ValueError):
            return {}


def release_bundle(tmp_path, release, wheels, version, downgrade=False, key=None):
    out = tmp_path / f"release-{version}{'-down' if downgrade else ''}.zip"
    files = [SourceFile(wheels[version], f"wheels/{wheels[version].name}")]
    if version != "1.2.0":
        files.append(SourceFile(wheels["helper"], f"wheels/{wheels['helper'].name}"))
    make_bundle(files, CAMERA, version, "dev-jan", "cab-marie",
                key or load_signing_key(release / "release.key"), NOW, out,
                software=Software("anpr", downgrade))  # fmt: skip
    return out


def test_a_signed_release_goes_into_a_new_slot_and_becomes_current(
    tmp_path, release, wheels, unit, capsys
):
    assert unit.update(release_bundle(tmp_path, release, wheels, "1.0.0")) == 0
    assert unit.current == "releases/1.0.0"
    slot = unit.root / "releases" / "1.0.0"
    assert json.loads((slot / "release.json").read_text())["approved_by"] == "cab-marie"
    assert json.loads(unit.mark.read_text())["release"] == "1.0.0"

    assert unit.update(release_bundle(tmp_path, release, wheels, "1.1.0")) == 0
    assert unit.current == "releases/1.1.0" and unit.slots() == ["1.0.0", "1.1.0"]
    running = subprocess.run([unit.root / "current" / "bin" / "python", "-c",
                              "import importlib.metadata as m; print(m.version('anpr'))"],
                             capture_output=True, text=True, check=True, cwd=tmp_path)  # fmt: skip
    assert running.stdout.strip() == "1.1.0"
    assert json.loads(unit.mark.read_text())["release"] == "1.1.0"
    assert [(e["version"], e["software"], e["previous"]) for e in unit.history()] == [
        ("1.0.0", "installed", None),
        ("1.1.0", "installed", "releases/1.0.0"),
    ]
    assert read_state(unit.root)["state"] == "confirmed"
    capsys.readouterr()
    assert agent(["releases", "--config", str(unit.config), "--root", str(unit.root)]) == 0
    listed = capsys.readouterr().out
    assert "current: releases/1.1.0" in listed and "last update: 1.1.0 confirmed" in listed


def test_a_release_whose_agent_does_not_start_is_rolled_back(
    tmp_path, release, wheels, unit, capsys, monkeypatch
):
    assert unit.update(release_bundle(tmp_path, release, wheels, "1.0.0")) == 0
    first_pid = json.loads(unit.mark.read_text())["pid"]
    capsys.readouterr()
    assert unit.update(release_bundle(tmp_path, release, wheels, "1.2.0"), deadline_s=4) == 4
    assert "release 1.2.0 ROLLED BACK to releases/1.0.0" in capsys.readouterr().err
    assert unit.current == "releases/1.0.0"
    state = read_state(unit.root)
    assert (state["state"], state["version"]) == ("rolled_back", "1.2.0")
    assert "wrote no health mark within 4 s" in state["reason"]
    last = unit.history()[-1]
    assert (last["version"], last["software"], last["slot"]) == ("1.2.0", "rolled back",
                                                                 "releases/1.2.0")  # fmt: skip
    assert "ModuleNotFoundError" in (tmp_path / "agent.log").read_text()
    with monkeypatch.context() as patched:  # what the restarted agent reads for its metrics
        patched.setattr(sys, "prefix", str(unit.root / "current"))
        assert last_update_failed()
    # The previous release runs again: restarted, and confirming under a new process.
    wait_until(lambda: unit.health().get("pid", first_pid) != first_pid,
               timeout=10, what="the old release restarted")  # fmt: skip
    assert json.loads(unit.mark.read_text())["release"] == "1.0.0"


def test_tampered_unsigned_and_downgraded_releases_are_refused_and_nothing_changes(
    tmp_path, release, wheels, unit, capsys
):
    assert unit.update(release_bundle(tmp_path, release, wheels, "1.1.0")) == 0
    before = (unit.current, unit.slots(), (unit.root / "update.json").read_bytes(),
              unit.history())  # fmt: skip
    good = release_bundle(tmp_path, release, wheels, "1.3.0")
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(wheels["1.3.0"].name):
                data = wheels["1.2.0"].read_bytes()[: len(data)].ljust(len(data), b"\0")
            dst.writestr(info, data)
    unsigned = tmp_path / "unsigned.zip"
    with zipfile.ZipFile(unsigned, "w") as dst:
        dst.write(wheels["1.3.0"], f"files/wheels/{wheels['1.3.0'].name}")
    (tmp_path / "other-key").mkdir()
    foreign = release_bundle(tmp_path / "other-key", release, wheels, "1.3.0",
                             key=SigningKey.generate())  # fmt: skip
    older = release_bundle(tmp_path, release, wheels, "1.0.0")
    plain = tmp_path / "plain.zip"
    make_bundle([SourceFile(unit.config, "agent.toml")], CAMERA, "cfg-1", "dev-jan", "cab-marie",
                load_signing_key(release / "release.key"), NOW, plain)  # fmt: skip
    refusals = {
        tampered: "does not match the signed manifest",
        unsigned: "unsigned",
        foreign: "not the release key",
        older: "not newer than the running 1.1.0",
        plain: "is not a software release",
    }
    for bundle, why in refusals.items():
        capsys.readouterr()
        assert unit.update(bundle) == 3, bundle.name
        assert why in capsys.readouterr().err, bundle.name
        after = (unit.current, unit.slots(), (unit.root / "update.json").read_bytes(),
                 unit.history())  # fmt: skip
        assert after == before, bundle.name
    # A downgrade the release key signed as one is installed.
    assert unit.update(release_bundle(tmp_path, release, wheels, "1.0.0", downgrade=True)) == 0
    assert unit.current == "releases/1.0.0"


def test_an_install_from_before_slots_is_updated_and_rolled_back_to(
    tmp_path, release, wheels, unit, capsys
):
    """/opt/anpr as install-unit.sh made it before releases: the venv itself, no `current`."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", unit.root], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", unit.root / "bin" / "python",
                    "install", "--no-index", "--find-links", wheels["helper"].parent, "-q",
                    "--disable-pip-version-check", wheels["1.0.0"]], check=True)  # fmt: skip
    capsys.readouterr()
    assert unit.update(release_bundle(tmp_path, release, wheels, "0.9.0")) == 3
    assert "not newer than the running 1.0.0" in capsys.readouterr().err
    assert not (unit.root / "current").exists() and not (unit.root / "releases").exists()
    assert unit.update(release_bundle(tmp_path, release, wheels, "1.2.0"), deadline_s=3) == 4
    assert unit.current == "."
    wait_until(lambda: unit.health().get("release") == "base",
               timeout=10, what="the base install running again")  # fmt: skip
    assert unit.history()[-1]["previous"] == "."


def test_a_software_release_is_not_installed_as_plain_files(tmp_path, release, wheels):
    bundle = release_bundle(tmp_path, release, wheels, "1.0.0")
    with pytest.raises(BundleRefused, match="anpr-agent update"):
        install_bundle(bundle, CAMERA, load_verify_key(release / "release.pub"), tmp_path)
    assert not (tmp_path / "wheels").exists()


def test_a_power_cut_mid_install_leaves_the_old_release_and_a_clean_next_attempt(
    tmp_path, release, wheels, unit
):
    assert unit.update(release_bundle(tmp_path, release, wheels, "1.0.0")) == 0
    bundle = release_bundle(tmp_path, release, wheels, "1.1.0")
    # The installer is killed while it builds the new slot (after the wheels, before pip).
    command = [sys.executable, "-m", "edge_agent", *unit.update_args(bundle)]
    installer = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    slot = unit.root / "releases" / "1.1.0"
    wait_until(lambda: (slot / "wheels").is_dir(), timeout=30, interval=0.005,
               what="the installer writing the new slot")  # fmt: skip
    installer.send_signal(signal.SIGKILL)
    installer.wait()
    assert unit.current == "releases/1.0.0" and not (slot / "release.json").exists()
    assert read_state(unit.root)["state"] == "confirmed"  # the update before it, untouched
    assert agent(["recover", "--config", str(unit.config), "--root", str(unit.root)]) == 0
    assert unit.current == "releases/1.0.0"
    # A slot left half-written some other way (no release.json) is also cleared.
    (unit.root / "releases" / "1.3.0" / "bin").mkdir(parents=True)
    assert unit.update(bundle) == 0
    assert unit.current == "releases/1.1.0" and unit.slots() == ["1.0.0", "1.1.0"]
    assert [e["version"] for e in unit.history()] == ["1.0.0", "1.1.0"]


def test_an_update_cut_off_before_the_release_confirms_is_rolled_back_at_the_next_start(
    tmp_path, release, wheels, unit, capsys
):
    assert unit.update(release_bundle(tmp_path, release, wheels, "1.0.0")) == 0
    broken = release_bundle(tmp_path, release, wheels, "1.2.0")
    command = [sys.executable, "-m", "edge_agent", *unit.update_args(broken, deadline_s=300)]
    installer = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    wait_until(lambda: read_state(unit.root).get("state") == "trial" and
               unit.current == "releases/1.2.0", timeout=60, what="the trial")  # fmt: skip
    installer.send_signal(signal.SIGKILL)
    installer.wait()
    assert unit.current == "releases/1.2.0"  # what a unit finds after the power cut
    capsys.readouterr()
    assert agent(["recover", "--config", str(unit.config), "--root", str(unit.root)]) == 0
    assert "rolled back to releases/1.0.0" in capsys.readouterr().out
    assert unit.current == "releases/1.0.0"
    assert read_state(unit.root)["state"] == "rolled_back"
    assert "interrupted" in unit.history()[-1]["reason"]


def test_only_the_current_and_two_previous_slots_are_kept(tmp_path, release, wheels, unit):
    for version in ("1.0.0", "1.1.0", "1.3.0", "1.4.0"):
        assert unit.update(release_bundle(tmp_path, release, wheels, version)) == 0
    assert unit.current == "releases/1.4.0"
    assert unit.slots() == ["1.1.0", "1.3.0", "1.4.0"]


def test_the_manifest_signs_what_makes_a_release(tmp_path, release, wheels):
    key = load_signing_key(release / "release.key")
    bundle = release_bundle(tmp_path, release, wheels, "1.0.0", downgrade=True)
    with zipfile.ZipFile(bundle) as archive:
        data = archive.read("manifest.json")
    manifest = open_manifest(data, load_verify_key(release / "release.pub"))
    assert manifest.software == Software("anpr", True)
    envelope = json.loads(data)
    envelope["record"]["software"]["downgrade"] = False
    with pytest.raises(Exception, match="[Ss]ignature"):
        open_manifest(json.dumps(envelope).encode(), load_verify_key(release / "release.pub"))
    helper = [SourceFile(wheels["helper"], f"wheels/{wheels['helper'].name}")]
    with pytest.raises(MalformedRecord, match="wheel of anpr 1.0.0"):
        make_bundle(helper, CAMERA, "1.0.0", "a-b", "c-d", key, NOW, tmp_path / "x.zip",
                    software=Software("anpr"))  # fmt: skip
    with pytest.raises(MalformedRecord):  # a release number, not a label
        make_bundle(helper, CAMERA, "agent-1.0", "a-b", "c-d", key, NOW, tmp_path / "x.zip",
                    software=Software("anpr_helper"))  # fmt: skip
    config = [SourceFile(wheels["helper"], "agent.toml")]
    with pytest.raises(MalformedRecord, match="wheels only"):
        make_bundle(config, CAMERA, "1.0", "a-b", "c-d", key, NOW, tmp_path / "x.zip",
                    software=Software("anpr_helper"))  # fmt: skip


def test_the_agent_writes_its_health_mark_once_it_reaches_the_broker(
    tmp_path, mosquitto, central_setup, camera
):
    path = write_agent_config(tmp_path, camera, central_setup, mosquitto.port)
    textfile = tmp_path / "anpr_agent.prom"
    path.write_text(path.read_text() + f'\n[metrics]\ntextfile = "{textfile}"\n')
    config = load_config(path)
    mark = health_mark_path(config.spool.path, config.camera.id)
    running = Agent(config)
    runner = threading.Thread(target=running.run)
    runner.start()
    try:
        wait_until(mark.exists, timeout=20, what="the health mark")
    finally:
        running.stop_event.set()
        runner.join(timeout=10)
    written = json.loads(mark.read_text())
    assert (written["camera_id"], written["release"], written["pid"]) == (
        camera.camera_id,
        "base",
        os.getpid(),
    )
    figures = textfile.read_text()
    assert f'anpr_agent_release_info{{camera="{camera.camera_id}",release="base"}} 1.0' in figures
    assert f'anpr_agent_software_update_failed{{camera="{camera.camera_id}"}} 0.0' in figures


def test_maintainers_make_a_release_with_bundle_make_and_the_unit_installs_it(
    tmp_path, release, wheels, unit, capsys
):
    setup = write_central_config(tmp_path / "central", broker_port=1883)
    secrets = {}
    for name in ("dev-jan", "cab-marie"):
        _, password, secret = make_user(setup.config, name, ("maintainer",))
        secrets[name] = tmp_path / f"{name}.secrets"
        secrets[name].write_text(f"{password}\n{current_code(secret)}\n")
        secrets[name].chmod(0o600)
    out = tmp_path / "anpr-1.0.0.zip"
    files = [f"--file={w}=wheels/{w.name}" for w in (wheels["1.0.0"], wheels["helper"])]
    assert central(["--config", str(setup.config_path), "bundle-make",
                    "--release-key", str(release / "release.key"), "--camera-id", "*",
                    "--software", "anpr", "--version", "1.0.0",
                    "--maker", "dev-jan", "--approver", "cab-marie",
                    "--maker-secrets", str(secrets["dev-jan"]),
                    "--approver-secrets", str(secrets["cab-marie"]),
                    *files, "--out", str(out)]) == 0  # fmt: skip
    assert unit.update(out) == 0
    assert unit.current == "releases/1.0.0" and unit.health()["release"] == "1.0.0"
    (entry,) = unit.history()
    assert (entry["made_by"], entry["approved_by"], entry["software"]) == (
        "dev-jan", "cab-marie", "installed"
    )  # fmt: skip
    capsys.readouterr()
    assert central(["--config", str(setup.config_path), "bundle-make",
                    "--release-key", str(release / "release.key"), "--camera-id", "*",
                    "--version", "cfg-2", "--downgrade", "--maker", "dev-jan",
                    "--approver", "cab-marie", *files, "--out", str(out)]) == 2  # fmt: skip
    assert "--downgrade goes with --software" in capsys.readouterr().err
