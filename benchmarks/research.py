"""`make bench-research`: a generated day of 100 cameras and 5 million research records.

    python -m benchmarks.research [--cameras 100] [--records 5000000] [--mqtt 200000]

1. Ingest: signed batches of 1,000 sightings (as units send them) checked (signature,
   camera, area, day key) and stored, in-process; then `--mqtt` records through a real
   Mosquitto into the running research ingest. Target: >= 5,000 records/s.
2. Figures: the whole area's day loaded, flows per 15 minutes and the origin-destination
   matrix with travel times. Target: the matrix in under 10 s.

Vehicles drive routes of 2 to 6 cameras with travel times of 2 to 20 minutes per hop.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from node.keyfiles import save_signing_key
from traffic_research.config import parse_config
from traffic_research.figures import flows, od_matrix
from traffic_research.ingest import ResearchIngest, check_batch
from traffic_research.registry import Registry
from traffic_research.store import ResearchStore
from wire import SigningKey
from wire.fields import DIRECTIONS
from wire.research import MAX_BATCH, ResearchBatch, Sighting, encode_batch, vehicle_hash
from wire.sealing import SealingKey
from wire.topics import research_topic

AREA = "bench-area"


def line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}", flush=True)


def generate(cameras: int, records: int, day_start: int, seed: int = 5):
    """Sightings per camera: {camera index: [(at, direction, vehicle hash), ...]}, sorted."""
    rng = np.random.default_rng(seed)
    per_vehicle = rng.integers(2, 7, size=records // 4 + 1)
    vehicles = int(np.searchsorted(np.cumsum(per_vehicle), records)) + 1
    per_vehicle = per_vehicle[:vehicles]
    key = os.urandom(32)
    hashes = [vehicle_hash(key, f"V{i:07d}") for i in range(vehicles)]
    owner = np.repeat(np.arange(vehicles), per_vehicle)[:records]
    first = np.cumsum(per_vehicle) - per_vehicle
    hop = np.arange(len(owner)) - first[owner]
    start = rng.integers(0, 86_400 - 7_200, size=vehicles)
    travel = rng.integers(120, 1_200, size=len(owner))
    at = start[owner] + np.where(hop == 0, 0, travel) * hop
    stride = rng.integers(1, 16, size=vehicles)  # each vehicle's own route through the area
    camera = (rng.integers(0, cameras, size=vehicles)[owner] + hop * stride[owner]) % cameras
    direction = np.array(DIRECTIONS)[camera % len(DIRECTIONS)]
    by_camera: dict[int, list] = {c: [] for c in range(cameras)}
    order = np.lexsort((at, camera))
    for index in order:
        by_camera[int(camera[index])].append(
            (day_start + int(at[index]), str(direction[index]), hashes[owner[index]])
        )
    return by_camera, key


def make_batches(by_camera, units, day, day_key_id: str):
    """Signed payloads per camera, as the units would publish them."""
    out = []
    for index, sightings in by_camera.items():
        camera_id, key = units[index]
        for seq, first in enumerate(range(0, len(sightings), MAX_BATCH), 1):
            chunk = tuple(Sighting(*s) for s in sightings[first : first + MAX_BATCH])
            batch = ResearchBatch(camera_id, key.key_id, seq, AREA, day, day_key_id, chunk)
            out.append((research_topic(camera_id), encode_batch(batch, key), len(chunk)))
    return out


def bench(root: Path, cameras: int, records: int, over_mqtt: int) -> None:
    now = datetime.now(UTC)
    day = (now - timedelta(days=1)).date()
    day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    signer = SigningKey.generate()
    save_signing_key(signer, root / "signing.key")
    registry = Registry(root / "data" / "registry.sqlite")
    units = []
    for index in range(cameras):
        key = SigningKey.generate()
        camera_id = f"research-cam-{index:03d}"
        registry.add_camera(camera_id, AREA, key.verify_key, SealingKey.generate().public_raw, now)
        units.append((camera_id, key))
    registry.ensure_day_keys(day, now)
    day_key = registry.day_key(AREA, day)
    print(f"\nResearch: {records:,} sightings at {cameras} cameras, one day", flush=True)
    began = time.perf_counter()
    by_camera, _ = generate(cameras, records, day_start)
    payloads = make_batches(by_camera, units, day, day_key.key_id)
    line("generated and signed (units' work, not timed below)",
         f"{len(payloads):,} batches in {time.perf_counter() - began:.0f} s")  # fmt: skip

    store = ResearchStore(root / "data" / "research.sqlite")
    began = time.perf_counter()
    for first in range(0, len(payloads), 20):
        chunk = payloads[first : first + 20]
        store.add_batches(check_batch(registry, topic, payload) for topic, payload, _ in chunk)
    took = time.perf_counter() - began
    line("in-process ingest: verify, check, store", f"{records / took:,.0f} records/s (>= 5,000)")
    registry.close()

    began = time.perf_counter()
    arrays = store.day_arrays(AREA, day)
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    flow_cells = flows(arrays, k=10)
    flow_took = time.perf_counter() - began
    began = time.perf_counter()
    od = od_matrix(arrays, k=10, window_s=7_200)
    od_took = time.perf_counter() - began
    shown = sum(c.trips is not None for c in od)
    line("load the day's sightings", f"{loaded:.1f} s")
    line(
        "flows per camera, direction and 15 minutes",
        f"{flow_took:.1f} s, {len(flow_cells):,} cells",
    )
    line("origin-destination matrix with travel times", f"{od_took:.1f} s (< 10 s)")
    line("  pairs shown / suppressed (k = 10)", f"{shown:,} / {len(od) - shown:,}")
    line("load + matrix, as the page does", f"{loaded + od_took:.1f} s")
    store.close()
    if over_mqtt:
        _over_mqtt(root, payloads, over_mqtt)


def _over_mqtt(root: Path, payloads, records: int) -> None:
    import paho.mqtt.client as mqtt

    from tests.conftest import free_port, mosquitto_binary, wait_for_port

    port = free_port()
    conf = root / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n")
    broker = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        data = root / "mqtt-data"
        data.mkdir()
        shutil.copy(root / "data" / "registry.sqlite", data / "registry.sqlite")
        config = parse_config({"storage": {"data_dir": str(data)},
                               "secrets": {"signing_key_file": str(root / "signing.key")},
                               "mqtt": {"host": "127.0.0.1", "port": port}}, root)  # fmt: skip
        ingest = ResearchIngest(config)
        ingest.start()
        ingest.subscribed.wait(10)
        client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", port)
        client.loop_start()
        sent, chosen = 0, []
        for item in payloads:
            if sent >= records:
                break
            chosen.append(item)
            sent += item[2]
        began = time.perf_counter()
        for topic, payload, _ in chosen:
            client.publish(topic, payload, qos=1)
        deadline = time.monotonic() + 600
        handled = ("batches", "rejected", "replays")
        while sum(ingest.counters[n] for n in handled) < len(chosen):
            if time.monotonic() > deadline:
                raise RuntimeError("the research ingest did not take every batch in 10 minutes")
            time.sleep(0.05)
        took = time.perf_counter() - began
        line(f"through Mosquitto into the research ingest ({sent:,})",
             f"{sent / took:,.0f} records/s, {ingest.counters['rejected']} rejected")  # fmt: skip
        client.loop_stop()
        client.disconnect()
        ingest.stop()
    finally:
        broker.terminate()
        broker.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--mqtt", type=int, default=200_000, help="records through Mosquitto")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-research-"))
    try:
        bench(root, args.cameras, args.records, args.mqtt)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
