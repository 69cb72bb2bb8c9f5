"""The central's small stores (accounts, requests, hotlists, plan, health, calamity, ...) on
PostgreSQL, so that any number of central nodes share them (`storage.backend`, #21).

Each store keeps one implementation, written in the subset of SQL that SQLite and
PostgreSQL share; this module is the narrow bridge that lets the same store code run on
either: a connection with the sqlite3 calls the stores make (`execute`, `executemany`,
`in_transaction`, `close`), each store in its own schema, and the few spellings that differ
translated in one place, where a test covers each:

- placeholders: `?` and `:name` become psycopg's `%s` and `%(name)s`;
- `INSERT OR IGNORE` becomes `INSERT ... ON CONFLICT DO NOTHING`;
- `BEGIN IMMEDIATE` (SQLite's "I will write": writers queue) becomes `BEGIN` and a
  transaction-scoped advisory lock on the store, so read-then-write steps (a request's next
  number, a hotlist's version) stay serial across nodes as they are across processes;
- `PRAGMA` statements (a file's journal, checkpoints of its write-ahead log) have no
  counterpart and do nothing: PostgreSQL keeps its own WAL; a bare `VACUUM` (SQLite: the
  file) vacuums the store's own tables, not the whole shared database. Unlike SQLite with
  secure_delete, PostgreSQL's VACUUM frees dead rows without zeroing them (see
  docs/operations.md, "Running on PostgreSQL", for what that leaves and for how long);
- in a migration's DDL: `INTEGER PRIMARY KEY` becomes an identity column, `INTEGER` 64-bit,
  `BLOB` bytea, `REAL` double precision, `TEXT` collates byte by byte ("C") as SQLite
  compares (timestamps in ISO text sort the same on every node, whatever the locale), and
  `WITHOUT ROWID` goes. A migration whose SQL differs beyond that (a trigger) gives both
  spellings (`databases.Dialects`).

Why not an ORM or SQLAlchemy Core: the stores are small, their SQL is the point of each and
reads plainly; one bridge of two hundred lines is less to learn than a layer over all of them.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import IntDumper

from central.migrations import Dialects, MigrationError, apply_missing, statements
from central.postgres_pools import connection_pool
from central.store_locations import PostgresSchema

log = logging.getLogger(__name__)


class _NumericLoader(Loader):
    """sum() and avg() of integers are `numeric` in PostgreSQL: give back an int where the
    value is whole and a float otherwise, as SQLite does, not a Decimal."""

    def load(self, data) -> int | float:
        text = bytes(data).decode()
        if "." not in text and "e" not in text.lower() and text not in ("NaN",):
            return int(text)
        value = float(text)
        return int(value) if value.is_integer() and "." not in text else value


class _BoolAsIntDumper(IntDumper):
    """SQLite stores True as 1: a flag passed to an integer column must not be refused."""

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


def _cursor(db: psycopg.Connection) -> psycopg.Cursor:
    """A cursor reading and writing as SQLite would (the connection is the pool's, shared
    with the passage store: the adapters are the cursor's own)."""
    cursor = db.cursor()
    cursor.adapters.register_loader("numeric", _NumericLoader)
    cursor.adapters.register_dumper(bool, _BoolAsIntDumper)
    return cursor


class PostgresConnection:
    """A store's connection to its schema, answering the sqlite3 calls the stores make.

    Borrowed from the process's pool (central/postgres_pools.py) for the store's lifetime
    and given back at `close`. Thread-safe as a shared sqlite3 connection is (one statement
    at a time). A connection broken outside a transaction (the primary restarted, a
    failover) is replaced on the next statement; inside one the statement raises and the
    caller's transaction is lost, as it would be with the server gone."""

    def __init__(self, where: PostgresSchema) -> None:
        self.where = where
        self._lock = threading.RLock()
        self._pool = connection_pool(where.conninfo)
        self._db: psycopg.Connection | None = self._borrow()

    def _borrow(self) -> psycopg.Connection:
        db = self._pool.getconn()
        # Given back at `close`, or when the store is dropped unclosed (a thread that ended,
        # an error path): a pool of 40 must not run dry by leaks.
        self._give_back = weakref.finalize(self, _give_back, self._pool, db)
        db.execute(f"SET search_path TO {self.where.schema}")  # made, if new, by migrations
        return db

    @property
    def db(self) -> psycopg.Connection:
        if self._db is None:
            raise psycopg.InterfaceError(f"{self.where}: the store was closed")
        if self._db.broken or self._db.closed:
            log.warning("%s: database connection lost; reconnecting", self.where)
            self._give_back()
            self._db = self._borrow()
        return self._db

    @property
    def in_transaction(self) -> bool:
        return self.db.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence | dict = ()) -> psycopg.Cursor:
        statement = translate(sql)
        with self._lock:
            cursor = _cursor(self.db)
            if statement.kind == "pragma":
                return cursor
            if statement.kind == "vacuum":
                self._vacuum(cursor)
                return cursor
            cursor.execute(statement.sql, _params(params))
            if statement.kind == "begin_immediate":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (store_lock(self.where),))
            return cursor

    def _vacuum(self, cursor: psycopg.Cursor) -> None:
        """The store's own tables, not the whole shared database (the passages too)."""
        tables = cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.where.schema,)
        ).fetchall()
        for (table,) in tables:
            cursor.execute(f'VACUUM {self.where.schema}."{table}"')

    def executemany(self, sql: str, rows: Iterable[Sequence | dict]) -> psycopg.Cursor:
        statement = translate(sql)
        with self._lock:
            cursor = _cursor(self.db)
            cursor.executemany(statement.sql, [_params(row) for row in rows])
            return cursor

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._give_back()
                self._db = None


