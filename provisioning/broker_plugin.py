"""The broker's refusal reporter (`mosquitto/anpr_refusals.c`), built on the broker host.

Mosquitto refuses a unit's publish under another camera's topics silently; the plugin
refuses it itself, logs it and reports it to the central (see the C file for why). It is
built here from the source shipped with the package, with the host's C compiler and
Debian's `mosquitto-dev` headers, so it always matches the installed broker's API.
"""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

PLUGIN_NAME = "anpr_refusals.so"
HEADER = Path("/usr/include/mosquitto_broker.h")


class BrokerPluginError(Exception):
    """The plugin cannot be built; the message says what to install."""


def source() -> Path:
    return Path(str(resources.files("provisioning") / "mosquitto" / "anpr_refusals.c"))


def build_plugin(out: Path) -> Path:
    """Compile the plugin into `out`; returns the shared object's path."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not HEADER.exists():
        raise BrokerPluginError(
            "building the broker's refusal plugin needs a C compiler and Mosquitto's plugin "
            "headers: apt-get install gcc mosquitto-dev (or pass --no-refusal-plugin)"
        )
    out.mkdir(parents=True, exist_ok=True)
    target = out / PLUGIN_NAME
    done = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(target),
         str(source())],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise BrokerPluginError(f"the broker plugin did not compile: {done.stderr.strip()}")
    return target
