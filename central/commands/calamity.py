"""`calamity declare|end|status`: the calamity buffer from the command line.

Declaring and ending name a personal account holding the calamity_coordinator role
(`--by`), so that the command line is no way around the role the web page demands.
Consultation of the frozen passages is on the calamity page only.
"""

from __future__ import annotations

import argparse

from central.accounts.users import Accounts
from central.calamity.buffer import CalamityBuffer, CalamityError
from central.cameras import CameraRegistryError
from central.config import CentralConfig
from node import wallclock

COMMANDS = {"calamity"}
ROLE = "calamity_coordinator"


def add_parsers(commands) -> None:
    calamity = commands.add_parser("calamity", help="declare, end or show a calamity")
    actions = calamity.add_subparsers(dest="calamity_action", required=True)
    declare = actions.add_parser("declare", help="freeze the last 3 hours; keep all new passages")
    declare.add_argument("--by", required=True, help="account with the calamity_coordinator role")
    declare.add_argument("--reason", required=True, help="the very serious, acute, real threat")
    declare.add_argument("--chief-prosecutor", required=True, help="who authorised it")
    end = actions.add_parser("end", help="end the calamity and destroy the passages kept")
    end.add_argument("--by", required=True, help="account with the calamity_coordinator role")
    end.add_argument("--reason", required=True, help="why it is over")
    actions.add_parser("status", help="the calamity in force (if any) and the buffer's size")


def _check_role(config: CentralConfig, username: str) -> None:
    accounts = Accounts(config.accounts_path)
    try:
        row = accounts.db.execute(
            "SELECT roles FROM users WHERE username = ?", (username,)
        ).fetchone()
    finally:
        accounts.close()
    if row is None or ROLE not in row[0].split(","):
        raise CalamityError(
            f"{username!r} is not an account with the {ROLE} role; "
            f"add one with `user-add --role {ROLE}`"
        )


def run(config: CentralConfig, args: argparse.Namespace) -> int:
    now = wallclock.now()
    buffer = CalamityBuffer(config.calamity_path, audit_config=config)
    try:
        if args.calamity_action == "status":
            _status(buffer)
        elif args.calamity_action == "declare":
            _check_role(config, args.by)
            calamity_id = buffer.declare(args.by, args.reason, args.chief_prosecutor, now)
            count, oldest = buffer.buffered()
            print(f"calamity {calamity_id} declared: {count} passages frozen (oldest {oldest}); "
                  "every new passage is kept until `calamity end`")  # fmt: skip
        else:
            _check_role(config, args.by)
            destroyed = buffer.end(args.by, args.reason, now)
            print(f"calamity ended: {destroyed} passages destroyed")
    except CalamityError as exc:
        raise CameraRegistryError(str(exc)) from None
    finally:
        buffer.close()
    return 0


def _status(buffer: CalamityBuffer) -> None:
    count, oldest = buffer.buffered()
    active = buffer.active()
    if active is None:
        print(f"no calamity in force; the buffer rolls ({count} passages, oldest {oldest})")
        return
    print(f"calamity {active['calamity_id']} in force since {active['declared_at']}, "
          f"declared by {active['declared_by']}, authorised by {active['chief_prosecutor']}: "
          f"{active['reason']}")  # fmt: skip
    print(f"{count} passages kept, captured since {active['keeps_from']}")
