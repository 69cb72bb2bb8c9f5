"""Two web nodes behind one address (#21): two gunicorn processes of the central on one
PostgreSQL, the shipped nginx site in front sending requests to each in turn (an upstream of
two servers, as an operator configures it). Nothing a page needs may live in one node: a
login on one is a session on the other, a package built on one is followed and handed over
by the other (once), and a new alert reaches an open alert stream on either."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
import urllib3

from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit_trails import open_audit_trail
from central.cameras import CameraRegistry
from central.config import load_config
from central.hotlists.lists import Hit, Hotlists
from central.requests.consultation import consult
from central.requests.orders import Scope, Window
from central.requests.searches import Query
from central.requests.store import Requests
from central.requests.workflow import Workflow
from central.store import open_store
from tests.conftest import (
    REPO,
    confirm_order,
    current_code,
    free_port,
    make_passage,
    make_user,
    verified_passage,
    wait_for_port,
    wait_until,
    write_central_config,
)
from tests.test_nginx_proxy import (
    NAME,
    SITE,
    issue_site_certificate,
    main_config,
    nginx_binary,
    render,
    site_values,
    stop,
)
from tests.test_requests import order
from wire import SigningKey

PASSWORD = "correct horse battery staple"


@dataclass
class Front:
    """The one address (nginx, HTTPS) and what stands behind it."""

    port: int
    ca_cert: Path
    config_path: Path
    logs: tuple[Path, Path]  # each node's access log
    nodes: tuple[int, int]  # each node's own port, behind the front

    def pool(self) -> urllib3.HTTPSConnectionPool:
        return urllib3.HTTPSConnectionPool(
            "127.0.0.1", self.port, server_hostname=NAME, assert_hostname=NAME,
            ca_certs=str(self.ca_cert), retries=False, timeout=30, headers={"Host": NAME},
        )  # fmt: skip

    def answered_by(self, path: str) -> set[int]:
        """The nodes (0, 1) whose access logs show a request for `path`."""
        return {n for n, log in enumerate(self.logs) if f" {path} " in log.read_text()}


def _upstream(nodes: tuple[int, int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in nodes)
    return f"    upstream anpr_web {{\n{servers}\n    }}"


def _node(port: int, access_log: Path, env: dict, log) -> subprocess.Popen:
    """One web node: gunicorn as deploy/systemd runs it, its access log apart."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--threads",
        "4",
        "--workers",
        "1",
        "--graceful-timeout",  # an open alert stream would hold a stop for its max_s
        "2",
        "--access-logfile",
        str(access_log),
        "central.wsgi:app",
    ]
    return subprocess.Popen(command, stdout=log, stderr=log, env=env)  # fmt: skip


@pytest.fixture
def front(tmp_path: Path, postgres_conninfo: str) -> Iterator[Front]:
    setup = write_central_config(tmp_path, broker_port=1883, web_port=free_port())
    text = setup.config_path.read_text().replace(
        "[storage]\n", f'[storage]\nbackend = "postgresql"\npostgresql = "{postgres_conninfo}"\n'
    )
    setup.config_path.write_text(text + "proxy_hops = 1\n")
    edge = tmp_path / "nginx"
    edge.mkdir()
    ca_cert = issue_site_certificate(edge)
    https_port, nodes = free_port(), (free_port(), free_port())
    site = edge / "anpr-central.conf"
    site.write_text(
        render(SITE.read_text(), site_values(edge, https_port, free_port(), "anpr_web"))
    )
    conf = edge / "nginx.conf"
    conf.write_text(main_config(edge, site, _upstream(nodes)))
    log = (tmp_path / "nodes.log").open("ab")
    env = dict(os.environ, PYTHONPATH=str(REPO), ANPR_CENTRAL_CONFIG=str(setup.config_path))
    processes = [_node(port, tmp_path / f"node-{port}.log", env, log) for port in nodes]
    processes.append(
        subprocess.Popen(
            [nginx_binary(), "-p", str(edge), "-e", str(edge / "error.log"), "-c", str(conf)],
            stdout=log,
            stderr=log,
        )  # fmt: skip
    )
    try:
        for port in (*nodes, https_port):
            wait_for_port(port, timeout=60)
        logs = (tmp_path / f"node-{nodes[0]}.log", tmp_path / f"node-{nodes[1]}.log")
        yield Front(https_port, ca_cert, setup.config_path, logs, nodes)
    finally:
        for process in processes:
            stop(process)
        log.close()


def login(pool, config, username: str, roles: tuple[str, ...]) -> dict[str, str]:
    """A fresh account logged in through the front; the headers for what follows (a
    request's own headers replace the pool's)."""
    name, password, secret = make_user(config, username, roles)
    response = pool.request(
        "POST", "/login",
        fields={"username": name, "password": password, "code": current_code(secret)},
        encode_multipart=False, redirect=False, headers={"Host": NAME},
    )  # fmt: skip
    assert response.status == 302, response.data[:500]
    assert "anpr_session=" in response.headers.get("Set-Cookie", ""), "not logged in"
    return {"Host": NAME, "Cookie": response.headers["Set-Cookie"].split(";")[0]}


def test_a_session_made_on_one_node_is_honoured_by_the_other(front):
    config = load_config(front.config_path)
    pool = front.pool()
    cookie = login(pool, config, "m.maintainer", ("maintainer",))
    for _ in range(6):
        response = pool.request("GET", "/health/fleet", headers=cookie, redirect=False)
        assert response.status == 200, response.status
    assert front.answered_by("/health/fleet") == {0, 1}
    # Logging out on one node ends the session on both.
    page = pool.request("GET", "/health/fleet", headers=cookie).data.decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert pool.request("POST", "/logout", fields={"csrf": csrf}, headers=cookie,
                        encode_multipart=False, redirect=False).status == 302  # fmt: skip
    for _ in range(2):
        assert pool.request("GET", "/health/fleet", headers=cookie, redirect=False).status == 302


