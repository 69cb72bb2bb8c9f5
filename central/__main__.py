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
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    areas = {"service": _add_service_parsers}
    areas |= {
        "cameras and keys": cameras.add_parsers, "accounts and officers": accounts.add_parsers,
        "hotlists": hotlists.add_parsers, "calamity": calamity.add_parsers,
        "retention, backup and audit": custody.add_parsers, "camera plan": plan.add_parsers,
        "requests and reports": requests.add_parsers, "the install": doctor.add_parsers,
    }  # fmt: skip
    grouped = {}
    for area, add in areas.items():
        before = set(commands.choices)
        add(commands)
        grouped[area] = [name for name in commands.choices if name not in before]
    helps = {action.dest: action.help or "" for action in commands._choices_actions}
    commands._choices_actions.clear()  # listed by area in the epilog instead of flat
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _command_list(grouped, helps)
    add_config_anywhere(parser, "central TOML file (before or after the command)")
    return parser


def _add_service_parsers(commands) -> None:
    commands.add_parser("serve", help="MQTT ingest, retention and the web service in one process")
    commands.add_parser("ingest", help="MQTT ingest and retention (web under gunicorn)")


def _command_list(grouped: dict[str, list[str]], helps: dict[str, str]) -> str:
    """The commands by area with their one-line help: 50 commands read as nine groups."""
    lines = ["commands, by area:"]
    for area, names in grouped.items():
        lines.append(f"  {area}:")
        lines += [f"    {name:<22} {helps.get(name, '')}".rstrip() for name in names]
    lines.append("`anpr-central COMMAND --help` shows a command's options.")
    return "\n".join(lines)


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
