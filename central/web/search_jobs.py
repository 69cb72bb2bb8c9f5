"""Counts and searches that take a while, run beside the page that asked for them (#23).

A count or search over 28 days reads 28 day partitions, and a wide one many thousands of
rows: the officer's page must not just hang. Each count or search runs in a thread of its
own, with its own connections and a passage store borrowed from the web's shelf (its day
files open, central/web/kept_stores.py), telling how many of its parts are done (days of
the window; see `central.requests.searches.Progress`). One that ends within `INLINE_S` is
answered at once, as before; a longer one sends the officer to a page that shows its
progress (polled by static/progress.js, or a refresh without scripts) and then its
answer. The job runs on the node that was asked; its progress and answer go on the work
board (central/web/work_board.py), so any web node behind the same address shows them.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from werkzeug.datastructures import MultiDict

from central.audit_trails import open_audit_trail
from central.health.records import HealthRecords
from central.requests.consultation import consult, count
from central.requests.orders import RequestError
from central.requests.searches import Query
from central.requests.store import Requests
from central.web.kept_stores import StoreShelf
from central.web.work_board import BoardProgress, WorkBoard
from node import wallclock

LOG = logging.getLogger(__name__)
INLINE_S = 2.0  # a count or search done within this is answered on the same request


@dataclass
class SearchJob:
    """A count or search: on the node running it, filled by its thread (and read at once
    when it ends within INLINE_S); elsewhere, as the board tells it (`job_of`)."""

    request_id: int
    officer: str
    open_rows: bool  # a search that opens its rows, or only a count
    shown: dict  # what the answer page needs beside the outcome (the form as sent, notes)
    counted: tuple[int | None, list[dict]] | None = None  # a count's (number, camera gaps)
    audit_seq: int | None = None  # a search's consultation, where its results are kept
    done: int = 0
    total: int | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def as_json(self) -> dict:
        return {"done": self.done, "total": self.total, "ready": self.finished.is_set(),
                "error": self.error}  # fmt: skip

    def answer(self) -> dict:
        """What the board keeps of the finished job (sealed): all its answer page needs."""
        shown = self.shown
        return {
            "audit_seq": self.audit_seq,
            "counted": None if self.counted is None else list(self.counted),
            "form": list(shown["form"].items(multi=True)), "sent": shown["sent"],
            "notes": shown["notes"],
        }  # fmt: skip


def _run(cfg, job: SearchJob, token: str, query: Query, now: datetime,
         cameras: Sequence[str], shelf: StoreShelf) -> None:  # fmt: skip
    opened, store, failed = [], None, True
    board = WorkBoard(cfg.work_path)
    try:
        store = shelf.borrow()
        requests = Requests(cfg.requests_path)
        opened.append(requests)
        trail = open_audit_trail(cfg)
        opened.append(trail)
        health = HealthRecords(cfg.health_path)
        opened.append(health)
        context = {"store": store, "trail": trail, "all_cameras": cameras, "health": health,
                   "now": now, "progress": BoardProgress(board, token, job.progress)}  # fmt: skip
        if job.open_rows:
            result = consult(requests, job.request_id, job.officer, query, **context)
            job.audit_seq = result.audit_seq
        else:
            job.counted = count(requests, job.request_id, job.officer, query, **context)
        failed = False
    except RequestError as exc:
        job.error, failed = f"search refused: {exc}", False
    except Exception as exc:  # noqa: BLE001 - the page must end, and the log say why
        LOG.exception("search on request %s failed", job.request_id)
        job.error = f"the search failed: {type(exc).__name__}"
    finally:
        for part in reversed(opened):
            part.close()
        if store is not None and failed:  # nothing half-done is kept on the shelf
            store.close()
        elif store is not None:
            shelf.give_back(store)
        try:
            board.finish(token, wallclock.now(), answer=job.answer(), error=job.error)
        except Exception:  # noqa: BLE001 - this node still answers; others say "count again"
            LOG.exception("search on request %s: its answer could not be put up", job.request_id)
        finally:
            board.close()
            job.finished.set()


def start(cfg, job: SearchJob, query: Query, now: datetime, cameras: Sequence[str],
          shelf: StoreShelf) -> str:  # fmt: skip
    """Start the job; returns its token (the key of its progress page)."""
    token = secrets.token_urlsafe(16)
    board = WorkBoard(cfg.work_path)
    try:
        board.post(token, "search" if job.open_rows else "count", job.officer, job.request_id,
                   now)  # fmt: skip
    finally:
        board.close()
    threading.Thread(target=_run, args=(cfg, job, token, query, now, cameras, shelf),
                     daemon=True, name=f"search-{job.request_id}").start()  # fmt: skip
    return token


def job_of(board: WorkBoard, token: str, request_id: int, officer: str) -> SearchJob | None:
    """The job as the board tells it (whichever node runs it), only for the officer who
    started it on this request."""
    state = board.state(token)
    if state is None or state.kind not in ("search", "count"):
        return None
    if state.request_id != request_id or state.owner != officer:
        return None
    job = SearchJob(request_id, officer, state.kind == "search", shown={}, done=state.done,
                    total=state.total, error=state.error)  # fmt: skip
    if state.ready:
        answer = state.answer or {}
        job.shown = {"form": MultiDict(answer.get("form", [])), "notes": answer.get("notes", []),
                     "sent": [tuple(pair) for pair in answer.get("sent", [])]}  # fmt: skip
        job.audit_seq = answer.get("audit_seq")
        counted = answer.get("counted")
        job.counted = None if counted is None else (counted[0], counted[1])
        job.finished.set()
    return job
