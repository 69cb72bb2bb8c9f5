"""What a stolen unit's hotlist costs to read back, against what matching costs the unit.

    python -m benchmarks.unit_hotlist [--reads 50]

Counts the Dutch plates a thief must try (every side-code in `recognition.plate_formats`),
then times on this machine: one digest in format 1 (HMAC-SHA-256, the unit's key being on
the unit) and in format 2 (Argon2id as `wire.unit_hotlist` makes it); one passage matched
on the unit (`UnitMatcher.hits`, one digest per read); and what it takes the central to
export a list. From those: the time to try every Dutch plate on one core, and a lower bound
for a GPU, whose speed on a memory-hard hash is capped by memory bandwidth (each Argon2id
pass writes every block once and reads two: ~3 x memory x passes bytes per digest).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import statistics
import time
from datetime import UTC, datetime, timedelta

from recognition.plate_formats import LAYOUTS
from wire.unit_hotlist import (
    ARGON2_MEMORY_KIB,
    ARGON2_PASSES,
    HASH,
    UnitHotlist,
    UnitMatcher,
    near_variants,
    plate_digest,
    unit_entries,
)

GPU_BANDWIDTH = 3.35e12  # bytes/s, an H100 SXM's HBM3: the attacker's best case per card
PI5_SLOWDOWN = (3.0, 4.0)  # a Pi 5's Cortex-A76 against one core of this machine


def dutch_plates() -> int:
    """Every registration the Dutch side-codes allow, with the letters actually issued."""
    layout = LAYOUTS["NL"]
    total = 0
    for pattern in layout.patterns:
        count = 1
        for symbol in pattern.replace("-", "").replace(" ", ""):
            count *= len(layout.letters) if symbol == "L" else 10
        total += count
    return total


def per_call(function, repeats: int) -> float:
    """Median seconds per call over `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def human(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=50, help="passages matched on the unit")
    args = parser.parse_args()
    key = b"k" * 32
    plates = dutch_plates()
    print(f"Dutch plates to try: {plates:,} ({len(LAYOUTS['NL'].patterns)} side-codes)")

    fast = per_call(lambda: hmac.new(key, b"GBL12X", hashlib.sha256).hexdigest(), 20_000)
    print(f"format 1, HMAC-SHA-256: {fast * 1e6:.1f} us a digest; every Dutch plate on one "
          f"core: {human(fast * plates)}")  # fmt: skip

    slow = per_call(lambda: plate_digest(key, "GBL12X"), args.reads)
    print(f"format 2, {HASH}: {slow * 1e3:.1f} ms a digest; every Dutch plate on one core: "
          f"{human(slow * plates)}, on 16 cores {human(slow * plates / 16)}")  # fmt: skip
    traffic = 3 * ARGON2_MEMORY_KIB * 1024 * ARGON2_PASSES
    gpu = plates * traffic / GPU_BANDWIDTH
    print(f"  GPU lower bound (memory bandwidth {GPU_BANDWIDTH / 1e12:.2f} TB/s, "
          f"{traffic / 2**20:.0f} MiB moved a digest): {human(gpu)} per card; "
          f"{ARGON2_MEMORY_KIB // 1024} MiB a guess in flight")  # fmt: skip

    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    listed = [f"GB{n:03d}X" for n in range(20)]
    entries = [e for i, p in enumerate(listed)
               for e in unit_entries(key, p, i, 1, "", now + timedelta(days=1))]  # fmt: skip
    matcher = UnitMatcher(UnitHotlist("bench-cam", now, tuple(entries)), key)
    reads = iter(range(10**9))
    read = per_call(lambda: matcher.hits(f"XT{next(reads) % 1000:03d}B", "NL", now), args.reads)
    low, high = PI5_SLOWDOWN
    print(f"unit, one passage matched: {read * 1e3:.1f} ms here, about "
          f"{read * low * 1e3:.0f}-{read * high * 1e3:.0f} ms on a Pi 5 (estimate, x{low:g}-"
          f"x{high:g})")  # fmt: skip
    spellings = statistics.mean(len(near_variants(p)) for p in listed)
    print(
        f"central, export: {spellings:.1f} digests a listed plate (with near spellings), "
        f"{spellings * slow:.2f} s a plate; 1,000 plates for one unit "
        f"{human(1000 * spellings * slow)} (the service's pusher hashes only new entries)"
    )


if __name__ == "__main__":
    main()
