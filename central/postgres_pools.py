"""One psycopg connection pool per database per process, shared by every store the
process opens on PostgreSQL (passages, the audit trail, the small stores): a web request
borrows a connection for each store it opens instead of connecting anew (#21)."""

from __future__ import annotations

import threading

import psycopg
from psycopg_pool import ConnectionPool

# A web worker's threads each open a few stores per request: a pool this size seldom waits.
MAX_CONNECTIONS = 40
_POOLS: dict[str, ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


def _reset(connection: psycopg.Connection) -> None:
    """A returned connection forgets its borrower's settings (a store's search_path)."""
    connection.execute("RESET ALL")


def connection_pool(conninfo: str, max_size: int = MAX_CONNECTIONS) -> ConnectionPool:
    """The process's pool for this database, made on first use."""
    with _POOLS_LOCK:
        pool = _POOLS.get(conninfo)
        if pool is None:
            pool = _POOLS[conninfo] = ConnectionPool(
                conninfo, min_size=1, max_size=max_size, open=True,
                kwargs={"autocommit": True}, name="anpr", reset=_reset,
                check=ConnectionPool.check_connection,  # none from a dead primary
            )  # fmt: skip
        return pool


def close_pools() -> None:
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()
