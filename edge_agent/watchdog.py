"""systemd readiness and watchdog notifications (sd_notify), without a library.

With `Type=notify` and `WatchdogSec=` in the unit, systemd restarts the agent when the
pipeline loop stops petting the watchdog: a hung pipeline does not go unnoticed on a
roadside unit nobody watches. Outside systemd (no NOTIFY_SOCKET) this does nothing.
"""

from __future__ import annotations

import os
import socket
import time


class Watchdog:
    def __init__(self) -> None:
        self.address = os.environ.get("NOTIFY_SOCKET")
        usec = os.environ.get("WATCHDOG_USEC")
        self.interval = int(usec) / 2e6 if usec and usec.isdigit() else 5.0
        self._last = 0.0

    def _send(self, message: str) -> None:
        if not self.address:
            return
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect(address)
                sock.sendall(message.encode())
            except OSError:
                pass  # systemd gone (shutdown): nothing to tell

    def ready(self) -> None:
        self._send("READY=1")

    def pet(self) -> None:
        """Call from the pipeline loop; sends at most twice per watchdog period."""
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")
