"""`make demo` runs scripts/demo.py: broker, central and agent come up and passages show."""

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow


def test_demo_shows_replayed_passages_at_the_printed_url(tmp_path):
    web_port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "scripts/demo.py",
            "--seconds",
            "30",
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
            assert passages[0]["plate"] in response.read().decode()
    finally:
        process.terminate()
        process.communicate(timeout=20)
