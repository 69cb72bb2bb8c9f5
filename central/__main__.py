"""`anpr-central`: run ingest and web, manage cameras, holds, backups and statistics."""

from __future__ import annotations

import argparse
import sys

from central.backup import BackupError
from central.cameras import CameraRegistryError
from central.commands import (
    accounts,
    calamity,
    cameras,
    custody,
    doctor,
    hotlists,
    plan,
    requests,
    service,
)  # fmt: skip
from central.config import ConfigError, load_config
from central.databases import MigrationError
from central.plan.registry import PlanError
from central.practice import TrainingError
from central.requests.orders import RequestError
from central.requests.package import PackageError
from central.store.custody import HoldError
from node.cli import add_config_anywhere, add_version, config_given
from node.logs import add_log_options
from node.logs import configure as configure_logs
from wire.errors import KeyFormatError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anpr-central", description=__doc__)
    add_version(parser)
    add_log_options(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="MQTT ingest, retention and the web service in one process")
    commands.add_parser("ingest", help="MQTT ingest and retention (web under gunicorn)")
    cameras.add_parsers(commands)
    accounts.add_parsers(commands)
    hotlists.add_parsers(commands)
    calamity.add_parsers(commands)
    custody.add_parsers(commands)
    plan.add_parsers(commands)
    requests.add_parsers(commands)
    doctor.add_parsers(commands)
    add_config_anywhere(parser, "central TOML file (before or after the command)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logs(args)
    if config_given(args) is None:
        parser.error("--config FILE is required: the central's TOML file")
    if args.command in doctor.COMMANDS:  # a config that does not load is one of its findings
        return doctor.run(config_given(args), args)
    try:
        config = load_config(args.config)
        for area in (cameras, accounts, hotlists, calamity, plan, requests):
            if args.command in area.COMMANDS:
                return area.run(config, args)
        if args.command in ("serve", "ingest"):
            return service.run(config, with_web=args.command == "serve")
        return custody.run(config, args)
    except (
        ConfigError, KeyFormatError, CameraRegistryError, MigrationError, HoldError, BackupError,
        PlanError, RequestError, TrainingError, PackageError,
    ) as exc:  # fmt: skip
        print(f"anpr-central: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
