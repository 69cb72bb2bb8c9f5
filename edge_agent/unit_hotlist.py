"""Matching on the unit: the central's hotlist for this unit, as slow salted hashes (one
Argon2id per read, see `wire/unit_hotlist.py`), so that the unit raises alerts while its
link is down without holding the list in a form a thief can read back cheaply.

The central pushes the list over MQTT (retained, so a unit gets the latest on connecting)
and the unit saves it to its file; the file may also be replaced from outside (a copy from
the technician's laptop) and is reread when its modification time changes. A list that
fails its signature or is meant for another unit is refused, logged, and the one in use is
kept. An alert is a `LOCAL ALERT` log line (no plate: the entry reference, priority and
near-match flag, with the passage's sequence number, which the central resolves) and a
counter.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from wire import VerifyKey, WireError
from wire.errors import KeyFormatError
from wire.unit_hotlist import LocalHit, UnitMatcher, decode_unit_hotlist

log = logging.getLogger(__name__)


class LocalHotlist:
    def __init__(self, path: Path, key_file: Path, camera_id: str, central: VerifyKey) -> None:
        self.path, self.camera_id, self.central = path, camera_id, central
        try:
            self.key = key_file.read_bytes()
        except OSError as exc:
            problem = f"cannot read unit hotlist key {key_file}: {exc.strerror}"
            raise KeyFormatError(problem) from None
        self._matcher: UnitMatcher | None = None
        self._loaded_mtime: float | None = None
        self.alerts = 0

    def _refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return  # no list (yet): match nothing, or keep the one in use
        if mtime == self._loaded_mtime:
            return
        self._loaded_mtime = mtime
        try:
            hotlist = decode_unit_hotlist(self.path.read_bytes(), self.camera_id, self.central)
        except (OSError, WireError) as exc:
            log.error("unit hotlist %s refused (%s); keeping the one in use", self.path, exc)
            return
        self._matcher = UnitMatcher(hotlist, self.key)
        log.info("unit hotlist loaded: %d entries, issued %s", len(hotlist.entries),
                 hotlist.issued_at.isoformat())  # fmt: skip

    def receive(self, payload: bytes) -> None:
        """A list pushed by the central (MQTT, retained): verified, then written in place of
        the file (atomically) and used at once. A bad one is refused and logged."""
        try:
            hotlist = decode_unit_hotlist(payload, self.camera_id, self.central)
        except WireError as exc:
            log.error("pushed unit hotlist refused (%s); keeping the one in use", exc)
            return
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            with partial.open("wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(self.path)
            self._loaded_mtime = self.path.stat().st_mtime
        except OSError as exc:
            log.error("pushed unit hotlist not saved to %s (%s); in use until restart",
                      self.path, exc)  # fmt: skip
        self._matcher = UnitMatcher(hotlist, self.key)
        log.info("unit hotlist received: %d entries, issued %s", len(hotlist.entries),
                 hotlist.issued_at.isoformat())  # fmt: skip

    def check(self, seq: int, plate: str, country: str, at: datetime) -> list[LocalHit]:
        """Match one passage; log and count each hit."""
        self._refresh()
        if self._matcher is None:
            return []
        hits = self._matcher.hits(plate, country, at)
        for hit in hits:
            self.alerts += 1
            log.warning("LOCAL ALERT seq=%d entry=%d priority=%d near_match=%s",
                        seq, hit.ref, hit.priority, hit.tolerant)  # fmt: skip
        return hits
