"""The small stores that have no test file of their own, on SQLite and PostgreSQL alike
(#21): the log of refused records, the holds and the retention log (custody), and the
index of sequence numbers across day files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from central.ingest.rejections import RejectionLog
from central.store.custody import Custody, HoldError
from central.store.sequences import SequenceIndex

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
DAY = date(2026, 11, 22)


def test_refusals_are_kept_with_their_reason_newest_first(store_location):
    log = RejectionLog(store_location("rejections"))
    log.record(NOW, "anpr/v1/cam-1/passage", "cam-1", 7, "clock_skew", "x" * 600)
    log.record(NOW + timedelta(seconds=1), "t" * 300, None, None, "malformed", "not JSON")
    log.record(NOW + timedelta(seconds=2), "anpr/v1/cam-1/passage", "cam-1", 8,
               "bad_signature", "signature does not verify")  # fmt: skip
    log.record(NOW + timedelta(seconds=3), "anpr/v1/cam-1/passage", "cam-1", 9, "clock_skew", "")
    assert log.counts() == {"clock_skew": 2, "malformed": 1, "bad_signature": 1}
    latest = log.latest(limit=3)
    assert [(r["seq"], r["reason"], r["integrity"]) for r in latest] == [
        (9, "clock_skew", 0), (8, "bad_signature", 1), (None, "malformed", 0)]  # fmt: skip
    assert latest[2]["camera_id"] is None and len(latest[2]["topic"]) == 200
    assert len(log.latest()[-1]["detail"]) == 500
    log.close()


def test_a_hold_names_its_request_and_is_released_with_it_and_each_step_is_logged(
    store_location,
):
    custody = Custody(store_location("custody"))
    with pytest.raises(HoldError, match="open request"):
        custody.hold("cam-1", 1, DAY, " ", "j.jansen", NOW)
    custody.hold("cam-1", 1, DAY, "REQ-1", "j.jansen", NOW)
    custody.hold("cam-1", 1, DAY, "REQ-1", "j.jansen", NOW)  # placed twice: held once
    custody.hold("cam-1", 2, DAY, "REQ-1", "j.jansen", NOW)
    custody.hold("cam-1", 2, DAY, "REQ-2", "p.de.vries", NOW)
    custody.hold("cam-2", 5, DAY + timedelta(days=1), "REQ-2", "p.de.vries", NOW)
    assert custody.held_in(DAY) == {("cam-1", 1), ("cam-1", 2)}
    assert custody.release("REQ-1", NOW + timedelta(days=30)) == 2
    assert custody.held_in(DAY) == {("cam-1", 2)}, "still held for the other request"
    assert custody.release("REQ-1", NOW + timedelta(days=31)) == 0
    assert custody.release("REQ-2", NOW + timedelta(days=32)) == 2
    assert custody.held_in(DAY) == set()
    custody.event(NOW + timedelta(days=33), "day_destroyed", DAY, "1234 passages")
    events = custody.events(limit=4)
    assert [(e["event"], e["day"]) for e in events] == [
        ("day_destroyed", "2026-11-22"), ("holds_released", None), ("holds_released", None),
        ("holds_released", None)]  # fmt: skip
    assert events[1]["detail"] == "2 passage(s) of REQ-2"
    assert len(custody.events()) == 9
    custody.close()


def test_a_sequence_number_is_indexed_with_its_day_and_forgotten_with_it(store_location):
    index = SequenceIndex(store_location("sequences"))
    index.add([("cam-1", 1, DAY, "a" * 64), ("cam-1", 2, DAY, "b" * 64)])
    index.add([("cam-1", 2, DAY + timedelta(days=1), "c" * 64)])  # the newer entry wins
    index.add([])
    assert index.lookup("cam-1", 1) == (DAY, "a" * 64)
    assert index.lookup("cam-1", 2) == (DAY + timedelta(days=1), "c" * 64)
    assert index.lookup("cam-2", 1) is None
    assert index.forget_day(DAY) == 1
    assert index.lookup("cam-1", 1) is None and index.lookup("cam-1", 2) is not None
    index.close()
