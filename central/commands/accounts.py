"""Personal accounts and the register of authorised officers, from the command line."""

from __future__ import annotations

import argparse
import io
import os
from datetime import date, datetime
from pathlib import Path

import segno

from central.accounts import totp
from central.accounts.register import Register
from central.accounts.users import ROLES, AccountError, Accounts
from central.cameras import CameraRegistryError
from central.commands.cli import record_action
from central.config import CentralConfig
from node import wallclock

COMMANDS = {"user-add", "user-unlock", "officer-authorise", "officer-review", "officer-register"}


def add_parsers(commands) -> None:
    user = commands.add_parser("user-add", help="a personal account with its roles")
    user.add_argument("--username", required=True)
    user.add_argument("--full-name", required=True)
    user.add_argument("--unit", required=True)
    user.add_argument("--role", action="append", required=True, choices=ROLES,
                      help="repeat for several")  # fmt: skip
    user.add_argument("--password-file", type=Path, required=True, help="first line: password")
    user.add_argument("--qr", type=Path, metavar="FILE",
                      help="also write the second factor's QR code to FILE (.svg or .png) "
                           "to hand to the person; it is as secret as a password")  # fmt: skip
    unlock = commands.add_parser("user-unlock", help="lift a lock-out after failed logins")
    unlock.add_argument("--username", required=True)
    unlock.add_argument("--by", required=True)
    authorise = commands.add_parser("officer-authorise", help="enter an authorised officer")
    authorise.add_argument("--username", required=True)
    authorise.add_argument("--unit", required=True)
    authorise.add_argument("--by", required=True, help="who authorises (not the officer)")
    authorise.add_argument("--review-due", required=True, help="YYYY-MM-DD")
    review = commands.add_parser("officer-review", help="the periodic review of an officer")
    review.add_argument("--username", required=True)
    review.add_argument("--by", required=True, help="who reviews (not the officer)")
    review.add_argument("--next-review", required=True, help="YYYY-MM-DD")
    commands.add_parser("officer-register", help="the authorisation register, with warnings")


def run(config: CentralConfig, args: argparse.Namespace) -> int:
    now = wallclock.now()
    if args.command.startswith("officer-"):
        _register(config, args, now)
    else:
        _users(config, args, now)
    return 0


def _users(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    accounts = Accounts(config.accounts_path)
    try:
        if args.command == "user-unlock":
            accounts.unlock(args.username, args.by, now)
            record_action(config, "account_unlocked", {"username": args.username}, args.by)
            print(f"{args.username} unlocked")
            return
        try:
            password = args.password_file.read_text().splitlines()[0]
        except (OSError, IndexError):
            raise CameraRegistryError(f"cannot read a password from {args.password_file}") from None
        try:
            secret = accounts.add(
                args.username, args.full_name, args.unit, args.role, password, now
            )
        except AccountError as exc:
            raise CameraRegistryError(str(exc)) from None
        record_action(config, "account_created", {"username": args.username, "roles": args.role})
        _show_second_factor(args.username, totp.provisioning_uri(secret, args.username), args.qr)
    finally:
        accounts.close()


def _show_second_factor(username: str, uri: str, qr_file: Path | None) -> None:
    """The person scans the code with their authenticator app at the administrator's screen
    (or from the file handed over); the URI stays for apps that take it typed."""
    code = segno.make(uri, error="m")
    print(f"account {username} created; second factor: scan this code with the authenticator")
    out = io.StringIO()
    code.terminal(out=out, compact=True)
    print(out.getvalue(), end="")
    print(f"or enter: {uri}")
    if qr_file is not None:
        descriptor = os.open(qr_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            code.save(handle, kind=qr_file.suffix.lstrip(".").lower() or "svg", scale=8)
        print(f"QR code written to {qr_file} (mode 0600): hand it over, then delete it")


def _register(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    accounts = Accounts(config.accounts_path)
    register = Register(accounts)
    try:
        if args.command == "officer-authorise":
            try:
                due = date.fromisoformat(args.review_due)
                register.authorise(args.username, args.unit, args.by, due, now)
            except (ValueError, AccountError) as exc:
                raise CameraRegistryError(f"not authorised: {exc}") from None
            details = {"username": args.username, "unit": args.unit, "review_due": args.review_due}
            record_action(config, "officer_authorised", details, args.by)
            print(f"{args.username} authorised for {args.unit} until review on {args.review_due}")
            return
        if args.command == "officer-review":
            try:
                register.review(args.username, args.by, date.fromisoformat(args.next_review), now)
            except (ValueError, AccountError) as exc:
                raise CameraRegistryError(f"not reviewed: {exc}") from None
            details = {"username": args.username, "next_review": args.next_review}
            record_action(config, "officer_reviewed", details, args.by)
            print(f"{args.username} reviewed by {args.by}; next review {args.next_review}")
            return
        for entry in register.active(now):
            state = "LAPSED" if entry.lapsed else "active"
            reviewed = "-"
            if entry.reviewed_at:
                reviewed = f"{entry.reviewed_at[:10]} by {entry.reviewed_by}"
            print(f"{entry.unit}\t{entry.username}\tby {entry.authorised_by}\t"
                  f"since {entry.since[:10]}\treview {entry.review_due}\t{state}\t"
                  f"reviewed {reviewed}")  # fmt: skip
        for warning in register.warnings(now):
            print(f"WARNING: {warning}")
    finally:
        accounts.close()
