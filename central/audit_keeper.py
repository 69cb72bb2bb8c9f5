"""The audit keeper: the anchor log held by a separate process under its own account.

The trail's anchor (central/audit_anchor.py) protects only as far as the central's account
cannot rewrite it. The keeper makes that hold on one host without special media: it runs as
its own user (`anpr-audit`), owns its folder and `anchor.log` (readable by all, writable by
it alone), and offers the central one thing through `keeper.sock`: append a well-formed
anchor line. There is no request to change, delete or reorder a line, so a central account
turned rogue can still write new lines but can no longer make an anchored entry disappear;
`audit-verify` reads the keeper's log directly. Against root on the same host only another
host helps: copy the log off (docs/security.md).

    anpr-audit-keeper --folder /var/lib/anpr-audit-keeper [--writer-group anpr-central]
"""

from __future__ import annotations

import argparse
import grp
import logging
import os
import signal
import socketserver
import threading
from pathlib import Path

from central.audit_anchor import (
    ANCHOR_FILE,
    KEEPER_MARK,
    KEEPER_SOCKET,
    append_line,
    encode_line,
    parse_line,
)
from node.logs import add_log_options, configure

log = logging.getLogger("central.audit_keeper")
MAX_LINE = 4096  # an anchor line is ~200 bytes; anything longer is not one


class KeeperLog:
    """The append-only file: one fsynced O_APPEND write per accepted line."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ANCHOR_FILE
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0

    def append(self, raw: bytes) -> str:
        """Validate and append one line; returns the reply for the client."""
        try:
            line = parse_line(0, raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            self.refused += 1
            log.warning("audit keeper: refused a line that is not an anchor line (%s)", exc)
            return f"refused: not an anchor line ({exc})"
        data = encode_line(line)
        with self._lock:
            append_line(self.path, data, 0o644)
            self.accepted += 1
        return "ok"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        keeper: KeeperLog = self.server.keeper  # type: ignore[attr-defined]
        while raw := self.rfile.readline(MAX_LINE + 1):
            if len(raw) > MAX_LINE:
                self.wfile.write(b"refused: line too long\n")
                return
            self.wfile.write(keeper.append(raw.rstrip(b"\n")).encode() + b"\n")


class KeeperServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, folder: Path, writer_group: str | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)  # the central reads the log; only the keeper writes here
        self.keeper = KeeperLog(folder)
        (folder / KEEPER_MARK).touch(mode=0o644)
        self.socket_path = folder / KEEPER_SOCKET
        self.socket_path.unlink(missing_ok=True)
        super().__init__(str(self.socket_path), _Handler)
        mode = 0o666
        if writer_group is not None:  # only the central's group may append
            os.chown(self.socket_path, -1, grp.getgrnam(writer_group).gr_gid)
            mode = 0o660
        os.chmod(self.socket_path, mode)

    def server_close(self) -> None:
        super().server_close()
        self.socket_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anpr-audit-keeper", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True,
                        help="its own folder: anchor.log and keeper.sock go here")  # fmt: skip
    parser.add_argument("--writer-group", help="group allowed to append (the central's)")
    add_log_options(parser)
    args = parser.parse_args(argv)
    configure(args)
    if os.geteuid() == 0:
        parser.error("run the keeper as its own user (anpr-audit), never as root")
    server = KeeperServer(args.folder, args.writer_group)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("audit keeper: appending to %s through %s", server.keeper.path, server.socket_path)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log.info("audit keeper: stopped (%d lines kept, %d refused)",
                 server.keeper.accepted, server.keeper.refused)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
