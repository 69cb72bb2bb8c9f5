"""The processes' wall clock can be carried forward for soak tests, and only through its file."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

PROBE = "from node import wallclock; print(wallclock.now().isoformat())"


def clock_of(env: dict) -> datetime:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return datetime.fromisoformat(out.strip())


def test_the_system_clock_unless_a_simulation_file_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("ANPR_SIMULATED_CLOCK", raising=False)
    assert abs(clock_of(dict(os.environ)) - datetime.now(UTC)) < timedelta(seconds=5)
    clock_file = tmp_path / "simulated-clock"
    clock_file.write_text(f"{40 * 86400}\n")
    ahead = clock_of({**os.environ, "ANPR_SIMULATED_CLOCK": str(clock_file)})
    assert abs(ahead - datetime.now(UTC) - timedelta(days=40)) < timedelta(seconds=5)


def test_a_simulation_file_that_cannot_be_read_stops_the_process(tmp_path):
    env = {**os.environ, "ANPR_SIMULATED_CLOCK": str(tmp_path / "missing")}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "ANPR_SIMULATED_CLOCK" in done.stderr
