"""`anpr-central doctor` on real installs in temporary folders: a healthy one passes, and each
broken part gives its FAIL or WARN with the command that fixes it.

The healthy install is what install-central.sh makes, scaled down: a TLS broker with the
project's CA and CRL, keys handed over by the units' LoadCredential= lines (the config names
`${CREDENTIALS_DIRECTORY}`), the day keys on another file system (/dev/shm), the audit keeper
holding the anchor, the web service answering on loopback behind an nginx site.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from central import create_app
from central.__main__ import main as central_main
from central.audit import AuditTrail
from central.audit_anchor import AuditAnchor
from central.audit_keeper import KeeperServer
from central.config import load_config
from node.keyfiles import load_signing_key
from provisioning.ca import Authority
from provisioning.keys import make_central_keys
from provisioning.renewal import renew_crl
from tests.conftest import REPO, free_port, write_central_config
from tests.test_tls_network import Network

pytestmark = pytest.mark.slow
ME = getpass.getuser()
SHM = Path("/dev/shm")


@dataclass
class Install:
    root: Path
    config_path: Path
    credentials: Path
    units: Path
    site: Path
    network: Network
    keeper: KeeperServer
    web_server: object

    def doctor(self, capsys, *extra: str) -> tuple[int, str]:
        code = central_main(["--config", str(self.config_path), "doctor", "--user", ME,
                             "--units-dir", str(self.units), "--nginx-site", str(self.site),
                             *extra])  # fmt: skip
        return code, capsys.readouterr().out

    def set(self, section: str, line: str) -> None:
        """Add one `key = value` line under [section] of the install's central.toml."""
        text = self.config_path.read_text()
        self.config_path.write_text(text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1))


def line_of(out: str, status: str, name: str) -> str:
    found = [line for line in out.splitlines() if line.split()[:2] == [status, name]]
    assert found, f"no {status} {name} line in:\n{out}"
    return found[0]


def write_units(units: Path, credentials: Path, tls: Path) -> None:
    """The shipped units, with the credential files where this install keeps them."""
    units.mkdir()
    for name in ("anpr-central.service", "anpr-central-web.service"):
        text = (REPO / "systemd" / name).read_text()
        text = text.replace("/etc/anpr/credentials", str(credentials))
        (units / name).write_text(text.replace("/etc/anpr/tls", str(tls)))


def write_config(root: Path, keys_dir: Path, network: Network, web_port: int) -> Path:
    path = root / "central.toml"
    path.write_text(f"""
[storage]
data_dir = "{root / "data"}"
keys_dir = "{keys_dir}"
audit_anchor_dir = "{root / "anchor"}"

[secrets]
session_key_file = "${{CREDENTIALS_DIRECTORY}}/session.key"
ack_signing_key_file = "${{CREDENTIALS_DIRECTORY}}/ack-signing.key"
seal_key_file = "${{CREDENTIALS_DIRECTORY}}/seal.key"
audit_signing_key_file = "${{CREDENTIALS_DIRECTORY}}/audit-signing.key"

[mqtt]
host = "127.0.0.1"
port = {network.port}
tls_ca_file = "${{CREDENTIALS_DIRECTORY}}/ca.crt"
tls_cert_file = "${{CREDENTIALS_DIRECTORY}}/anpr-central-ingest.crt"
tls_key_file = "${{CREDENTIALS_DIRECTORY}}/anpr-central-ingest.key"

[web]
port = {web_port}
proxy_hops = 1

[metrics]
tls_files = ["{root / "broker-cert" / "broker.crt"}", "{root / "broker" / "ca.crl"}"]
""")
    return path


