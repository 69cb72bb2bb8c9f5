"""A durable outbox in its own SQLite file: the one state machine both of the unit's queues use.

A row is `ready` until it is taken to be sent (`inflight`), and leaves only when its
delivery is confirmed: by the central's signed ack for passages (`spool.py`), by the
broker's PUBACK for research batches (`research_queue.py`). Opening the file returns every
in-flight row to `ready`: after a restart nobody knows whether those ever arrived, and the
receiving side drops what it sees twice.

Sequence numbers are allocated in the same transaction that stores the payload, from a
counter in its own table, so a number is never reused even after its row is gone. Bounded:
at `capacity` the oldest rows are deleted to make room and handed back to the caller, who
counts and logs them. Payloads are signed wire bytes, never pickles.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class SpoolError(Exception):
    """A queue file cannot be opened or written; the agent must not go on without it."""


def open_queue_file(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """A durable SQLite queue file: WAL, every commit synced, deleted rows overwritten (sent
    records must not linger in free pages), `schema` applied."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA secure_delete=ON")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise SpoolError(f"cannot open {what} {path}: {exc}") from None
    return db


class QueueFile:
    """One table `table` of (seq, state, payload, created_at, *extra columns*)."""

    def __init__(self, path: Path, table: str, extra_columns: str, send_columns: tuple[str, ...],
                 what: str) -> None:  # fmt: skip
        """`send_columns` hold what a send attempt set (times); requeueing clears them."""
        self.table, self.send_columns = table, send_columns
        self.lock = threading.Lock()
        self.db = open_queue_file(path, f"""
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO counters (name, value) VALUES ('last_seq', 0);
            CREATE TABLE IF NOT EXISTS {table} (
                seq        INTEGER PRIMARY KEY,
                state      TEXT NOT NULL CHECK (state IN ('ready', 'inflight')),
                payload    BLOB NOT NULL,
                created_at REAL NOT NULL,
                {extra_columns}
            );
            CREATE INDEX IF NOT EXISTS {table}_state ON {table} (state, seq);
            """, what)  # fmt: skip
        try:
            self.depth = self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            self.requeued_on_open = self.requeue()
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open {what} {path}: {exc}") from None

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One locked, immediate transaction: one fsync for everything inside it."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                self.depth = self.db.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]
                raise

    def query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, tuple(params)).fetchall()

    def append(
        self, row: Callable[[int], dict], capacity: int, drop_columns: str = "seq"
    ) -> tuple[int, list[tuple]]:
        """Store `row(seq)` (column -> value, without seq and state) under the next number.

        Returns the number and the rows (`drop_columns`) deleted to stay within `capacity`.
        """
        with self.transaction() as db:
            dropped: list[tuple] = []
            if self.depth >= capacity:
                dropped = db.execute(
                    f"SELECT {drop_columns} FROM {self.table} ORDER BY seq LIMIT ?",
                    (self.depth - capacity + 1,),
                ).fetchall()
                self._delete(db, [r[0] for r in dropped])
            (last,) = db.execute("SELECT value FROM counters WHERE name = 'last_seq'").fetchone()
            seq = last + 1
            values = row(seq)
            db.execute("UPDATE counters SET value = ? WHERE name = 'last_seq'", (seq,))
            names = ", ".join(values)
            marks = ", ".join("?" * len(values))
            insert = f"INSERT INTO {self.table} (seq, state, {names}) VALUES (?, 'ready', {marks})"
            db.execute(insert, (seq, *values.values()))
            self.depth += 1
        return seq, dropped

    def take_ready(
        self, limit: int, columns: str, mark: str, params: Callable[[tuple], tuple]
    ) -> list[tuple]:
        """Up to `limit` ready rows (seq first, then `columns`), oldest first, now in flight;
        `mark` is the SET clause of the send attempt, `params(row)` its values."""
        if limit <= 0:
            return []
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT seq, {columns} FROM {self.table} WHERE state = 'ready' "
                "ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            db.executemany(
                f"UPDATE {self.table} SET state = 'inflight', {mark} WHERE seq = ?",
                ((*params(row), row[0]) for row in rows),
            )
        return rows

    def requeue(self, where: str = "1", params: Iterable = ()) -> int:
        """Return in-flight rows (those matching `where`) to `ready`; how many."""
        cleared = "".join(f", {c} = NULL" for c in self.send_columns)
        sql = f"UPDATE {self.table} SET state = 'ready'{cleared} WHERE state = 'inflight' AND "
        with self.lock:
            return self.db.execute(sql + where, tuple(params)).rowcount

    def delete(self, seqs: Iterable[int]) -> int:
        with self.transaction() as db:
            return self._delete(db, list(seqs))

    def delete_where(self, where: str, params: Iterable = ()) -> int:
        with self.transaction() as db:
            removed = db.execute(f"DELETE FROM {self.table} WHERE {where}", tuple(params)).rowcount
            self.depth -= removed
            return removed

    def _delete(self, db: sqlite3.Connection, seqs: list[int]) -> int:
        removed = db.executemany(
            f"DELETE FROM {self.table} WHERE seq = ?", ((s,) for s in seqs)
        ).rowcount
        self.depth -= removed
        return removed

    def last_seq(self) -> int:
        return self.query("SELECT value FROM counters WHERE name = 'last_seq'")[0][0]