def _give_back(pool, db: psycopg.Connection) -> None:
    try:
        pool.putconn(db)
    except Exception:  # noqa: BLE001 - the pool closed first (the process is ending)
        log.debug("a store's connection found its pool closed")


def store_lock(where: PostgresSchema) -> int:
    """The advisory lock id that serialises a store's writers (BEGIN IMMEDIATE)."""
    return zlib.crc32(f"anpr-store:{where.schema}".encode())


def _params(params: Sequence | dict) -> Sequence | dict:
    return params if isinstance(params, dict) else tuple(params)


@dataclass(frozen=True)
class Statement:
    sql: str
    kind: str  # "plain", "pragma", "vacuum" or "begin_immediate"


# Single-quoted literals and double-quoted identifiers pass through untouched.
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


@lru_cache(maxsize=1024)
def translate(sql: str) -> Statement:
    """The PostgreSQL spelling of one statement the stores write for SQLite."""
    head = sql.lstrip().upper()
    if head.startswith("PRAGMA"):
        return Statement(sql, "pragma")
    if re.fullmatch(r"VACUUM\s*;?\s*", head):
        return Statement(sql, "vacuum")
    if re.fullmatch(r"BEGIN\s+IMMEDIATE\s*;?\s*", head):
        return Statement("BEGIN", "begin_immediate")
    text = _placeholders(sql)
    if _INSERT_OR_IGNORE.match(text):
        text = _INSERT_OR_IGNORE.sub("INSERT INTO", text, count=1).rstrip().rstrip(";")
        returning = _RETURNING.search(text)
        if returning:
            text = f"{text[: returning.start()]}ON CONFLICT DO NOTHING {text[returning.start() :]}"
        else:
            text += " ON CONFLICT DO NOTHING"
    return Statement(text, "plain")


def _placeholders(sql: str) -> str:
    """`?` to `%s`, `:name` to `%(name)s`, a literal `%` to `%%`, outside quotes only
    (a `%` inside a quoted literal is doubled too: psycopg reads the whole string)."""
    out, last = [], 0
    for quoted in _QUOTED.finditer(sql):
        out.append(_bare(sql[last : quoted.start()]))
        out.append(quoted.group().replace("%", "%%"))
        last = quoted.end()
    out.append(_bare(sql[last:]))
    return "".join(out)


def _bare(part: str) -> str:
    part = part.replace("%", "%%").replace("?", "%s")
    return _NAMED.sub(r"%(\1)s", part)


_DDL_REWRITES = (
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.IGNORECASE),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bTEXT\b", re.IGNORECASE), 'TEXT COLLATE "C"'),
    (re.compile(r"\)\s*WITHOUT\s+ROWID", re.IGNORECASE), ")"),
)  # fmt: skip


class UntranslatableMigration(ValueError):
    """A migration's SQLite DDL has no mechanical PostgreSQL spelling: give both."""


def translate_ddl(sql: str) -> str:
    """The PostgreSQL spelling of a migration written for SQLite (see the module's list)."""
    if re.search(r"\bCREATE\s+TRIGGER\b", sql, re.IGNORECASE):
        raise UntranslatableMigration(
            "a trigger's body differs between SQLite and PostgreSQL: give the migration as "
            "databases.Dialects(sqlite=..., postgresql=...)"
        )
    for pattern, replacement in _DDL_REWRITES:
        sql = pattern.sub(replacement, sql)
    return sql


def apply_postgres_migrations(db: PostgresConnection, migrations) -> list[str]:
    """Apply the missing named migrations (`migrations.apply_missing`, under the store's
    lock: two nodes starting at once migrate once); checked once per process."""
    known = {name for name, _ in migrations}
    checked = (db.where, frozenset(known))
    if checked in _UP_TO_DATE or known <= _applied(db):
        _UP_TO_DATE.add(checked)
        return []  # the usual case: read once per process, without the store's lock

    def prepare() -> None:  # under the lock: two nodes opening a new store make it once
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {db.where.schema}")
        db.execute(
            'CREATE TABLE IF NOT EXISTS _migrations (name TEXT COLLATE "C" PRIMARY KEY, '
            "applied_at TEXT NOT NULL)"
        )

    def run(name: str, sql) -> None:
        spelled = [sql.postgresql] if isinstance(sql, Dialects) else statements(translate_ddl(sql))
        try:
            for statement in spelled:
                db.db.execute(statement)
        except psycopg.Error as exc:
            raise MigrationError(f"{db.where}: migration {name} failed: {exc}") from exc

    applied = apply_missing(db, migrations, run, str(db.where), prepare)
    _UP_TO_DATE.add(checked)
    return applied


# Stores this process found migrated (a web request opens several: one check per process).
_UP_TO_DATE: set[tuple[PostgresSchema, frozenset[str]]] = set()


def _applied(db: PostgresConnection) -> set[str]:
    exists = db.execute("SELECT to_regclass('_migrations') IS NOT NULL").fetchone()[0]
    return {row[0] for row in db.execute("SELECT name FROM _migrations")} if exists else set()
