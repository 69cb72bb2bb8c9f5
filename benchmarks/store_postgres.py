"""The PostgreSQL half of `make bench-store` (#21): the same three measurements as the SQLite
day files, on a throwaway cluster started from Debian's server binaries (tests/postgres.py).

1. Ingest: in-process through the store, then through a real Mosquitto with one and with
   two ingest worker processes sharing the traffic (MQTT v5 shared subscription).
2. Search: `--days` partitions of `--per-day` passages (searchable, sealed columns), then
   full-plate searches (per-camera tags), a wildcard over one day, and 30-minute windows.
3. Expiry: dropping a whole day's partitions while ingest writes.
"""

from __future__ import annotations

import random
import shutil
import statistics as stats
import subprocess
import sys
import time
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from benchmarks.passages import Fleet
from benchmarks.store import (
    BATCH,
    REPO,
    commuter_plates,
    day_rows,
    ingest_meanwhile,
    line,
    register,
    window_searches,
)
from central.cameras import CameraRegistry
from central.ingest.admission import admit_passage
from central.postgres_pools import close_pools
from central.store.postgres import PostgresPassageStore
from central.store.postgres_schema import BUCKET_BITS
from tests.postgres import start_cluster

SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "15min"}
_SEP = "\x1f"


def bench_postgres(root: Path, count: int, days: int, per_day: int, skip: list[str]) -> None:
    print("\nPostgreSQL (a partition per UTC day, personal columns sealed)", flush=True)
    cluster = start_cluster(SETTINGS)
    try:
        if "ingest" not in skip:
            bench_ingest(cluster, root, count)
            for workers in (1, 2):
                bench_ingest_over_mqtt(cluster, root, count, workers)
        if "search" not in skip:
            bench_search(cluster, root, days, per_day)
        if "expiry" not in skip:
            bench_expiry(cluster, root, per_day)
    finally:
        close_pools()
        cluster.stop()


