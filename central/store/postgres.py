"""The 28-day passage store on PostgreSQL: a list partition per UTC day, personal columns
sealed under the day key (central/store/postgres_schema.py says what is sealed and why).

The same interface and the same rules as the SQLite day files (central/store/partitioned.py):
every read hides passages older than 28 days at once; `destroy_day` destroys the day key
first and then drops the day's partitions, so every copy of the day that survives elsewhere
(WAL archives, base backups, replicas' freed pages) is ciphertext without a key. Any number
of central nodes can share the database; each store instance holds one pooled connection,
so like the SQLite store it is not shared between threads.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg

from central.cameras import CameraRegistry
from central.databases import PostgresSchema
from central.expiry import cutoff_text
from central.postgres_pools import connection_pool
from central.store.custody import Custody
from central.store.daykeys import DayKeyError, DayKeyring
from central.store.integrity import (
    KeyLookup,
    Mismatch,
    remembered,
    served_problems,
)
from central.store.partitioned import (
    MAX_RESULTS,
    SearchError,
    day_of,
    plate_glob,
    visible_window,
)
from central.store.postgres_schema import (
    BUCKET_BITS,
    IMMUTABLE,
    PARTITION_LOCK,
    SCHEMA,
    create_partitions,
    drop_partitions,
)
from central.store.records import Outcome, StoredPassage
from node import wallclock
from wire import Passage, Verified
from wire.fields import format_timestamp

log = logging.getLogger(__name__)
_PLAIN = "camera_id, seq, captured_at, received_at, confidence_pm, lat_e7, lon_e7, direction, lane"
_SEP = "\x1f"  # between plate and country in the sealed column (neither may hold it)
_TYPES = {  # the COPY column types, in the order of each table's column list below
    "passages": ["date", "text", "int8", "text", "text", "int4", "int4", "int4", "text",
                 "int4", "text", "int4", "bytea"],
    "passage_records": ["date", "text", "int8", "bytea"],
    "passage_images": ["date", "text", "int8", "bytea", "bytea"],
}  # fmt: skip


def _context(camera_id: str, seq: int, what: str) -> bytes:
    return f"{camera_id}/{seq}/{what}".encode()


class PostgresPassageStore:
    def __init__(
        self,
        conninfo: str,
        data_dir: Path,
        keys_dir: Path,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
        cameras_path: Path | None = None,
    ) -> None:
        self.cameras_path = cameras_path
        self.keys = DayKeyring(keys_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        # Holds are shared by every node: in the database beside the passages.
        self.custody = Custody(PostgresSchema(conninfo, "custody"))
        self.clock = clock
        self._pool = connection_pool(conninfo)
        self._connection: psycopg.Connection | None = self._pool.getconn()
        self._partitions: set[date] = set()
        ensure_schema(self.db)

    @property
    def db(self) -> psycopg.Connection:
        """The store's connection; a broken one (the primary died, a network cut) goes back
        to the pool and a new one is taken, which a multi-host connection string with
        target_session_attrs=read-write finds on the promoted replica. A call that failed
        on the broken one has raised: ingest did not acknowledge it and it comes again."""
        if self._connection is None or self._connection.broken or self._connection.closed:
            if self._connection is not None:
                self._pool.putconn(self._connection)
                log.warning("store: database connection lost; reconnecting")
            self._connection = self._pool.getconn()
            self._partitions.clear()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._pool.putconn(self._connection)
            self._connection = None
        self.custody.close()

    # --- partitions --------------------------------------------------------------------

    def days(self) -> list[date]:
        rows = self.db.execute("SELECT day FROM passage_days ORDER BY day")
        return [row[0] for row in rows]

    def ensure_day(self, day: date) -> None:
        """Make the day's partitions if they are missing (ahead of time, or at first use)."""
        if day in self._partitions:
            return
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            self.db.execute(create_partitions(day))
        self._partitions.add(day)

    # --- writing -------------------------------------------------------------------------

    def insert_batch(
        self, verified: Sequence[Verified[Passage]], received_at: datetime
    ) -> list[Outcome]:
        """Store a batch in one transaction; a batch that races another node's insert of
        the same record is run again and then finds it (a duplicate, never two rows)."""
        for day in {day_of(item.record.captured_at) for item in verified}:
            self.ensure_day(day)
        try:
            return self._insert(verified, received_at)
        except psycopg.errors.UniqueViolation:
            return self._insert(verified, received_at)

    def _insert(self, verified: Sequence[Verified[Passage]], received_at: datetime):
        received = format_timestamp(received_at)
        outcomes: list[Outcome] = []
        with self.db.transaction():
            known = self._stored_digests([(v.record.camera_id, v.record.seq) for v in verified])
            rows, records, images = [], [], []
            for item in verified:
                passage = item.record
                key = (passage.camera_id, passage.seq)
                digest = hashlib.sha256(item.canonical).hexdigest()
                if key in known:
                    outcomes.append(Outcome.DUPLICATE if known[key] == digest else Outcome.CONFLICT)
                    continue
                known[key] = digest
                outcomes.append(Outcome.STORED)
                day = day_of(passage.captured_at)
                rows.append(self._row(day, passage, received, digest))
                records.append((day, *key, self._seal_record(day, item)))
                images.append((day, *key, *self._seal_images(day, passage)))
            self._copy("passages", f"day, {_PLAIN}, record_sha256, plate_bucket, sealed", rows)
            self._copy("passage_records", "day, camera_id, seq, sealed", records)
            self._copy("passage_images", "day, camera_id, seq, crop, overview", images)
        return outcomes

    def _row(self, day: date, passage: Passage, received: str, digest: str) -> tuple:
        key = (passage.camera_id, passage.seq)
        sealed = self.keys.encrypt(
            day, f"{passage.plate}{_SEP}{passage.country}".encode(), _context(*key, "summary")
        )
        return (
            day, passage.camera_id, passage.seq, format_timestamp(passage.captured_at),
            received, passage.confidence_pm, passage.lat_e7, passage.lon_e7,
            passage.direction, passage.lane, digest,
            self.keys.plate_bucket(day, passage.plate, BUCKET_BITS, create=True), sealed,
        )  # fmt: skip

    def _seal_images(self, day: date, passage: Passage) -> tuple[bytes, bytes]:
        key = (passage.camera_id, passage.seq)
        return (
            self.keys.encrypt(day, passage.crop_jpeg, _context(*key, "crop")),
            self.keys.encrypt(day, passage.overview_jpeg, _context(*key, "overview")),
        )

    def _seal_record(self, day: date, item: Verified[Passage]) -> bytes:
        """The signed record and its signature, sealed together (length-prefixed)."""
        blob = len(item.signature).to_bytes(2, "big") + item.signature + item.canonical
        return self.keys.encrypt(day, blob, _context(item.record.camera_id, item.record.seq,
                                                     "record"))  # fmt: skip

    def _copy(self, table: str, columns: str, rows: list[tuple]) -> None:
        """COPY in binary: images go as bytes, not as hex text twice their size."""
        if not rows:
            return
        with (
            self.db.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(_TYPES[table])
            for row in rows:
                copy.write_row(row)

    def _stored_digests(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        return self._column_of(keys, "record_sha256")

    def _column_of(
        self, keys: Sequence[tuple[str, int]], column: str
    ) -> dict[tuple[str, int], Any]:
        """`column` of each stored passage of `keys`, on whatever day it is stored."""
        if not keys:
            return {}
        cameras, seqs = zip(*keys, strict=True)
        rows = self.db.execute(
            f"SELECT p.camera_id, p.seq, p.{column} FROM passages p "
            "JOIN unnest(%s::text[], %s::bigint[]) AS k(camera_id, seq) "
            "ON p.camera_id = k.camera_id AND p.seq = k.seq",
            (list(cameras), list(seqs)),
        )
        return {(r[0], r[1]): r[2] for r in rows}

    # --- reading (only what is younger than 28 days) --------------------------------------

    def _visible(self, start: datetime, end: datetime) -> tuple[list[date], str, str]:
        return visible_window(self.days(), start, end, self.clock())

    def _opened(self, rows) -> list[StoredPassage]:
        """Rows of (day, plain columns..., sealed) as passages; rows whose seal does not
        open (a destroyed key, an altered value) are left out and logged."""
        found = []
        for (
            day,
            camera_id,
            seq,
            captured,
            received,
            confidence,
            lat,
            lon,
            direction,
            lane,
            sealed,
        ) in rows:  # noqa: E501
            try:
                plain = self.keys.decrypt(day, bytes(sealed), _context(camera_id, seq, "summary"))
            except DayKeyError as exc:
                log.error("store: passage %s/%s unreadable: %s", camera_id, seq, exc)
                continue
            plate, country = plain.decode().split(_SEP)
            found.append(StoredPassage(camera_id, seq, captured, received, plate, country,
                                       confidence, lat, lon, direction, lane))  # fmt: skip
        return found

    _SELECT = f"SELECT day, {_PLAIN}, sealed FROM passages"

    def recent(self, camera_id: str | None = None, limit: int = 50) -> list[StoredPassage]:
        since = cutoff_text(self.clock())
        where, params = "captured_at >= %s", [since]
        if camera_id is not None:
            where, params = where + " AND camera_id = %s", [since, camera_id]
        rows = self.db.execute(
            f"{self._SELECT} WHERE {where} ORDER BY captured_at DESC, seq DESC LIMIT %s",
            (*params, limit),
        )
        return self._opened(rows)

    def search_plate(
        self,
        pattern: str,
        start: datetime,
        end: datetime,
        country: str | None = None,
        limit: int = MAX_RESULTS,
    ) -> list[StoredPassage]:
        glob = plate_glob(pattern)
        days, since, until = self._visible(start, end)
        if "?" in glob or "*" in glob:
            found = [p for day in days for p in self._by_pattern(day, glob, since, until)]
        else:
            found = self._by_bucket(days, glob, since, until)
        results = [p for p in found if country is None or p.country == country]
        return sorted(results, key=lambda p: p.captured_at)[:limit]

    def _by_bucket(
        self, days: Sequence[date], plate: str, since: str, until: str
    ) -> list[StoredPassage]:
        """An exact plate: the rows of its bucket on each day (one statement, a branch per
        day's partition: a round trip per day cost more than the rows), opened and compared."""
        branches, params = [], []
        for day in days:
            try:
                bucket = self.keys.plate_bucket(day, plate, BUCKET_BITS)
            except DayKeyError:  # destroyed: the day's rows open no more
                continue
            branches.append(f"{self._SELECT} WHERE day = %s AND plate_bucket = %s "
                            "AND captured_at >= %s AND captured_at < %s")  # fmt: skip
            params += [day, bucket, since, until]
        if not branches:
            return []
        rows = self.db.execute(" UNION ALL ".join(branches), params)
        return [p for p in self._opened(rows) if p.plate == plate]

    def _by_pattern(self, day: date, glob: str, since: str, until: str) -> list[StoredPassage]:
        """A pattern cannot use the buckets: the day's plates in the window are opened one
        by one, fetching only what opens them; the whole rows of the matches follow."""
        matcher = _glob_matcher(glob)
        cursor = self.db.cursor(binary=True)
        cursor.execute(
            "SELECT camera_id, seq, sealed FROM passages "
            "WHERE day = %s AND captured_at >= %s AND captured_at < %s",
            (day, since, until),
        )
        matches = []
        for camera_id, seq, sealed in cursor:
            try:
                plain = self.keys.decrypt(day, sealed, _context(camera_id, seq, "summary"))
            except DayKeyError:
                continue  # left out here; _opened logs it if it is ever fetched whole
            if matcher(plain.split(_SEP.encode())[0].decode()):
                matches.append((camera_id, seq))
        if not matches:
            return []
        cameras, seqs = zip(*matches, strict=True)
        rows = self.db.execute(
            f"{self._SELECT} JOIN unnest(%s::text[], %s::bigint[]) AS k(c, s) "
            "ON camera_id = k.c AND seq = k.s WHERE day = %s",
            (list(cameras), list(seqs), day),
        )
        return self._opened(rows)

    def _window(self, cameras: Sequence[str], start: datetime, end: datetime):
        if not cameras:
            raise SearchError("a place search needs at least one camera")
        return self._visible(start, end)

    def search_window(
        self,
        cameras: Sequence[str],
        start: datetime,
        end: datetime,
        direction: str | None = None,
        limit: int = MAX_RESULTS,
    ) -> list[StoredPassage]:
        days, since, until = self._window(cameras, start, end)
        if not days:
            return []
        sql = (f"{self._SELECT} WHERE day = ANY(%s) AND camera_id = ANY(%s) "
               "AND captured_at >= %s AND captured_at < %s")  # fmt: skip
        params: list = [days, list(cameras), since, until]
        if direction is not None:
            sql, params = sql + " AND direction = %s", [*params, direction]
        rows = self.db.execute(sql + " ORDER BY captured_at LIMIT %s", (*params, limit))
        return self._opened(rows)

    def count_window(
        self, cameras: Sequence[str], start: datetime, end: datetime, direction: str | None = None
    ) -> int:
        days, since, until = self._window(cameras, start, end)
        if not days:
            return 0
        sql = ("SELECT count(*) FROM passages WHERE day = ANY(%s) AND camera_id = ANY(%s) "
               "AND captured_at >= %s AND captured_at < %s")  # fmt: skip
        params: list = [days, list(cameras), since, until]
        if direction is not None:
            sql, params = sql + " AND direction = %s", [*params, direction]
        return self.db.execute(sql, params).fetchone()[0]

    def _visible_day(self, camera_id: str, seq: int) -> date | None:
        row = self.db.execute(
            "SELECT day FROM passages WHERE camera_id = %s AND seq = %s AND captured_at >= %s",
            (camera_id, seq, cutoff_text(self.clock())),
        ).fetchone()
        return None if row is None else row[0]

    def image(self, camera_id: str, seq: int, which: str) -> bytes | None:
        """The decrypted image, or None when unknown or past 28 days."""
        column = {"crop": "crop", "overview": "overview"}[which]
        day = self._visible_day(camera_id, seq)
        row = None if day is None else self.db.execute(
            f"SELECT {column} FROM passage_images WHERE day = %s AND camera_id = %s AND seq = %s",
            (day, camera_id, seq),
        ).fetchone()  # fmt: skip
        if row is None:
            return None
        try:
            return self.keys.decrypt(day, bytes(row[0]), _context(camera_id, seq, which))
        except DayKeyError as exc:
            log.error("store: image %s/%s/%s unreadable: %s", camera_id, seq, which, exc)
            return None

    def signed_record(self, camera_id: str, seq: int) -> tuple[bytes, bytes] | None:
        """The passage as the camera signed it (canonical bytes, signature), images apart."""
        day = self._visible_day(camera_id, seq)
        if day is None:
            return None
        found = self._records(day, [(camera_id, seq)]).get((camera_id, seq))
        return None if found is None or found[1] is None else (found[1], found[2])

    def _records(self, day: date, keys: Sequence[tuple[str, int]]):
        """(digest, record, signature) per key on `day`; record and signature None when the
        record is missing or its seal does not open."""
        cameras, seqs = zip(*keys, strict=True) if keys else ((), ())
        rows = self.db.execute(
            "SELECT p.camera_id, p.seq, p.record_sha256, r.sealed FROM passages p "
            "JOIN unnest(%s::text[], %s::bigint[]) AS k(camera_id, seq) "
            "ON p.camera_id = k.camera_id AND p.seq = k.seq "
            "LEFT JOIN passage_records r ON r.day = p.day AND r.camera_id = p.camera_id "
            "AND r.seq = p.seq WHERE p.day = %s",
            (list(cameras), list(seqs), day),
        )
        found = {}
        for camera_id, seq, digest, sealed in rows:
            record = signature = None
            if sealed is not None:
                try:
                    blob = self.keys.decrypt(day, bytes(sealed), _context(camera_id, seq, "record"))
                    size = int.from_bytes(blob[:2], "big")
                    signature, record = blob[2 : 2 + size], blob[2 + size :]
                except DayKeyError as exc:
                    log.error("store: record %s/%s unreadable: %s", camera_id, seq, exc)
            found[camera_id, seq] = (digest, record, signature)
        return found

    def add_verdict(
        self, camera_id: str, seq: int, verdict: str, by: str, now: datetime, note: str = ""
    ) -> None:
        day = self._visible_day(camera_id, seq)
        if day is None:
            raise SearchError(f"passage {camera_id}/{seq} is unknown or past 28 days")
        self.db.execute(
            "INSERT INTO passage_verdicts (day, camera_id, seq, verdict, verified_by, "
            "verified_at, note) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (day, camera_id, seq, verdict, by, format_timestamp(now), note),
        )

    def verdicts(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], tuple]:
        """Latest (verdict, by, at) for those of `keys` that have one."""
        if not keys:
            return {}
        cameras, seqs = zip(*keys, strict=True)
        rows = self.db.execute(
            "SELECT v.camera_id, v.seq, v.verdict, v.verified_by, v.verified_at "
            "FROM passage_verdicts v JOIN unnest(%s::text[], %s::bigint[]) AS k(camera_id, seq)"
            " ON v.camera_id = k.camera_id AND v.seq = k.seq ORDER BY v.id",
            (list(cameras), list(seqs)),
        )
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}

    def day_of(self, camera_id: str, seq: int) -> date | None:
        """The UTC day a stored passage belongs to, expired or not (holds name it)."""
        return self._days_of([(camera_id, seq)]).get((camera_id, seq))

    def count(self, camera_id: str | None = None) -> int:
        """Rows physically present, expired or not (for operations and tests)."""
        if camera_id is None:
            return self.db.execute("SELECT count(*) FROM passages").fetchone()[0]
        return self.db.execute(
            "SELECT count(*) FROM passages WHERE camera_id = %s", (camera_id,)
        ).fetchone()[0]

    def seqs(self, camera_id: str) -> list[int]:
        rows = self.db.execute(
            "SELECT seq FROM passages WHERE camera_id = %s ORDER BY seq", (camera_id,)
        )
        return [row[0] for row in rows]

    # --- integrity -------------------------------------------------------------------------

    def verify_day(
        self, day: date, key_of: KeyLookup, images: bool = False
    ) -> tuple[int, list[Mismatch]]:
        """(passages checked, mismatches): every stored column against the signed record."""
        if day not in self.days():
            raise SearchError(f"no partition for {day} in the database")
        rows = self.db.execute(f"{self._SELECT} WHERE day = %s ORDER BY camera_id, seq", (day,))
        passages = self._opened(rows)
        records = self._records(day, [(p.camera_id, p.seq) for p in passages])
        found = {key: (day, value) for key, value in records.items()}
        problems = served_problems(passages, found, remembered(key_of))
        mismatches = [
            Mismatch(*key, problem) for key, wrong in problems.items() for problem in wrong
        ]
        return len(passages), mismatches

    def check_served(
        self, rows: Sequence[StoredPassage], key_of: KeyLookup | None = None
    ) -> dict[tuple[str, int], list[str]]:
        """What is wrong with each of `rows` about to be handed out (see the SQLite store)."""
        registry = None
        if key_of is None:
            registry = CameraRegistry(self.cameras_path) if self.cameras_path else None
            key_of = registry.signing_key if registry is not None else lambda _c, _k: None
        try:
            by_day: dict[date, list[tuple[str, int]]] = defaultdict(list)
            keys = [(r.camera_id, r.seq) for r in rows]
            for key, day in self._days_of(keys).items():
                by_day[day].append(key)
            found = {}
            for day, day_keys in by_day.items():
                found.update((k, (day, v)) for k, v in self._records(day, day_keys).items())
            return served_problems(rows, found, remembered(key_of))
        finally:
            if registry is not None:
                registry.close()

    def _days_of(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], date]:
        return self._column_of(keys, "day")

    # --- for retention and statistics ------------------------------------------------------

    def statistics_rows(self, day: date):
        rows = self.db.execute(f"{self._SELECT} WHERE day = %s", (day,))
        return [(p.camera_id, p.plate, p.country, p.confidence_pm) for p in self._opened(rows)]

    def oldest_captured(self, day: date, except_held: set[tuple[str, int]]) -> str | None:
        rows = self.db.execute(
            "SELECT camera_id, seq, captured_at FROM passages WHERE day = %s ORDER BY 3", (day,)
        )
        return next((at for camera_id, seq, at in rows if (camera_id, seq) not in except_held),
                    None)  # fmt: skip

    def latest_received(self, day: date) -> str | None:
        return self.db.execute(
            "SELECT max(received_at) FROM passages WHERE day = %s", (day,)
        ).fetchone()[0]

    def destroy_day(self, day: date, now: datetime) -> None:
        """Crypto-shred the day (key first), then drop its partitions."""
        self.keys.destroy(day)
        rows = self.db.execute("SELECT count(*) FROM passages WHERE day = %s", (day,)).fetchone()
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            self.db.execute(drop_partitions(day))
        self._partitions.discard(day)
        self.custody.event(now, "day_destroyed", day,
                           f"partitions dropped and key removed, {rows[0]} rows")  # fmt: skip

    def purge_expired(self, day: date, now: datetime) -> int:
        """Delete the expired, unheld passages of a day that is partly (or held) past; the
        deleted rows' bytes stay in the partition until VACUUM and the WAL until recycled,
        all of it sealed under the day key, which expiry destroys with the day."""
        held = self.custody.held_in(day)
        cameras, seqs = zip(*held, strict=True) if held else ((), ())
        doomed = (
            "SELECT p.camera_id, p.seq FROM passages p WHERE p.day = %(day)s "
            "AND p.captured_at < %(cutoff)s AND (p.camera_id, p.seq) NOT IN "
            "(SELECT * FROM unnest(%(cameras)s::text[], %(seqs)s::bigint[]))"
        )
        params = {"day": day, "cutoff": cutoff_text(now), "cameras": list(cameras),
                  "seqs": list(seqs)}  # fmt: skip
        with self.db.transaction():
            for table in ("passage_verdicts", "passage_images", "passage_records"):
                self.db.execute(
                    f"DELETE FROM {table} WHERE day = %(day)s AND (camera_id, seq) IN ({doomed})",
                    params,
                )
            deleted = self.db.execute(
                f"DELETE FROM passages WHERE day = %(day)s AND (camera_id, seq) IN ({doomed})",
                params,
            ).rowcount
        return deleted


def ensure_schema(db: psycopg.Connection) -> None:
    """Make the tables (the lock keeps two nodes from racing); once per database per
    process: a web request opening the store must not queue behind ingest for the lock."""
    database = (db.info.host, db.info.port, db.info.dbname)
    if database in _SCHEMA_MADE:
        return
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        db.execute(SCHEMA)
        db.execute(IMMUTABLE)
    _SCHEMA_MADE.add(database)


_SCHEMA_MADE: set[tuple] = set()


def _glob_matcher(glob: str) -> Callable[[str], bool]:
    import re

    expression = "".join("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in glob)
    return re.compile(expression).fullmatch
