"""The real install on a network (issue #22): a central, two roadside units and an officer's
workstation as four hosts, each a network namespace with its own root (tests/netns.py), on
one private LAN that no packet leaves.

The central is installed by scripts/install-central.sh, the units by scripts/install-unit.sh,
as root in their own roots, the way docs/operations.md says. No systemd runs here, so the
central installer gets `--no-start`, and the services are started from the unit files the
installers wrote (ExecStart, User, Group, LoadCredential, StateDirectory, UMask: see
`start_service`), not from a command line of the test's. The units are brought into service
as "Key material and certificates" says (unit-init, enroll at the CA, broker-config and a
broker reload, a one-time token registered over HTTPS through the proxy, the storage period),
and replay two sample scenes each. Then: their passages are in the central's store, having
come over the LAN through the TLS broker; the officers' pages answer over HTTPS through nginx
on the workstation, with the project's CA verified; the broker refuses a client without a
valid certificate; the web service is not reachable from the workstation, only the proxy.

pip installs offline: each host's /opt/anpr is made a venv (of the project venv's
interpreter) that sees the project venv's packages, and pip runs with no index, so the
installers install this checkout itself and find its dependencies present. How long it takes:
docs/operations.md, "The network install test".
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import re
import shlex
import sys
import sysconfig
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import netns
from tests.conftest import REPO

# The whole site is built in the first test's setup: a minute, more on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CENTRAL_NAME = "central.anpr.test"
UNITS = {"unit-a": "a12-hm34-n-1", "unit-b": "a12-hm35-z-2"}
SCENES = ("scene-000", "scene-001")
CONFIG = "/etc/anpr/central.toml"
CHECKOUT = str(REPO)
PY = "/opt/anpr/bin/python"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


# Present in the project venv but installed by the installers themselves: this checkout, and
# gunicorn (its console script is what anpr-central-web.service runs).
INSTALLED_BY_PIP = ("anpr", "__editable__", "gunicorn")


def wheel_of(distribution: str, folder: Path) -> Path:
    """A wheel of a pure-Python package installed in the project venv, packed from its
    files, for pip to install offline with the console scripts it declares."""
    dist = importlib.metadata.distribution(distribution)
    name = f"{dist.metadata['Name']}-{dist.version}-py3-none-any.whl"
    site = Path(sysconfig.get_path("purelib"))
    wheel = folder / name
    records = []
    with zipfile.ZipFile(wheel, "w") as out:
        for file in dist.files or []:
            path = str(file)
            if path.startswith("..") or "__pycache__" in path or path.endswith("RECORD"):
                continue
            if path.split("/")[-1] in ("INSTALLER", "REQUESTED", "direct_url.json"):
                continue
            data = (site / path).read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            records.append(f"{path},sha256={digest.decode()},{len(data)}")
            out.writestr(path, data)
        record = f"{dist.metadata['Name']}-{dist.version}.dist-info/RECORD"
        out.writestr(record, "\n".join([*records, f"{record},,"]) + "\n")
    return wheel


def packages_view(folder: Path) -> Path:
    """The project venv's packages, less those the installers' pip is to install."""
    site = Path(sysconfig.get_path("purelib"))
    folder.mkdir()
    for entry in site.iterdir():
        if not entry.name.startswith(INSTALLED_BY_PIP):
            (folder / entry.name).symlink_to(entry)
    return folder


def seed_venv(host: netns.Host, system_site: bool) -> None:
    """/opt/anpr as a venv of Debian's python3 that sees the project venv's packages; the
    installers keep an existing venv and pip-install the checkout into it."""
    flags = ["--system-site-packages"] if system_site else []
    host.run("python3", "-m", "venv", *flags, "/opt/anpr")
    # The venv's own old setuptools cannot build a wheel; the project venv's can.
    host.run("/opt/anpr/bin/pip", "uninstall", "--quiet", "--yes", "setuptools")
    site = host.path(f"/opt/anpr/lib/python{PYTHON}/site-packages")
    packages = "/opt/project-venv-packages"  # in the host's root: the services can read it
    packages_view(host.path(packages))
    (site / "project-venv.pth").write_text(f"{packages}\n")


def read_unit(host: netns.Host, unit: str) -> dict[str, list[str]]:
    """The [Service] settings of an installed unit and its drop-ins, as systemd reads them:
    later lines add to a list, an empty assignment clears it."""
    template = unit.split("@")[0] + "@.service" if "@" in unit else unit
    instance = unit.split("@")[1].removesuffix(".service") if "@" in unit else ""
    files = []
    for folder in ("/lib/systemd/system", "/etc/systemd/system"):
        if host.path(f"{folder}/{template}").exists():
            files.append(host.path(f"{folder}/{template}"))
    files += sorted(host.path(f"/etc/systemd/system/{template}.d").glob("*.conf"))
    settings: dict[str, list[str]] = {}
    for path in files:
        text = path.read_text().replace("%i", instance)
        section = None
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                section = stripped
            elif section == "[Service]" and "=" in stripped and not stripped.startswith("#"):
                key, value = stripped.split("=", 1)
                if value == "":
                    settings[key] = []
                else:
                    settings.setdefault(key, []).append(value)
    return settings


def start_service(host: netns.Host, unit: str):
    """Start an installed unit the way systemd would, less its sandbox: the state
    directories made and owned, the credentials copied to /run/credentials/<unit> for the
    service's user alone, ExecStartPre then ExecStart as User/Group with the unit's
    Environment, SupplementaryGroups and UMask."""
    settings = read_unit(host, unit)
    user = settings.get("User", ["root"])[-1]
    group = settings.get("Group", [user])[-1]
    groups = [group] + " ".join(settings.get("SupplementaryGroups", [])).split()
    mode = settings.get("StateDirectoryMode", ["0755"])[-1]
    for name in " ".join(settings.get("StateDirectory", [])).split():
        host.run("install", "-d", "-o", user, "-g", group, "-m", mode, f"/var/lib/{name}")
    # What systemd sets for a service with User=.
    home = next(line.split(":")[5] for line in host.path("/etc/passwd").read_text().splitlines()
                if line.split(":")[0] == user)  # fmt: skip
    env = {"HOME": home, "USER": user, "LOGNAME": user}
    for assignment in settings.get("Environment", []):
        for pair in shlex.split(assignment):
            key, value = pair.split("=", 1)
            env[key] = value
    if settings.get("LoadCredential"):
        credentials = f"/run/credentials/{unit}"
        host.run("install", "-d", "-o", user, "-g", group, "-m", "0500", credentials)
        for line in settings["LoadCredential"]:
            name, source = line.split(":", 1)
            host.run("install", "-o", user, "-g", group, "-m", "0400", source,
                     f"{credentials}/{name}")  # fmt: skip
        env["CREDENTIALS_DIRECTORY"] = credentials
    umask = settings.get("UMask", ["0022"])[-1]
    as_user = ["setpriv", f"--reuid={user}", f"--regid={group}", f"--groups={','.join(groups)}",
               "sh", "-c", f'umask {umask} && exec "$@"', "sh"]  # fmt: skip
    for command in settings.get("ExecStartPre", []):
        host.run(*shlex.split(command.lstrip("-+")))
    (command,) = settings["ExecStart"]
    return host.start(
        *as_user, *shlex.split(command.lstrip("-+!")), env=env, log=f"/var/log/{unit}.log"
    )


def wait_for(host: netns.Host, address: str, port: int, seconds: int = 60) -> None:
    probe = (
        f"for i in $(seq {seconds * 5}); do (exec 3<>/dev/tcp/{address}/{port}) 2>/dev/null "
        "&& exit 0; sleep 0.2; done; exit 1"
    )
    done = host.run("bash", "-c", probe, check=False, timeout=seconds + 10)
    assert done.returncode == 0, f"{host.name}: nothing answers on {address}:{port}"


def as_central(*argv: str) -> tuple[str, ...]:
    """An administrator's command at the central, run as the services' account with the
    ingest's credentials (so what it writes stays the services')."""
    return ("setpriv", "--reuid=anpr-central", "--regid=anpr-central",
            "--groups=anpr-central", "env",
            "CREDENTIALS_DIRECTORY=/run/credentials/anpr-central.service",
            "/opt/anpr/bin/anpr-central", "--config", CONFIG, *argv)  # fmt: skip


class Site:
    def __init__(self, lan: netns.Lan):
        self.lan = lan
        self.timings: dict[str, float] = {}
        self.started = time.monotonic()
        # Made before the hosts' roots, whose lower layer it is part of.
        self.wheels = lan.folder / "wheels"
        self.wheels.mkdir()
        wheel_of("gunicorn", self.wheels)
        self.central = lan.add("central", 1, CENTRAL_NAME)
        self.units = {name: lan.add(name, 11 + i) for i, name in enumerate(UNITS)}
        self.workstation = lan.add("workstation", 100)
        self.services: dict[str, object] = {}
        self.lap("namespaces and roots")

    def lap(self, what: str) -> None:
        now = time.monotonic()
        self.timings[what] = round(now - self.started, 1)
        self.started = now

    def install(self) -> None:
        central = ("bash", f"{CHECKOUT}/scripts/install-central.sh",
                   "--server-name", CENTRAL_NAME, "--no-start")  # fmt: skip
        unit = ("sh", f"{CHECKOUT}/scripts/install-unit.sh", "--platform", "debian")
        jobs = {"central": (self.central, central)}
        jobs.update({name: (host, unit) for name, host in self.units.items()})

        # The installers' pip: never an index; this checkout, gunicorn's wheel, and the
        # other dependencies present already.
        pip = {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": "/dev/null",
               "PIP_NO_BUILD_ISOLATION": "0", "PIP_FIND_LINKS": str(self.wheels)}  # fmt: skip

        def install(host: netns.Host, argv: tuple[str, ...]):
            seed_venv(host, system_site=host is not self.central)
            return host.run(*argv, env=pip, timeout=600)

        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {name: pool.submit(install, *job) for name, job in jobs.items()}
            self.install_output = {name: future.result().stdout for name, future in futures.items()}
        self.lap("venvs seeded, installers run (the three hosts side by side)")

    def start_central(self) -> None:
        c = self.central
        self.services["mosquitto"] = start_service(c, "mosquitto.service")
        self.services["keeper"] = start_service(c, "anpr-audit-keeper.service")
        deadline = time.monotonic() + 30
        while not c.path("/var/lib/anpr-audit-keeper/keeper.sock").exists():
            assert time.monotonic() < deadline, "the audit keeper made no socket"
            time.sleep(0.2)
        self.services["ingest"] = start_service(c, "anpr-central.service")
        self.services["web"] = start_service(c, "anpr-central-web.service")
        start_service(c, "nginx.service")
        wait_for(c, "127.0.0.1", 8883)
        wait_for(c, "127.0.0.1", 8080)
        wait_for(c, "127.0.0.1", 443)
        self.lap("central services started")

    def enrol(self, name: str) -> None:
        """docs/operations.md, "Key material and certificates", for one unit."""
        unit, c, camera = self.units[name], self.central, UNITS[name]
        creds = "/etc/anpr/credentials"
        unit.run("anpr-provision", "unit-init", "--camera-id", camera, "--out", creds)
        inbox = f"/root/enrol/{camera}"
        c.path(inbox).mkdir(parents=True)
        for file in ("tls.csr", f"{camera}.pub"):  # carried to the CA host
            c.path(f"{inbox}/{file}").write_bytes(unit.path(f"{creds}/{file}").read_bytes())
        c.run("/opt/anpr/bin/anpr-provision", "enroll", "--ca", "/srv/anpr-ca",
              "--camera-id", camera, "--csr", f"{inbox}/tls.csr",
              "--out", f"{inbox}/tls.crt")  # fmt: skip
        c.run("/opt/anpr/bin/anpr-provision", "broker-config", "--ca", "/srv/anpr-ca",
              "--broker-cert", "/etc/anpr/broker", "--out", "/etc/mosquitto/anpr")  # fmt: skip
        self.services["mosquitto"].send_signal(1)  # systemctl reload mosquitto: SIGHUP
        token = c.run(*as_central("enrollment-token", "--camera-id", camera, "--by", "admin-3"))
        # copied back to the unit: its certificate, the CA's, the central's public keys
        for source, target in (
            (f"{inbox}/tls.crt", f"{creds}/tls.crt"),
            ("/srv/anpr-ca/ca.crt", f"{creds}/ca.crt"),
            ("/etc/anpr/credentials/ack-signing.pub", f"{creds}/central-ack.pub"),
            ("/etc/anpr/credentials/seal.pub", f"{creds}/central-seal.pub"),
        ):
            unit.path(target).write_bytes(c.path(source).read_bytes())
        # The one-time token goes over HTTPS through the proxy, checked against the project's
        # CA in the credentials folder (not the system's store).
        unit.run("anpr-provision", "register", "--central", f"https://{CENTRAL_NAME}",
                 "--token", token.stdout.strip().splitlines()[-1], "--camera-id", camera,
                 "--credentials", creds)  # fmt: skip
        designate = ("camera-designate", "--camera-id", camera,
                     "--from", "2020-01-01T00:00Z", "--plan-version", "network test")  # fmt: skip
        c.run(*as_central(*designate))
        replay = "/var/lib/anpr-agent/replay"
        unit.run("install", "-d", "-o", "anpr", "-g", "anpr", "-m", "0700", replay)
        for scene in SCENES:
            for suffix in (".jpg", ".txt"):
                unit.run("install", "-o", "anpr", "-m", "0600",
                         f"{CHECKOUT}/samples/replay/{scene}{suffix}", replay)  # fmt: skip
        unit.run("anpr-provision", "agent-config", "--camera-id", camera, "--lat", "52.09",
                 "--lon", "5.12", "--direction", "N", "--broker-host", CENTRAL_NAME,
                 "--out", "/etc/anpr/agent.toml")  # fmt: skip
        # agent-config names the central's sealing key in the credentials folder; set by
        # hand: ground-truth reads of the replayed scenes (the models ran in the installer).
        agent_toml = unit.path("/etc/anpr/agent.toml")
        text = agent_toml.read_text()
        assert f'central_seal_public_key = "{creds}/central-seal.pub"' in text
        agent_toml.write_text(text + '\n[recognizer]\nkind = "annotations"\n')
        self.services[name] = start_service(unit, f"anpr-agent@{camera}.service")

    def logs(self) -> str:
        """The services' output on every host, for a failure's report."""
        parts = []
        for host in self.lan.hosts.values():
            for log in sorted(host.path("/var/log").glob("*.service.log")):
                parts.append(f"--- {host.name}: {log.name}\n{log.read_text()[-3000:]}")
        return "\n".join(parts)


@pytest.fixture(scope="module")
def site(tmp_path_factory, request):
    reason = netns.available()
    if reason:
        pytest.skip(reason)
    lan = netns.Lan(tmp_path_factory.mktemp("lan"))
    built = None
    try:
        built = Site(lan)
        built.install()
        built.start_central()
        for name in UNITS:
            built.enrol(name)
        built.lap("units enrolled and started")
    except BaseException:
        if built is not None:
            print(built.logs())
        lan.close()
        raise
    failed_before = request.session.testsfailed
    try:
        yield built
    finally:
        print("network install test, seconds per phase:", json.dumps(built.timings))
        if request.session.testsfailed > failed_before:
            print(built.logs())
        lan.close()


def stored_plates(site: Site) -> dict[str, list[str]]:
    script = (
        "import json, sys\n"
        "from central.config import load_config\n"
        "from central.store import open_store\n"
        f"store = open_store(load_config(__import__('pathlib').Path('{CONFIG}')))\n"
        "print(json.dumps({c: sorted(p.plate for p in store.recent(c, 100)) "
        "for c in sys.argv[1:]}))\n"
    )
    done = site.central.run(
        "setpriv", "--reuid=anpr-central", "--regid=anpr-central", "--groups=anpr-central",
        "env", "CREDENTIALS_DIRECTORY=/run/credentials/anpr-central.service",
        PY, "-c", script, *UNITS.values(),
    )  # fmt: skip
    return json.loads(done.stdout)


def test_the_installers_ran_to_the_end(site):
    assert "--no-start: nothing was started" in site.install_output["central"]
    for name in UNITS:
        assert "install-unit: done" in site.install_output[name]


def test_each_units_passages_reach_the_central_through_the_tls_broker(site):
    expected = {}
    for camera in UNITS.values():
        plates = []
        for scene in SCENES:
            sidecar = REPO / "samples" / "replay" / f"{scene}.txt"
            plates += [line.split()[-1] for line in sidecar.read_text().splitlines() if line]
        expected[camera] = sorted(plates)
    deadline = time.monotonic() + 90
    while (stored := stored_plates(site)) != expected:
        assert time.monotonic() < deadline, f"stored {stored}, expected {expected}"
        time.sleep(1)
    site.lap("passages stored")
    broker_log = site.central.path("/var/log/mosquitto.service.log").read_text()
    for name, camera in UNITS.items():
        address = site.units[name].address
        seen = rf"New client connected from {re.escape(address)}:\d+ as anpr-agent-{camera} "
        assert re.search(seen + rf".*u'{camera}'", broker_log), broker_log


def curl(host: netns.Host, *args: str) -> netns.subprocess.CompletedProcess:
    return host.run("curl", "--silent", "--show-error", "--max-time", "15", *args, check=False)


def test_an_officers_page_is_reached_over_https_through_the_proxy(site):
    ws = site.workstation
    ws.path("/etc/anpr-ca.crt").write_bytes(site.central.path("/srv/anpr-ca/ca.crt").read_bytes())
    page = curl(ws, "--cacert", "/etc/anpr-ca.crt", "-w", "\n%{http_code} %{ssl_verify_result}",
                f"https://{CENTRAL_NAME}/login")  # fmt: skip
    assert page.returncode == 0, page.stderr
    body, status = page.stdout.rsplit("\n", 1)
    assert status == "200 0"
    assert 'name="password"' in body
    # The CA is checked: without the project's CA the workstation refuses the certificate.
    untrusted = curl(ws, f"https://{CENTRAL_NAME}/login")
    assert untrusted.returncode == 60, untrusted.stderr
    # The proxy's access log saw the workstation's address.
    log = site.central.path("/var/log/nginx/anpr-central.access.log").read_text()
    assert f"{ws.address} - " in log


def test_the_web_service_is_reached_only_through_the_proxy(site):
    ws, central = site.workstation, site.central
    direct = curl(ws, f"http://{central.address}:8080/login")
    assert direct.returncode == 7, direct.stdout  # connection refused
    # It runs: on the central's loopback, where nginx reaches it.
    local = curl(central, "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:8080/login")
    assert local.stdout == "200"
    plain = curl(ws, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                 f"http://{CENTRAL_NAME}/login")  # fmt: skip
    assert plain.stdout == f"301 https://{CENTRAL_NAME}/login"


BROKER_PROBE = """
import ssl, sys, time
import paho.mqtt.client as mqtt
answers = []
def on_connect(client, userdata, flags, reason, properties):
    answers.append("connected" if not reason.is_failure else f"refused {reason}")
