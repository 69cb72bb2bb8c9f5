"""What encrypting the day files (SQLCipher) costs, measured side by side.

    python -m benchmarks.day_file_cipher [--days 4] [--per-day 1000000] [--searches 200]

The same rows go into plaintext day files (as before #20) and into encrypted ones; then
full-plate searches and durable ingest commits alternate between the two, query by query
and batch by batch, so a busy machine slows both alike and the ratio holds even where the
absolute figures wander. Each search opens every day file afresh and closes it, as a web
request does (the worst case: no page cached by SQLite). `make bench-store` gives the
absolute 28-day figures; multiply its plaintext p95 by the ratio here for the encrypted one.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics as stats
import time
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.passages import LETTERS
from benchmarks.store import REPO, bulk_insert, day_rows, line
from central.databases import open_database
from central.store.dayfile import MIGRATIONS, DayFile
from central.store.records import SUMMARY_COLUMNS
from wire.fields import format_timestamp

VARIANTS = ("plaintext", "encrypted")
BATCH = 200


def _open(variant: str, path: Path, key: bytes):
    """A connection as the store opens one; the plaintext variant as the previous release."""
    if variant == "encrypted":
        return DayFile(path, date.fromisoformat(path.stem), key).db
    return open_database(path, MIGRATIONS)


def build(root: Path, days: list[date], per_day: int, rng: random.Random, commuters: list[str]):
    keys = {day: os.urandom(32) for day in days}
    for variant in VARIANTS:
        (root / variant).mkdir(parents=True)
    began = time.perf_counter()
    for day in days:
        rows = day_rows(day, per_day, rng, commuters)
        for variant in VARIANTS:
            with closing(_open(variant, root / variant / f"{day}.sqlite", keys[day])) as db:
                bulk_insert(db, rows)
    line("built (both variants)", f"{len(days)} days x {per_day:,} in "
                                  f"{time.perf_counter() - began:,.0f} s")  # fmt: skip
    for variant in VARIANTS:
        size = sum(p.stat().st_size for p in (root / variant).glob("*.sqlite"))
        line(f"  {variant} size", f"{size / (len(days) * per_day):,.0f} B/passage")
    return keys


def bench_search(root: Path, keys: dict[date, bytes], plates: list[str]) -> None:
    days = sorted(keys)
    since = format_timestamp(datetime.combine(days[0], datetime.min.time(), tzinfo=UTC))
    until = format_timestamp(datetime.now(UTC) + timedelta(days=1))
    sql = (f"SELECT {SUMMARY_COLUMNS} FROM passages WHERE plate GLOB ? AND captured_at >= ? "
           "AND captured_at < ? ORDER BY captured_at")  # fmt: skip
    timings: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for number, plate in enumerate(plates):
        order = VARIANTS if number % 2 == 0 else VARIANTS[::-1]
        for variant in order:
            began = time.perf_counter()
            for day in days:
                with closing(_open(variant, root / variant / f"{day}.sqlite", keys[day])) as db:
                    db.execute(sql, (plate, since, until)).fetchall()
            timings[variant].append((time.perf_counter() - began) * 1000 / len(days))
    for variant in VARIANTS:
        found = sorted(timings[variant])
        line(f"full-plate search, per day file opened, {variant}: p50 / p95",
             f"{stats.median(found):.2f} / {found[int(0.95 * len(found))]:.2f} ms")  # fmt: skip
    ratio = stats.median(timings["encrypted"]) / stats.median(timings["plaintext"])
    line("encrypted / plaintext (median)", f"{ratio:.2f}x")
    p95 = sorted(timings["encrypted"])[int(0.95 * len(plates))]
    line("28 days at this p95 per day file (encrypted)", f"{28 * p95:.1f} ms")


def bench_ingest(root: Path, rng: random.Random, rows_each: int) -> None:
    """Durable 200-passage transactions as the ingest worker commits them (the searchable
    row, the signed record ~1.5 KB, a crop ~3 KB and an overview ~40 KB of incompressible
    bytes, as JPEG is), alternating between the two variants."""
    day = date.today()
    key = os.urandom(32)
    rows = day_rows(day, rows_each, rng, ["AA000Z"])
    dbs = {}
    for variant in VARIANTS:
        folder = root / f"ingest-{variant}"
        folder.mkdir()
        dbs[variant] = _open(variant, folder / f"{day}.sqlite", key)
    spent = dict.fromkeys(VARIANTS, 0.0)
    for number, first in enumerate(range(0, len(rows), BATCH)):
        batch = rows[first : first + BATCH]
        extras = [
            ((r[0], r[1], os.urandom(1500), os.urandom(64)),
             (r[0], r[1], os.urandom(3000), os.urandom(40000)))
            for r in batch
        ]  # fmt: skip
        for variant in VARIANTS if number % 2 == 0 else VARIANTS[::-1]:
            db = dbs[variant]
            began = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(f"INSERT INTO passages VALUES ({', '.join('?' * 12)})", batch)
            db.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", [e[0] for e in extras])
            db.executemany("INSERT INTO images VALUES (?, ?, ?, ?)", [e[1] for e in extras])
            db.execute("COMMIT")
            spent[variant] += time.perf_counter() - began
    for variant in VARIANTS:
        dbs[variant].close()
        line(f"durable commits of {BATCH} passages with images, {variant}",
             f"{len(rows) / spent[variant]:,.0f} passages/s")  # fmt: skip
    ratio = spent["encrypted"] / spent["plaintext"]
    line("encrypted / plaintext (time)", f"{ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--per-day", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--ingest", type=int, default=20_000, help="passages per variant")
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "bench-day-file-cipher")
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    rng = random.Random(7)
    commuters = [
        "".join(rng.choice(LETTERS) for _ in range(2)) + f"{rng.randrange(1000):03d}" + "Z"
        for _ in range(20000)
    ]
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=offset) for offset in range(args.days)]
    try:
        print(f"\nDay files, plaintext and encrypted: {args.days} x {args.per_day:,}")
        keys = build(args.workdir, days, args.per_day, rng, commuters)
        plates = rng.sample(commuters, args.searches // 2) + [
            f"QQ{i:03d}Q" for i in range(args.searches // 2)
        ]
        bench_search(args.workdir, keys, plates)
        print("\nIngest commits")
        bench_ingest(args.workdir, rng, args.ingest)
    finally:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
