"""The 28-day passage store behind a small interface.

`PassageStore` is what ingest, the API and retention use; `DayPartitionedStore` (SQLite, one
file per UTC day) and `PostgresPassageStore` (a partition per UTC day, shared by several
central nodes) implement it; `storage.backend` chooses (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Protocol

from central.store.records import Outcome, StoredPassage
from node import wallclock
from wire import Passage, Verified


class PassageStore(Protocol):
    def insert_batch(
        self, verified: Sequence[Verified[Passage]], received_at: datetime
    ) -> list[Outcome]: ...

    def recent(self, camera_id: str | None = None, limit: int = 50) -> list[StoredPassage]: ...

    def search_plate(
        self, pattern: str, start: datetime, end: datetime, country: str | None = None,
        limit: int = ...,
    ) -> list[StoredPassage]: ...  # fmt: skip

    def search_window(
        self, cameras: Sequence[str], start: datetime, end: datetime,
        direction: str | None = None, limit: int = ...,
    ) -> list[StoredPassage]: ...  # fmt: skip

    def count_window(
        self, cameras: Sequence[str], start: datetime, end: datetime, direction: str | None = None
    ) -> int: ...

    def image(self, camera_id: str, seq: int, which: str) -> bytes | None: ...

    def check_served(
        self, rows: Sequence[StoredPassage]
    ) -> dict[tuple[str, int], list[str]]: ...  # rows that differ from their signed record

    def days(self) -> list[date]: ...

    def day_of(self, camera_id: str, seq: int) -> date | None: ...

    def destroy_day(self, day: date, now: datetime) -> None: ...

    def purge_expired(self, day: date, now: datetime) -> int: ...

    def close(self) -> None: ...


def open_store(
    config, clock: Callable[[], datetime] = wallclock.now, open_files: int | None = None
) -> PassageStore:
    """The store named by a CentralConfig; `open_files` SQLite day files stay open at once
    (more where the store is kept between searches)."""
    from central.store.partitioned import OPEN_DAY_FILES, DayPartitionedStore

    if config.storage.backend == "postgresql":
        from central.store.postgres import PostgresPassageStore

        return PostgresPassageStore(
            config.storage.postgresql, config.storage.data_dir, config.storage.keys_dir,
            clock, config.cameras_path,
        )  # fmt: skip

    return DayPartitionedStore(
        config.storage.data_dir, config.storage.keys_dir, clock, config.cameras_path,
        open_files or OPEN_DAY_FILES,
    )  # fmt: skip


__all__ = ["Outcome", "PassageStore", "StoredPassage", "open_store"]
