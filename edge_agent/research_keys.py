"""The unit's research day keys: today's and tomorrow's, and none older.

The research service pushes the keys (retained, on the unit's research-key topic), each
sealed to this unit's X25519 key and signed by the service. A key is opened and checked
(`wire.research.open_day_key`), kept in memory, and its *sealed* document saved (mode
0600) so that a restart within the day keeps working; the plain key never touches the
disk. Once its UTC day has closed a key is destroyed, file and memory: without it nobody
can link that day's hashes to the next day's, nor test candidate plates against them.

Documents that fail (another camera's, a forged signature, not opening under our key) are
logged, counted and ignored; the keys in use are kept.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from edge_agent.queue_file import SpoolError
from node import wallclock
from wire import VerifyKey, WireError
from wire.research import DayKey, decode_day_keys, open_day_key
from wire.sealing import SealingKey

log = logging.getLogger(__name__)


def utc_today() -> date:
    return wallclock.now().date()


class DayKeyRing:
    def __init__(
        self,
        folder: Path,
        camera_id: str,
        area: str,
        unit_key: SealingKey,
        service: VerifyKey,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.folder, self.camera_id, self.area = folder, camera_id, area
        self.unit_key, self.service, self.today = unit_key, service, today
        self.refused = 0  # documents that failed their checks (forged, foreign, unsealable)
        self.ignored = 0  # sound documents for another area or a day not kept
        self._keys: dict[date, DayKey] = {}
        self._lock = threading.Lock()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        except OSError as exc:
            problem = f"cannot use the research state folder {folder}: {exc.strerror}"
            raise SpoolError(problem + "; set purposes.traffic_research.state_dir") from None
        self._load_saved()
        self.expire()

    def _path(self, day: date) -> Path:
        return self.folder / f"day-key-{self.area}-{day.isoformat()}.json"

    def _load_saved(self) -> None:
        for path in sorted(self.folder.glob(f"day-key-{self.area}-*.json")):
            try:
                document = path.read_bytes()
                key = open_day_key(document, self.camera_id, self.unit_key, self.service)
                self._accept(key, document, save=False)
            except (OSError, WireError, KeyError, TypeError, ValueError) as exc:
                self.refused += 1
                log.error("research: saved day key %s refused (%s); removed", path.name, exc)
                _destroy(path)

    def receive(self, payload: bytes) -> int:
        """A research-key payload from the service; returns how many keys it added."""
        try:
            documents = decode_day_keys(payload)
        except WireError as exc:
            self.refused += 1
            log.error("research: day key payload refused (%s)", exc)
            return 0
        added = 0
        for document in documents:
            try:
                key = open_day_key(document, self.camera_id, self.unit_key, self.service)
            except (WireError, KeyError, TypeError, ValueError) as exc:
                self.refused += 1
                log.error("research: day key refused (%s: %s)", type(exc).__name__, exc)
                continue
            added += self._accept(key, document, save=True)
        self.expire()
        return added

    def _accept(self, key: DayKey, document: bytes, save: bool) -> int:
        today = self.today()
        if key.area != self.area or not today <= key.day <= today + timedelta(days=1):
            self.ignored += 1
            log.info("research: day key for %s on %s not kept (this unit: %s, %s and next day)",
                     key.area, key.day, self.area, today)  # fmt: skip
            return 0
        with self._lock:
            held = self._keys.get(key.day)
            if held is not None and held.key_id == key.key_id:
                return 0
            if save:
                try:
                    _write_private(self._path(key.day), document)
                except OSError as exc:
                    log.error("research: day key for %s not saved (%s); held in memory only, "
                              "lost at a restart", key.day, exc)  # fmt: skip
            self._keys[key.day] = key
        if held is not None:
            log.warning(
                "research: day key for %s replaced (%s -> %s); that day's hashes before "
                "and after do not link", key.day, held.key_id, key.key_id,
            )  # fmt: skip
        else:
            log.info("research: day key %s for %s %s held", key.key_id, key.area, key.day)
        return 1

    def key_for(self, day: date) -> DayKey | None:
        with self._lock:
            return self._keys.get(day)

    def held_days(self) -> list[date]:
        with self._lock:
            return sorted(self._keys)

    def expire(self) -> int:
        """Destroy every key whose UTC day has closed; returns how many went."""
        today = self.today()
        with self._lock:
            closed = [day for day in self._keys if day < today]
            for day in closed:
                del self._keys[day]
        gone = 0
        for path in self.folder.glob(f"day-key-{self.area}-*.json"):
            day = _day_of(path)
            if day is None or day < today:
                _destroy(path)
                gone += 1
        for day in closed:
            log.info("research: day key for %s destroyed (its day has closed)", day)
        return max(gone, len(closed))


def _day_of(path: Path) -> date | None:
    try:
        return date.fromisoformat(path.stem[-10:])
    except ValueError:
        return None


def _write_private(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def _destroy(path: Path) -> None:
    """Overwrite, then unlink: on a plain file system the old bytes do not linger."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.write(b"\0" * size)
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:  # keep running; the next expiry tries again
        log.error("research: day key file %s could not be destroyed: %s", path, exc)
