"""Requests and their steps: the officers' case records (requests.sqlite).

The same file holds what hangs off a request, each with its own module and handle on
`Requests`: written orders (`written_orders.py`), the on-call rota (`rota.py`), urgent
notifications (`notifications.py`), result sets, photos and downloads. The first migration
made the tables of the first three; it stays here, as applied on every existing file.


Requests are case records, not passages: they are kept after the 28 days, because the
audit trail and the yearly report refer to them. Steps are append-only (triggers refuse
UPDATE and DELETE); every step is also entered in the audit trail by the caller.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from central.databases import open_database
from central.requests.approvals import Approvals, fold_approvals
from central.requests.downloads import MIGRATIONS as DOWNLOAD_MIGRATIONS
from central.requests.downloads import Downloads
from central.requests.lifecycle import RequestState, Step, check_step, fold
from central.requests.notifications import Notifications
from central.requests.orders import Order, RequestError
from central.requests.photos import MIGRATIONS as PHOTO_MIGRATIONS
from central.requests.photos import Photos
from central.requests.results import MIGRATIONS as RESULT_MIGRATIONS
from central.requests.results import ResultSets
from central.requests.rota import OnCallRota
from central.requests.written_orders import WrittenOrders
from wire.fields import format_timestamp

log = logging.getLogger("central.requests")

MIGRATIONS = [
    (
        "0001_requests",
        """
        CREATE TABLE requests (
            id            INTEGER PRIMARY KEY,
            reference     TEXT NOT NULL UNIQUE,
            requester     TEXT NOT NULL,
            unit          TEXT NOT NULL,
            registered_at TEXT NOT NULL,
            order_json    TEXT NOT NULL
        );
        CREATE TABLE steps (
            id         INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests (id),
            at         TEXT NOT NULL,
            actor      TEXT NOT NULL,
            kind       TEXT NOT NULL,
            detail     TEXT NOT NULL
        );
        CREATE INDEX steps_request ON steps (request_id, id);
        CREATE TRIGGER steps_no_update BEFORE UPDATE ON steps
            BEGIN SELECT RAISE(ABORT, 'request steps are append-only'); END;
        CREATE TRIGGER steps_no_delete BEFORE DELETE ON steps
            BEGIN SELECT RAISE(ABORT, 'request steps are append-only'); END;
        CREATE TABLE documents (
            id         INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests (id),
            name       TEXT NOT NULL,
            sha256     TEXT NOT NULL,
            content    BLOB NOT NULL
        );
        CREATE TABLE rota (
            username TEXT NOT NULL,
            starts   TEXT NOT NULL,
            ends     TEXT NOT NULL
        );
        CREATE TABLE notifications (
            id         INTEGER PRIMARY KEY,
            username   TEXT NOT NULL,
            at         TEXT NOT NULL,
            request_id INTEGER NOT NULL,
            text       TEXT NOT NULL
        )
        """,
    ),
]


@dataclass(frozen=True)
class Request:
    id: int
    requester: str
    unit: str
    registered_at: datetime
    order: Order
    steps: tuple[Step, ...]

    @functools.cached_property
    def state(self) -> RequestState:
        """Folded once per loaded request (the steps of a loaded request do not change)."""
        return fold(list(self.steps))

    @functools.cached_property
    def approvals(self) -> Approvals:
        """The prosecutors' acts on it: the order confirmed or refused, a scope exception."""
        return fold_approvals(self.steps)

    def visible_to(self, username: str, roles: frozenset[str]) -> bool:
        """A shielded investigation is seen by its requester, team, officer and auditors."""
        if not self.order.shielded or "auditor" in roles:
            return True
        state = self.state
        involved = {self.requester, state.assignee, state.executor, *self.order.team}
        return username in involved

    def as_json(self) -> dict:
        state = self.state
        return {
            "id": self.id,
            "requester": self.requester,
            "unit": self.unit,
            "registered_at": self.registered_at.isoformat(),
            "state": state.state,
            "assignee": state.assignee,
            "executor": state.executor,
            "reason": state.reason,
            "order": self.order.as_json(),
            "approvals": self.approvals.as_json(),
            "steps": [
                {
                    "id": s.id,
                    "at": s.at.isoformat(),
                    "actor": s.actor,
                    "kind": s.kind,
                    "detail": s.detail,
                }  # fmt: skip
                for s in self.steps
            ],
        }


