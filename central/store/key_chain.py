"""A chain of day keys that several central hosts derive alike, and no host can run back.

With several ingest and web hosts (#21), a day key one host makes must be the key every
other host opens that day with, yet no key server may hold the days (it would be one more
copy to destroy) and an expired day's key must stay gone everywhere. So the hosts share a
one-way chain, seeded once at install: each day's key comes from that day's chain value,
and the next day's value from it by a one-way step (HKDF), never back. A host keeps only
the value for the first day it has not made a key for (`chain.key` beside the day keys),
so what survives on it derives tomorrow's keys, never yesterday's: a day key destroyed at
expiry cannot be made again from what is left, on any host. Hosts make a day's key
independently and alike; none has to reach another.

Days before the chain's start (or the install) keep a random key of their own host.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)
CHAIN_FILE = "chain.key"
_STEP_INFO = b"anpr day key chain v1: next day"
_KEY_INFO = b"anpr day key chain v1: day key"
_VALUE_BYTES = 32


class KeyChainError(Exception):
    """The chain file is damaged, or a chain already exists where one is begun."""


def _derive(value: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_VALUE_BYTES, salt=None, info=info).derive(value)


class KeyChain:
    """The chain in a day-key folder; `None` from `open` where the folder has none."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / CHAIN_FILE
        self._lock_path = folder / ".chain.lock"

    @classmethod
    def open(cls, folder: Path) -> KeyChain | None:
        chain = cls(folder)
        return chain if chain.path.exists() else None

    @classmethod
    def begin(cls, folder: Path, first_day: date) -> KeyChain:
        """A new chain whose first key is `first_day`'s; copy `chain.key` to every other
        host's day-key folder before any of them stores a passage of that day."""
        chain = cls(folder)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with chain._locked():
            if chain.path.exists():
                raise KeyChainError(f"{chain.path} exists: a chain is begun once per install")
            chain._write(first_day, os.urandom(_VALUE_BYTES))
        return chain

    def next_day(self) -> date:
        """The first day whose key this host can still make from the chain."""
        return self._read()[0]

    def make(self, day: date, write_key: Callable[[date, bytes], None]) -> bool:
        """Hand `day`'s key (and those of the days skipped before it) to `write_key`, and
        step the chain past it: what is left derives none of them again. False when the
        day lies before the chain's next day: its key, if ever made here, was made before
        (or the day was passed unmade). Passing expired days is this with a `write_key`
        that keeps only the held ones."""
        with self._locked():
            first, value = self._read()
            if day < first:
                return False
            current = first
            while current <= day:
                write_key(current, _derive(value, _KEY_INFO))
                value = _derive(value, _STEP_INFO)
                current += timedelta(days=1)
            self._write(current, value)
        return True

    def _read(self) -> tuple[date, bytes]:
        data = self.path.read_bytes()
        head, _, value = data.partition(b"\n")
        try:
            first = date.fromisoformat(head.decode())
        except ValueError:
            raise KeyChainError(f"{self.path} is damaged: no day at its start") from None
        if len(value) != _VALUE_BYTES:
            raise KeyChainError(f"{self.path} is damaged ({len(value)} bytes of chain)")
        return first, value

    def _write(self, first: date, value: bytes) -> None:
        """Overwrite the value in place (the record has one length; it fits one disk
        sector) and fsync, as a destroyed day key is overwritten: a rename would leave the
        old value, which derives the days now behind the chain, in a freed block."""
        record = first.isoformat().encode() + b"\n" + value
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, record, 0)
            os.ftruncate(fd, len(record))
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def _locked(self):
        """One process at a time steps the chain (ingest workers share the folder)."""
        fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
