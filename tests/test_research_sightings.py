"""Research sightings on the unit: hashed under the day's key, batched and signed, queued
durably and boundedly; linked within a day, not across days; never a plate."""

import os
from datetime import UTC, date, datetime, timedelta

from edge_agent.purposes import TrafficResearchConfig
from edge_agent.research import ResearchEmitter
from edge_agent.research_keys import DayKeyRing
from edge_agent.research_queue import ResearchQueue
from wire.research import MAX_BATCH, DayKey, decode_batch, encode_day_keys, seal_day_key
from wire.research import vehicle_hash as hash_of
from wire.sealing import SealingKey
from wire.signing import SigningKey

CAMERA, AREA = "res-cam-01", "utrecht-oost"
DAY = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 12, 0, 0, 700_000, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def research_config(**changes) -> TrafficResearchConfig:
    values = dict(area=AREA, owner="Provincie Utrecht", legal_basis="Provinciewet art. 158",
                  valid_from=DAY - timedelta(days=30))  # fmt: skip
    values.update(changes)
    return TrafficResearchConfig(**values)


def setup(tmp_path, days=(DAY, DAY + timedelta(days=1)), **config):
    unit, service, camera = SealingKey.generate(), SigningKey.generate(), SigningKey.generate()
    keys = {day: DayKey(AREA, day, os.urandom(32)) for day in days}
    ring = DayKeyRing(tmp_path / "research", CAMERA, AREA, unit, service.verify_key,
                      today=lambda: DAY)  # fmt: skip
    ring.receive(encode_day_keys([seal_day_key(k, CAMERA, unit.public_raw, service)
                                  for k in keys.values()]))  # fmt: skip
    queue = ResearchQueue(tmp_path / "research" / "queue.sqlite", max_batches=10)
    clock = Clock()
    emitter = ResearchEmitter(CAMERA, "NE", research_config(**config), ring, queue, camera, clock)
    return emitter, queue, keys, camera, clock


def batches(queue: ResearchQueue, camera: SigningKey):
    return [decode_batch(p, lambda c, k: camera.verify_key) for p in queue.payloads()]


def test_sightings_link_within_a_day_not_across_days_and_carry_no_plate(tmp_path):
    emitter, queue, keys, camera, clock = setup(tmp_path)
    assert emitter.sight("GBL12X", NOON)
    assert emitter.sight("XX999Y", NOON + timedelta(seconds=5))
    assert emitter.sight("GBL12X", NOON + timedelta(minutes=40))
    # Past midnight the next day's key takes over: the running batch closes first.
    assert emitter.sight("GBL12X", NOON + timedelta(hours=12))
    assert emitter.flush() > 0
    first, second = batches(queue, camera)
    assert (first.day, second.day) == (DAY, DAY + timedelta(days=1))
    assert first.day_key_id == keys[DAY].key_id and first.area == AREA
    assert [s.at for s in first.sightings] == [int(NOON.timestamp()), int(NOON.timestamp()) + 5,
                                               int(NOON.timestamp()) + 2400]  # fmt: skip
    assert {s.direction for s in first.sightings + second.sightings} == {"NE"}
    a, b, c = (s.vehicle for s in first.sightings)
    assert a == c == hash_of(keys[DAY].key, "GBL12X") and a != b
    assert second.sightings[0].vehicle != a, "one vehicle on two days does not link"
    for payload in queue.payloads():
        assert b"GBL12X" not in payload and b"XX999Y" not in payload
    assert second.seq > first.seq


def test_batches_close_after_flush_s_or_at_the_batch_limit(tmp_path):
    emitter, queue, _, _, clock = setup(tmp_path, flush_s=10)
    emitter.sight("AB12CD", NOON)
    clock.now += 9
    assert emitter.tick() == 0 and queue.depth() == 0
    clock.now += 1
    assert emitter.tick() > 0 and queue.depth() == 1
    for n in range(MAX_BATCH):
        emitter.sight(f"P{n}", NOON)
    assert queue.depth() == 2 and emitter.status().sightings_queued == 1 + MAX_BATCH


def test_without_a_key_or_outside_its_validity_nothing_is_made_and_it_is_said(tmp_path):
    emitter, queue, _, _, _ = setup(tmp_path, days=())
    assert not emitter.sight("GBL12X", NOON)
    status = emitter.status()
    assert status.sightings_unkeyed == 1 and not status.key_today and not status.key_tomorrow
    lapsed, lapsed_queue, _, _, _ = setup(tmp_path / "b", valid_until=DAY - timedelta(days=1))
    assert not lapsed.sight("GBL12X", NOON)
    assert lapsed.flush() == 0 and lapsed_queue.depth() == 0 and queue.depth() == 0


def test_the_queue_is_bounded_keeps_across_reopen_and_never_reuses_a_sequence_number(tmp_path):
    emitter, queue, _, _, _ = setup(tmp_path)
    for n in range(12):
        emitter.sight(f"P{n}", NOON)
        emitter.flush()
    assert queue.depth() == 10 and queue.dropped_sightings == 2
    assert emitter.status().sightings_dropped == 2
    sent = queue.take_ready(3)
    queue.delivered(sent[0].seq)
    assert queue.sent_sightings == 1
    queue.close()

    reopened = ResearchQueue(tmp_path / "research" / "queue.sqlite", max_batches=10)
    again = reopened.take_ready(100)
    assert len(again) == 9, "in-flight batches are ready again after a restart"
    assert sent[1].seq in {b.seq for b in again} and sent[0].seq not in {b.seq for b in again}
    assert reopened.append(lambda seq: (b"x", 1)) == 13
    reopened.close()
