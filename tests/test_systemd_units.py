"""The shipped systemd units are valid, hardened, and agree with the docs and the CLIs.

`systemd-analyze verify` checks every unit (drop-ins included) and `systemd-analyze security
--offline=true` scores each service; then every credential a unit loads must be a file the
documented provisioning commands really write, named in the documented config as
`${CREDENTIALS_DIRECTORY}/<name>`, and every path a service writes must be one systemd lets
it write. The units install to /opt/anpr/bin, which does not exist here: verify runs on a
copy whose ExecStart points at stand-ins, after checking that each program named is one the
project installs.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from provisioning.__main__ import main as provision
from tests.conftest import REPO
from traffic_research.__main__ import main as research

UNITS = REPO / "systemd"
OPERATIONS = (REPO / "docs" / "operations.md").read_text()
MAX_EXPOSURE = 2.5
CAMERA = "a12-hm34-n-1"  # the camera id the docs use; instances of anpr-agent@ are named so
BIN = "/opt/anpr/bin/"
CURRENT_BIN = "/opt/anpr/current/bin/"  # the release slot `current` points at (#22)

# The documented set-up, run here into a scratch root per host. Each line must appear in
# docs/operations.md exactly as written.
CENTRAL_HOST = (
    "anpr-provision ca-init --ca /srv/anpr-ca",
    "anpr-provision central-keys --out /etc/anpr/credentials",
    "anpr-provision broker-cert --ca /srv/anpr-ca --host central.example --host 127.0.0.1 "
    "--out /etc/anpr/broker",
    "anpr-provision client-cert --ca /srv/anpr-ca --out /etc/anpr/tls",
    "install -m 0644 /srv/anpr-ca/ca.crt /etc/anpr/tls/ca.crt",
    "anpr-provision broker-config --ca /srv/anpr-ca --broker-cert /etc/anpr/broker"
    " --out /etc/mosquitto/anpr",
    "anpr-research signing-key --out /etc/anpr/research",
    "anpr-provision client-cert --ca /srv/anpr-ca --name anpr-research --out /etc/anpr/research",
    "install -m 0644 /srv/anpr-ca/ca.crt /etc/anpr/research/ca.crt",
)
UNIT_HOST = (
    f"anpr-provision unit-init --camera-id {CAMERA} --out /etc/anpr/credentials",
    f"anpr-provision research-key --camera-id {CAMERA} --out /etc/anpr/credentials",
)


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: run `make test` (scripts/install-system-deps.sh)")
    return found


def unit_files(suffix: str) -> list[Path]:
    return sorted(UNITS.glob(f"*{suffix}"))


def instance(path: Path) -> str:
    """The name to check a unit under: templates as the docs' camera."""
    return path.name.replace("@.", f"@{CAMERA}.")


def settings(path: Path) -> list[tuple[str, str]]:
    """(key, value) of a unit and its drop-ins, `%i` expanded to the docs' camera."""
    texts = [path.read_text()]
    texts += [d.read_text() for d in sorted((UNITS / f"{path.name}.d").glob("*.conf"))]
    pairs = []
    for text in texts:
        for line in text.splitlines():
            if "=" in line and not line.startswith(("#", "[")):
                key, value = line.split("=", 1)
                pairs.append((key, value.replace("%i", CAMERA)))
    return pairs


def values(path: Path, key: str) -> list[str]:
    return [value for k, value in settings(path) if k == key]


def commands(path: Path) -> list[list[str]]:
    keys = ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop", "ExecReload")
    return [shlex.split(v.lstrip("+-!@:")) for k, v in settings(path) if k in keys]


def config_of(path: Path) -> str:
    """The config file a service runs with (`--config` or ANPR_CENTRAL_CONFIG)."""
    for argv in commands(path):
        if "--config" in argv:
            return argv[argv.index("--config") + 1]
    for env in values(path, "Environment"):
        if env.startswith("ANPR_CENTRAL_CONFIG="):
            return env.split("=", 1)[1]
    return ""


def credentials(path: Path) -> dict[str, str]:
    return dict(v.split(":", 1) for v in values(path, "LoadCredential"))


