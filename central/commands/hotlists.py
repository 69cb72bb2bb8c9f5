"""Hotlists from the command line: created by their owner, live once a prosecutor approves.

Approving is a prosecutor's own act on the prosecutor's desk (`/prosecutor`), logged in with
their account and second factor; `hotlist-approve` is kept only to say so, since a name
typed on the command line proves nothing about who approved."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from central.cameras import CameraRegistryError
from central.commands.cli import parse_moment, record_action
from central.config import CentralConfig
from central.hotlists.approvals import DUE_WITHIN
from central.hotlists.lists import HotlistError, Hotlists
from central.hotlists.matching import PatternError
from node import wallclock
from node.keyfiles import load_signing_key

APPROVE_ON_THE_DESK = (
    "hotlist-approve no longer approves: approval is the prosecutor's own act, given on the "
    "prosecutor's desk (/prosecutor) after logging in with their own account and second factor; "
    "give the prosecutor an account with `user-add --role prosecutor`"
)
COMMANDS = {"hotlist-create", "hotlist-approve", "hotlist-add", "hotlist-import", "hotlist-due",
            "hotlist-unit-key", "hotlist-unit-export", "hotlist-unit-push"}  # fmt: skip


def add_parsers(commands) -> None:
    hotlist = commands.add_parser("hotlist-create", help="a hotlist (live once approved)")
    hotlist.add_argument("--name", required=True)
    hotlist.add_argument("--owner", required=True)
    hotlist.add_argument("--legal-basis", required=True, help="legal basis or order reference")
    hotlist.add_argument("--category", required=True)
    hotlist.add_argument("--priority", type=int, required=True, help="1 (act now) to 5")
    hotlist.add_argument("--expires", required=True, help="ISO 8601 UTC")
    hotlist.add_argument("--starts", help="ISO 8601 UTC: a time-window list (e.g. one weekend)")
    hotlist.add_argument("--camera", action="append", default=[], help="scope; repeat")
    approve = commands.add_parser(
        "hotlist-approve", help="refused: prosecutors approve on the prosecutor's desk"
    )
    approve.add_argument("--list-id", type=int)
    approve.add_argument("--prosecutor")
    approve.add_argument("--valid-days", type=int)
    commands.add_parser("hotlist-due", help="lists whose approval lapses within 14 days")
    entry = commands.add_parser("hotlist-add", help="a plate (exact or wildcard) on a hotlist")
    entry.add_argument("--list-id", type=int, required=True)
    entry.add_argument("--plate", required=True, help="e.g. GBL12X, GB?12X, GBL*")
    entry.add_argument("--country", default="")
    entry.add_argument("--reason", required=True)
    entry.add_argument("--instructions", required=True, help="what the operator must do")
    entry.add_argument("--expires", required=True, help="ISO 8601 UTC")
    entry.add_argument("--by", required=True)
    imp = commands.add_parser("hotlist-import", help="entries from CSV, with a report")
    imp.add_argument("--list-id", type=int, required=True)
    imp.add_argument("--csv", type=Path, required=True, help="plate,country,reason,...")
    imp.add_argument("--by", required=True)
    imp.add_argument("--skip-invalid", action="store_true", help="import the valid rows anyway")
    for name, what in (("hotlist-unit-key", "the unit's hashing key, for its bundle"),
                       ("hotlist-unit-export", "the unit's hotlist as slow salted hashes"),
                       ("hotlist-unit-push", "the same, sent to the unit (MQTT)")):  # fmt: skip
        unit = commands.add_parser(name, help=what)
        unit.add_argument("--camera", required=True)
        unit.add_argument("--master-key", type=Path, required=True, help=">= 32 secret bytes")
        if name != "hotlist-unit-push":
            unit.add_argument("--out", type=Path, required=True)


def run(config: CentralConfig, args: argparse.Namespace) -> int:
    if args.command.startswith("hotlist-unit-"):
        _unit(config, args, wallclock.now())
    else:
        _hotlist(config, args, wallclock.now())
    return 0


def _unit(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    """Matching on the unit: its key (once, into its bundle) and its list (regularly)."""
    from central.hotlists.unit_export import (
        UnitExportError,
        export_for_unit,
        push_to_unit,
        read_master_key,
    )
    from wire.unit_hotlist import derive_unit_key

    try:
        master = read_master_key(args.master_key)
        if args.command == "hotlist-unit-key":
            _write_private(args.out, derive_unit_key(master, args.camera))
            print(f"unit key for {args.camera} written to {args.out}: install it on the unit")
            return
        store = Hotlists(config.hotlists_path)
        try:
            key = load_signing_key(config.secrets.ack_signing_key_file)
            data, count = export_for_unit(store, args.camera, master, key, now)
        finally:
            store.close()
        if args.command == "hotlist-unit-push":
            push_to_unit(config.mqtt, args.camera, data)
        else:
            args.out.write_bytes(data)
    except (UnitExportError, OSError) as exc:
        raise CameraRegistryError(str(exc)) from None
    pushed = args.command == "hotlist-unit-push"
    details = {"camera_id": args.camera, "entries": count, "pushed": pushed}
    record_action(config, "hotlist_unit_export", details)
    where = "published to the unit (retained)" if pushed else f"written to {args.out}"
    print(f"{count} entries for {args.camera} {where} (Argon2id hashes)")


def _write_private(path: Path, data: bytes) -> None:
    import os

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _hotlist(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    store = Hotlists(config.hotlists_path)
    try:
        if args.command == "hotlist-create":
            list_id = store.create_list(
                args.name, args.owner, args.legal_basis, args.category, args.priority,
                parse_moment(args.expires), now,
                parse_moment(args.starts) if args.starts else None, tuple(args.camera),
            )  # fmt: skip
            record_action(
                config, "hotlist_created", {"list_id": list_id, "name": args.name}, args.owner
            )
            print(f"hotlist {list_id} created; not live until approved")
        elif args.command == "hotlist-approve":
            raise HotlistError(APPROVE_ON_THE_DESK)
        elif args.command == "hotlist-due":
            for due in store.due_for_approval(now, DUE_WITHIN):
                until = due["approved_until"] or "never approved"
                print(f"{due['list_id']}\t{due['name']}\t{due['owner']}\tapproval until {until}")
        elif args.command == "hotlist-import":
            try:
                text = args.csv.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise HotlistError(f"cannot read {args.csv}: {exc}") from None
            report = store.import_csv(args.list_id, text, args.by, now, args.skip_invalid)
            for line, problem in report.errors:
                print(f"line {line}: {problem}")
            print(
                f"{report.imported} entries imported, {len(report.errors)} rejected; they match "
                "once a prosecutor approves them on /prosecutor"
            )
            details = {"list_id": args.list_id, "imported": report.imported}
            record_action(config, "hotlist_imported", details, args.by)
            if report.errors and not args.skip_invalid:
                raise HotlistError("nothing imported: fix the rows above, or --skip-invalid")
        else:
            entry_id = store.add_entry(
                args.list_id, args.plate, args.country, args.reason, args.instructions,
                parse_moment(args.expires), args.by, now,
            )  # fmt: skip
            details = {"list_id": args.list_id, "entry": entry_id}
            record_action(config, "hotlist_entry_added", details, args.by)
            print(
                f"entry {entry_id} added to hotlist {args.list_id}; it matches once a "
                "prosecutor approves it (with the list, or on its own on /prosecutor)"
            )
    except (HotlistError, PatternError) as exc:
        raise CameraRegistryError(str(exc)) from None
    finally:
        store.close()