def _fresh_database(cluster, name: str) -> str:
    with psycopg.connect(cluster.conninfo, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        db.execute(f"CREATE DATABASE {name}")
    return cluster.conninfo.replace("dbname=anpr", f"dbname={name}")


def bench_ingest(cluster, root: Path, count: int) -> None:
    print(f"\nIngest into PostgreSQL: {count} signed passages, batches of {BATCH}", flush=True)
    conninfo = _fresh_database(cluster, "ingest")
    now = datetime.now(UTC).replace(microsecond=0)
    fleet = Fleet.make(cameras=50)
    registry = CameraRegistry(root / "pg-ingest" / "cameras.sqlite")
    register(registry, fleet, now)
    store = PostgresPassageStore(conninfo, root / "pg-ingest", root / "pg-ingest-keys")
    elapsed = 0.0
    for start in range(0, count, 2000):
        chunk = fleet.payloads(min(2000, count - start), now, first_seq=1 + start // 50)
        began = time.perf_counter()
        for offset in range(0, len(chunk), BATCH):
            verified = [admit_passage(payload, camera, registry, now, timedelta(minutes=5))
                        for camera, payload in chunk[offset : offset + BATCH]]  # fmt: skip
            store.insert_batch(verified, now)
        elapsed += time.perf_counter() - began
    stored = store.count()
    size = store.db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    line("passages stored", f"{stored}")
    line("admission + sealed durable store, one thread", f"{count / elapsed:,.0f} passages/s")
    line("bytes per passage in the database, all tables", f"{size / stored:,.0f}")
    store.close()
    registry.close()


def bench_ingest_over_mqtt(cluster, root: Path, count: int, workers: int) -> None:
    """`workers` ingest processes (`anpr-central ingest`) in one shared group."""
    from central.config import parse_config
    from provisioning.broker_config import render_dev_config
    from provisioning.keys import make_central_keys
    from tests.conftest import free_port, mosquitto_binary, wait_for_port

    base = root / f"pg-mqtt-{workers}"
    (base / "broker").mkdir(parents=True)
    conninfo = _fresh_database(cluster, f"mqtt{workers}")
    port = free_port()
    (base / "broker" / "mosquitto.conf").write_text(render_dev_config(port, base / "broker"))
    broker = subprocess.Popen([mosquitto_binary(), "-c", str(base / "broker" / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    processes = []
    try:
        wait_for_port(port)
        keys = make_central_keys(base / "credentials")
        now = datetime.now(UTC).replace(microsecond=0)
        fleet = Fleet.make(cameras=50)
        for number in range(workers):
            text = f"""
[storage]
data_dir = "{base / f"data-{number}"}"
keys_dir = "{base / "keys"}"
backend = "postgresql"
postgresql = "{conninfo}"
[secrets]
session_key_file = "{keys["session"]}"
ack_signing_key_file = "{keys["ack_key"]}"
[mqtt]
host = "127.0.0.1"
port = {port}
client_id = "anpr-central-ingest-{number}"
[ingest]
shared_group = "ingest"
accept_unsealed = true
"""
            path = base / f"worker-{number}.toml"
            path.write_text(text)
            config = parse_config(tomllib.loads(text), base)
            if number == 0:  # the registry is the database's, shared by the workers
                registry = CameraRegistry(config.cameras_path)
                register(registry, fleet, now)
                registry.close()
            log = (base / f"worker-{number}.log").open("ab")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "central", "--config", str(path), "ingest"],
                stdout=log, stderr=log, cwd=REPO))  # fmt: skip
        time.sleep(3.0)  # the workers connect and subscribe
        batch_file = base / "payloads.bin"
        with batch_file.open("wb") as out:
            for camera_id, payload in fleet.payloads(count, now, first_seq=10_000_000):
                topic = f"anpr/v1/{camera_id}/passage".encode()
                out.write(len(topic).to_bytes(2, "big") + topic + len(payload).to_bytes(4, "big"))
                out.write(payload)
        publisher = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.publish", str(port), str(batch_file)], cwd=REPO
        )
        with psycopg.connect(conninfo, autocommit=True) as db:
            began = time.perf_counter()
            stored = 0
            while stored < count and time.perf_counter() - began < 600:
                time.sleep(0.2)
                stored = db.execute("SELECT count(*) FROM passages").fetchone()[0]
            elapsed = time.perf_counter() - began
        line(f"through Mosquitto, {workers} ingest process(es) in a shared group",
             f"{stored / elapsed:,.0f} passages/s")  # fmt: skip
        publisher.wait(timeout=60)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        broker.terminate()
        broker.wait()
        shutil.rmtree(base, ignore_errors=True)


def load_day(store: PostgresPassageStore, day: date, per_day: int, rng, commuters) -> None:
    """A day's searchable rows, sealed and tagged as ingest would, by COPY."""
    store.ensure_day(day)
    with store.db.transaction(), store.db.cursor() as cursor:
        with cursor.copy(
            "COPY passages (day, camera_id, seq, captured_at, received_at, confidence_pm, "
            "lat_e7, lon_e7, direction, lane, record_sha256, plate_bucket, sealed) FROM STDIN"
        ) as copy:
            for camera, seq, captured, received, plate, country, *rest in day_rows(
                day, per_day, rng, commuters
            ):
                sealed = store.keys.encrypt(day, f"{plate}{_SEP}{country}".encode(),
                                            f"{camera}/{seq}/summary".encode())  # fmt: skip
                tag = store.keys.plate_bucket(day, plate, BUCKET_BITS, create=True)
                copy.write_row((day, camera, seq, captured, received, *rest, tag, sealed))


def bench_search(cluster, root: Path, days: int, per_day: int) -> None:
    print(f"\nSearch on PostgreSQL: {days} partitions x {per_day:,} passages", flush=True)
    conninfo = _fresh_database(cluster, "search")
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    rng = random.Random(11)
    commuters = commuter_plates(rng)
    store = PostgresPassageStore(conninfo, root / "pg-search", root / "pg-search-keys")
    began = time.perf_counter()
    for offset in range(days):
        load_day(store, first + timedelta(days=offset), per_day, rng, commuters)
    store.db.execute("VACUUM ANALYZE passages")
    line("load time (COPY, sealed searchable fields)", f"{time.perf_counter() - began:,.0f} s")
    size = store.db.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                            "WHERE c.relname LIKE 'passages_2%%'").fetchone()[0]  # fmt: skip
    line("disk for the searchable part",
         f"{size / 2**30:,.2f} GiB ({size / (days * per_day):,.0f} B/passage)")  # fmt: skip
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = datetime.now(UTC)
    plates = rng.sample(commuters, 100) + [f"QQ{i:03d}Q" for i in range(100)]
    spent, found = [], []
    for plate in plates:
        began = time.perf_counter()
        found.append(len(store.search_plate(plate, start, end)))
        spent.append((time.perf_counter() - began) * 1000)
    spent.sort()
    line(f"full-plate search over {days} days, p50 / p95",
         f"{stats.median(spent):.1f} / {spent[int(0.95 * len(spent))]:.1f} ms")  # fmt: skip
    line("  (hits per search: median of present plates)", f"{stats.median(found[:100]):.0f}")
    day_start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    began = time.perf_counter()
    wild = store.search_plate("BD??1*", day_start, end, limit=100_000)
    line("wildcard search BD??1* over one day (every plate opened)",
         f"{(time.perf_counter() - began) * 1000:.0f} ms, {len(wild):,} hits")  # fmt: skip
    window_searches(store, first, days)
    store.close()


def bench_expiry(cluster, root: Path, per_day: int) -> None:
    print(f"\nExpiry on PostgreSQL: a {per_day:,}-passage day while ingest writes", flush=True)
    conninfo = _fresh_database(cluster, "expiry")
    now = datetime.now(UTC).replace(microsecond=0)
    old_day = now.date() - timedelta(days=30)
    store = PostgresPassageStore(conninfo, root / "pg-expiry", root / "pg-expiry-keys")
    load_day(store, old_day, per_day, random.Random(5), ["AA000Z"])
    fleet = Fleet.make(cameras=20)
    from wire import decode_passage

    items = [decode_passage(p).verify(fleet.keys[c].verify_key)
             for c, p in fleet.payloads(6000, now)]  # fmt: skip

    def destroy() -> float:
        began = time.perf_counter()
        store.destroy_day(old_day, now)
        return time.perf_counter() - began

    def writer() -> PostgresPassageStore:
        return PostgresPassageStore(conninfo, root / "pg-expiry", root / "pg-expiry-keys")

    destroy, longest, during = ingest_meanwhile(writer, items, now, destroy)
    line("destroy one whole day (key, then DROP of its partitions)", f"{destroy * 1000:.0f} ms")
    line(f"longest ingest batch of {BATCH} meanwhile ({during} batches ran)",
         f"{longest * 1000:.0f} ms")  # fmt: skip
    store.close()