def start_trail(config_path: Path, credentials: Path) -> None:
    os.environ["CREDENTIALS_DIRECTORY"] = str(credentials)
    try:
        config = load_config(config_path)
    finally:
        del os.environ["CREDENTIALS_DIRECTORY"]
    trail = AuditTrail(config.audit_path, AuditAnchor(config.audit_anchor_dir))
    now = dt.datetime.now(dt.UTC)
    try:
        for n in range(3):
            trail.append("cli:root", "camera_added", {"camera_id": f"cam-{n}"}, now)
        trail.checkpoint(load_signing_key(credentials / "audit-signing.key"), now)
    finally:
        trail.close()


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch) -> Path:
    """A `timedatectl` that says the clock is synchronised (no systemd as PID 1 here)."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "timedatectl").write_text("#!/bin/sh\necho yes\n")
    (tools / "timedatectl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    return tools


@pytest.fixture
def install(tmp_path: Path, fake_tools, monkeypatch) -> Iterator[Install]:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    network = Network(tmp_path)
    keys_dir = Path(tempfile.mkdtemp(prefix="anpr-day-keys-", dir=SHM))
    credentials = tmp_path / "credentials"
    make_central_keys(credentials)
    tls = tmp_path / "central-tls"
    shutil.copy(network.ca / "ca.crt", tls / "ca.crt")
    units = tmp_path / "units"
    write_units(units, credentials, tls)
    (tmp_path / "data").mkdir(mode=0o700)
    keeper = KeeperServer(tmp_path / "anchor")
    threading.Thread(target=keeper.serve_forever, daemon=True).start()
    web_port = free_port()
    config_path = write_config(tmp_path, keys_dir, network, web_port)
    start_trail(config_path, credentials)
    os.environ["CREDENTIALS_DIRECTORY"] = str(credentials)
    try:
        app = create_app(load_config(config_path))
    finally:
        del os.environ["CREDENTIALS_DIRECTORY"]
    web = make_server("127.0.0.1", web_port, app, threaded=True)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    site = tmp_path / "nginx-site"
    site.write_text((REPO / "deploy" / "nginx" / "anpr-central.conf").read_text())
    try:
        yield Install(tmp_path, config_path, credentials, units, site, network, keeper, web)
    finally:
        web.shutdown()
        keeper.shutdown()
        keeper.server_close()
        network.stop()
        shutil.rmtree(keys_dir, ignore_errors=True)


def test_a_healthy_install_passes(install, capsys):
    code, out = install.doctor(capsys)
    assert code == 0, out
    assert "WARN" not in out and "FAIL" not in out
    for name in ("config", "data_dir", "keys_dir", "keys_disk", "day_keys", "key",
                 "certificate", "crl", "broker", "audit", "anchor", "web", "proxy", "disk",
                 "clock"):  # fmt: skip
        line_of(out, "OK", name)
    assert "credentials as" in line_of(out, "OK", "config")
    assert out.rstrip().endswith("all checks passed")


def test_json_says_the_same(install, capsys):
    code, out = install.doctor(capsys, "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "ok"
    assert {c["status"] for c in report["checks"]} == {"OK"}
    assert {"name", "status", "detail", "fix"} <= set(report["checks"][0])


def test_a_missing_key_fails(install, capsys):
    (install.credentials / "seal.key").unlink()
    code, out = install.doctor(capsys)
    assert code == 2
    line = line_of(out, "FAIL", "key")
    assert "secrets.seal_key_file" in line and "missing" in line
    assert "fix: anpr-provision central-keys" in line


def test_a_key_others_can_read_fails(install, capsys):
    key = install.credentials / "ack-signing.key"
    key.chmod(0o644)
    code, out = install.doctor(capsys)
    assert code == 2
    line = line_of(out, "FAIL", "key")
    assert "readable by others" in line and f"fix: chmod 0600 {key}" in line


def test_day_keys_on_the_data_disk_warn(install, capsys):
    keys = install.root / "day-keys"
    keys.mkdir(mode=0o700)
    text = install.config_path.read_text()
    install.config_path.write_text(
        "\n".join(
            f'keys_dir = "{keys}"' if line.startswith("keys_dir") else line
            for line in text.splitlines()
        )
    )
    code, out = install.doctor(capsys)
    assert code == 1, out
    line = line_of(out, "WARN", "keys_disk")
    assert "same file system" in line and f"fix: mount a disk of its own at {keys}" in line


def test_an_open_data_folder_fails(install, capsys):
    (install.root / "data").chmod(0o755)
    code, out = install.doctor(capsys)
    assert code == 2
    assert f"fix: chmod 0700 {install.root / 'data'}" in line_of(out, "FAIL", "data_dir")


def test_a_dead_broker_fails(install, capsys):
    install.network.stop()
    code, out = install.doctor(capsys)
    assert code == 2
    line = line_of(out, "FAIL", "broker")
    assert f"127.0.0.1:{install.network.port}" in line and "fix: systemctl status mosquitto" in line


def test_a_crl_whose_renewal_stopped_warns_and_an_expired_one_fails(install, capsys):
    authority = Authority.open(install.network.ca)
    crl = install.root / "broker" / "ca.crl"
    renew_crl(authority, (crl,), now=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
    code, out = install.doctor(capsys)
    assert code == 1, out
    line = line_of(out, "WARN", "crl")
    assert "timer has stopped" in line and "anpr-crl-renew.timer" in line

    renew_crl(authority, (crl,), now=dt.datetime.now(dt.UTC) - dt.timedelta(days=31))
    code, out = install.doctor(capsys)
    assert code == 2
    line = line_of(out, "FAIL", "crl")
    assert (
        "expired" in line
        and f"fix: anpr-provision crl-renew --ca /srv/anpr-ca --copy-to {crl}" in line
    )


def test_a_broken_audit_trail_fails(install, capsys):
    db = sqlite3.connect(install.root / "data" / "audit.sqlite")
    db.execute("DROP TRIGGER IF EXISTS entries_no_update")
    db.execute("""UPDATE entries SET details = '{"camera_id": "forged"}' WHERE seq = 2""")
    db.commit()
    db.close()
    code, out = install.doctor(capsys)
    assert code == 2
    line = line_of(out, "FAIL", "audit")
    assert "entry 2" in line and "anpr-central audit-verify" in line


def test_a_stopped_audit_keeper_fails(install, capsys):
    install.keeper.shutdown()
    install.keeper.server_close()
    code, out = install.doctor(capsys)
    assert code == 2
    assert "fix: systemctl enable --now anpr-audit-keeper" in line_of(out, "FAIL", "anchor")


def test_a_web_service_that_does_not_answer_fails(install, capsys):
    install.web_server.shutdown()
    install.web_server.server_close()
    code, out = install.doctor(capsys)
    assert code == 2
    assert "fix: systemctl status anpr-central-web" in line_of(out, "FAIL", "web")


def test_a_proxy_without_proxy_hops_warns(install, capsys):
    text = install.config_path.read_text().replace("proxy_hops = 1\n", "")
    install.config_path.write_text(text)
    code, out = install.doctor(capsys)
    assert code == 1
    assert "set proxy_hops = 1" in line_of(out, "WARN", "proxy")


def test_an_unsynchronised_clock_fails_and_an_unknown_one_warns(install, capsys, fake_tools):
    (fake_tools / "timedatectl").write_text("#!/bin/sh\necho no\n")
    code, out = install.doctor(capsys)
    assert code == 2
    assert "systemd-timesyncd" in line_of(out, "FAIL", "clock")
    (fake_tools / "timedatectl").write_text("#!/bin/sh\nexit 1\n")
    (fake_tools / "chronyc").write_text("#!/bin/sh\nexit 1\n")
    (fake_tools / "chronyc").chmod(0o755)
    code, out = install.doctor(capsys)
    assert code == 1
    assert "cannot tell" in line_of(out, "WARN", "clock")


def test_a_config_that_does_not_validate_fails_and_says_where(install, capsys):
    install.set("web", 'host = "0.0.0.0"')
    code, out = install.doctor(capsys)
    assert code == 2
    line = line_of(out, "FAIL", "config")
    assert "loopback" in line and f"fix: edit {install.config_path}" in line


def test_without_units_the_credentials_cannot_be_found(install, capsys):
    shutil.rmtree(install.units)
    code, out = install.doctor(capsys)
    assert code == 2
    assert "CREDENTIALS_DIRECTORY=/etc/anpr/credentials" in line_of(out, "FAIL", "config")


def _on_postgresql(tmp_path, conninfo: str):
    """A central config on the PostgreSQL backend (the doctor's database checks)."""
    setup = write_central_config(tmp_path, broker_port=1883)
    text = setup.config_path.read_text().replace(
        "[storage]\n", f'[storage]\nbackend = "postgresql"\npostgresql = "{conninfo}"\n'
    )
    setup.config_path.write_text(text)
    return load_config(setup.config_path)


def test_the_database_and_the_key_chain_are_checked_on_postgresql(tmp_path, postgres_conninfo):
    from central.commands.doctor import check_database
    from central.store.key_chain import CHAIN_FILE, KeyChain

    config = _on_postgresql(tmp_path, postgres_conninfo)
    found = {c.name: c for c in check_database(config)}
    assert found["database"].status == "OK" and "writable primary" in found["database"].detail
    assert found["replica"].status == "WARN" and "synchronous" in found["replica"].fix
    assert found["key chain"].status == "WARN" and "day-key-chain" in found["key chain"].fix
    KeyChain.begin(config.storage.keys_dir, dt.datetime.now(dt.UTC).date())
    assert {c.name: c.status for c in check_database(config)}["key chain"] == "OK"
    (config.storage.keys_dir / CHAIN_FILE).chmod(0o644)
    assert {c.name: c.status for c in check_database(config)}["key chain"] == "FAIL"


def test_an_unreachable_database_fails_with_what_to_check(tmp_path):
    from central.commands.doctor import check_database

    config = _on_postgresql(tmp_path, f"host=127.0.0.1 port={free_port()} dbname=anpr user=x")
    (check,) = check_database(config)
    assert (check.name, check.status) == ("database", "FAIL")
    assert "cannot reach storage.postgresql" in check.detail and "pg_hba.conf" in check.fix


def test_nothing_is_checked_of_a_database_on_sqlite(install):
    from central.commands.doctor import check_database

    assert check_database(load_config(install.config_path)) == []
