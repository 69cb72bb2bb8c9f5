"""The audit trail on PostgreSQL, shared by every central node (`storage.backend`).

The same two tables as the SQLite file (`central/audit.py`), in their own schema `audit`,
chained, signed and verified by the same code: only connecting, querying and serializing a
write differ. Several nodes (and several processes on one) append at once, so a write takes
a transaction-scoped advisory lock first and reads the chain's tail inside the same
transaction: the next writer waits for the commit and chains onto it, and the trail never
forks (the primary key on `seq` would refuse a second entry with one number as well).
Triggers refuse UPDATE, DELETE and TRUNCATE of entries and checkpoints, as the SQLite
triggers do; the chain, the signed checkpoints and the anchor outside the database catch
whoever bypasses them (a superuser, someone with the data files).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from central.audit import AuditTrail
from central.audit_anchor import AuditAnchor
from central.postgres_pools import connection_pool

log = logging.getLogger(__name__)
SCHEMA_NAME = "audit"
# One lock id for every writer of the trail, on every node ("audt"); the passage store's
# partition lock is another ("anpr").
AUDIT_LOCK = 0x61756474
# `COLLATE "C"` on the texts: `records(since, until)` compares timestamps as SQLite does,
# byte by byte, whatever the database's locale.
SCHEMA = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.entries (
    seq        bigint PRIMARY KEY,
    at         text COLLATE "C" NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    details    text NOT NULL,
    prev_hash  text NOT NULL,
    entry_hash text NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_time ON audit.entries (at);
CREATE TABLE IF NOT EXISTS audit.checkpoints (
    seq        bigint PRIMARY KEY,
    entry_hash text NOT NULL,
    signed_at  text COLLATE "C" NOT NULL,
    key_id     text NOT NULL,
    signature  text NOT NULL
);
CREATE OR REPLACE FUNCTION audit.append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END $$ LANGUAGE plpgsql;
"""
_TRIGGER = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{name}'
                   AND tgrelid = 'audit.{table}'::regclass) THEN
        CREATE TRIGGER {name} BEFORE {events} ON audit.{table}
            FOR EACH {each} EXECUTE FUNCTION audit.append_only('{message}');
    END IF;
END $$;
"""
TRIGGERS = "".join(
    _TRIGGER.format(name=f"{table}_no_{what}", events=events, table=table, each=each,
                    message=message)
    for table, message in (("entries", "the audit trail is append-only"),
                           ("checkpoints", "audit checkpoints are append-only"))
    for what, events, each in (("change", "UPDATE OR DELETE", "ROW"),
                               ("truncate", "TRUNCATE", "STATEMENT"))
)  # fmt: skip


def audit_conninfo(conninfo: str) -> str:
    """The connection string with the `audit` schema first on the search path, so that the
    trail's SQL names `entries` and `checkpoints` as it does in the SQLite file."""
    options = conninfo_to_dict(conninfo).get("options") or ""
    return make_conninfo(conninfo, options=f"{options} -c search_path={SCHEMA_NAME}".strip())


def _made(db: psycopg.Connection) -> bool:
    """Whether the tables and all their triggers are there already."""
    row = db.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid IN "
        "(to_regclass('audit.entries'), to_regclass('audit.checkpoints')) AND NOT tgisinternal"
    ).fetchone()
    return row is not None and row[0] == 4


def ensure_schema(db: psycopg.Connection) -> None:
    """Make the schema, tables and triggers (at a node's start; the lock keeps two from
    racing). Where they are made, nothing is run: the central's role need not own them
    (docs/operations.md: an owner role makes them, the central's may only SELECT and
    INSERT)."""
    if _made(db):
        return
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
        if not _made(db):
            db.execute(SCHEMA)
            db.execute(TRIGGERS)


class PostgresAuditTrail(AuditTrail):
    def __init__(self, conninfo: str, anchor: AuditAnchor) -> None:
        self.anchor = anchor
        self.conninfo = audit_conninfo(conninfo)
        self._pool = connection_pool(self.conninfo)
        self._connection: psycopg.Connection | None = self._pool.getconn()
        ensure_schema(self._connection)

    @property
    def db(self) -> psycopg.Connection:
        """The trail's pooled connection; a broken one (the primary died) goes back to the
        pool and a new one is taken (the write that failed on it has raised)."""
        if self._connection is None or self._connection.broken or self._connection.closed:
            if self._connection is not None:
                self._pool.putconn(self._connection)
                log.warning("audit: database connection lost; reconnecting")
            self._connection = self._pool.getconn()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._pool.putconn(self._connection)
            self._connection = None

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        cursor = self.db.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Every node's writers queue on one advisory lock, held to the commit: the tail
        read after taking it is the tail the entry is chained onto."""
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
            yield
