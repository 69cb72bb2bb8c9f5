"""Who does an act on the command line: a person with an account, confirmed just now.

A command that signs or approves takes the account's user name and asks its holder for
password and a fresh code from their authenticator app: at the terminal (not echoed), or
for scripted use from a file only its owner can read (`-` reads standard input), two lines:
the password, then the code. The check is `Accounts.confirm`: the login's counting and
lock-out, a code's time step used once, the role checked, a security event recorded.
"""

from __future__ import annotations

import getpass
import os
import stat
import sys
from datetime import datetime
from pathlib import Path

from central.accounts.users import AccountError, Accounts, Identity, LoginRefused
from central.config import CentralConfig


class ConfirmationFailed(Exception):
    """A person could not be confirmed for an act; the message says why and what to do."""


def read_secrets(source: Path | None, username: str) -> tuple[str, str]:
    """Password and code of `username`: prompted when `source` is None, else from the file
    (or standard input for `-`)."""
    if source is None:
        password = getpass.getpass(f"password of {username}: ")
        code = getpass.getpass(f"code from {username}'s authenticator app: ")
        return password, code.strip()
    if str(source) == "-":
        lines = sys.stdin.readline(), sys.stdin.readline()
    else:
        _check_private(source)
        lines = tuple(source.read_text().splitlines()[:2])
    if len(lines) < 2 or not lines[0].rstrip("\n") or not lines[1].strip():
        raise ConfirmationFailed(
            f"{source}: two lines are needed, the password of {username} and then a fresh code"
        )
    return lines[0].rstrip("\n"), lines[1].strip()


def _check_private(path: Path) -> None:
    """A file holding a password is read only when nobody but its owner (us) can read it."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfirmationFailed(f"cannot read {path}: {exc.strerror}") from None
    if info.st_uid != os.getuid():
        raise ConfirmationFailed(f"{path} belongs to another user: write your own")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfirmationFailed(f"{path} can be read by others: chmod 600 {path} first")


def confirm_person(
    config: CentralConfig, username: str, source: Path | None, role: str, act: str,
    now: datetime,
) -> Identity:  # fmt: skip
    """The account `username`, confirmed for `act` by password and code, holding `role`."""
    password, code = read_secrets(source, username)
    accounts = Accounts(config.accounts_path)
    try:
        return accounts.confirm(username, password, code, now, role, act)
    except (LoginRefused, AccountError) as exc:
        raise ConfirmationFailed(f"{username} not confirmed for {act}: {exc}") from None
    finally:
        accounts.close()
