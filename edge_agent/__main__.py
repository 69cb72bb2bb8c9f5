"""`anpr-agent`: run the roadside agent from its TOML configuration."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.capture.folder import SourceError
from edge_agent.config import ConfigError, load_config
from edge_agent.spool import SpoolError
from wire.errors import KeyFormatError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anpr-agent", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="agent TOML file")
    parser.add_argument(
        "--exit-when-drained",
        action="store_true",
        help="exit once the source is finished and every record is acknowledged (replays)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        agent = Agent(load_config(args.config), stop=stop)
    except (ConfigError, SourceError, SpoolError, KeyFormatError) as exc:
        print(f"anpr-agent: {exc}", file=sys.stderr)
        return 2
    agent.run(exit_when_drained=args.exit_when_drained)
    return 0


if __name__ == "__main__":
    sys.exit(main())
