"""The databases a request works with, opened on first use and closed when it ends.

Every page and endpoint reaches its stores through these functions, so a request opens
only what it touches, never opens one twice, and `close_all` (the app's teardown) closes
them all whatever the page did: one owner for the handles instead of one per blueprint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g

from central.accounts.users import Accounts
from central.audit import AuditTrail
from central.audit_trails import open_audit_trail
from central.calamity.buffer import CalamityBuffer
from central.cameras import CameraRegistry
from central.config import CentralConfig
from central.health.records import HealthRecords
from central.hotlists.lists import Hotlists
from central.ingest.rejections import RejectionLog
from central.plan.commissioning import CommissioningReports
from central.plan.registry import CameraPlan
from central.requests.store import Requests
from central.store import PassageStore, open_store
from central.web.kept_stores import KEPT_DAY_FILES, StoreShelf
from central.web.work_board import WorkBoard

T = TypeVar("T")
_OPEN = "_open_stores"


def config() -> CentralConfig:
    return current_app.config["ANPR"]


def _handle(name: str, opener: Callable[[CentralConfig], T]) -> T:
    opened: dict = g.setdefault(_OPEN, {})
    if name not in opened:
        opened[name] = opener(config())
    return opened[name]


def close_all(exc: BaseException | None = None) -> None:
    """Close what the request opened; its passage store goes back on the shelf for the
    next request, unless the request failed (then nothing half-done is kept)."""
    opened = g.pop(_OPEN, {})
    passages = opened.pop("passages", None)
    for store in reversed(list(opened.values())):
        store.close()
    if passages is not None:
        if exc is None:
            store_shelf().give_back(passages)
        else:
            passages.close()


def store_shelf() -> StoreShelf:
    """The app's kept passage stores (central/web/kept_stores.py), made on first use."""
    shelf = current_app.extensions.get("anpr_store_shelf")
    if shelf is None:
        app_config = config()
        shelf = current_app.extensions.setdefault(
            "anpr_store_shelf",
            StoreShelf(lambda: open_store(app_config, open_files=KEPT_DAY_FILES)),
        )
    return shelf


def passage_store() -> PassageStore:
    return _handle("passages", lambda c: store_shelf().borrow())


def camera_registry() -> CameraRegistry:
    return _handle("cameras", lambda c: CameraRegistry(c.cameras_path))


def rejection_log() -> RejectionLog:
    return _handle("rejections", lambda c: RejectionLog(c.rejections_path))


def accounts() -> Accounts:
    return _handle("accounts", lambda c: Accounts(c.accounts_path))


def health_records() -> HealthRecords:
    return _handle("health", lambda c: HealthRecords(c.health_path))


def camera_plan() -> CameraPlan:
    return _handle("plan", lambda c: CameraPlan(c.plan_path, camera_registry()))


def commissioning_reports() -> CommissioningReports:
    return _handle("commissioning", lambda c: CommissioningReports(c.plan_path))


def calamity_buffer() -> CalamityBuffer:
    return _handle("calamity", lambda c: CalamityBuffer(c.calamity_path, audit_config=c))


def requests_db() -> Requests:
    return _handle("requests", lambda c: Requests(c.requests_path))


def work_board() -> WorkBoard:
    return _handle("work", lambda c: WorkBoard(c.work_path))


def audit_trail() -> AuditTrail:
    return _handle("audit", open_audit_trail)


def hotlists() -> Hotlists:
    return _handle("hotlists", lambda c: Hotlists(c.hotlists_path))