class Requests:
    def __init__(self, path: Path) -> None:
        self.db = open_database(
            path, MIGRATIONS + RESULT_MIGRATIONS + PHOTO_MIGRATIONS + DOWNLOAD_MIGRATIONS
        )
        self.written_orders = WrittenOrders(self.db)
        self.rota = OnCallRota(self.db)
        self.notifications = Notifications(self.db)
        self.results = ResultSets(self.db)
        self.photos = Photos(self.db)
        self.downloads = Downloads(self.db)

    def close(self) -> None:
        self.db.close()

    def register(self, order: Order, requester: str, unit: str, now: datetime) -> int:
        try:
            cursor = self.db.execute(
                "INSERT INTO requests (reference, requester, unit, registered_at, order_json) "
                "VALUES (?, ?, ?, ?, ?)",
                (order.reference, requester, unit, format_timestamp(now),
                 json.dumps(order.as_json(), sort_keys=True)),
            )  # fmt: skip
        except sqlite3.IntegrityError:
            raise RequestError(f"order reference {order.reference} is registered already") from None
        request_id = cursor.lastrowid
        self._append(request_id, requester, "registered", {"reference": order.reference}, now)
        return request_id

    def get(self, request_id: int) -> Request:
        row = self.db.execute(
            "SELECT requester, unit, registered_at, order_json FROM requests WHERE id = ?",
            (request_id,),
        ).fetchone()
        if row is None:
            raise RequestError(f"no request {request_id}")
        steps = tuple(
            Step(
                sid,
                datetime.fromisoformat(at.replace("Z", "+00:00")),
                actor,
                kind,
                json.loads(detail),
            )  # fmt: skip
            for sid, at, actor, kind, detail in self.db.execute(
                "SELECT id, at, actor, kind, detail FROM steps WHERE request_id = ? ORDER BY id",
                (request_id,),
            )
        )
        return Request(
            request_id, row[0], row[1], datetime.fromisoformat(row[2].replace("Z", "+00:00")),
            Order.from_json(json.loads(row[3])), steps,
        )  # fmt: skip

    def all(self) -> list[Request]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM requests ORDER BY id")]
        return [self.get(i) for i in ids]

    def step(self, request_id: int, actor: str, kind: str, detail: dict, now: datetime) -> Step:
        """Take one step after checking it may follow the current state."""
        check_step(self.get(request_id).state, kind)
        return self._append(request_id, actor, kind, detail, now)

    def reverse(self, request_id: int, actor: str, reason: str, now: datetime) -> Step:
        """Cancel the latest step that changed the state, by a new step saying so."""
        if not reason.strip():
            raise RequestError("say why the step is reversed")
        last = self.get(request_id).state.last_reversible
        if last is None:
            raise RequestError("there is no step to reverse")
        detail = {"step": last.id, "kind": last.kind, "reason": reason}
        return self._append(request_id, actor, "reversed", detail, now)

    def note(self, request_id: int, actor: str, kind: str, detail: dict, now: datetime) -> Step:
        """A step that does not change the state (a consultation, a notification sent)."""
        return self._append(request_id, actor, kind, detail, now)

    def _append(self, request_id: int, actor: str, kind: str, detail: dict, now: datetime) -> Step:
        cursor = self.db.execute(
            "INSERT INTO steps (request_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (request_id, format_timestamp(now), actor, kind, json.dumps(detail, sort_keys=True)),
        )
        log.info("request %d: %s by %s", request_id, kind, actor)
        return Step(cursor.lastrowid, now, actor, kind, detail)
