"""The primary dies; its streaming replica is promoted; the store carries on against it
(#21). With synchronous replication an acknowledged passage is on the replica before the
unit hears of it, so the failover loses nothing that was acknowledged."""

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from central.postgres_pools import close_pools
from central.store import Outcome
from central.store.postgres import PostgresPassageStore
from tests.conftest import verified_passage
from tests.postgres import start_cluster
from wire import SigningKey

pytestmark = pytest.mark.slow
KEY = SigningKey.from_seed(bytes(32))
T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def pair():
    primary = start_cluster({"wal_level": "replica"})
    replica = None
    try:
        replica = start_cluster(primary=primary)
        with psycopg.connect(primary.conninfo, autocommit=True) as db:  # once it is there
            db.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            db.execute("SELECT pg_reload_conf()")
        yield primary, replica
    finally:
        close_pools()
        for cluster in (replica, primary):
            if cluster is not None:
                cluster.stop()


def passages(first: int, count: int):
    return [verified_passage(KEY, seq=seq, captured_at=T0 + timedelta(seconds=seq))
            for seq in range(first, first + count)]  # fmt: skip


def insert_until_it_works(store, batch, timeout: float = 30.0):
    """What ingest does: a batch that fails is not acknowledged and is tried again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return store.insert_batch(batch, T0)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_store_carries_on_against_the_promoted_replica(pair, tmp_path):
    primary, replica = pair
    conninfo = (f"host=127.0.0.1,127.0.0.1 port={primary.port},{replica.port} "
                f"user={primary.user} dbname=anpr target_session_attrs=read-write "
                "connect_timeout=2")  # fmt: skip
    store = PostgresPassageStore(conninfo, tmp_path / "data", tmp_path / "keys", lambda: T0)
    try:
        assert store.insert_batch(passages(1, 50), T0) == [Outcome.STORED] * 50
        with psycopg.connect(primary.conninfo) as db:
            state = db.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
        assert state == ("sync",), "the replica confirms each commit before it returns"

        primary.kill()
        replica.promote()
        outcomes = insert_until_it_works(store, passages(51, 50))
        assert outcomes == [Outcome.STORED] * 50
        # A batch in flight at the crash comes again from the unit: stored once.
        assert insert_until_it_works(store, passages(41, 20)) == [Outcome.DUPLICATE] * 20
        assert store.seqs("test-cam-01") == list(range(1, 101))
        found = store.search_plate("GBL12X", T0, T0 + timedelta(hours=1))
        assert len(found) == 100
    finally:
        store.close()
