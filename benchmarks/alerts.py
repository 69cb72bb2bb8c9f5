"""`make bench-alerts`: hotlist matching cost per passage against a large hotlist, and
the end-to-end latency from a unit's passage to the alert on the operator's page.

    python -m benchmarks.alerts [--entries 1000000] [--rate 10] [--seconds 30]

Loads `--entries` exact plates (and 50 wildcard entries) into an approved list, then times
`Hotlists.hits` for passages that miss, that hit exactly and that hit with one misread
character. Target (issue): under 0.1 ms per passage with 1 million entries. Then, against
the same list, `benchmarks.alert_latency`: passages hitting it published on a real
Mosquitto at `--rate` a second; target p99 under 2 s at 10 alerts per second.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.alert_latency import bench_list, measure, report

LETTERS = "BDFGHJKLNPRSTVXZ"


def plate(rng: random.Random) -> str:
    return (
        "".join(rng.choice(LETTERS) for _ in range(2))
        + f"{rng.randrange(1000):03d}"
        + (rng.choice(LETTERS))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=10.0, help="alerts a second, end to end")
    parser.add_argument("--seconds", type=float, default=30.0, help="end-to-end run length")
    args = parser.parse_args()
    if args.entries < 4000:
        parser.error(
            f"--entries must be at least 4,000 (it samples 4,000 near hits), got {args.entries:,}"
        )
    root = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    try:
        now = datetime.now(UTC)
        store, list_id = bench_list(root, now)
        rng = random.Random(3)
        plates = [plate(rng) for _ in range(args.entries)]
        expires = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        began = time.perf_counter()
        store.db.execute("BEGIN")
        store.db.executemany(
            "INSERT INTO entries (list_id, pattern, country, reason, instructions, expires_at, "
            "wildcard) VALUES (?, ?, '', 'bench', 'bench', ?, 0)",
            ((list_id, p, expires) for p in plates),
        )
        for i in range(50):
            store.add_entry(
                list_id, f"Q{i:02d}?Z*", "", "w", "w", now + timedelta(days=1), "b", now
            )
        store.db.execute("COMMIT")
        store.approve(list_id, "bench", now)
        print(f"\n{args.entries:,} entries loaded in {time.perf_counter() - began:.0f} s")
        cases = {
            "miss": [f"AA{i % 1000:03d}A" for i in range(2000)],  # letters no entry uses
            "exact hit": rng.sample(plates, 2000),
            "near hit (8 for B)": [
                p.replace("B", "8", 1) for p in rng.sample(plates, 4000) if "B" in p
            ][:2000],  # fmt: skip
        }
        for name, reads in cases.items():
            timings = []
            for read in reads:
                began = time.perf_counter()
                store.hits(read, "NL", now)
                timings.append((time.perf_counter() - began) * 1000)
            timings.sort()
            print(f"  {name:<22} median {statistics.median(timings):.3f} ms, "
                  f"p99 {timings[int(0.99 * len(timings))]:.3f} ms")  # fmt: skip
        store.close()
        latency = measure(root, args.rate, args.seconds, rng.sample(plates, 1000))
        report(latency, args.rate)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
