"""The work board (central/web/work_board.py): work one web node started, seen and handed
over by any other, on both backends; what it yields sealed under the token."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag

from central.web.work_board import CHUNK, KEPT, WorkBoard, _Seal

NOW = datetime(2026, 12, 6, 10, tzinfo=UTC)
PLATE = b"XK-123-B"


@pytest.fixture
def nodes(store_location):
    """Two web nodes' boards on one store."""
    first, second = WorkBoard(store_location("work")), WorkBoard(store_location("work"))
    yield first, second
    first.close()
    second.close()


def test_work_started_on_one_node_is_followed_and_handed_over_on_the_other(nodes):
    first, second = nodes
    body = os.urandom(2 * CHUNK + 123) + PLATE
    assert first.post("tok", "package", "requester1", 7, NOW)
    assert not second.post("tok", "package", "requester1", 7, NOW)  # started once only
    first.progress("tok", 3, 10, NOW)
    state = second.state("tok", NOW)
    assert (state.kind, state.owner, state.request_id) == ("package", "requester1", 7)
    assert state.as_json() == {"done": 3, "total": 10, "ready": False, "error": None}
    assert not second.take("tok")  # not ready: nothing to hand over yet
    first.finish("tok", NOW, answer={"rows": 10}, body=io.BytesIO(body))
    assert second.state("tok", NOW).answer == {"rows": 10}
    assert second.take("tok")
    assert not first.take("tok")  # handed over once
    assert b"".join(second.pieces("tok")) == body
    assert first.state("tok", NOW) is None  # gone once read


def test_a_failed_work_says_why_on_every_node(nodes):
    first, second = nodes
    first.post("tok", "search", "officer1", 3, NOW)
    first.finish("tok", NOW, error="search refused: no plate")
    state = second.state("tok", NOW)
    assert state.ready and state.error == "search refused: no plate"


def test_what_work_yields_is_sealed_under_its_token(nodes):
    first, _ = nodes
    first.post("tok", "package", "requester1", 7, NOW)
    first.finish("tok", NOW, answer={"plate": PLATE.decode()}, body=io.BytesIO(PLATE * 100))
    stored = b"".join(
        bytes(row[0]) for row in first.db.execute("SELECT sealed FROM work_pieces")
    ) + bytes(first.db.execute("SELECT answer FROM work").fetchone()[0])
    assert PLATE not in stored
    assert b"tok" not in b"".join(
        str(row).encode() for row in first.db.execute("SELECT * FROM work")
    )
    sealed = bytes(first.db.execute("SELECT sealed FROM work_pieces").fetchone()[0])
    with pytest.raises(InvalidTag):
        _Seal("another token").open(sealed, "0")


def test_work_whose_node_stopped_is_started_anew_when_asked_again(nodes):
    first, second = nodes
    assert first.post("tok", "package", "requester1", 7, NOW)
    first.progress("tok", 3, 10, NOW)  # ... and then the node died
    assert second.state("tok", NOW + KEPT - timedelta(seconds=1)).done == 3
    later = NOW + KEPT + timedelta(seconds=1)
    assert second.state("tok", later) is None
    assert second.post("tok", "package", "requester1", 7, later), "started again"
    assert second.state("tok", later).done == 0


def test_work_nobody_fetched_is_forgotten(nodes):
    first, second = nodes
    first.post("old", "package", "requester1", 7, NOW)
    first.finish("old", NOW, answer={}, body=io.BytesIO(b"zip"))
    later = NOW + KEPT + timedelta(seconds=1)
    assert second.post("new", "count", "officer1", 8, later)  # posting sweeps the stale
    assert first.state("old", NOW) is None
    assert first.db.execute("SELECT count(*) FROM work_pieces").fetchone()[0] == 0
