"""What the unit can tell about itself: free disk, CPU temperature, clock synchronisation.

Each probe answers "unknown" (-1 or "unknown") where the platform does not tell, never
raises: a heartbeat must go out even from an odd machine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")


def disk_free_mb(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free // (1024 * 1024)
    except OSError:
        return -1


def cpu_temp_millicelsius(source: Path = THERMAL) -> int:
    try:
        return int(source.read_text().strip())
    except (OSError, ValueError):
        return -1


def clock_sync_state() -> str:
    """From systemd-timesyncd or chrony via timedatectl: synced, unsynced or unknown."""
    try:
        answer = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=2, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    value = answer.stdout.strip()
    return {"yes": "synced", "no": "unsynced"}.get(value, "unknown")