def on_disconnect(client, userdata, flags, reason, properties):
    answers.append(f"refused: disconnected ({reason})")
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe")
client.on_connect, client.on_disconnect = on_connect, on_disconnect
context = ssl.create_default_context(cafile=sys.argv[1])
if len(sys.argv) > 2:
    context.load_cert_chain(sys.argv[2], sys.argv[3])
client.tls_set_context(context)
try:
    client.connect("central.anpr.test", 8883, 10)
    deadline = time.monotonic() + 10
    while not answers and time.monotonic() < deadline:
        client.loop(0.2)
    print(answers[0] if answers else "refused: no answer")
except (OSError, ssl.SSLError) as exc:
    print(f"refused {type(exc).__name__}: {exc}")
"""


def test_the_broker_refuses_a_client_without_a_valid_certificate(site):
    ws = site.workstation
    ws.path("/etc/anpr-ca.crt").write_bytes(site.central.path("/srv/anpr-ca/ca.crt").read_bytes())
    ws.path("/root/probe.py").write_text(BROKER_PROBE)
    python = sys.executable
    # No certificate at all.
    bare = ws.run(python, "/root/probe.py", "/etc/anpr-ca.crt")
    assert bare.stdout.startswith("refused"), bare.stdout
    # A certificate from another CA, with the unit's own name.
    ws.run(f"{Path(python).parent}/anpr-provision", "ca-init", "--ca", "/root/other-ca")
    ws.run(f"{Path(python).parent}/anpr-provision", "client-cert", "--ca", "/root/other-ca",
           "--name", UNITS["unit-a"], "--out", "/root/other")  # fmt: skip
    other = f"/root/other/{UNITS['unit-a']}"
    forged = ws.run(python, "/root/probe.py", "/etc/anpr-ca.crt", f"{other}.crt", f"{other}.key")
    assert forged.stdout.startswith("refused"), forged.stdout
    # The control: the unit's own certificate is let in, from its own host.
    unit = site.units["unit-a"]
    unit.path("/root/probe.py").write_text(BROKER_PROBE)
    creds = "/etc/anpr/credentials"
    genuine = unit.run(PY, "/root/probe.py", f"{creds}/ca.crt", f"{creds}/tls.crt",
                       f"{creds}/tls.key")  # fmt: skip
    assert genuine.stdout.startswith("connected"), genuine.stdout


def test_the_doctor_passes_on_the_running_central(site):
    done = site.central.run(PY.replace("python", "anpr-central"), "--config", CONFIG, "doctor",
                            "--json", check=False)  # fmt: skip
    report = json.loads(done.stdout)
    failed = [c for c in report["checks"] if c["status"] == "FAIL"]
    assert done.returncode in (0, 1) and not failed, json.dumps(failed, indent=1)


def test_where_it_cannot_run_it_says_why(monkeypatch):
    """The fixture skips with this reason: not root, or no `ip netns`."""
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    assert netns.available() == "network namespaces and overlay roots need root"
    monkeypatch.setattr(netns.os, "geteuid", lambda: 0)
    monkeypatch.setattr(netns.shutil, "which", lambda name: None)
    assert netns.available() == "iproute2's `ip` is not installed"
