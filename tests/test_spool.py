"""The spool keeps every record until the central acknowledges it, across restarts."""

import pytest

from edge_agent.spool import Spool, SpoolError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sequence_numbers_are_allocated_in_order_and_passed_to_the_builder(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    seen = []
    for _ in range(3):
        spool.append(lambda seq: seen.append(seq) or f"record {seq}".encode())
    assert seen == [1, 2, 3]
    assert [o.payload for o in spool.take_ready(10)] == [b"record 1", b"record 2", b"record 3"]


def test_a_failing_builder_stores_nothing_and_burns_no_number(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")

    def broken(seq):
        raise RuntimeError("camera glitch")

    with pytest.raises(RuntimeError):
        spool.append(broken)
    assert spool.depth() == 0
    assert spool.append(lambda seq: b"x") == 1


def test_in_flight_records_are_requeued_when_the_file_is_reopened(tmp_path):
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    for _ in range(3):
        spool.append(lambda seq: b"payload")
    assert len(spool.take_ready(2)) == 2
    assert spool.states() == {1: "inflight", 2: "inflight", 3: "ready"}
    spool.close()

    reopened = Spool(path)
    assert reopened.states() == {1: "ready", 2: "ready", 3: "ready"}


def test_only_acknowledged_records_are_deleted(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    for _ in range(3):
        spool.append(lambda seq: b"payload")
    spool.take_ready(3)
    assert spool.acknowledge([2, 99]) == 1
    assert spool.states() == {1: "inflight", 3: "inflight"}


def test_numbers_are_never_reused_after_acknowledgement_and_restart(tmp_path):
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    spool.append(lambda seq: b"a")
    spool.append(lambda seq: b"b")
    spool.take_ready(2)
    spool.acknowledge([1, 2])
    spool.close()
    assert Spool(path).append(lambda seq: b"c") == 3


def test_unacknowledged_records_are_resent_with_growing_backoff(tmp_path):
    clock = FakeClock()
    spool = Spool(tmp_path / "spool.sqlite", ack_timeout_s=10, max_backoff_s=25, clock=clock)
    spool.append(lambda seq: b"a")
    assert spool.take_ready(1)[0].attempts == 1
    clock.now += 9
    assert spool.requeue_due() == 0
    clock.now += 1
    assert spool.requeue_due() == 1
    assert spool.take_ready(1)[0].attempts == 2
    clock.now += 19
    assert spool.requeue_due() == 0  # second wait is 20 s
    clock.now += 1
    assert spool.requeue_due() == 1
    spool.take_ready(1)
    clock.now += 25  # third wait would be 40 s, capped at 25 s
    assert spool.requeue_due() == 1


def test_health_figures(tmp_path):
    clock = FakeClock()
    spool = Spool(tmp_path / "spool.sqlite", clock=clock)
    assert (spool.depth(), spool.oldest_age_s(), spool.last_seq()) == (0, 0, 0)
    spool.append(lambda seq: b"a")
    clock.now += 42
    spool.append(lambda seq: b"b")
    assert (spool.depth(), spool.oldest_age_s(), spool.last_seq()) == (2, 42, 2)


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SpoolError, match="cannot open spool"):
        Spool(blocker / "spool.sqlite")


def test_records_older_than_28_days_are_destroyed_on_the_unit(tmp_path):
    clock = FakeClock()
    path = tmp_path / "spool.sqlite"
    spool = Spool(path, clock=clock)
    spool.append(lambda seq: b"PLATE-OLD-RECORD")
    clock.now += 27 * 86400
    spool.append(lambda seq: b"PLATE-NEW-RECORD")
    clock.now += 86400 + 1
    assert spool.expire(28 * 86400) == 1
    assert list(spool.states()) == [2]
    spool.close()
    disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"PLATE-OLD-RECORD" not in disk and b"PLATE-NEW-RECORD" in disk


def test_a_full_spool_destroys_its_oldest_record_and_counts_it(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite", max_records=3)
    for _ in range(5):
        spool.append(lambda seq: f"record {seq}".encode())
    assert list(spool.states()) == [3, 4, 5]
    assert spool.dropped_full == 2


def test_an_unopenable_research_queue_is_refused(tmp_path):
    from edge_agent.research_queue import ResearchQueue

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SpoolError, match="cannot open research queue"):
        ResearchQueue(blocker / "research.sqlite")
