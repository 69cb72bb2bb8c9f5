"""What every command line of the system shares: `--version`, from the installed package, so
a technician on the roadside and an operator in the data centre can say what they run, and
`--config` accepted wherever it is typed."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def installed_version() -> str:
    try:
        return version("anpr")
    except PackageNotFoundError:
        return "unknown (run from a checkout that is not installed)"


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")


def add_config_anywhere(parser: argparse.ArgumentParser, help_text: str) -> None:
    """`--config FILE` before or after the subcommand (`anpr-central --config C audit verify`
    and `anpr-central audit verify --config C` alike): call once every subcommand exists."""
    for each in _with_subparsers(parser):
        each.add_argument(
            "--config", type=Path, default=argparse.SUPPRESS, metavar="FILE", help=help_text
        )


def config_given(args: argparse.Namespace) -> Path | None:
    return getattr(args, "config", None)


def _with_subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += _with_subparsers(child)
    return found
