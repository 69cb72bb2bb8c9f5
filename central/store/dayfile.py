"""One UTC day of passages in one SQLite file, so that expiry removes whole files.

The file is encrypted as a whole with the day's file key (SQLCipher, see daykeys.py), so
destroying the key destroys every copy of the day. A file written before encryption was
introduced is encrypted in place the first time it is opened.

The passage table holds only the searchable fields, so that it and its indexes stay compact;
the signed record (the evidence) and the images sit in their own tables, the images
encrypted with the day's key.
Verification results refer to a passage and live in their own table: the read itself is
never updated, and triggers refuse any UPDATE of the four tables (`0002_reads_immutable`);
`central/store/integrity.py` checks the stored columns against the signed record.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import date
from pathlib import Path

from central.databases import CIPHER_PAGE_SIZE, connect, open_database, scrub_wal
from central.store.records import (
    SUMMARY_COLUMNS,
    SUMMARY_FIELDS,
    StoredPassage,
    summary_columns_sql,
)

MIGRATIONS = [
    (
        "0001_day",
        f"""
        CREATE TABLE passages (
{summary_columns_sql()}
            record_sha256    TEXT NOT NULL,
            PRIMARY KEY (camera_id, seq)
        ) WITHOUT ROWID;
        CREATE TABLE records (
            camera_id  TEXT NOT NULL,
            seq        INTEGER NOT NULL,
            record     BLOB NOT NULL,
            signature  BLOB NOT NULL,
            PRIMARY KEY (camera_id, seq)
        );
        CREATE INDEX passages_plate ON passages (plate, captured_at);
        CREATE INDEX passages_camera_time ON passages (camera_id, captured_at);
        CREATE TABLE images (
            camera_id  TEXT NOT NULL,
            seq        INTEGER NOT NULL,
            crop       BLOB NOT NULL,
            overview   BLOB NOT NULL,
            PRIMARY KEY (camera_id, seq)
        );
        CREATE TABLE verifications (
            id          INTEGER PRIMARY KEY,
            camera_id   TEXT NOT NULL,
            seq         INTEGER NOT NULL,
            verdict     TEXT NOT NULL CHECK (verdict IN ('correct', 'wrong')),
            verified_by TEXT NOT NULL,
            verified_at TEXT NOT NULL,
            note        TEXT NOT NULL DEFAULT '',
            FOREIGN KEY (camera_id, seq) REFERENCES passages (camera_id, seq)
        )
        """,
    ),
    (
        # Reads cannot be edited (the decree's integrity rule), only annotated with a
        # verdict; retention's DELETE stays allowed. Someone with the file can drop these
        # triggers: `store-verify` then finds the edit against the signed record.
        "0002_reads_immutable",
        "\n".join(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT "
            f"RAISE(ABORT, 'stored {table} are never changed: annotate a read with a verdict');"
            " END;"
            for table in ("passages", "records", "images", "verifications")
        ),
    ),
    (
        # A plate search reads the index only: a plate's passages lie side by side in it,
        # a few pages, instead of one table page per passage fetched at random (each page
        # decrypted and checked, since the file is encrypted). About 120 bytes a passage.
        "0003_plate_search_covered",
        f"""
        CREATE INDEX passages_plate_covering ON passages (plate, captured_at, {
            ", ".join(f for f in SUMMARY_FIELDS if f not in ("plate", "captured_at"))
        });
        DROP INDEX passages_plate
        """,
    ),
]

log = logging.getLogger(__name__)
PASSAGE_COLUMNS = len(SUMMARY_FIELDS) + 1  # the stored fields and record_sha256
_CHUNK = 400  # passages per lookup: 800 bound values, well under SQLite's limit


_PLAINTEXT_HEADER = b"SQLite format 3\x00"


def is_plaintext(path: Path) -> bool:
    """Whether `path` is an unencrypted SQLite file (SQLCipher files start with a salt)."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(_PLAINTEXT_HEADER)) == _PLAINTEXT_HEADER
    except FileNotFoundError:
        return False


