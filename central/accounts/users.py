"""Accounts, sessions and security events (accounts.sqlite).

Personal accounts only. Passwords are hashed with Argon2; a second factor (TOTP) is
required at every login; five failures lock the account for 15 minutes; sessions expire
after 15 idle minutes and after 8 hours in any case. Every login, failure, lock-out and
refused access is a security event; lock-outs and refused accesses are logged as alerts.

Acts done outside a web session (a prosecutor signing on the command line, the maker and
approver of a change bundle) are confirmed with `Accounts.confirm`: the login's checks,
counting and lock-out, a role check, and no session.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from central.accounts import totp
from central.databases import open_database
from wire.fields import format_timestamp

log = logging.getLogger("central.security")

ROLES = (
    "requester", "officer", "auditor", "plan_admin", "maintainer", "technician", "operator",
    "calamity_coordinator", "prosecutor",
)  # fmt: skip
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# One workstation (or one attacker) may fail this often across all accounts per LOCKOUT:
# password spraying over many names meets this limit long before any account's own.
MAX_ADDRESS_FAILURES = 20
IDLE = timedelta(minutes=15)
ABSOLUTE = timedelta(hours=8)
MIN_PASSWORD = 12

MIGRATIONS = [
    (
        "0001_accounts",
        """
        CREATE TABLE users (
            username      TEXT PRIMARY KEY,
            full_name     TEXT NOT NULL,
            unit          TEXT NOT NULL,
            roles         TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            totp_secret   TEXT NOT NULL,
            totp_last     INTEGER NOT NULL DEFAULT 0,
            failures      INTEGER NOT NULL DEFAULT 0,
            locked_until  TEXT,
            created_at    TEXT NOT NULL
        );
        CREATE TABLE sessions (
            token_sha256 TEXT PRIMARY KEY,
            username     TEXT NOT NULL REFERENCES users (username),
            csrf         TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            last_seen    TEXT NOT NULL
        );
        CREATE TABLE security_events (
            id        INTEGER PRIMARY KEY,
            at        TEXT NOT NULL,
            username  TEXT NOT NULL,
            event     TEXT NOT NULL,
            detail    TEXT NOT NULL
        )
        """,
    ),
    (
        "0002_address_throttle",
        """
        CREATE TABLE address_attempts (
            address       TEXT PRIMARY KEY,
            failures      INTEGER NOT NULL DEFAULT 0,
            window_start  TEXT NOT NULL,
            blocked_until TEXT
        )
        """,
    ),
]


class AccountError(Exception):
    """An account cannot be created or changed as asked."""


class LoginRefused(Exception):
    """The login failed; the message is what the person may be told."""


@dataclass(frozen=True)
class Session:
    token: str
    username: str
    roles: frozenset[str]
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Identity:
    """A person whose password and second factor were checked for one act just now."""

    username: str
    full_name: str
    roles: frozenset[str]


class Accounts:
    def __init__(self, path: Path) -> None:
        from central.accounts.register import MIGRATIONS as REGISTER_MIGRATIONS

        self.db = open_database(path, MIGRATIONS + REGISTER_MIGRATIONS)
        self.hasher = PasswordHasher()

    def close(self) -> None:
        self.db.close()

    def event(self, username: str, event: str, detail: str, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO security_events (at, username, event, detail) VALUES (?, ?, ?, ?)",
            (format_timestamp(now), username, event, detail),
        )

    def events(self, limit: int = 100, kind: str = "") -> list[dict]:
        """The latest security events, newest first; of one kind when `kind` is given."""
        rows = self.db.execute(
            "SELECT at, username, event, detail FROM security_events "
            "WHERE ? = '' OR event = ? ORDER BY id DESC LIMIT ?",
            (kind, kind, limit),
        )
        return [dict(zip(("at", "username", "event", "detail"), r, strict=True)) for r in rows]

    def event_counts(self, since: datetime) -> dict[str, int]:
        """How often each kind of security event happened since `since`."""
        rows = self.db.execute(
            "SELECT event, count(*) FROM security_events WHERE at >= ? GROUP BY event "
            "ORDER BY event",
            (format_timestamp(since),),
        )
        return dict(rows.fetchall())

    def add(
        self, username: str, full_name: str, unit: str, roles: list[str], password: str,
        now: datetime,
    ) -> str:  # fmt: skip
        """Create a personal account; returns its TOTP secret (shown once, for the app)."""
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise AccountError(f"roles must be among {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"passwords have at least {MIN_PASSWORD} characters")
        if not username.isascii() or not username.replace("-", "").replace(".", "").isalnum():
            raise AccountError("user names: letters, digits, '.' and '-'")
        secret = totp.new_secret()
        try:
            self.db.execute(
                "INSERT INTO users (username, full_name, unit, roles, password_hash, totp_secret,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (username, full_name, unit, ",".join(sorted(roles)), self.hasher.hash(password),
                 secret, format_timestamp(now)),
            )  # fmt: skip
        except sqlite3.IntegrityError:
            raise AccountError(f"account {username} exists already") from None
        self.event(username, "account_created", f"roles {','.join(sorted(roles))}", now)
        return secret

    def login(
        self, username: str, password: str, code: str, now: datetime, address: str = ""
    ) -> Session:
        """Check password and second factor, then open a session."""
        roles = self._authenticate(username, password, code, now, address)
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        stamp = format_timestamp(now)
        self.db.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
            (_digest(token), username, csrf, stamp, stamp),
        )
        self.event(username, "login", "password and second factor", now)
        return Session(token, username, roles, csrf)

    def confirm(
        self, username: str, password: str, code: str, now: datetime, role: str, act: str
    ) -> Identity:
        """A person confirms one act outside a web session (a command-line signature or
        approval): the same checks, counting and lock-out as a login, but no session. The
        account must hold `role`; `act` says what is confirmed, for the security events."""
        if role not in ROLES:
            raise AccountError(f"no role {role!r}; roles are {', '.join(ROLES)}")
        roles = self._authenticate(username, password, code, now)
        if role not in roles:
            self.event(username, "confirm_refused_role", f"{act}: needs role {role}", now)
            log.warning("SECURITY ALERT %s confirmed %s without the role %s", username, act, role)
            raise LoginRefused(f"account {username} does not hold the role {role} for {act}")
        self.event(username, "confirmed", f"{act} as {role}", now)
        return Identity(username, self.full_name(username), roles)

    def _authenticate(
        self, username: str, password: str, code: str, now: datetime, address: str = ""
    ) -> frozenset[str]:
        """Check password and second factor; the roles on success, LoginRefused otherwise.
        Each attempt is counted before it is checked, in one statement, so parallel guesses
        cannot all slip under the limit; a code's time step is used once (totp_last)."""
        stamp = format_timestamp(now)
        if address and not self._address_attempt(address, now):
            self.event(username, "login_refused_address", f"address {address} blocked", now)
            raise LoginRefused("too many failed attempts from this address; try again later")
        row = self.db.execute(
            "UPDATE users SET failures = failures + 1, locked_until = CASE "
            "WHEN failures + 1 >= ? THEN ? ELSE locked_until END "
            "WHERE username = ? AND (locked_until IS NULL OR locked_until <= ?) "
            "RETURNING password_hash, totp_secret, totp_last, failures, roles",
            (MAX_FAILURES, format_timestamp(now + LOCKOUT), username, stamp),
        ).fetchone()
        if row is None:
            exists = self.db.execute("SELECT 1 FROM users WHERE username = ?", (username,))
            if exists.fetchone() is not None:
                self.event(username, "login_refused_locked", "account locked", now)
                raise LoginRefused("too many failed attempts; the account is locked for a while")
            self.hasher.hash(password)  # same cost as a real check: no user enumeration
            self.event(username, "login_failed", "unknown account", now)
            raise LoginRefused("wrong user name, password or code")
        password_hash, secret, totp_last, failures, roles = row
        step = None
        try:
            self.hasher.verify(password_hash, password)
            step = totp.matching_step(secret, code, now.timestamp(), totp_last)
        except (VerificationError, InvalidHashError):
            pass
        if step is None:
            self._failed(username, failures, now)
            raise LoginRefused("wrong user name, password or code")
        self.db.execute(
            "UPDATE users SET failures = 0, locked_until = NULL, totp_last = ? WHERE username = ?",
            (step, username),
        )
        if address:
            self.db.execute("DELETE FROM address_attempts WHERE address = ?", (address,))
        return frozenset(roles.split(","))

    def _address_attempt(self, address: str, now: datetime) -> bool:
        """Count one attempt from `address` (a window of LOCKOUT); False when blocked."""
        stamp, window_open = format_timestamp(now), format_timestamp(now - LOCKOUT)
        self.db.execute(
            "INSERT INTO address_attempts (address, failures, window_start) VALUES (?, 0, ?) "
            "ON CONFLICT (address) DO UPDATE SET failures = 0, window_start = excluded.window_start"
            " WHERE address_attempts.window_start < ?"
            " AND (address_attempts.blocked_until IS NULL OR address_attempts.blocked_until <= ?)",
            (address, stamp, window_open, stamp),
        )
        row = self.db.execute(
            "UPDATE address_attempts SET failures = failures + 1, blocked_until = CASE "
            "WHEN failures + 1 >= ? THEN ? ELSE blocked_until END "
            "WHERE address = ? AND (blocked_until IS NULL OR blocked_until <= ?) RETURNING 1",
            (MAX_ADDRESS_FAILURES, format_timestamp(now + LOCKOUT), address, stamp),
        ).fetchone()
        return row is not None

    def _failed(self, username: str, failures: int, now: datetime) -> None:
        """The attempt was counted before the check; only the event remains to be said."""
        self.event(username, "login_failed", f"failure {failures}", now)
        if failures >= MAX_FAILURES:
            self.event(username, "locked_out", f"after {failures} failures", now)
            log.warning(
                "SECURITY ALERT account %s locked after %d failed logins", username, failures
            )

    def session(self, token: str, now: datetime) -> Session | None:
        """The live session for a cookie, refreshed; None when absent or expired."""
        row = self.db.execute(
            "SELECT s.username, s.csrf, s.created_at, s.last_seen, u.roles FROM sessions s "
            "JOIN users u USING (username) WHERE s.token_sha256 = ?",
            (_digest(token),),
        ).fetchone()
        if row is None:
            return None
        username, csrf, created, last_seen, roles = row
        stamp = format_timestamp(now)
        if created < format_timestamp(now - ABSOLUTE) or last_seen < format_timestamp(now - IDLE):
            self.logout(token)
            return None
        self.db.execute(
            "UPDATE sessions SET last_seen = ? WHERE token_sha256 = ?", (stamp, _digest(token))
        )
        return Session(token, username, frozenset(roles.split(",")), csrf)

    def logout(self, token: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_digest(token),))

    def full_name(self, username: str) -> str:
        """The name a person signs with ('' for an unknown name)."""
        row = self.db.execute(
            "SELECT full_name FROM users WHERE username = ?", (username,)
        ).fetchone()
        return row[0] if row else ""

    def unit_of(self, username: str) -> str:
        """The unit a person's account belongs to ('' for an unknown name)."""
        row = self.db.execute("SELECT unit FROM users WHERE username = ?", (username,)).fetchone()
        return row[0] if row else ""

    def unlock(self, username: str, by: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE users SET failures = 0, locked_until = NULL WHERE username = ?", (username,)
        )
        self.event(username, "unlocked", f"by {by}", now)

    def role_violation(self, username: str, path: str, now: datetime) -> None:
        self.event(username, "role_violation", path, now)
        log.warning("SECURITY ALERT %s tried %s outside their role", username, path)
