"""Reading a side's TOML configuration file: shared by the agent and the central.

Both sides validate their file once at start-up with the same rules: unknown keys are
refused, every problem is reported with the field it belongs to, and relative paths
(after `$VARIABLE` expansion, for systemd's `$CREDENTIALS_DIRECTORY`) are taken from the
file's own folder, so a config can be moved together with the files it names.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the unit on JetPack 6 runs Python 3.10: the same parser, from PyPI
    import tomli as tomllib

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the field and the fix."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_toml(path: Path, what: str) -> dict:
    """The parsed file; `what` names it in the error ("agent config", "central config")."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # tomllib decodes first and lets this through
        raise ConfigError(f"{path} is not UTF-8 text: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{path} nests arrays or tables too deeply") from None


def validate(model: type[M], raw: dict, source: str) -> M:
    """The validated model, or a ConfigError listing every problem as `[section.field] why`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"[{'.'.join(str(p) for p in e['loc'])}] {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def path_resolver(base: Path) -> Callable[[Path], Path]:
    """Expands `$VARIABLES`, then takes a relative path from `base` (the file's folder)."""

    def resolve(value: Path) -> Path:
        value = Path(os.path.expandvars(str(value)))
        return value if value.is_absolute() else base / value

    return resolve
