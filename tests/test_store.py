"""The day-partitioned store: partitions, searches, deduplication, and what reads may see."""

from datetime import UTC, date, datetime, timedelta

import pytest

from central.store import Outcome
from central.store.partitioned import DayPartitionedStore, SearchError
from tests.conftest import verified_passage
from wire import SigningKey

KEY = SigningKey.from_seed(bytes(32))
CAM = "test-cam-01"
T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, clock):
    """Each test runs on both backends: SQLite day files and PostgreSQL day partitions."""
    if request.param == "sqlite":
        store = DayPartitionedStore(tmp_path / "data", tmp_path / "keys", clock)
    else:
        from central.store.postgres import PostgresPassageStore

        conninfo = request.getfixturevalue("postgres_conninfo")
        store = PostgresPassageStore(conninfo, tmp_path / "data", tmp_path / "keys", clock)
    yield store
    store.close()


def put(store, *passages):
    return store.insert_batch(list(passages), T0)


def test_passages_go_to_the_file_of_their_utc_capture_day(store):
    midnight = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
    put(
        store,
        verified_passage(KEY, seq=1, captured_at=midnight - timedelta(milliseconds=1)),
        verified_passage(KEY, seq=2, captured_at=midnight),
    )
    assert store.days() == [date(2026, 11, 9), date(2026, 11, 10)]
    if isinstance(store, DayPartitionedStore):
        assert store.path_of(date(2026, 11, 9)).exists()


def test_wildcard_and_country_plate_search(store):
    plates = [
        ("AB1212", "NL"),
        ("AB9912", "NL"),
        ("AB1212", "BE"),
        ("YX123Z", "NL"),
        ("ZZ1212", "NL"),
    ]
    put(
        store,
        *[
            verified_passage(
                KEY,
                seq=i + 1,
                plate=p,
                country=c,
                captured_at=T0,
                char_confidence_pm=(900,) * len(p),
            )
            for i, (p, c) in enumerate(plates)
        ],
    )
    window = (T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert sorted(p.plate for p in store.search_plate("AB??12", *window)) == [
        "AB1212",
        "AB1212",
        "AB9912",
    ]
    assert [p.country for p in store.search_plate("AB1212", *window, country="BE")] == ["BE"]
    assert [p.plate for p in store.search_plate("YX*", *window)] == ["YX123Z"]
    assert [p.plate for p in store.search_plate("*1212", *window, country="NL")] == [
        "AB1212",
        "ZZ1212",
    ]
    assert store.search_plate("AB1212", T0 + timedelta(seconds=1), T0 + timedelta(hours=1)) == []


@pytest.mark.parametrize("pattern", ["AB%12", "AB[12]", "", "A" * 13, "AB_12"])
def test_bad_plate_patterns_are_refused(store, pattern):
    with pytest.raises(SearchError, match="letters, digits"):
        store.search_plate(pattern, T0, T0 + timedelta(hours=1))


def test_window_search_at_cameras_and_direction(store):
    put(
        store,
        verified_passage(KEY, seq=1, captured_at=T0),
        verified_passage(KEY, seq=2, captured_at=T0 + timedelta(minutes=10), direction="S"),
        verified_passage(KEY, seq=3, captured_at=T0 + timedelta(minutes=30)),
    )
    start, end = T0, T0 + timedelta(minutes=30)
    assert [p.seq for p in store.search_window([CAM], start, end)] == [1, 2]
    assert [p.seq for p in store.search_window([CAM], start, end, direction="S")] == [2]
    assert store.count_window([CAM], start, end) == 2
    assert store.search_window(["other-cam"], start, end) == []
    with pytest.raises(SearchError, match="at least one camera"):
        store.search_window([], start, end)


def test_window_spanning_midnight_reads_both_day_files(store):
    midnight = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
    put(
        store,
        verified_passage(KEY, seq=1, captured_at=midnight - timedelta(minutes=5)),
        verified_passage(KEY, seq=2, captured_at=midnight + timedelta(minutes=5)),
    )
    found = store.search_window([CAM], midnight - timedelta(hours=1), midnight + timedelta(hours=1))
    assert [p.seq for p in found] == [1, 2]


def test_same_record_twice_is_stored_once(store):
    record = verified_passage(KEY, seq=1, captured_at=T0)
    assert put(store, record, record) == [Outcome.STORED, Outcome.DUPLICATE]
    assert put(store, record) == [Outcome.DUPLICATE]
    assert store.count() == 1


def test_reused_sequence_number_is_a_conflict_even_on_another_day(store):
    assert put(store, verified_passage(KEY, seq=5, captured_at=T0)) == [Outcome.STORED]
    other_day = verified_passage(KEY, seq=5, captured_at=T0 - timedelta(days=2), plate="ZZ999Z")
    same_day = verified_passage(KEY, seq=5, captured_at=T0, plate="ZZ999Z")
    assert put(store, other_day, same_day) == [Outcome.CONFLICT, Outcome.CONFLICT]
    assert [p.plate for p in store.recent()] == ["GBL12X"]


def test_index_entry_without_its_row_is_stored_again(tmp_path, clock):
    """A crash between the day commit and the index commit must not lose the record (SQLite
    only: on PostgreSQL the row is its own index, there are no two commits)."""
    store = DayPartitionedStore(tmp_path / "data", tmp_path / "keys", clock)
    record = verified_passage(KEY, seq=9, captured_at=T0)
    store.sequences.add([(CAM, 9, date(2026, 11, 10), "0" * 64)])
    assert put(store, record) == [Outcome.STORED]
    store.close()


def test_images_are_encrypted_at_rest_and_decrypted_on_read(store):
    record = verified_passage(
        KEY, seq=1, captured_at=T0, overview_jpeg=b"\xff\xd8\xff" + b"OVERVIEW" * 50
    )
    put(store, record)
    if isinstance(store, DayPartitionedStore):
        assert b"OVERVIEW" * 5 not in store.path_of(T0.date()).read_bytes()
    else:
        sealed = store.db.execute("SELECT overview FROM passage_images").fetchone()[0]
        assert b"OVERVIEW" not in bytes(sealed)
    assert store.image(CAM, 1, "overview") == record.record.overview_jpeg
    assert store.image(CAM, 2, "overview") is None


def test_passages_vanish_from_every_read_path_the_second_they_pass_28_days(store, clock):
    put(store, verified_passage(KEY, seq=1, captured_at=T0))
    window = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))

    def visible() -> list[bool]:
        return [
            bool(store.recent()),
            bool(store.search_plate("GBL12X", *window)),
            bool(store.search_window([CAM], *window)),
            store.count_window([CAM], *window) == 1,
            store.image(CAM, 1, "crop") is not None,
        ]

    clock.now = T0 + timedelta(days=28) - timedelta(seconds=1)
    assert visible() == [True] * 5
    clock.now = T0 + timedelta(days=28) + timedelta(seconds=1)
    assert visible() == [False] * 5
    assert store.count() == 1, "still physically present until retention runs"
