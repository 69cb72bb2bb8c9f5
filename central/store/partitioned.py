"""The 28-day passage store on SQLite: one file per UTC day, images sealed with the day's key.

Every read path hides passages older than 28 days (capture time) at once; `destroy_day`
and `purge_expired` remove them physically (see central/retention.py for the schedule).
Not thread-safe: each thread (ingest, retention, each web request) opens its own instance.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from central.cameras import CameraRegistry
from central.expiry import cutoff_text, fully_expired
from central.store.custody import Custody
from central.store.dayfile import DayFile
from central.store.daykeys import DayKeyError, DayKeyring
from central.store.integrity import (
    KeyLookup,
    Mismatch,
    check_index,
    check_row,
    remembered,
    served_problems,
)
from central.store.records import SUMMARY_FIELDS, Outcome, StoredPassage
from central.store.sequences import SequenceIndex
from node import wallclock
from wire import Passage, Verified
from wire.fields import format_timestamp

log = logging.getLogger(__name__)

_DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.sqlite")
_PLATE_PATTERN = re.compile(r"[A-Z0-9?*]{1,12}")
OPEN_DAY_FILES = 4
MAX_RESULTS = 1_000_000


class SearchError(ValueError):
    """A search the store cannot run as asked; the message says what to change."""


def plate_glob(pattern: str) -> str:
    """`AB??12`, `YX*`: `?` one character, `*` any run; letters and digits only."""
    pattern = pattern.strip().upper().replace("-", "").replace(" ", "")
    if not _PLATE_PATTERN.fullmatch(pattern):
        raise SearchError(
            f"plate pattern {pattern!r}: use letters, digits, ? (one character) and * (any)"
        )
    return pattern


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _days_between(start: datetime, end: datetime) -> list[date]:
    first, last = day_of(start), day_of(end - timedelta(milliseconds=1))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def visible_window(
    stored: Sequence[date], start: datetime, end: datetime, now: datetime
) -> tuple[list[date], str, str]:
    """(the stored days a search of [start, end) reads, its start and end in the stores'
    text form): never before the 28-day cutoff, whichever backend holds the days."""
    since = max(format_timestamp(start), cutoff_text(now))
    present = set(stored)
    days = [d for d in _days_between(start, end) if d in present and not fully_expired(d, now)]
    return days, since, format_timestamp(end)


class DayPartitionedStore:
    def __init__(
        self,
        data_dir: Path,
        keys_dir: Path,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
        cameras_path: Path | None = None,
        open_files: int = OPEN_DAY_FILES,
    ) -> None:
        self.cameras_path = cameras_path  # the camera registry: keys to check served reads
        self.folder = data_dir / "passages"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keys = DayKeyring(keys_dir)
        self.sequences = SequenceIndex(data_dir / "sequences.sqlite")
        self.custody = Custody(data_dir / "custody.sqlite")
        self.clock = clock
        self.open_files = open_files  # 32 where a store is kept between searches (the web)
        self._open: OrderedDict[date, DayFile] = OrderedDict()

    def close(self) -> None:
        for day_file in self._open.values():
            day_file.close()
        self._open.clear()
        self.sequences.close()
        self.custody.close()

    # --- files ---------------------------------------------------------------------------

    def path_of(self, day: date) -> Path:
        return self.folder / f"{day.isoformat()}.sqlite"

    def days(self) -> list[date]:
        found = (_DAY_FILE.fullmatch(p.name) for p in self.folder.iterdir())
        return sorted(date.fromisoformat(m.group(1)) for m in found if m)

    def _day(self, day: date, create: bool = False) -> DayFile | None:
        self._close_expired()
        if day in self._open:
            self._open.move_to_end(day)
            return self._open[day]
        path = self.path_of(day)
        if not create and not path.exists():
            return None
        try:
            key = self.keys.file_key(day, create=create)
        except DayKeyError as exc:  # a file left behind by an interrupted destruction
            log.error("store: day file %s cannot be opened: %s", path.name, exc)
            return None
        day_file = DayFile(path, day, key)
        self._open[day] = day_file
        while len(self._open) > self.open_files:
            _, oldest = self._open.popitem(last=False)
            oldest.close()
        return day_file

    def _files(self, days: Sequence[date]) -> Iterator[DayFile]:
        """The day files of `days` that exist and open (each opened as it is reached, so at
        most `open_files` stay open however many days a search spans)."""
        for day in days:
            day_file = self._day(day)
            if day_file is not None:
                yield day_file

    def _close_expired(self) -> None:
        """Close handles on days past 28 days: an open handle would keep a deleted file's
        bytes on disk after retention removed it."""
        now = self.clock()
        for day in [d for d in self._open if fully_expired(d, now)]:
            self._forget(day)

    def _forget(self, day: date) -> None:
        """Close the day's file and drop its key from memory: a store kept open for long
        (the web's) must not outlive the day it holds in either."""
        day_file = self._open.pop(day, None)
        if day_file is not None:
            day_file.close()
        self.keys.forget(day)

    # --- writing -------------------------------------------------------------------------

    def insert_batch(
        self, verified: Sequence[Verified[Passage]], received_at: datetime
    ) -> list[Outcome]:
        """Store a batch: one transaction per day file, then the sequence index."""
        self._close_expired()
        outcomes: list[Outcome | None] = [None] * len(verified)
        by_day: dict[date, list[int]] = defaultdict(list)
        for index, item in enumerate(verified):
            by_day[day_of(item.record.captured_at)].append(index)
        received = format_timestamp(received_at)
        pending: dict[tuple[str, int], str] = {}
        indexed = []
        for day, indexes in sorted(by_day.items()):
            day_file = self._day(day, create=True)
            day_file.db.execute("BEGIN IMMEDIATE")
            try:
                for index in indexes:
                    item = verified[index]
                    outcome = self._insert_one(day_file, item, received, pending)
                    outcomes[index] = outcome
                    if outcome is Outcome.STORED:
                        passage = item.record
                        indexed.append(
                            (passage.camera_id, passage.seq, day, pending[_key(passage)])
                        )
                day_file.db.execute("COMMIT")
            except BaseException:
                day_file.db.execute("ROLLBACK")
                raise
        self.sequences.add(indexed)
        return outcomes  # type: ignore[return-value]

    def _insert_one(
        self,
        day_file: DayFile,
        item: Verified[Passage],
        received: str,
        pending: dict[tuple[str, int], str],
    ) -> Outcome:
        passage = item.record
        digest = hashlib.sha256(item.canonical).hexdigest()
        known = day_file.existing_digest(passage.camera_id, passage.seq) or pending.get(
            _key(passage)
        )
        if known is None:
            entry = self.sequences.lookup(passage.camera_id, passage.seq)
            # An index entry without a row in its day file is a crash between the two
            # commits: the record is simply stored again.
            if entry is not None and entry[1] != digest and self._has_row(entry[0], passage):
                return Outcome.CONFLICT
        elif known == digest:
            return Outcome.DUPLICATE
        else:
            return Outcome.CONFLICT
        day = day_file.day
        context = f"{passage.camera_id}/{passage.seq}".encode()
        day_file.insert(
            (
                passage.camera_id,
                passage.seq,
                format_timestamp(passage.captured_at),
                received,
                passage.plate,
                passage.country,
                passage.confidence_pm,
                passage.lat_e7,
                passage.lon_e7,
                passage.direction,
                passage.lane,
                digest,
            ),
            (passage.camera_id, passage.seq, item.canonical, item.signature),
            (
                passage.camera_id,
                passage.seq,
                self.keys.encrypt(day, passage.crop_jpeg, context + b"/crop"),
                self.keys.encrypt(day, passage.overview_jpeg, context + b"/overview"),
            ),
        )
        pending[_key(passage)] = digest
        return Outcome.STORED

    def _has_row(self, day: date, passage: Passage) -> bool:
        day_file = self._day(day)
        return day_file is not None and (
            day_file.existing_digest(passage.camera_id, passage.seq) is not None
        )

    # --- reading (only what is younger than 28 days) --------------------------------------

    def _visible_days(self, start: datetime, end: datetime) -> tuple[list[date], str, str]:
        return visible_window(self.days(), start, end, self.clock())

    def recent(self, camera_id: str | None = None, limit: int = 50) -> list[StoredPassage]:
        self._close_expired()  # even when every day is past and no file is opened below
        now = self.clock()
        since = cutoff_text(now)
        results: list[StoredPassage] = []
        for day in reversed(self.days()):
            if fully_expired(day, now) or len(results) >= limit:
                break
            day_file = self._day(day)
            if day_file is not None:
                results += day_file.recent(since, camera_id, limit - len(results))
        return results

    def search_plate(
        self,
        pattern: str,
        start: datetime,
        end: datetime,
        country: str | None = None,
        limit: int = MAX_RESULTS,
    ) -> list[StoredPassage]:
        glob = plate_glob(pattern)
        days, since, until = self._visible_days(start, end)
        results: list[StoredPassage] = []
        for day_file in self._files(days):
            results += day_file.by_plate(glob, country, since, until, limit - len(results))
            if len(results) >= limit:
                break
        return results

    def search_window(
        self,
        cameras: Sequence[str],
        start: datetime,
        end: datetime,
        direction: str | None = None,
        limit: int = MAX_RESULTS,
    ) -> list[StoredPassage]:
        if not cameras:
            raise SearchError("a place search needs at least one camera")
        days, since, until = self._visible_days(start, end)
        results: list[StoredPassage] = []
        for day_file in self._files(days):
            results += day_file.in_window(cameras, since, until, direction, limit - len(results))
            if len(results) >= limit:
                break
        return results

    def count_window(
        self, cameras: Sequence[str], start: datetime, end: datetime, direction: str | None = None
    ) -> int:
        if not cameras:
            raise SearchError("a place search needs at least one camera")
        days, since, until = self._visible_days(start, end)
        return sum(f.count_window(cameras, since, until, direction) for f in self._files(days))

    def image(self, camera_id: str, seq: int, which: str) -> bytes | None:
        """The decrypted image, or None when unknown or past 28 days."""
        day_file = self._visible_file(camera_id, seq)
        sealed = None if day_file is None else day_file.sealed_image(camera_id, seq, which)
        if sealed is None:
            return None
        try:
            return self.keys.decrypt(day_file.day, sealed, f"{camera_id}/{seq}/{which}".encode())
        except DayKeyError as exc:
            log.error("store: image %s/%s/%s unreadable: %s", camera_id, seq, which, exc)
            return None

    def _visible_file(self, camera_id: str, seq: int) -> DayFile | None:
        """The day file holding a passage still inside the 28 days, else None."""
        entry = self.sequences.lookup(camera_id, seq)
        day_file = None if entry is None else self._day(entry[0])
        if day_file is None:
            return None
        captured = day_file.captured_at(camera_id, seq)
        if captured is None or captured < cutoff_text(self.clock()):
            return None
        return day_file

    def signed_record(self, camera_id: str, seq: int) -> tuple[bytes, bytes] | None:
        """The passage as the camera signed it (canonical bytes, signature), images apart."""
        day_file = self._visible_file(camera_id, seq)
        return None if day_file is None else day_file.signed_record(camera_id, seq)

    def add_verdict(
        self, camera_id: str, seq: int, verdict: str, by: str, now: datetime, note: str = ""
    ) -> None:
        """Record whether the crop shows the plate read; kept in the day file, so it is
        seen by later searches and destroyed with the passage."""
        day_file = self._visible_file(camera_id, seq)
        if day_file is None:
            raise SearchError(f"passage {camera_id}/{seq} is unknown or past 28 days")
        day_file.add_verdict(camera_id, seq, verdict, by, format_timestamp(now), note)

    def verdicts(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], tuple]:
        """Latest (verdict, by, at) for those of `keys` that have one."""
        wanted = set(keys)
        days = {entry[0] for key in wanted if (entry := self.sequences.lookup(*key))}
        found: dict[tuple[str, int], tuple] = {}
        for day in sorted(days):
            day_file = self._day(day)
            if day_file is not None:
                found.update((k, v) for k, v in day_file.verdicts().items() if k in wanted)
        return found

    def day_of(self, camera_id: str, seq: int) -> date | None:
        """The UTC day a stored passage belongs to, expired or not (holds name it)."""
        entry = self.sequences.lookup(camera_id, seq)
        return None if entry is None else entry[0]

    def count(self, camera_id: str | None = None) -> int:
        """Rows physically present, expired or not (for operations and tests)."""
        return sum(day_file.count(camera_id) for day_file in self._files(self.days()))

    def seqs(self, camera_id: str) -> list[int]:
        return sorted(seq for f in self._files(self.days()) for seq in f.seqs(camera_id))

    # --- integrity -------------------------------------------------------------------------

    def verify_day(
        self, day: date, key_of: KeyLookup, images: bool = False
    ) -> tuple[int, list[Mismatch]]:
        """(passages checked, mismatches): every stored column against the signed record,
        the digest against the sequence index and, with `images`, each image decrypted
        against the digest the camera signed. Expired rows are checked too (they are
        still on disk until retention removes them)."""
        day_file = self._day(day)
        if day_file is None:
            raise SearchError(f"no day file for {day} in {self.folder}")
        mismatches: list[Mismatch] = []
        checked = 0
        width = len(SUMMARY_FIELDS)
        for row in day_file.stored_with_records():
            checked += 1
            columns = dict(zip(SUMMARY_FIELDS, row[:width], strict=True))
            camera_id, seq = columns["camera_id"], columns["seq"]
            digest, record, signature = row[width:]
            problems = check_row(day, columns, digest, record, signature, key_of)
            problems += check_index(camera_id, seq, day, digest,
                                    self.sequences.lookup(camera_id, seq))  # fmt: skip
            if images and record is not None:
                problems += self._image_problems(day_file, camera_id, seq, bytes(record))
            mismatches += [Mismatch(camera_id, seq, problem) for problem in problems]
        for camera_id, seq in day_file.orphan_records():
            mismatches.append(Mismatch(camera_id, seq, "a signed record without its passage "
                                                       "row: the row was deleted"))  # fmt: skip
        return checked, mismatches

    def check_served(
        self, rows: Sequence[StoredPassage], key_of: KeyLookup | None = None
    ) -> dict[tuple[str, int], list[str]]:
        """What is wrong with each of `rows` about to be handed out (only the wrong ones are
        keys): the columns as served, which may be copies saved with a result set, held
        against the record their camera signed, its digest and its signature. Records are
        fetched per day file in batches and each signature is verified once; a camera's keys
        come from the registry (or `key_of`), so a store without one fails closed."""
        registry = None
        if key_of is None:
            registry = CameraRegistry(self.cameras_path) if self.cameras_path else None
            key_of = registry.signing_key if registry is not None else lambda _c, _k: None
        keys_of = remembered(key_of)
        try:
            return self._check_served(rows, keys_of)
        finally:
            if registry is not None:
                registry.close()

    def _check_served(self, rows: Sequence[StoredPassage], key_of: KeyLookup):
        by_day: dict[str, list[StoredPassage]] = defaultdict(list)
        for row in rows:
            by_day[row.captured_at[:10]].append(row)
        found: dict[tuple[str, int], tuple[date, tuple]] = {}
        for text, group in sorted(by_day.items()):
            found.update(self._records_on(text, [(r.camera_id, r.seq) for r in group]))
        for row in rows:  # stored on another day than the served time says: ask the index
            key = (row.camera_id, row.seq)
            if key not in found and (entry := self.sequences.lookup(*key)) is not None:
                found.update(self._records_on(entry[0].isoformat(), [key]))
        return served_problems(rows, found, key_of)

    def _records_on(self, text: str, keys: list[tuple[str, int]]):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return {}
        day_file = self._day(day)
        if day_file is None:
            return {}
        return {k: (day, v) for k, v in day_file.signed_records_for(keys).items()}

    def _image_problems(self, day_file: DayFile, camera_id: str, seq: int, record: bytes):
        signed = json.loads(record)
        problems = []
        for which in ("crop", "overview"):
            sealed = day_file.sealed_image(camera_id, seq, which)
            try:
                plain = None if sealed is None else self.keys.decrypt(
                    day_file.day, sealed, f"{camera_id}/{seq}/{which}".encode())  # fmt: skip
            except DayKeyError as exc:
                problems.append(f"the {which} image cannot be opened: {exc}")
                continue
            if plain is None:
                problems.append(f"the {which} image is missing")
            elif hashlib.sha256(plain).hexdigest() != signed.get(f"{which}_sha256"):
                problems.append(f"the {which} image is not the one the camera signed")
        return problems

    # --- for retention and statistics ------------------------------------------------------

    def statistics_rows(self, day: date):
        day_file = self._day(day)
        return [] if day_file is None else day_file.rows_for_statistics()

    def oldest_captured(self, day: date, except_held: set[tuple[str, int]]) -> str | None:
        """The capture time of the day's oldest passage that no hold keeps (for the
        retention lag metric), whether past 28 days or not."""
        day_file = self._day(day)
        return None if day_file is None else day_file.oldest_captured(except_held)

    def latest_received(self, day: date) -> str | None:
        day_file = self._day(day)
        return None if day_file is None else day_file.latest_received()

    def destroy_day(self, day: date, now: datetime) -> None:
        """Crypto-shred the day (key first), then remove its file and index entries."""
        self.keys.destroy(day)
        self._forget(day)
        path = self.path_of(day)
        for suffix in ("-wal", "-shm", "-journal", ""):
            candidate = path.with_name(path.name + suffix)
            if candidate.exists():
                candidate.unlink()
        forgotten = self.sequences.forget_day(day)
        self.custody.event(now, "day_destroyed", day, f"file and key removed, {forgotten} rows")

    def purge_expired(self, day: date, now: datetime) -> int:
        """Securely delete the expired, unheld passages of a day that is partly (or held) past."""
        day_file = self._day(day)
        if day_file is None:
            return 0
        return day_file.delete_before(cutoff_text(now), self.custody.held_in(day))


def _key(passage: Passage) -> tuple[str, int]:
    return passage.camera_id, passage.seq
