"""The research service: day keys, signed batches over a real Mosquitto, k-anonymous
figures, and the page in a real browser."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from node.keyfiles import save_signing_key
from tests.conftest import wait_until
from traffic_research.config import ResearchConfig, parse_config
from traffic_research.figures import flows, od_matrix
from traffic_research.ingest import ResearchIngest
from traffic_research.keys import KeyKeeper
from traffic_research.registry import Registry
from traffic_research.store import ResearchStore
from wire import SigningKey
from wire.research import (
    DayKey,
    ResearchBatch,
    Sighting,
    decode_day_keys,
    encode_batch,
    open_day_key,
    vehicle_hash,
)  # fmt: skip
from wire.sealing import SealingKey
from wire.topics import research_key_topic, research_topic

TODAY = datetime.now(UTC).date()
NOON = int(datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC).timestamp())


def research_config(tmp_path: Path, broker_port: int = 1883) -> ResearchConfig:
    signer = SigningKey.generate()
    save_signing_key(signer, tmp_path / "research-signing.key")
    text = {
        "storage": {"data_dir": str(tmp_path / "research-data")},
        "secrets": {"signing_key_file": str(tmp_path / "research-signing.key")},
        "mqtt": {"host": "127.0.0.1", "port": broker_port},
        "web": {"port": 8090},
    }
    return parse_config(text, tmp_path)


class Unit:
    """A camera as the research side knows it: signing key and research key."""

    def __init__(self, camera_id: str, registry: Registry, area: str = "utrecht") -> None:
        self.camera_id, self.area = camera_id, area
        self.key, self.research = SigningKey.generate(), SealingKey.generate()
        self.seq = 0
        registry.add_camera(camera_id, area, self.key.verify_key, self.research.public_raw,
                            datetime.now(UTC))  # fmt: skip

    def batch(self, day_key: DayKey, sightings: list[tuple[int, str]], **changes) -> bytes:
        self.seq += 1
        values = dict(
            camera_id=self.camera_id, key_id=self.key.key_id, seq=self.seq, area=self.area,
            day=day_key.day, day_key_id=day_key.key_id,
            sightings=tuple(Sighting(at, "N", vehicle_hash(day_key.key, plate))
                            for at, plate in sightings),
        )  # fmt: skip
        values.update(changes)
        return encode_batch(ResearchBatch(**values), self.key)


def synthetic_day(key: bytes, cameras=("cam-a", "cam-b", "cam-c")) -> dict[str, np.ndarray]:
    """12 vehicles A->B in about 5 minutes, 3 vehicles A->C: below k=10."""
    rows = []
    for index in range(12):
        plate = f"AB{index:03d}C"
        rows += [(0, NOON + index * 60, plate), (1, NOON + index * 60 + 290 + index, plate)]
    for index in range(3):
        plate = f"XY{index:03d}Z"
        rows += [(0, NOON + 3600 + index, plate), (2, NOON + 4000 + index, plate)]
    ids = {p: int.from_bytes(bytes.fromhex(vehicle_hash(key, p)[:16]), "big", signed=True)
           for _, _, p in rows}  # fmt: skip
    return {
        "cameras": np.array(cameras, dtype=object),
        "camera": np.array([r[0] for r in rows], np.int32),
        "directions": np.array(["N"], dtype=object),
        "direction": np.zeros(len(rows), np.int8),
        "at": np.array([r[1] for r in rows], np.int64),
        "vehicle": np.array([ids[r[2]] for r in rows], np.int64),
    }


def test_origin_destination_and_travel_times_with_small_cells_suppressed():
    day = synthetic_day(os.urandom(32))
    cells = {(c.origin, c.destination): c for c in od_matrix(day, k=10, window_s=7200)}
    assert cells[("cam-a", "cam-b")].trips == 12
    assert cells[("cam-a", "cam-b")].travel_s["median"] == 295.0
    assert cells[("cam-a", "cam-c")].trips is None, "3 vehicles < k: suppressed"
    assert cells[("cam-a", "cam-c")].travel_s is None
    flow = {(c.camera_id, c.slot_start): c.vehicles for c in flows(day, k=10)}
    assert flow[("cam-a", NOON)] == 12
    assert flow[("cam-b", NOON)] == 10 and flow[("cam-b", NOON + 900)] is None, "2 < k"
    assert all(v is None for (camera, _), v in flow.items() if camera == "cam-c")
    assert od_matrix(day, k=10, window_s=200) == [], "beyond the trip window: no trips"


def test_one_vehicle_links_within_a_day_and_not_across_days():
    monday, tuesday = os.urandom(32), os.urandom(32)
    assert vehicle_hash(monday, "GBL12X") == vehicle_hash(monday, "gbl12x")
    assert vehicle_hash(monday, "GBL12X") != vehicle_hash(tuesday, "GBL12X")


def test_day_keys_are_made_ahead_and_destroyed_with_their_day(tmp_path):
    registry = Registry(tmp_path / "registry.sqlite")
    Unit("cam-a", registry)
    now = datetime.now(UTC)
    keys = registry.ensure_day_keys(TODAY, now)
    assert [k.day for k in keys] == [TODAY, TODAY + timedelta(days=1)]
    today_key = registry.day_key("utrecht", TODAY)
    destroyed = registry.destroy_closed_day_keys(TODAY + timedelta(days=1), now)
    assert destroyed == [today_key]
    assert registry.day_key("utrecht", TODAY) is None
    assert registry.known_key_id("utrecht", TODAY, today_key.key_id), "batches still checkable"
    registry.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("registry.sqlite*"))
    assert today_key.key not in on_disk, "the destroyed key is gone from the file"


def test_batches_over_mosquitto_are_checked_stored_once_and_hold_no_plate(tmp_path, mosquitto):
    config = research_config(tmp_path, mosquitto.port)
    registry = Registry(config.registry_path)
    unit, other = Unit("cam-a", registry), Unit("cam-b", registry)
    registry.ensure_day_keys(TODAY, datetime.now(UTC))
    day_key = registry.day_key("utrecht", TODAY)
    registry.close()
    ingest = ResearchIngest(config)
    ingest.start()
    assert ingest.subscribed.wait(10)
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    good = unit.batch(day_key, [(NOON, "GBL12X"), (NOON + 5, "KL123M")])
    forged_key = DayKey("utrecht", TODAY, os.urandom(32))
    for topic, payload in (
        (research_topic("cam-a"), good),
        (research_topic("cam-a"), good),  # a replay
        (research_topic("cam-a"), unit.batch(forged_key, [(NOON, "ZZ999Z")])),
        (research_topic("cam-b"), unit.batch(day_key, [(NOON, "ZZ999Z")])),  # wrong topic
        (research_topic("cam-b"), other.batch(day_key, [(NOON, "XY123Z")])),
        (research_topic("cam-b"), other.batch(day_key, [(NOON, "XY123Z")], area="amsterdam")),
    ):  # fmt: skip
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    wait_until(lambda: ingest.counters["sightings"] + ingest.counters["rejected"]
               + ingest.counters["replays"] >= 3 + 3 + 1, what="all batches handled")  # fmt: skip
    assert (ingest.counters["sightings"], ingest.counters["rejected"],
            ingest.counters["replays"]) == (3, 3, 1)  # fmt: skip
    ingest.stop()
    client.loop_stop()
    client.disconnect()
    store = ResearchStore(config.store_path)
    assert store.days("utrecht") == [TODAY]
    store.close()
    on_disk = b"".join(p.read_bytes() for p in config.storage.data_dir.glob("research.sqlite*"))
    for plate in (b"GBL12X", b"KL123M", b"XY123Z", b"ZZ999Z"):
        assert plate not in on_disk


def test_the_keeper_seals_each_units_keys_to_that_unit_alone(tmp_path):
    registry = Registry(tmp_path / "registry.sqlite")
    unit, other = Unit("cam-a", registry), Unit("cam-b", registry)
    signer = SigningKey.generate()
    sent: dict[str, bytes] = {}
    keeper = KeyKeeper(tmp_path / "registry.sqlite", signer, sent.__setitem__)
    assert keeper.run_once(registry, datetime.now(UTC)) == 2
    assert keeper.run_once(registry, datetime.now(UTC)) == 0, "unchanged keys: not again"
    documents = decode_day_keys(sent[research_key_topic("cam-a")])
    opened = [open_day_key(d, "cam-a", unit.research, signer.verify_key) for d in documents]
    assert [k.day for k in opened] == [TODAY, TODAY + timedelta(days=1)]
    assert opened[0] == registry.day_key("utrecht", TODAY)
    with pytest.raises(Exception, match="does not open|is for"):
        open_day_key(documents[0], "cam-b", other.research, signer.verify_key)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert keeper.run_once(registry, tomorrow) == 2, "a day closed: new keys published"
    registry.close()


def test_the_research_page_renders_in_a_browser(tmp_path):
    from tests.browser import ARTEFACTS, browser_page, serve
    from traffic_research.web import create_app

    config = research_config(tmp_path)
    store = ResearchStore(config.store_path)
    day = synthetic_day(os.urandom(32))
    cameras = [store._camera_index(str(name)) for name in day["cameras"]]
    store.db.executemany(
        "INSERT INTO sightings VALUES ('utrecht', ?, ?, 0, ?, ?)",
        [(TODAY.isoformat(), cameras[c], int(a), int(v))
         for c, a, v in zip(day["camera"], day["at"], day["vehicle"], strict=True)],
    )  # fmt: skip
    store.close()
    with serve(create_app(config)) as url, browser_page(tmp_path) as page:
        page.goto(url)
        page.click(f"text={TODAY.isoformat()}")
        # The click only starts the navigation: counting at once raced it and counted the
        # list of days (0 bars, once, on a loaded CI machine).
        page.wait_for_url(f"**/research/utrecht/{TODAY.isoformat()}")
        assert page.locator("#flow-chart rect").count() == 96
        od = page.inner_text("#od")
        assert "12 (4.9 min)" in od and "<10" in od
        assert page.locator("#travel-chart rect").count() == 1
        page.screenshot(path=str(ARTEFACTS / "research-day.png"), full_page=True)
        csv_text = page.request.get(f"{url}/research/utrecht/{TODAY}/od.csv").text()
        assert "cam-a,cam-c,suppressed" in csv_text
        api = page.request.get(f"{url}/api/v1/research/utrecht/{TODAY}/od").json()
        assert {c["trips"] for c in api["cells"]} == {12, None}


def test_a_closed_days_figures_are_cached_until_a_late_batch_arrives(tmp_path):
    from traffic_research.web import create_app

    config = research_config(tmp_path)
    registry = Registry(config.registry_path)
    unit = Unit("cam-a", registry)
    yesterday = TODAY - timedelta(days=1)
    key = DayKey("utrecht", yesterday, os.urandom(32))
    start = NOON - 86_400
    store = ResearchStore(config.store_path)
    first = decode_batch_for(unit, key, [(start + i, f"AB{i:03d}C") for i in range(12)])
    store.add_batches([first])
    client = create_app(config).test_client()
    url = f"/api/v1/research/utrecht/{yesterday}/flows"
    assert [c["vehicles"] for c in client.get(url).get_json()["cells"]] == [12]
    cached = store.db.execute("SELECT count(*) FROM figures_cache").fetchone()[0]
    assert cached == 1, "a closed day's figures are kept"
    late = decode_batch_for(unit, key, [(start + 100 + i, f"CD{i:03d}E") for i in range(3)])
    store.add_batches([late])
    assert store.db.execute("SELECT count(*) FROM figures_cache").fetchone()[0] == 0
    assert [c["vehicles"] for c in client.get(url).get_json()["cells"]] == [15]
    store.close()
    registry.close()


def decode_batch_for(unit: Unit, key: DayKey, sightings) -> ResearchBatch:
    from wire.research import decode_batch

    return decode_batch(unit.batch(key, sightings), lambda c, k: unit.key.verify_key)
