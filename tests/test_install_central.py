"""scripts/install-central.sh, as far as it runs without systemd as PID 1: shellcheck, the
dry run against the documented install, its templates filled completely, and the site it
writes accepted by `nginx -t`. (The full install runs on a Debian 12 host as root.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from central.config import parse_config
from tests.conftest import REPO
from tests.test_nginx_proxy import issue_site_certificate, nginx_binary

SCRIPT = REPO / "scripts" / "install-central.sh"
OPERATIONS = (REPO / "docs" / "operations.md").read_text()
TEMPLATES = (
    REPO / "deploy" / "nginx" / "anpr-central.conf",
    REPO / "deploy" / "nginx" / "anpr-client-certificates.conf",
    REPO / "deploy" / "central" / "central.toml",
)
# The manual install in docs/operations.md, step by step: each must be in the docs and in
# what the installer does.
DOCUMENTED = (
    "apt-get install -y",
    "useradd --system --home /var/lib/anpr-central",
    "useradd --system --home /var/lib/anpr-audit-keeper",
    "python3 -m venv /opt/anpr",
    "[server]",
    "anpr-provision central-keys --out /etc/anpr/credentials",
    "anpr-provision ca-init --ca /srv/anpr-ca",
    "anpr-provision broker-cert --ca /srv/anpr-ca --host central.example",
    "anpr-provision broker-config --ca /srv/anpr-ca --broker-cert /etc/anpr/broker "
    "--out /etc/mosquitto/anpr",
    "anpr-provision client-cert --ca /srv/anpr-ca --out /etc/anpr/tls",
    "install -m 0644 /srv/anpr-ca/ca.crt /etc/anpr/tls/ca.crt",
    "/backup/anpr",
    "/backup-keys/anpr",
    "/etc/anpr/central.toml",
    "anpr-audit-keeper.service",
    "systemctl enable --now mosquitto",
    "anpr-central-web",
    "anpr-crl-renew.timer",
    "/etc/nginx/sites-available/anpr-central",
    "nginx -t",
    "anpr-central --config /etc/anpr/central.toml doctor",
)
TOUCHED = (
    "/etc/anpr",
    "/opt/anpr",
    "/srv/anpr-ca",
    "/backup/anpr",
    "/etc/nginx/sites-available/anpr-central",
)


def installer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_the_installer_passes_shellcheck():
    found = shutil.which("shellcheck")
    if found is None:
        pytest.fail("shellcheck is not installed: run scripts/install-system-deps.sh")
    done = subprocess.run([found, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_the_dry_run_does_what_the_docs_list_and_changes_nothing():
    before = {path: os.path.exists(path) for path in TOUCHED}
    done = installer("--dry-run", "--server-name", "central.example")
    assert done.returncode == 0, done.stderr
    for step in DOCUMENTED:
        assert step in OPERATIONS, f"{step!r} is not in docs/operations.md"
        if step != "apt-get install -y" or "would  Debian packages" in done.stdout:
            assert step in done.stdout, f"the installer does not {step!r}"
    assert "nothing was changed" in done.stdout
    assert {path: os.path.exists(path) for path in TOUCHED} == before
    order = [
        done.stdout.index(s)
        for s in (
            "useradd",
            "central-keys",
            "ca-init",
            "client-cert",
            "systemctl enable --now",
            "nginx -t",
            "doctor",
        )
    ]
    assert order == sorted(order), "the steps run in the documented order"


def test_wrong_use_is_refused_with_a_reason():
    missing = installer("--dry-run")
    assert missing.returncode == 2 and "--server-name NAME is required" in missing.stderr
    unknown = installer("--dry-run", "--server-name", "x", "--colour")
    assert unknown.returncode == 2 and "unknown option --colour" in unknown.stderr
    half = installer("--dry-run", "--server-name", "x", "--tls-cert", str(SCRIPT))
    assert half.returncode == 2 and "both --tls-cert and --tls-key" in half.stderr


def test_every_placeholder_of_the_templates_is_filled_by_the_installer():
    script = SCRIPT.read_text()
    for template in TEMPLATES:
        for name in set(re.findall(r"@([A-Z_]+)@", template.read_text())):
            assert f"@{name}@" in script, f"{template.name}: @{name}@ is never filled"


def test_the_site_the_installer_writes_passes_nginx_t(tmp_path):
    issue_site_certificate(tmp_path)
    ca = tmp_path / "ca" / "ca.crt"
    site = tmp_path / "site.conf"
    snippet = tmp_path / "snippet.conf"
    render = (
        f'source "{SCRIPT}"; NAMES=(central.example 10.1.2.3); CHECKOUT="{REPO}"; '
        f'SITE_CERT="{tmp_path}/tls/broker.crt"; SITE_KEY="{tmp_path}/tls/broker.key"; '
        f'CLIENT_CA="{ca}"; CLIENT_CRL=""; SNIPPET="{snippet}"; '
        f'render_snippet > "{snippet}"; render_site > "{site}"'
    )
    subprocess.run(["bash", "-c", render], check=True, timeout=30)
    text = site.read_text()
    assert "server_name central.example 10.1.2.3;" in text and "@" not in re.sub(r"#.*", "", text)
    assert "if ($ssl_client_verify != SUCCESS) { return 403; }" in text
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n include {site};\n}}\n")
    checked = subprocess.run(
        [
            nginx_binary(),
            "-t",
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "error.log"),
            "-c",
            str(conf),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_config_template_validates(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/run/credentials/anpr-central.service")
    text = (REPO / "deploy" / "central" / "central.toml").read_text()
    config = parse_config(
        tomllib.loads(text.replace("@SITE_CERT@", "/etc/anpr/web/broker.crt")),
        base=Path("/etc/anpr"),
    )
    assert config.audit_anchor_dir == Path("/var/lib/anpr-audit-keeper")
    assert config.web.proxy_hops == 1 and config.web.host == "127.0.0.1"
    assert config.mqtt.tls