def documented_toml(marker: str) -> str:
    """The first TOML example after `marker` in docs/operations.md."""
    start = OPERATIONS.index(marker)
    block = OPERATIONS.index("```toml\n", start) + len("```toml\n")
    return OPERATIONS[block : OPERATIONS.index("```", block)]


CONFIG_EXAMPLES = {
    "/etc/anpr/central.toml": "### Configuration (`central.toml`)",
    "/etc/anpr/agent.toml": "### Configuration (`agent.toml`)",
    "/etc/anpr/research.toml": "`research.toml`",
}


@pytest.mark.parametrize(
    "unit", unit_files(".service") + unit_files(".timer"), ids=lambda p: p.name
)
def test_systemd_analyze_verify_finds_nothing(unit, tmp_path):
    programs = {
        a[0].replace(CURRENT_BIN, BIN) for path in unit_files(".service") for a in commands(path)
    }
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    for program in programs:
        if program.startswith(BIN):
            fake = stand_ins / program.removeprefix(BIN)
            fake.write_text("#!/bin/sh\n")
            fake.chmod(0o755)
    copy = tmp_path / "units"
    shutil.copytree(UNITS, copy)
    for file in copy.rglob("*"):
        if file.is_file():
            text = file.read_text().replace(CURRENT_BIN, BIN)
            file.write_text(text.replace(BIN, f"{stand_ins}/"))
    result = subprocess.run(
        [analyze(), "verify", "--man=no", instance(unit)],
        cwd=copy, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("unit", unit_files(".service"), ids=lambda p: p.name)
def test_every_service_is_exposed_at_most_2_5(unit):
    result = subprocess.run(
        [analyze(), "security", "--offline=true", "--no-pager", unit.name],
        cwd=UNITS, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout


def test_programs_the_units_start_are_ones_the_project_installs():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    installed = set(project["scripts"])
    installed |= {
        re.split(r"[=<>\[ ]", dep)[0] for dep in project["optional-dependencies"]["server"]
    }
    for unit in unit_files(".service"):
        for argv in commands(unit):
            program = argv[0].replace(CURRENT_BIN, BIN)
            if program.startswith(BIN):
                assert program.removeprefix(BIN) in installed, f"{unit.name}: {program}"
            else:
                assert Path(program).exists(), f"{unit.name}: {program} is not on Debian 12"


def test_every_unit_and_timer_is_in_the_docs_and_every_documented_one_exists():
    shipped = {p.name for p in unit_files(".service") + unit_files(".timer")}
    shipped |= {f"{p.parent.name}/{p.name}" for p in UNITS.glob("*.d/*.conf")}
    for name in shipped:
        assert name in OPERATIONS, f"systemd/{name} is not described in docs/operations.md"
    for timer in unit_files(".timer"):
        assert (UNITS / timer.name.replace(".timer", ".service")).exists()
    documented = set(re.findall(r"\b(anpr-[a-z-]+@?\.(?:service|timer))\b", OPERATIONS))
    assert documented <= shipped, f"documented but not shipped: {documented - shipped}"


def _run_documented(lines: tuple[str, ...], root: Path) -> None:
    """Run the documented set-up commands with every absolute path moved under `root`."""
    for line in lines:
        assert line in OPERATIONS, f"docs/operations.md no longer says: {line}"
        argv = [str(root) + a if a.startswith("/") else a for a in shlex.split(line)]
        if argv[0] == "install":
            Path(argv[-1]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(argv[-2], argv[-1])
        elif argv[0] == "anpr-research":
            assert research(argv[1:]) == 0, line
        else:
            assert provision(argv[1:]) == 0, line


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> dict[str, Path]:
    central, unit = tmp_path_factory.mktemp("central-host"), tmp_path_factory.mktemp("unit-host")
    _run_documented(CENTRAL_HOST, central)
    _run_documented(UNIT_HOST, unit)
    return {"central": central, "unit": unit}


def _host(unit: Path) -> str:
    return "unit" if unit.name.startswith("anpr-agent") else "central"


@pytest.mark.parametrize("unit", unit_files(".service"), ids=lambda p: p.name)
def test_every_file_a_unit_loads_is_one_the_documented_commands_write(unit, hosts, capsys):
    root = hosts[_host(unit)]
    needed = list(credentials(unit).values())
    for argv in commands(unit):
        for flag in ("--ca", "--cert", "--crl"):
            needed += [argv[i + 1] for i, a in enumerate(argv) if a == flag]
        needed += [str(Path(argv[i + 1]).parent) for i, a in enumerate(argv) if a == "--copy-to"]
    for path in needed:
        assert (root / path.lstrip("/")).exists(), (
            f"{unit.name} reads {path}, which the documented set-up does not write"
        )


def test_credentials_match_the_documented_configs():
    for config, marker in CONFIG_EXAMPLES.items():
        named = set(re.findall(r"\$\{CREDENTIALS_DIRECTORY\}/([\w.@-]+)", documented_toml(marker)))
        loaded: set[str] = set()
        for unit in unit_files(".service"):
            if config_of(unit) == config:
                loaded |= set(credentials(unit))
                for name in credentials(unit):
                    assert name in named, f"{unit.name} loads {name}, which {config} never names"
        assert named <= loaded, f"{config} names credentials no unit loads: {named - loaded}"


def test_agent_config_written_by_the_cli_reads_keys_the_agent_unit_loads(tmp_path):
    out = tmp_path / "agent.toml"
    assert provision(["agent-config", "--camera-id", CAMERA, "--lat", "52.1", "--lon", "5.1",
                      "--direction", "N", "--broker-host", "central.example",
                      "--out", str(out)]) == 0  # fmt: skip
    named = set(re.findall(r"\$\{CREDENTIALS_DIRECTORY\}/([\w.@-]+)", out.read_text()))
    keys = tomllib.loads(out.read_text())
    assert keys["keys"]["signing_key"].startswith("${CREDENTIALS_DIRECTORY}/")
    assert keys["mqtt"]["tls_key_file"].startswith("${CREDENTIALS_DIRECTORY}/")
    assert named <= set(credentials(UNITS / "anpr-agent@.service"))


def _writable(unit: Path) -> list[str]:
    paths = [f"/var/lib/{d}" for v in values(unit, "StateDirectory") for d in v.split()]
    return paths + [p for v in values(unit, "ReadWritePaths") for p in v.split()]


# What each service writes, as (config, section, keys): the documented example's paths must
# be writable for it. Ingest makes and destroys day keys; the others only read them (the
# SQLite files need writing even to read: WAL readers write the shared-memory index).
WRITES = {
    "anpr-central.service": ("/etc/anpr/central.toml", "storage", ("data_dir", "keys_dir")),
    "anpr-central-web.service": ("/etc/anpr/central.toml", "storage", ("data_dir",)),
    "anpr-central-maintenance.service": ("/etc/anpr/central.toml", "storage", ("data_dir",)),
    "anpr-central-backup.service": ("/etc/anpr/central.toml", "storage", ("data_dir",)),
    "anpr-agent@.service": ("/etc/anpr/agent.toml", "spool", ("path",)),
    "anpr-research.service": ("/etc/anpr/research.toml", "storage", ("data_dir",)),
}


def test_what_each_service_writes_is_writable_under_protect_system_strict():
    for unit in unit_files(".service"):
        if not config_of(unit):
            continue
        config, section, keys = WRITES[unit.name]
        assert config_of(unit) == config
        assert values(unit, "ProtectSystem") == ["strict"]
        example = tomllib.loads(documented_toml(CONFIG_EXAMPLES[config]))[section]
        for key in keys:
            path = example[key]
            assert any(path == w or path.startswith(w + "/") for w in _writable(unit)), (
                f"{unit.name}: {section}.{key} = {path} would be read-only"
            )
    for unit in unit_files(".service"):
        for path in values(unit, "ReadWritePaths"):
            for each in path.split():
                assert each in OPERATIONS, f"{unit.name} writes {each}; the docs never say so"
