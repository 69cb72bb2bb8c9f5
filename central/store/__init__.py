"""Storage of accepted passages (SQLite, WAL, secure delete)."""
