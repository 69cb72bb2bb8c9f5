"""The shipped nginx site (deploy/nginx/) in front of the real central, on loopback ports.

A real nginx serves a certificate issued by the project's own CA (provisioning/ca.py) and
passes requests to `anpr-central serve`; an officer's client connects from another loopback
address (127.0.0.2), logs in with password and TOTP over HTTPS, and the app must see that
address, not the proxy's. The app alone still refuses to listen beyond loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3

from central import MAX_REQUEST_BYTES
from central.config import ConfigError, load_config, parse_config
from provisioning.ca import Authority
from provisioning.enroll import issue_service_cert
from tests.conftest import (
    REPO,
    current_code,
    free_port,
    make_user,
    wait_for_port,
    write_central_config,
)

SITE = REPO / "deploy" / "nginx" / "anpr-central.conf"
CLIENT_CERTS = REPO / "deploy" / "nginx" / "anpr-client-certificates.conf"
NAME = "central.test"
OFFICER_ADDRESS = "127.0.0.2"  # the officer's workstation: not the proxy's 127.0.0.1
HSTS = "max-age=31536000; includeSubDomains"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail("nginx is not installed: run scripts/install-system-deps.sh (apt nginx)")
    return found


def render(template: str, values: dict[str, str]) -> str:
    """What install-central.sh does with sed: every @NAME@ replaced, none left over."""
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", template)
    assert not left, f"placeholders not filled: {left}"
    return template


def site_values(folder: Path, https_port: int, http_port: int, upstream: str) -> dict[str, str]:
    return {
        "SERVER_NAMES": NAME,
        "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "HTTPS_PORT_SUFFIX": f":{https_port}",
        "TLS_CERT": str(folder / "tls" / "broker.crt"),
        "TLS_KEY": str(folder / "tls" / "broker.key"),
        "UPSTREAM": upstream,
        "LOG_DIR": str(folder),
        "CLIENT_CERTS": "",
        "CLIENT_CERT_CHECK": "",
    }


def main_config(folder: Path, site: Path, http_extra: str = "") -> str:
    """A minimal nginx.conf around the site, everything inside `folder`; one process as the
    test's own user (Debian's nginx.conf adds workers under www-data in production).
    `http_extra`: more of the http block (an upstream of several nodes)."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")  # fmt: skip
    )
    return f"""master_process off;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{ worker_connections 64; }}
http {{
{temp}
    access_log {folder / "access.log"};
{http_extra}
    include {site};
}}
"""


def issue_site_certificate(folder: Path) -> Path:
    """The CA and a server certificate for NAME, as install-central.sh makes them with
    `anpr-provision ca-init` and `broker-cert`; returns the CA certificate."""
    authority = Authority.create(folder / "ca")
    issue_service_cert(authority, "broker", folder / "tls", client=False, hosts=(NAME,))
    return authority.cert_path


def write_nginx(folder: Path, https_port: int, http_port: int, upstream: str) -> Path:
    site = folder / "anpr-central.conf"
    site.write_text(render(SITE.read_text(), site_values(folder, https_port, http_port, upstream)))
    conf = folder / "nginx.conf"
    conf.write_text(main_config(folder, site))
    return conf


