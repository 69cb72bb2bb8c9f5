"""`make demo` runs scripts/demo.py: broker, central and agent come up and passages show."""

import base64
import http.cookiejar
import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from central.accounts.totp_code import current, main
from central.demo_accounts import ACCOUNTS
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow


def test_demo_shows_replayed_passages_at_the_printed_url(tmp_path):
    web_port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "scripts/demo.py",
            "--seconds",
            "45",
            "--root",
            str(tmp_path / "demo"),
            "--web-port",
            str(web_port),
        ],  # fmt: skip
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = process.stdout.readline()
            assert line, f"demo ended early:\n{banner}"
            banner += line
        url = next(w for w in banner.split() if w.endswith("/passages"))
        passages = []
        deadline = time.monotonic() + 20
        while len(passages) < 2 and time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=5) as response:
                passages = json.load(response)["passages"]
            time.sleep(0.3)
        assert len(passages) >= 2, banner
        home = url.split("/api/")[0] + "/"
        with urllib.request.urlopen(home, timeout=5) as response:
            start = response.read().decode()
        assert passages[0]["plate"] in start
        the_demo_accounts_open_their_pages(banner, home, start)
    finally:
        process.terminate()
        process.communicate(timeout=20)


def the_demo_accounts_open_their_pages(banner: str, home: str, start: str) -> None:
    """#23: each printed account logs in (password and current code) and reaches its role's
    page, listed on the start page; the operator sees the demo hotlist hit; the officer the
    accepted order."""
    assert "DEMO DATA ONLY" in banner
    password = re.search(r"password for every account\s+(\S+)", banner).group(1)
    for role, name, page in ACCOUNTS:
        assert f'data-role="{role}"' in start and name in start and f'href="{page}"' in start
        secret = re.search(rf"{name}\s+TOTP secret (\S+)\s+code now \d{{6}}", banner).group(1)
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        form = {"username": name, "password": password, "code": current(secret)}
        opener.open(home + "login", urllib.parse.urlencode(form).encode(), timeout=5).close()
        with opener.open(home + page.lstrip("/"), timeout=5) as response:
            assert response.status == 200 and response.url.endswith(page), (role, response.url)
            body = response.read().decode()
        assert "demo-password" not in body  # a password is printed, never shown on a page
        if role == "officer":
            assert "DEMO-OM-0001" in body
        if role == "operator":
            deadline = time.monotonic() + 20
            while "Demo: stolen vehicles" not in body and time.monotonic() < deadline:
                time.sleep(0.5)
                with opener.open(home + "alerts", timeout=5) as response:
                    body = response.read().decode()
            assert "Demo: stolen vehicles" in body, "no hotlist hit on the alert desk"


def test_the_code_helper_prints_the_current_code(capsys):
    secret = "JBSWY3DPEHPK3PXP"
    assert main([secret]) == 0
    assert capsys.readouterr().out.strip() in (current(secret), current(secret, time.time() - 1))
    rfc = base64.b32encode(b"12345678901234567890").decode()
    assert current(rfc, 59) == "287082"  # RFC 6238's SHA-1 vector at T=59, to 6 digits
    assert main([]) == 2


def test_a_real_instance_names_no_demo_accounts(web_setup):
    from central import create_app

    config = web_setup.config
    web = config.web.model_copy(update={"demo_views": False, "training": False})
    real = create_app(config.model_copy(update={"web": web})).test_client()
    start = real.get("/").get_data(as_text=True)
    assert "Camera plan administration" in start  # the real start page
    assert "demo-roles" not in start and "demo-operator" not in start
