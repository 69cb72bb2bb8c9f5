"""Hosts on a private network, for tests of the real install (tests/test_install_network.py).

Each host is a network namespace with its own copy-on-write root: an overlay whose lower
layer is this machine's `/` (read-only from the host's side) and whose upper layer is a
tmpfs of its own, so an installer run in it as root (useradd, /etc, /opt, /var) changes only
that host. The hosts hang off one bridge in a namespace of its own; no namespace has a route
to this machine's network, so no packet leaves them. Commands run with `ip netns exec NS
chroot ROOT`, started processes are killed by their ids, and `close()` kills whatever is
still running in the namespaces, unmounts the roots and deletes the namespaces.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def available() -> str | None:
    """Why hosts cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces and overlay roots need root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if listed.returncode != 0:
        return f"`ip netns` is unavailable: {listed.stderr.strip()}"
    return None


def sh(*argv: str, timeout: float = 60) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


class Host:
    """One machine: a network namespace, an address on the LAN and a root of its own."""

    def __init__(self, lan: Lan, name: str, address: str):
        self.lan = lan
        self.name = name
        self.netns = f"{lan.prefix}-{name}"
        self.address = address
        self.folder = lan.folder / name
        self.root = self.folder / "root"
        self.processes: list[subprocess.Popen] = []

    def path(self, inside: str) -> Path:
        """A path of this host, as this machine sees it (through the overlay)."""
        return self.root / inside.lstrip("/")

    def argv(self, argv: tuple[str, ...], env: dict[str, str] | None) -> list[str]:
        clean = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", **(env or {})}
        return [
            "ip", "netns", "exec", self.netns, "chroot", str(self.root),
            "env", "-i", *(f"{k}={v}" for k, v in clean.items()), *argv,
        ]  # fmt: skip

    def run(
        self,
        *argv: str,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            self.argv(argv, env), capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{self.name}: {' '.join(argv)} exited {done.returncode}\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def start(self, *argv: str, env: dict[str, str] | None = None, log: str) -> subprocess.Popen:
        """A long-running process; its output goes to LOG (a path of this host)."""
        with self.path(log).open("ab") as out:
            process = subprocess.Popen(
                self.argv(argv, env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)
        return process

    def setup(self, hosts_file: str) -> None:
        self.folder.mkdir()
        upper = self.folder / "rw"
        upper.mkdir()
        self.root.mkdir()
        sh("mount", "-t", "tmpfs", "-o", "mode=0755", f"{self.netns}-rw", str(upper))
        (upper / "upper").mkdir()
        (upper / "work").mkdir()
        sh("mount", "-t", "overlay", f"{self.netns}-root", "-o",
           f"lowerdir=/,upperdir={upper}/upper,workdir={upper}/work", str(self.root))  # fmt: skip
        for special in ("proc", "dev"):
            sh("mount", "--rbind", f"/{special}", str(self.root / special))
            sh("mount", "--make-rslave", str(self.root / special))
        self.path("/etc/hosts").write_text(f"127.0.0.1 localhost\n{hosts_file}")
        self.path("/etc/hostname").write_text(f"{self.name}\n")
        sh("ip", "netns", "add", self.netns)
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        port = f"p-{self.name}"[:15]
        sh("ip", "link", "add", "eth0", "netns", self.netns, "type", "veth",
           "peer", "name", port, "netns", self.lan.switch)  # fmt: skip
        sh("ip", "-n", self.lan.switch, "link", "set", port, "master", "br0", "up")
        sh("ip", "-n", self.netns, "addr", "add", f"{self.address}/24", "dev", "eth0")
        sh("ip", "-n", self.netns, "link", "set", "eth0", "up")

    def stop(self, process: subprocess.Popen, timeout: float = 10) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def teardown(self) -> None:
        for process in reversed(self.processes):
            self.stop(process)
        # Anything else still running in this host's namespace (a forked child) is ours too.
        for _ in range(3):
            listed = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True)
            pids = [int(p) for p in listed.stdout.split()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)
        for mount in (self.root, self.folder / "rw"):
            if subprocess.run(["umount", "-R", str(mount)], capture_output=True).returncode:
                subprocess.run(["umount", "-R", "-l", str(mount)], capture_output=True)


class Lan:
    """A bridge in a namespace of its own, and the hosts plugged into it."""

    def __init__(self, folder: Path, subnet: str = "10.213.0"):
        self.folder = folder
        # Unique per run: concurrent runs and leftovers of a killed one never collide.
        self.prefix = f"anpr{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.switch = f"{self.prefix}-lan"
        self.subnet = subnet
        self.hosts: dict[str, Host] = {}
        self.names: dict[str, str] = {}
        sh("ip", "netns", "add", self.switch)
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")

    def add(self, name: str, number: int, *aliases: str) -> Host:
        host = Host(self, name, f"{self.subnet}.{number}")
        self.hosts[name] = host
        for alias in aliases:
            self.names[alias] = host.address
        hosts_file = "".join(f"{address} {alias}\n" for alias, address in self.names.items())
        host.setup(hosts_file)
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            try:
                host.teardown()
            except Exception:  # noqa: BLE001 - the others are cleaned up all the same
                pass
        subprocess.run(["ip", "netns", "delete", self.switch], capture_output=True)
