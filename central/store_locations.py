"""Where a central store lives: its SQLite file on one host, or its schema on PostgreSQL,
shared by every central node (storage.backend, #21)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PostgresSchema:
    """Where a store lives on PostgreSQL: the database (a libpq string without a password)
    and the store's own schema, named for its SQLite file (accounts.sqlite: `accounts`)."""

    conninfo: str
    schema: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", self.schema):
            raise ValueError(f"schema name {self.schema!r}: lower-case letters, digits, _")

    @property
    def name(self) -> str:
        return self.schema

    def __str__(self) -> str:
        return f"PostgreSQL schema {self.schema!r}"


# Where a store lives: its SQLite file on one host, or its schema on PostgreSQL.
StoreLocation = Path | PostgresSchema
