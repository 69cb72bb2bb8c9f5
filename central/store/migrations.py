"""Named schema migrations, each applied once and recorded in the same transaction.

A database records which migrations it has; opening it applies the missing ones in order.
Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence


class MigrationError(Exception):
    """The database is newer than this code or a migration failed."""


def apply_migrations(db: sqlite3.Connection, migrations: Sequence[tuple[str, str]]) -> list[str]:
    """Apply the missing named migrations; return the names applied now."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    known = {name for name, _ in migrations}
    if unknown := done - known:
        raise MigrationError(
            f"database has migrations this code does not know: {sorted(unknown)}; "
            "run a newer release"
        )
    applied = []
    for name, sql in migrations:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                db.execute(statement)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))", (name,)
            )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise MigrationError(f"migration {name} failed: {exc}") from exc
        applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    return [part.strip() for part in sql.split(";") if part.strip()]


def connect(path, readonly: bool = False) -> sqlite3.Connection:
    """Open a store file in WAL mode, with secure delete so freed pages hold no old data."""
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                             check_same_thread=False)  # fmt: skip
    else:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA secure_delete=ON")
    # Sorts and temporary tables stay in memory: no plate may reach a temporary file.
    db.execute("PRAGMA temp_store=MEMORY")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    return db
