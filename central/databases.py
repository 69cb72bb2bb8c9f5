"""Named schema migrations, each applied once and recorded in the same transaction.

A database records which migrations it has; opening it applies the missing ones in order.
Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sqlcipher3 import dbapi2 as sqlcipher

from central.migrations import Dialects, MigrationError, apply_missing, statements
from central.store_locations import PostgresSchema, StoreLocation

__all__ = [
    "DatabaseError", "Dialects", "IntegrityError", "MigrationError", "PostgresSchema",
    "StoreLocation", "apply_migrations", "connect", "open_database", "scrub_wal", "statements",
]  # fmt: skip

# What any driver raises: plain stores use sqlite3, day files SQLCipher's build of it, and
# with storage.backend = "postgresql" the stores run on psycopg (an optional extra).
DatabaseError: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher.Error)
IntegrityError: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
try:
    import psycopg
except ImportError:  # pragma: no cover - the postgresql extra is not installed
    pass
else:
    DatabaseError += (psycopg.Error,)
    IntegrityError += (psycopg.IntegrityError,)


def apply_migrations(
    db: sqlite3.Connection, migrations: Sequence[tuple[str, str | Dialects]]
) -> list[str]:
    """Apply the missing named migrations; return the names applied now."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    known = {name for name, _ in migrations}
    if known <= {row[0] for row in db.execute("SELECT name FROM _migrations")}:
        return []  # the usual case, read without taking the write lock

    def run(name: str, sql: str | Dialects) -> None:
        try:
            for statement in statements(sql.sqlite if isinstance(sql, Dialects) else sql):
                db.execute(statement)
        except DatabaseError as exc:
            raise MigrationError(f"migration {name} failed: {exc}") from exc

    # Another process (ingest and a web worker opening the same new day file) may be
    # migrating the same file at the same moment: apply_missing reads inside the lock.
    return apply_missing(db, migrations, run, "database")


# How long a checkpoint waits for readers before it reports itself incomplete.
SCRUB_WAIT_MS = 5000


class ScrubIncomplete(Exception):
    """Deleted rows may still have copies in the write-ahead log: a reader held it open."""


def scrub_wal(db: sqlite3.Connection, what: str) -> None:
    """Copy the write-ahead log into the file and truncate it, so deleted rows (zeroed by
    secure_delete in the file) leave no old copy in the log. SQLite reports rather than
    raises a checkpoint that a reader blocked; this raises it, so nobody takes it as done."""
    db.execute(f"PRAGMA busy_timeout={int(SCRUB_WAIT_MS)}")
    try:
        busy, frames, copied = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        db.execute("PRAGMA busy_timeout=5000")
    if busy or frames != copied or frames > 0:
        raise ScrubIncomplete(
            f"{what}: the write-ahead log could not be truncated ({copied} of {frames} pages "
            "copied): a reader held it open; deleted rows may remain there until the next try"
        )


CIPHER_PAGE_SIZE = 16384


class WrongKey(Exception):
    """An encrypted store file does not open with the key given (or is not a database)."""


def connect(path, key: bytes | None = None) -> sqlite3.Connection:
    """Open a store file in WAL mode, with secure delete so freed pages hold no old data.
    With `key` (32 bytes) the file is SQLCipher-encrypted: every page of it and of its
    write-ahead log is AES-256 with an HMAC, and nothing of it reads without the key."""
    if key is None:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    else:
        db = _connect_encrypted(path, key)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA secure_delete=ON")
    # Sorts and temporary tables stay in memory: no plate may reach a temporary file.
    db.execute("PRAGMA temp_store=MEMORY")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    return db


def _connect_encrypted(path, key: bytes):
    if len(key) != 32:
        raise ValueError("an encrypted store needs a 32-byte key")
    db = sqlcipher.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is raised below, not printed
    # A raw key (x'...'): no passphrase stretching, the key is already random.
    db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    # 16 KiB pages: an image (~40 KB) spans 3 pages instead of 11, each with its own
    # encryption and HMAC; ingest runs at the plaintext rate (docs/scaling.md). Part of the
    # file's format: every open must say it.
    db.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE}")
    try:
        db.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlcipher.DatabaseError as exc:
        db.close()
        raise WrongKey(f"{path} does not open with its key ({exc}): wrong key or damaged") from None
    return db


def open_database(path, migrations: Sequence[tuple[str, str | Dialects]], key: bytes | None = None):
    """Open a store file (creating its folder) with its migrations applied; `key` opens (or
    creates) it encrypted. A `postgres_stores.PostgresSchema` in place of the path opens the
    store's schema on PostgreSQL instead (storage.backend = "postgresql")."""
    if not isinstance(path, (str, Path)):
        from central.postgres_stores import PostgresConnection, apply_postgres_migrations

        if key is not None:
            raise ValueError(f"{path}: an encrypted SQLite store has no PostgreSQL form")
        db = PostgresConnection(path)
        try:
            apply_postgres_migrations(db, migrations)
        except BaseException:
            db.close()
            raise
        return db
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = connect(path, key)
    apply_migrations(db, migrations)
    return db
