"""Passage stores kept between web requests (their encrypted day files open and warm), and
closed once idle or once their day expires: no process holds a day past its destruction."""

from datetime import UTC, datetime, timedelta

import pytest

from central.store.partitioned import DayPartitionedStore
from central.web.kept_stores import StoreShelf
from tests.conftest import verified_passage
from tests.test_api import setup  # noqa: F401 - the fixture: a web app with three passages
from wire import SigningKey

KEY = SigningKey.from_seed(bytes(32))
T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now) -> None:
        self.now = now

    def __call__(self):
        return self.now


def closed(store: DayPartitionedStore) -> bool:
    try:
        store.sequences.db.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - sqlite3.ProgrammingError: closed
        return True
    return False


@pytest.fixture
def opened(tmp_path):
    made = []

    def opener():
        made.append(DayPartitionedStore(tmp_path / "data", tmp_path / "keys", lambda: T0))
        return made[-1]

    yield opener, made
    for store in made:
        store.close()


def test_a_store_given_back_is_lent_again_and_an_idle_one_is_closed(opened):
    opener, made = opened
    ticks = Clock(0.0)
    shelf = StoreShelf(opener, idle_s=60, clock=ticks)
    first = shelf.borrow()
    shelf.give_back(first)
    assert shelf.borrow() is first and len(made) == 1, "kept, not reopened"
    shelf.give_back(first)
    ticks.now = 59.0
    assert shelf.sweep() == 0 and not closed(first)
    ticks.now = 61.0
    assert shelf.sweep() == 1 and closed(first) and shelf.idle() == 0
    assert shelf.borrow() is not first and len(made) == 2


def test_a_kept_store_lets_go_of_a_day_and_its_key_once_the_day_expires(tmp_path):
    clock = Clock(T0 + timedelta(hours=1))
    store = DayPartitionedStore(tmp_path / "data", tmp_path / "keys", clock, open_files=32)
    try:
        store.insert_batch([verified_passage(KEY, seq=1, captured_at=T0, plate="KX123Z")], T0)
        assert store.search_plate("KX123Z", T0, T0 + timedelta(hours=1))
        assert T0.date() in store._open and T0.date() in store.keys._cache
        clock.now = T0 + timedelta(days=29)  # the day is past; retention destroys it
        store.recent()  # any use
        assert T0.date() not in store._open, "the file handle is closed"
        assert T0.date() not in store.keys._cache, "the key is gone from memory"
    finally:
        store.close()


def test_the_web_keeps_its_passage_store_between_requests(setup):  # noqa: F811
    app = setup.application
    assert setup.get("/api/v1/cameras/test-cam-01/passages?limit=2").status_code == 200
    shelf = app.extensions["anpr_store_shelf"]
    assert shelf.idle() == 1
    kept = shelf.borrow()
    assert kept.open_files == 32 and kept._open, "its day file stays open"
    shelf.give_back(kept)
    assert setup.get("/api/v1/cameras/test-cam-01/passages?limit=3").status_code == 200
    assert shelf.idle() == 1 and shelf.borrow() is kept, "the same store served again"
