"""The yearly report, the on-call rota and training data, from the command line."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from central.audit_trails import open_audit_trail
from central.cameras import CameraRegistry
from central.commands.cli import parse_moment, record_action
from central.config import CentralConfig
from central.plan.registry import CameraPlan
from central.practice import seed
from central.requests.package import PackageError, verify_package
from central.requests.report import yearly_report
from central.requests.store import Requests
from node import wallclock
from node.keyfiles import load_signing_key, load_verify_key

COMMANDS = {"report", "rota-add", "training-seed", "package"}


def add_parsers(commands) -> None:
    report = commands.add_parser("report", help="the yearly report on consultations (CSV)")
    report.add_argument("--year", type=int, required=True)
    report.add_argument("--output", type=Path, help="write the CSV here (default: stdout)")
    rota = commands.add_parser("rota-add", help="put an officer on call for urgent requests")
    rota.add_argument("--username", required=True)
    rota.add_argument("--from", dest="starts", required=True, help="ISO 8601 with zone")
    rota.add_argument("--until", required=True, help="ISO 8601 with zone")
    package = commands.add_parser("package", help="check a result package's integrity")
    package.add_argument("action", choices=["verify"])
    package.add_argument("file", type=Path)
    package.add_argument(
        "--public-key", type=Path, help="the central's package key (.pub); default: from config"
    )
    training = commands.add_parser("training-seed", help="fill a training instance")
    training.add_argument("--days", type=int, default=14)
    training.add_argument("--per-day", type=int, default=2000)


def run(config: CentralConfig, args: argparse.Namespace) -> int:
    now = wallclock.now()
    if args.command == "package":
        return _verify_package(config, args.file, args.public_key)
    if args.command == "report":
        return _report(config, args.year, args.output, now)
    if args.command == "rota-add":
        requests = Requests(config.requests_path)
        try:
            starts, ends = parse_moment(args.starts), parse_moment(args.until)
            requests.rota.add(args.username, starts, ends)
        finally:
            requests.close()
        details = {"username": args.username, "from": starts.isoformat(), "until": ends.isoformat()}
        record_action(config, "on_call_added", details)
        print(f"{args.username} on call from {starts:%Y-%m-%d %H:%M} to {ends:%Y-%m-%d %H:%M} UTC")
        return 0
    stored = seed(config, args.days, args.per_day, now)
    print(f"training instance: {stored} generated passages over {args.days} days")
    return 0


def _report(config: CentralConfig, year: int, output: Path | None, now: datetime) -> int:
    registry = CameraRegistry(config.cameras_path)
    plan = CameraPlan(config.plan_path, registry)
    trail = open_audit_trail(config)
    try:
        kinds = {e.camera_id: e.kind for e in plan.entries(year)}
        text = yearly_report(trail, year, now, kinds).to_csv()
    finally:
        trail.close()
        plan.close()
        registry.close()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        print(f"report {year} written to {output}")
    return 0


def _verify_package(config: CentralConfig, path: Path, public_key: Path | None) -> int:
    if public_key is not None:
        key = load_verify_key(public_key)
    elif config.secrets.audit_signing_key_file is not None:
        key = load_signing_key(config.secrets.audit_signing_key_file).verify_key
    else:
        raise PackageError("no key to check against: pass --public-key")
    problems = verify_package(path, key)
    for problem in problems:
        print(f"BROKEN: {problem}")
    print(f"{path}: intact, signed by {key.key_id}" if not problems
          else f"{path}: {len(problems)} problem(s)")  # fmt: skip
    return 0 if not problems else 1
