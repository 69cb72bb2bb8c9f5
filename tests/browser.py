"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

Test tools may not download browsers here, so Playwright is pointed at the system Chromium,
started with the flags that keep it from reaching for the internet. Screenshots go to
var/test-artefacts/ (kept after the run, ignored by git).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parent.parent
ARTEFACTS = REPO / "var" / "test-artefacts"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@contextmanager
def serve(app) -> Iterator[str]:
    """The Flask app on a free loopback port, in a thread, for the browser to visit."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def browser_page(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError("Chromium is missing: `make test` installs Debian's chromium package")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
        )
        page = browser.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else 0)
        try:
            yield page
        finally:
            browser.close()
        assert not refused, f"the page broke its own Content-Security-Policy: {refused}"


def wait_for_true(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JavaScript expression through the debugger protocol: Playwright's own
    `wait_for_function` evaluates strings in the page, which our CSP (rightly) refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)


class Logins:
    """Logs people in through the real login form. A TOTP code is good once, so a person's
    second login within the same 30 s uses the next step's code."""

    def __init__(self, page, url: str, secrets: dict[str, str], password: str) -> None:
        self.page, self.url, self.secrets, self.password = page, url, secrets, password
        self.count: dict[str, int] = {}

    def __call__(self, name: str, next_path: str = "/requests") -> None:
        from tests.conftest import current_code

        self.count[name] = self.count.get(name, -1) + 1
        self.page.goto(f"{self.url}/login?next={next_path}")
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", self.password)
        self.page.fill("input[name=code]", current_code(self.secrets[name], self.count[name]))
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.url}{next_path}")
