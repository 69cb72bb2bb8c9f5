"""Per-day data keys: the second lock of retention (crypto-shredding).

Each UTC day has its own 256-bit key, kept in its own folder apart from the data, one small
file per day. A key derived from it encrypts the day file as a whole (SQLCipher: every page
of the file and of its write-ahead log, so plates, times, places and the signed records
too); the key itself seals each image with AES-256-GCM bound to its passage. Expiry
destroys the key first: from then on every copy of that day, wherever it survives (a backup,
a freed page, a worn-out SSD block, a copy taken before expiry), is unreadable ciphertext.

Where several central hosts share the passages (PostgreSQL, #21), their day keys come from
one key chain they all hold (`key_chain.py`): each host makes a day's key alike, and none
can make an expired day's key again.

This module owns the at-rest keys; nothing else calls AES-GCM or derives a file key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from central.store.key_chain import KeyChain

log = logging.getLogger(__name__)
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.key")
# Images keep the day key itself (as sealed before the day files were encrypted); the file
# key is derived apart, so neither use weakens the other.
_FILE_KEY_INFO = b"anpr day file key v1 (SQLCipher raw key)"
# PostgreSQL's passage rows carry a coarse keyed hash of the plate for exact plate search.
_TAG_KEY_INFO = b"anpr plate bucket key v1 (HMAC-SHA256)"


class DayKeyError(Exception):
    """A day key is missing, destroyed or unreadable."""


class DayKeyring:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._cache: dict[date, tuple[bytes, AESGCM]] = {}  # the key and its image cipher
        self._tag_keys: dict[date, bytes] = {}
        self._lock = threading.Lock()

    def _path(self, day: date) -> Path:
        return self.folder / f"{day.isoformat()}.key"

    def days(self) -> list[date]:
        found = (_KEY_FILE.fullmatch(p.name) for p in self.folder.iterdir())
        return sorted(date.fromisoformat(m.group(1)) for m in found if m)

    def _loaded(self, day: date, create: bool) -> tuple[bytes, AESGCM]:
        with self._lock:
            loaded = self._cache.get(day)
            if loaded is not None:
                return loaded
            path = self._path(day)
            if not path.exists():
                self._make(day, create)
            key = path.read_bytes()
            if len(key) != KEY_BYTES:
                raise DayKeyError(f"data key file {path} is damaged ({len(key)} bytes)")
            loaded = self._cache[day] = (key, AESGCM(key))
            return loaded

    def _cipher(self, day: date, create: bool) -> AESGCM:
        return self._loaded(day, create)[1]

    def file_key(self, day: date, create: bool = False) -> bytes:
        """The day file's SQLCipher key (32 bytes); made with the day key when `create`."""
        return HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_FILE_KEY_INFO
        ).derive(self._loaded(day, create)[0])

    def plate_bucket(self, day: date, plate: str, bits: int, create: bool = False) -> int:
        """The plate's bucket of the day: HMAC-SHA256 under a key derived from the day key,
        cut to `bits` bits. Coarse on purpose: at national volume each bucket holds hundreds
        of passages a day, so a search probes one bucket and opens its rows, while the
        bucket column links no passage to one vehicle (not even before the key is destroyed)."""
        key = self._tag_keys.get(day)
        if key is None:
            key = self._tag_keys[day] = HKDF(
                algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_TAG_KEY_INFO
            ).derive(self._loaded(day, create)[0])
        digest = hmac.new(key, plate.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:4], "big") >> (32 - bits)

    def _make(self, day: date, create: bool) -> None:
        """A missing day key: from the hosts' shared chain where there is one and it has
        not passed the day (then reading makes it too: every host derives it alike), else
        a random key of this host's own when `create`."""
        chain = KeyChain.open(self.folder)
        if chain is not None and chain.make(day, self._write_key):
            return
        if not create:
            raise DayKeyError(f"no data key for {day}: destroyed at expiry, or never made")
        if chain is not None:
            log.warning("day key of %s: before the key chain's start, a key of this host only",
                        day)  # fmt: skip
        self._write_key(day, AESGCM.generate_key(bit_length=256))

    def pass_chain_through(self, day: date, keep: Callable[[date], bool]) -> None:
        """Step the hosts' key chain past `day` (expired), so nothing left on this host
        derives its key or an earlier one; days `keep` names (held for open requests) get
        their keys made here first. No chain: nothing to do."""
        chain = KeyChain.open(self.folder)
        if chain is not None:
            chain.make(day, lambda at, key: self._write_key(at, key) if keep(at) else None)

    def _write_key(self, day: date, key: bytes) -> None:
        """Write a key beside its place and link it in: two processes making the same day's
        key (ingest workers sharing the folder) agree on the first one linked, and neither
        ever reads a half-written file."""
        path = self._path(day)
        staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(staging, path)
        except FileExistsError:
            pass  # another process made the day's key first: that one is used
        finally:
            staging.unlink()
        _fsync_folder(self.folder)

    def encrypt(self, day: date, plaintext: bytes, context: bytes) -> bytes:
        """nonce || ciphertext+tag; `context` (camera, seq, kind) is bound as associated data."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher(day, create=True).encrypt(nonce, plaintext, context)

    def decrypt(self, day: date, sealed: bytes, context: bytes) -> bytes:
        cipher = self._cipher(day, create=False)
        try:
            return cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
        except InvalidTag:
            raise DayKeyError(
                f"image of {day} fails authentication: altered or misplaced"
            ) from None

    def forget(self, day: date) -> None:
        """Drop the day's key from this process's memory (the file stays)."""
        with self._lock:
            self._cache.pop(day, None)
            self._tag_keys.pop(day, None)

    def destroy(self, day: date) -> bool:
        """Overwrite and remove the day's key; returns whether there was one."""
        with self._lock:
            self._cache.pop(day, None)
            self._tag_keys.pop(day, None)
            path = self._path(day)
            if not path.exists():
                return False
            with path.open("r+b") as handle:
                handle.write(b"\0" * KEY_BYTES)
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
            _fsync_folder(self.folder)
        log.info("retention: data key of %s destroyed", day)
        return True


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
