"""Passage stores kept open between requests, and closed again once idle.

Each day file is encrypted (SQLCipher), and opening one costs more than searching it: a
plate search over 28 days opened 28 files for every request. So the web keeps a few stores
(each with up to `KEPT_DAY_FILES` day files open) on a shelf between requests: an officer's
count, search and paging find their files open and their pages cached.

What a kept store must not do is outlive its data. A store closes a day's file, and drops
the day's key from memory, the first time it is used after the day expired; and a store
left idle for `IDLE_S` is closed by the sweeper, so a quiet process holds no day file and
no day key for longer than that after retention destroyed them.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

from central.store import PassageStore

log = logging.getLogger(__name__)
KEPT_DAY_FILES = 32  # 28 days and the day being written, with room
IDLE_S = 60.0
SWEEP_S = 15.0
MAX_IDLE_STORES = 8  # one per concurrent searcher is plenty; more are closed


class StoreShelf:
    def __init__(
        self,
        opener: Callable[[], PassageStore],
        idle_s: float = IDLE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._opener = opener
        self._idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: list[tuple[float, PassageStore]] = []  # changed in place only
        _SWEEPER.watch(self)
        # An app dropped without closing its shelf (tests make hundreds) closes its stores.
        weakref.finalize(self, _close_stores, self._idle)

    def borrow(self) -> PassageStore:
        """The most recently used idle store (its files the warmest), or a new one."""
        with self._lock:
            if self._idle:
                return self._idle.pop()[1]
        return self._opener()

    def give_back(self, store: PassageStore) -> None:
        with self._lock:
            self._idle.append((self._clock(), store))
            surplus = self._idle[:-MAX_IDLE_STORES]
            del self._idle[:-MAX_IDLE_STORES]
        for _, extra in surplus:
            extra.close()

    def sweep(self) -> int:
        """Close the stores idle longer than `idle_s`; returns how many."""
        cutoff = self._clock() - self._idle_s
        with self._lock:
            stale = [store for at, store in self._idle if at < cutoff]
            self._idle[:] = [(at, store) for at, store in self._idle if at >= cutoff]
        for store in stale:
            store.close()
        return len(stale)

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            _close_stores(self._idle)


def _close_stores(idle: list[tuple[float, PassageStore]]) -> None:
    stores = [store for _, store in idle]
    idle.clear()
    for store in stores:
        store.close()


class _Sweeper:
    """One daemon thread for every shelf in the process (tests make many apps)."""

    def __init__(self) -> None:
        self._shelves: weakref.WeakSet[StoreShelf] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, shelf: StoreShelf) -> None:
        with self._lock:
            self._shelves.add(shelf)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="store-sweeper",
                                                daemon=True)  # fmt: skip
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(SWEEP_S)
            for shelf in list(self._shelves):
                try:
                    shelf.sweep()
                except Exception:  # noqa: BLE001 - one shelf's failure must not stop the rest
                    log.exception("web: closing idle passage stores failed")


_SWEEPER = _Sweeper()
