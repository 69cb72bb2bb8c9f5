"""How every process logs: one line per event, to stderr (journald takes it from there), as
text for people or as JSON for a log pipeline, chosen at the command line.

Text is `time level logger message`; JSON adds nothing the text lacks but makes it
machine-readable without parsing (`{"time", "level", "logger", "message"}` and, for an
exception, "exception"). No plate is ever logged: logs outlive the 28 days.
"""

from __future__ import annotations

import argparse
import json
import logging

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def add_log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="json: one JSON object per line, for a log pipeline")  # fmt: skip


def configure(args: argparse.Namespace) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonLines() if args.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    # Like basicConfig: a no-op where logging is already set up (under a test runner).
    logging.basicConfig(level=args.log_level, handlers=[handler])
