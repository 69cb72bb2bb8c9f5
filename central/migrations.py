"""What a store's schema migrations are made of, on either backend: named SQL, written for
SQLite or given in both spellings (`Dialects`), split into statements the same way.
Apart from `databases` so that the PostgreSQL bridge uses them without importing it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Dialects:
    """A migration whose SQL differs between the backends beyond what
    `postgres_stores.translate_ddl` rewrites (a trigger's body): both spellings."""

    sqlite: str
    postgresql: str


class MigrationError(Exception):
    """The database is newer than this code or a migration failed."""


def statements(sql: str) -> list[str]:
    """Split a script into statements; a trigger's `BEGIN ...; END` stays whole."""
    statements, buffer = [], ""
    for part in sql.split(";"):
        buffer += part + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \n;"):
        statements.append(buffer.strip())
    return statements


Migration = tuple[str, "str | Dialects"]


def apply_missing(
    db, migrations: Sequence[Migration], run: Callable[[str, str | Dialects], None],
    where: str, prepare: Callable[[], None] = lambda: None,
) -> list[str]:  # fmt: skip
    """Apply the migrations `db` lacks, in order, each recorded in `_migrations` in the same
    write transaction (`BEGIN IMMEDIATE`: SQLite's write lock, the bridge's store lock on
    PostgreSQL), so two processes or nodes opening a new store at once migrate it once.
    What is done is read inside the lock; a store with migrations this code does not know
    is refused. `run(name, sql)` runs one migration as its backend spells it (raising
    MigrationError); `prepare` makes what must exist first, under the lock."""
    known = {name for name, _ in migrations}
    db.execute("BEGIN IMMEDIATE")
    try:
        prepare()
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
        if unknown := done - known:
            raise MigrationError(
                f"{where}: has migrations this code does not know: {sorted(unknown)}; "
                "run a newer release"
            )
        applied = []
        for name, sql in migrations:
            if name in done:
                continue
            run(name, sql)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            applied.append(name)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return applied