def encrypt_in_place(path: Path, key: bytes) -> None:
    """Replace a plaintext day file by an encrypted copy and overwrite the plaintext before
    removing it, so an upgrade leaves no readable day behind (on SSDs the overwrite may miss
    remapped blocks: docs/security.md). Processes opening the same file at once (ingest and
    the web at the first start after the upgrade) take turns; the second finds it done."""
    with path.with_name(path.name + ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_plaintext(path):
            _encrypt(path, key)
    path.with_name(path.name + ".lock").unlink(missing_ok=True)


def _encrypt(path: Path, key: bytes) -> None:
    partial = path.with_name(path.name + ".encrypting")
    partial.unlink(missing_ok=True)
    with closing(connect(path)) as plain:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with closing(sqlite3.connect(path, isolation_level=None)) as plain:
        plain.execute("PRAGMA journal_mode=DELETE")
    with closing(connect(partial, key)) as encrypted:
        encrypted.execute("PRAGMA journal_mode=DELETE")
        encrypted.execute(f"ATTACH DATABASE '{path}' AS plaintext KEY ''")
        encrypted.execute("SELECT sqlcipher_export('main', 'plaintext')")
        encrypted.execute("DETACH DATABASE plaintext")
    _overwrite(path)
    partial.replace(path)
    log.warning("store: day file %s was plaintext; encrypted with its day key", path.name)


def _overwrite(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for _ in range(0, size, 1 << 20):
            handle.write(b"\0" * min(1 << 20, size - handle.tell()))
        handle.flush()
        os.fsync(handle.fileno())


def copy_day_file(source: Path, target: Path, key: bytes) -> None:
    """A consistent copy of a live day file (SQLite's online backup), encrypted with the
    same key: a backup never holds a readable day."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # sqlcipher_export, not the backup API: SQLite's backup copies pages past the codec and
    # would write the copy's first page in plaintext.
    with closing(connect(source, key)) as src:
        src.execute(f"ATTACH DATABASE '{partial}' AS copy KEY \"x'{key.hex()}'\"")
        src.execute(f"PRAGMA copy.cipher_page_size = {CIPHER_PAGE_SIZE}")
        try:
            src.execute("BEGIN")  # one read snapshot while ingest goes on writing
            src.execute("SELECT sqlcipher_export('copy')")
            src.execute("COMMIT")
        finally:
            src.execute("DETACH DATABASE copy")
    partial.replace(target)


class DayFile:
    """An open day file. Not thread-safe: each thread opens its own."""

    def __init__(self, path: Path, day: date, key: bytes) -> None:
        self.path = path
        self.day = day
        if is_plaintext(path):
            encrypt_in_place(path, key)
        self.db = open_database(path, MIGRATIONS, key)

    def close(self) -> None:
        self.db.close()

    def existing_digest(self, camera_id: str, seq: int) -> str | None:
        row = self.db.execute(
            "SELECT record_sha256 FROM passages WHERE camera_id = ? AND seq = ?",
            (camera_id, seq),
        ).fetchone()
        return None if row is None else row[0]

    def insert(self, passage_row: Sequence, record_row: Sequence, image_row: Sequence) -> None:
        self.db.execute(f"INSERT INTO passages VALUES ({', '.join('?' * PASSAGE_COLUMNS)})",
                        passage_row)  # fmt: skip
        self.db.execute("INSERT INTO records VALUES (?, ?, ?, ?)", record_row)
        self.db.execute("INSERT INTO images VALUES (?, ?, ?, ?)", image_row)

    def recent(self, since: str, camera_id: str | None, limit: int) -> list[StoredPassage]:
        if camera_id is None:
            rows = self.db.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM passages WHERE captured_at >= ? "
                "ORDER BY captured_at DESC, seq DESC LIMIT ?",
                (since, limit),
            )
        else:
            rows = self.db.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM passages WHERE camera_id = ? AND captured_at >= ? "
                "ORDER BY captured_at DESC, seq DESC LIMIT ?",
                (camera_id, since, limit),
            )
        return [StoredPassage(*row) for row in rows]

    def by_plate(
        self, glob: str, country: str | None, start: str, end: str, limit: int
    ) -> list[StoredPassage]:
        sql = (
            f"SELECT {SUMMARY_COLUMNS} FROM passages "
            "WHERE plate GLOB ? AND captured_at >= ? AND captured_at < ?"
        )
        params: list = [glob, start, end]
        if country is not None:
            sql += " AND country = ?"
            params.append(country)
        rows = self.db.execute(sql + " ORDER BY captured_at LIMIT ?", (*params, limit))
        return [StoredPassage(*row) for row in rows]

    def _window_sql(self, select: str, cameras: Sequence[str], direction: str | None):
        marks = ", ".join("?" * len(cameras))
        sql = (
            f"SELECT {select} FROM passages INDEXED BY passages_camera_time "
            f"WHERE camera_id IN ({marks}) AND captured_at >= ? AND captured_at < ?"
        )
        if direction is not None:
            sql += " AND direction = ?"
        return sql

    def in_window(
        self, cameras: Sequence[str], start: str, end: str, direction: str | None, limit: int
    ) -> list[StoredPassage]:
        sql = self._window_sql(SUMMARY_COLUMNS, cameras, direction)
        params = [*cameras, start, end] + ([direction] if direction else [])
        rows = self.db.execute(sql + " ORDER BY captured_at LIMIT ?", (*params, limit))
        return [StoredPassage(*row) for row in rows]

    def count_window(
        self, cameras: Sequence[str], start: str, end: str, direction: str | None
    ) -> int:
        sql = self._window_sql("count(*)", cameras, direction)
        params = [*cameras, start, end] + ([direction] if direction else [])
        return self.db.execute(sql, params).fetchone()[0]

    def captured_at(self, camera_id: str, seq: int) -> str | None:
        row = self.db.execute(
            "SELECT captured_at FROM passages WHERE camera_id = ? AND seq = ?", (camera_id, seq)
        ).fetchone()
        return None if row is None else row[0]

    def sealed_image(self, camera_id: str, seq: int, which: str) -> bytes | None:
        column = {"crop": "crop", "overview": "overview"}[which]
        row = self.db.execute(
            f"SELECT {column} FROM images WHERE camera_id = ? AND seq = ?", (camera_id, seq)
        ).fetchone()
        return None if row is None else row[0]

    def signed_record(self, camera_id: str, seq: int) -> tuple[bytes, bytes] | None:
        row = self.db.execute(
            "SELECT record, signature FROM records WHERE camera_id = ? AND seq = ?",
            (camera_id, seq),
        ).fetchone()
        return None if row is None else (bytes(row[0]), bytes(row[1]))

    def add_verdict(
        self, camera_id: str, seq: int, verdict: str, by: str, at: str, note: str
    ) -> None:
        self.db.execute(
            "INSERT INTO verifications (camera_id, seq, verdict, verified_by, verified_at, note)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (camera_id, seq, verdict, by, at, note),
        )

    def verdicts(self) -> dict[tuple[str, int], tuple[str, str, str]]:
        """The latest verdict per passage: (verdict, by, at)."""
        rows = self.db.execute(
            "SELECT camera_id, seq, verdict, verified_by, verified_at FROM verifications "
            "ORDER BY id"
        )
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}

    def count(self, camera_id: str | None = None) -> int:
        if camera_id is None:
            return self.db.execute("SELECT count(*) FROM passages").fetchone()[0]
        return self.db.execute(
            "SELECT count(*) FROM passages WHERE camera_id = ?", (camera_id,)
        ).fetchone()[0]

    def seqs(self, camera_id: str) -> list[int]:
        rows = self.db.execute("SELECT seq FROM passages WHERE camera_id = ?", (camera_id,))
        return [row[0] for row in rows]

    def delete_before(self, cutoff: str, keep: Iterable[tuple[str, int]]) -> int:
        """Securely delete passages captured before `cutoff`, except those held."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS held (camera_id TEXT, seq INTEGER)")
            self.db.execute("DELETE FROM temp.held")
            self.db.executemany("INSERT INTO temp.held VALUES (?, ?)", list(keep))
            doomed = (
                "SELECT camera_id, seq FROM passages WHERE captured_at < ? "
                "EXCEPT SELECT camera_id, seq FROM temp.held"
            )
            for table in ("verifications", "images", "records"):
                self.db.execute(
                    f"DELETE FROM {table} WHERE (camera_id, seq) IN ({doomed})", (cutoff,)
                )
            deleted = self.db.execute(
                f"DELETE FROM passages WHERE (camera_id, seq) IN ({doomed})", (cutoff,)
            ).rowcount
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        # Scrubbed even when nothing new was deleted: an earlier scrub a reader blocked is
        # completed by the next retention pass, not left until more rows expire.
        self.scrub()
        return deleted

    def scrub(self) -> None:
        """Leave no old page copies behind: checkpoint and truncate the write-ahead log;
        raises ScrubIncomplete when a reader prevented it."""
        scrub_wal(self.db, f"day file {self.path.name}")

    def stored_with_records(self) -> sqlite3.Cursor:
        """Every passage's stored columns and record digest beside its signed record (and
        its signature), for the integrity check; a passage without its record has None."""
        return self.db.execute(
            f"SELECT {', '.join('p.' + name for name in SUMMARY_FIELDS)}, p.record_sha256, "
            "r.record, r.signature FROM passages p "
            "LEFT JOIN records r ON r.camera_id = p.camera_id AND r.seq = p.seq "
            "ORDER BY p.camera_id, p.seq"
        )

    def signed_records_for(
        self, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[str, bytes | None, bytes | None]]:
        """(stored digest, record, signature) of the passages asked for, a few hundred per
        query: a 30,000-row result is checked in ~75 statements, not 30,000."""
        found: dict[tuple[str, int], tuple[str, bytes | None, bytes | None]] = {}
        for first in range(0, len(keys), _CHUNK):
            chunk = keys[first : first + _CHUNK]
            marks = ", ".join("(?, ?)" for _ in chunk)
            rows = self.db.execute(
                "SELECT p.camera_id, p.seq, p.record_sha256, r.record, r.signature "
                "FROM passages p LEFT JOIN records r ON r.camera_id = p.camera_id "
                f"AND r.seq = p.seq WHERE (p.camera_id, p.seq) IN (VALUES {marks})",
                [part for key in chunk for part in key],
            )
            found.update(((r[0], r[1]), (r[2], r[3], r[4])) for r in rows)
        return found

    def orphan_records(self) -> list[tuple[str, int]]:
        """Signed records without a passage row (a row deleted behind the store's back)."""
        return self.db.execute(
            "SELECT camera_id, seq FROM records EXCEPT SELECT camera_id, seq FROM passages"
        ).fetchall()

    def rows_for_statistics(self) -> sqlite3.Cursor:
        return self.db.execute("SELECT camera_id, plate, country, confidence_pm FROM passages")

    def oldest_captured(self, except_held: set[tuple[str, int]]) -> str | None:
        if not except_held:
            return self.db.execute("SELECT min(captured_at) FROM passages").fetchone()[0]
        rows = self.db.execute("SELECT camera_id, seq, captured_at FROM passages ORDER BY 3")
        return next((at for camera_id, seq, at in rows if (camera_id, seq) not in except_held),
                    None)  # fmt: skip

    def latest_received(self) -> str | None:
        return self.db.execute("SELECT max(received_at) FROM passages").fetchone()[0]