def nginx_test(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [nginx_binary(), "-t", "-p", str(conf.parent), "-e", str(conf.parent / "error.log"),
         "-c", str(conf)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@dataclass
class Proxied:
    https_port: int
    http_port: int
    ca_cert: Path
    config_path: Path
    folder: Path

    def pool(self, **tls) -> urllib3.HTTPSConnectionPool:
        """An officer's browser: from 127.0.0.2, verifying the site's certificate and name."""
        return urllib3.HTTPSConnectionPool(
            "127.0.0.1", self.https_port, server_hostname=NAME, assert_hostname=NAME,
            ca_certs=str(self.ca_cert), source_address=(OFFICER_ADDRESS, 0), retries=False,
            timeout=20, headers={"Host": NAME}, **tls,
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def proxied(tmp_path: Path, mosquitto) -> Iterator[Proxied]:
    """nginx on two free loopback ports in front of `anpr-central serve` (web.proxy_hops 1)."""
    web_port = free_port()
    setup = write_central_config(tmp_path, mosquitto.port, web_port)
    setup.config_path.write_text(setup.config_path.read_text() + "proxy_hops = 1\n")
    edge = tmp_path / "nginx"
    edge.mkdir()
    ca_cert = issue_site_certificate(edge)
    https_port, http_port = free_port(), free_port()
    conf = write_nginx(edge, https_port, http_port, f"127.0.0.1:{web_port}")
    checked = nginx_test(conf)
    assert checked.returncode == 0, checked.stderr
    log = (tmp_path / "central.log").open("ab")
    central = subprocess.Popen(
        [sys.executable, "-m", "central", "--config", str(setup.config_path), "serve"],
        stdout=log, stderr=log, env=dict(os.environ, PYTHONPATH=str(REPO)),
    )  # fmt: skip
    nginx = subprocess.Popen(
        [nginx_binary(), "-p", str(edge), "-e", str(edge / "error.log"), "-c", str(conf)],
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        wait_for_port(web_port, timeout=30)
        wait_for_port(https_port)
        wait_for_port(http_port)
        yield Proxied(https_port, http_port, ca_cert, setup.config_path, edge)
    finally:
        stop(nginx)
        stop(central)
        log.close()


def login(pool, username: str, password: str, code: str, **headers) -> urllib3.HTTPResponse:
    return pool.request(
        "POST", "/login", fields={"username": username, "password": password, "code": code,
                                  "next": "/health"},
        encode_multipart=False, redirect=False, headers={"Host": NAME, **headers},
    )  # fmt: skip


def test_the_rendered_site_passes_nginx_t(tmp_path):
    issue_site_certificate(tmp_path)
    checked = nginx_test(write_nginx(tmp_path, free_port(), free_port(), "127.0.0.1:8080"))
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_the_site_with_client_certificates_passes_nginx_t(tmp_path):
    ca_cert = issue_site_certificate(tmp_path)
    snippet = tmp_path / "client-certificates.conf"
    snippet.write_text(render(CLIENT_CERTS.read_text(), {"CLIENT_CA": str(ca_cert),
                                                         "CLIENT_CRL": ""}))  # fmt: skip
    values = site_values(tmp_path, free_port(), free_port(), "127.0.0.1:8080") | {
        "CLIENT_CERTS": f"include {snippet};",
        "CLIENT_CERT_CHECK": "if ($ssl_client_verify != SUCCESS) { return 403; }",
    }
    site = tmp_path / "anpr-central.conf"
    site.write_text(render(SITE.read_text(), values))
    conf = tmp_path / "nginx.conf"
    conf.write_text(main_config(tmp_path, site))
    checked = nginx_test(conf)
    assert checked.returncode == 0, checked.stderr


def test_the_body_limit_is_the_apps():
    limit = re.search(r"client_max_body_size (\d+)m;", SITE.read_text())
    assert limit is not None
    assert int(limit.group(1)) * 1024 * 1024 == MAX_REQUEST_BYTES


def test_the_app_alone_still_refuses_a_network_address(tmp_path):
    text = write_central_config(tmp_path, 1883).config_path.read_text()
    raw = tomllib.loads(text)
    raw["web"]["host"] = "0.0.0.0"
    with pytest.raises(ConfigError, match="loopback"):
        parse_config(raw, base=tmp_path)


def test_an_officer_logs_in_through_the_proxy_and_the_app_sees_their_address(proxied):
    config = load_config(proxied.config_path)
    username, password, secret = make_user(config)
    pool = proxied.pool()

    page = pool.request("GET", "/login")
    assert page.status == 200
    assert page.headers.getlist("Strict-Transport-Security") == [HSTS]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "nginx/" not in page.headers.get("Server", "")

    # A wrong code, with a forged X-Forwarded-For: the app counts the failure against the
    # address nginx saw, never the proxy's nor the one the client claims.
    refused = login(pool, username, password, "000000", **{"X-Forwarded-For": "10.9.9.9"})
    assert refused.status == 401
    with sqlite3.connect(config.accounts_path) as db:
        addresses = {row[0] for row in db.execute("SELECT address FROM address_attempts")}
    assert addresses == {OFFICER_ADDRESS}

    done = login(pool, username, password, current_code(secret))
    assert done.status == 302, done.data[:300]
    assert done.headers["Location"] == "/health"
    cookie = done.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = cookie.split(";")[0]
    health = pool.request("GET", "/health", headers={"Host": NAME, "Cookie": token}, redirect=False)
    assert health.status == 200
    assert health.headers.getlist("Strict-Transport-Security") == [HSTS]


def test_plain_http_is_sent_to_https(proxied):
    pool = urllib3.HTTPConnectionPool("127.0.0.1", proxied.http_port, retries=False)
    answer = pool.request("GET", "/login?next=/health", headers={"Host": NAME}, redirect=False)
    assert answer.status == 301
    assert answer.headers["Location"] == f"https://{NAME}:{proxied.https_port}/login?next=/health"


def test_other_names_get_nothing(proxied):
    context = ssl.create_default_context(cafile=str(proxied.ca_cert))
    with socket.create_connection(("127.0.0.1", proxied.https_port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="elsewhere.test")
    pool = urllib3.HTTPConnectionPool("127.0.0.1", proxied.http_port, retries=False)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        pool.request("GET", "/", headers={"Host": "elsewhere.test"})


def test_only_tls_12_and_13_with_aead_suites(proxied):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ssl.create_default_context(cafile=str(proxied.ca_cert))
        context.minimum_version = context.maximum_version = version
        with socket.create_connection(("127.0.0.1", proxied.https_port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=NAME) as tls:
                assert tls.version() == version.name.replace("v1_", "v1.")
                assert re.search(r"GCM|CHACHA20", tls.cipher()[0])
    # Older protocols and CBC suites, offered by OpenSSL's own client with every limit on
    # its side lifted, so the refusal is the server's: it answers the hello with an alert.
    for offer in (
        ["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"],
        ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA256"],
    ):
        hello = subprocess.run(
            ["openssl", "s_client", *offer, "-connect", f"127.0.0.1:{proxied.https_port}",
             "-servername", NAME, "-CAfile", str(proxied.ca_cert)],
            input="", capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        assert hello.returncode != 0, hello.stdout
        assert "Cipher is (NONE)" in hello.stdout
    assert "unsupported protocol" in (proxied.folder / "error.log").read_text()


def test_bodies_past_the_apps_limit_end_at_the_proxy(proxied):
    answer = proxied.pool().request(
        "POST", "/login", body=b"x" * (MAX_REQUEST_BYTES + 1),
        headers={"Host": NAME, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert answer.status == 413


def test_metrics_stay_off_the_network(proxied):
    assert proxied.pool().request("GET", "/metrics").status == 404


def test_the_live_alert_stream_arrives_unbuffered(proxied):
    config = load_config(proxied.config_path)
    username, password, secret = make_user(config, "o.operator", roles=("operator",))
    pool = proxied.pool()
    token = login(pool, username, password, current_code(secret)).headers["Set-Cookie"]
    stream = pool.request(
        "GET", "/alerts/stream?max_s=30", headers={"Host": NAME, "Cookie": token.split(";")[0]},
        preload_content=False, timeout=urllib3.Timeout(connect=5, read=5),
    )  # fmt: skip
    try:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        # The first event comes at once, long before the stream ends (30 s): a buffering
        # proxy would hold it back and the read would time out.
        hello = b"retry: 1000\nevent: hello\n"
        assert stream.read(len(hello), decode_content=False) == hello
    finally:
        stream.release_conn()
        stream.close()
