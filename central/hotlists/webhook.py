"""The optional signed webhook: each control-room alert POSTed as JSON to one HTTPS URL.

The body is signed with HMAC-SHA-256 under a shared secret (a file, like every secret):
`X-ANPR-Signature: sha256=<hex of HMAC(secret, timestamp + "." + body)>` with the timestamp
in `X-ANPR-Timestamp`, so the receiver can refuse forgeries and replays. Delivery runs in
its own thread from a bounded queue: ingest only enqueues (never waits for the network);
a refused or failed POST is retried with doubling back-off, and every failure and every
alert given up or dropped (queue full) is counted and logged. Investigation lists' hits
are never sent (they are for their owner only).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from central.hotlists.listener import alert_document
from node import wallclock
from node.config_file import ConfigError
from node.tls import is_loopback

log = logging.getLogger("central.alerts.webhook")
SIGNATURE_HEADER = "X-ANPR-Signature"
TIMESTAMP_HEADER = "X-ANPR-Timestamp"


class WebhookError(ConfigError):
    """The webhook cannot be set up as configured (the message says what to change); a
    configuration error, so that `anpr-central` reports it and refuses to start."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def read_secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise WebhookError(f"cannot read webhook secret {path}: {exc.strerror}") from None
    if len(secret) < 32:
        raise WebhookError(f"webhook secret {path} is shorter than 32 bytes; make a real one")
    return secret


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        return url
    raise WebhookError(f"webhook {url!r}: use https (plain http only to a loopback address)")


class WebhookSender:
    """A passage-listener notifier: `sender(alert_id, hit, passage)` queues the alert."""

    def __init__(
        self, url: str, secret: bytes, attempts: int = 5, timeout_s: float = 5.0,
        first_backoff_s: float = 1.0, queue_size: int = 1000,
    ) -> None:  # fmt: skip
        self.url = check_url(url)
        self.secret = secret
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.first_backoff_s = first_backoff_s
        self.counts: Counter[str] = Counter()  # delivered, failures, given_up, dropped
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout_s + 1)

    def __call__(self, alert_id: int, hit, passage) -> None:
        if hit.for_owner_only:
            return
        body = json.dumps(alert_document(alert_id, hit, passage), ensure_ascii=False).encode()
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self.counts["dropped"] += 1
            log.error("webhook: queue full, alert %d not sent (receiver down?)", alert_id)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                body = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self._deliver(body)

    def _deliver(self, body: bytes) -> None:
        backoff = self.first_backoff_s
        for attempt in range(1, self.attempts + 1):
            problem = self._post(body)
            if problem is None:
                self.counts["delivered"] += 1
                return
            self.counts["failures"] += 1
            log.warning("webhook: attempt %d/%d failed: %s", attempt, self.attempts, problem)
            if attempt < self.attempts and self._stop.wait(backoff):
                break
            backoff *= 2
        self.counts["given_up"] += 1
        log.error("webhook: alert not delivered after %d attempts", self.attempts)

    def _post(self, body: bytes) -> str | None:
        """One POST; None when the receiver took it (2xx), else what went wrong."""
        timestamp = str(int(wallclock.timestamp()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
            return None
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return str(getattr(exc, "reason", exc))
