"""A real PostgreSQL for the tests and benchmarks: Debian's server binaries, a cluster made
with initdb in a temporary folder, listening on a loopback port only (and a socket in that
folder), stopped and removed afterwards. Nothing is started from the system's own cluster.

PostgreSQL refuses to run as root, so as root the cluster belongs to Debian's `postgres`
account (made by the package); otherwise to the user running the tests.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "PostgreSQL is not installed: run `make test`, which installs it with apt"
DATABASE = "anpr"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (the message says how to get them)."""


def server_bin() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    root = Path("/usr/lib/postgresql")
    found = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresUnavailable(INSTALL_HINT)
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _owner() -> pwd.struct_passwd | None:
    """The account the server runs under: `postgres` when we are root, else ourselves."""
    return pwd.getpwnam("postgres") if os.geteuid() == 0 else None


@dataclass
class Cluster:
    """A running throwaway cluster; `conninfo` reaches its database as its superuser."""

    folder: Path
    port: int
    user: str
    bin: Path
    process: subprocess.Popen | None = None
    _log: object = None

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={DATABASE}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        owner = _owner()
        return subprocess.run(
            list(argv), check=check, capture_output=True, text=True,
            user=owner.pw_uid if owner else None, group=owner.pw_gid if owner else None,
            cwd=self.folder,
        )  # fmt: skip

    def start(self, settings: dict[str, str] | None = None, primary: Cluster | None = None) -> None:
        """initdb a new cluster, or with `primary` clone it (pg_basebackup) as its streaming
        replica; then start it."""
        data = self.folder / "data"
        if primary is None:
            self._run(str(self.bin / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust",
                      "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        else:
            self._run(str(self.bin / "pg_basebackup"), "-h", "127.0.0.1",
                      "-p", str(primary.port), "-U", self.user, "-D", str(data),
                      "-R", "-X", "stream", "--checkpoint=fast")  # fmt: skip
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.folder),
            "fsync": "on",
            "max_connections": "100",
            "shared_buffers": "128MB",
            **(settings or {}),
        }
        with open(data / "postgresql.conf", "a") as conf:
            for name, value in options.items():
                conf.write(f"{name} = '{value}'\n")
        owner = _owner()
        self._log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - closed at stop
        self.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(data)], stdout=self._log, stderr=self._log,
            user=owner.pw_uid if owner else None, group=owner.pw_gid if owner else None,
            cwd=self.folder,
        )  # fmt: skip
        self._wait_ready()
        if primary is None:
            self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", self.user, DATABASE)  # fmt: skip

    def kill(self) -> None:
        """Power off: SIGKILL the postmaster and its backends, no shutdown checkpoint."""
        if self.process is not None and self.process.poll() is None:
            for child in _children(self.process.pid):
                with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                    os.kill(child, 9)
            self.process.kill()
            self.process.wait()

    def promote(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "promote", "-w", "-D", str(self.folder / "data"))

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start: {self.log_tail()}")
            ready = self._run(str(self.bin / "pg_isready"), "-h", "127.0.0.1",
                              "-p", str(self.port), check=False)  # fmt: skip
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL not ready after {timeout} s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        path = self.folder / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: PostgreSQL's smart shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


def start_cluster(
    settings: dict[str, str] | None = None, primary: Cluster | None = None
) -> Cluster:
    """initdb and start a cluster in a new temporary folder (or, with `primary`, a streaming
    replica of it); the caller stops it."""
    bin_folder = server_bin()
    folder = Path(tempfile.mkdtemp(prefix="anpr-pg-"))
    owner = _owner()
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    user = owner.pw_name if owner else pwd.getpwuid(os.geteuid()).pw_name
    cluster = Cluster(folder, _free_port(), user, bin_folder)
    try:
        cluster.start(settings, primary)
    except BaseException:
        cluster.stop()
        raise
    return cluster
