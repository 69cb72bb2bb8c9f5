"""What a store's schema migrations are made of, on either backend: named SQL, written for
SQLite or given in both spellings (`Dialects`), split into statements the same way.
Apart from `databases` so that the PostgreSQL bridge uses them without importing it."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


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
