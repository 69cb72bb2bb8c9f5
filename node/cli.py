"""What every command line of the system shares: `--version`, from the installed package, so
a technician on the roadside and an operator in the data centre can say what they run."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version


def installed_version() -> str:
    try:
        return version("anpr")
    except PackageNotFoundError:
        return "unknown (run from a checkout that is not installed)"


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