def _delivered_request(config) -> int:
    """A delivered request with one time-and-place result row, made on the shared stores."""
    now = datetime.now(UTC).replace(microsecond=0)
    key = SigningKey.generate()
    registry = CameraRegistry(config.cameras_path)
    registry.add("cam-1", key.verify_key, now)
    registry.close()
    accounts, requests = Accounts(config.accounts_path), Requests(config.requests_path)
    trail, store = open_audit_trail(config), open_store(config)
    try:
        accounts.add("o.exec", "o.exec", "unit-midden", ["officer"], PASSWORD, now)
        register = Register(accounts)
        register.authorise("o.exec", "unit-midden", "chief", date.today() + timedelta(days=90),
                           now)  # fmt: skip
        seen = now - timedelta(days=1)
        store.insert_batch([verified_passage(key, seq=1, camera_id="cam-1", captured_at=seen)],
                           now)  # fmt: skip
        flow = Workflow(requests, register, trail)
        scope = Scope(windows=(Window(seen - timedelta(hours=2), seen + timedelta(hours=2)),),
                      plates=(), cameras=("cam-1",))  # fmt: skip
        request_id = flow.submit(order(scope=scope, order_time=now), "r.requester",
                                 "unit-midden", now)  # fmt: skip
        confirm_order(flow, request_id, now)
        flow.accept(request_id, "o.exec", True, now)
        window = Query(seen - timedelta(hours=1), seen + timedelta(hours=1), cameras=("cam-1",))
        consult(requests, request_id, "o.exec", window, store, trail, now)
        flow.deliver(request_id, "o.exec", now)
    finally:
        for part in (store, trail, requests, accounts):
            part.close()
    return request_id


def test_a_package_built_on_one_node_is_handed_over_by_either_once(front):
    config = load_config(front.config_path)
    pool = front.pool()
    cookie = login(pool, config, "r.requester", ("requester",))
    request_id = _delivered_request(config)
    page = pool.request("GET", f"/requests/{request_id}", headers=cookie).data.decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    issued = pool.request("POST", f"/requests/{request_id}/package", fields={"csrf": csrf},
                          headers=cookie, encode_multipart=False, redirect=False)  # fmt: skip
    assert issued.status == 302, issued.data[:500]
    link = issued.headers["Location"].removeprefix(f"https://{NAME}:{front.port}")
    started = pool.request("GET", link, headers=cookie, redirect=False)
    assert started.status == 200 and b"Building the package" in started.data

    def ready() -> bool:
        answer = json.loads(pool.request("GET", f"{link}/progress", headers=cookie).data)
        assert answer["error"] is None and answer["started"], answer
        return answer["ready"]

    wait_until(ready, timeout=60, interval=0.2, what="the package built")
    (builder,) = front.answered_by(link)  # the node that started the build
    other = urllib3.HTTPConnectionPool("127.0.0.1", front.nodes[1 - builder], retries=False)
    package = other.request("GET", link, headers=cookie, redirect=False)
    assert package.status == 200, package.data[:500]
    assert package.headers["Content-Type"] == "application/zip"
    rows = json.loads(zipfile.ZipFile(BytesIO(package.data)).read("passages.json"))
    assert [row["seq"] for row in rows] == [1]
    trail = open_audit_trail(config)
    try:
        (downloaded,) = trail.records({"package_downloaded"})
    finally:
        trail.close()
    assert downloaded["details"]["supplied"]["bytes"] == len(package.data)
    again = pool.request("GET", f"{link}/progress", headers=cookie)
    assert json.loads(again.data)["started"] is False, "handed over once: nothing left"


def test_a_new_alert_reaches_an_open_stream_on_either_node(front):
    """Each node's stream in turn (asked directly, so which node answers is certain) hears
    of an alert recorded elsewhere (here: by the test, as ingest on a third node would)."""
    config = load_config(front.config_path)
    cookie = login(front.pool(), config, "c.operator", ("operator",))
    hotlists = Hotlists(config.hotlists_path)
    try:
        for round_, port in enumerate(front.nodes):
            node = urllib3.HTTPConnectionPool("127.0.0.1", port, retries=False, timeout=30)
            stream = node.request("GET", "/alerts/stream?max_s=20", headers=cookie,
                                  preload_content=False)  # fmt: skip
            assert stream.status == 200
            received = b""
            while b"event: hello" not in received:
                received += stream.read1(256)  # what has come: SSE is never padded
            _raise_alert(hotlists, round_)
            deadline = time.monotonic() + 10
            while b"event: alerts" not in received and time.monotonic() < deadline:
                received += stream.read1(256)
            stream.close()
            assert b"event: alerts" in received, f"node {round_} did not hear of the alert"
    finally:
        hotlists.close()


def _raise_alert(hotlists: Hotlists, round_: int) -> None:
    """A pass recorded under a new alert, as ingest on any node records it."""
    now = datetime.now(UTC)
    plate = f"AB{round_}23C"
    list_id = hotlists.create_list(f"list {round_}", "r.owner", "OM-2026-0001",
                                   "stolen_vehicle", 1, now + timedelta(days=1), now)  # fmt: skip
    entry_id = hotlists.add_entry(list_id, plate, "NL", "stolen", "stop",
                                  now + timedelta(days=1), "r.owner", now)  # fmt: skip
    hit = Hit(list_id, entry_id, 1, False, "stolen", "stop", category="stolen_vehicle",
              owner="r.owner")  # fmt: skip
    passage = make_passage(SigningKey.generate(), seq=round_ + 1, plate=plate)
    assert hotlists.record_pass(hit, passage, now).new
