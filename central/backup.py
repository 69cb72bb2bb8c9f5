"""Backups that expire with the data: per-day copies, per-day keys, the same 28 days.

A backup holds one copy of each live day file, encrypted as the live one is, and, in a
separate folder, that day's key (the two must never share a medium or a retention policy
longer than 28 days). Running
`expire_backups` hourly applies the live retention to the copies: the expired part of a
day is securely deleted, a whole expired day loses its key and its file. The other stores
are copied whole (SMALL_STORES), and the audit trail's anchor beside them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from central.expiry import cutoff_text, fully_expired
from central.store import PassageStore
from central.store.dayfile import DayFile, copy_day_file
from central.store.daykeys import DayKeyError, DayKeyring
from central.store.partitioned import DayPartitionedStore

log = logging.getLogger(__name__)
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})\.sqlite")
# Copied whole at every backup, replacing the previous copy, so whatever the central
# destroyed in them (a closed request's results, an ended calamity's passages) leaves the
# backup with the next run. The audit trail and the accounts outlive the 28 days by law.
SMALL_STORES = (
    "cameras", "statistics", "custody", "rejections", "sequences", "accounts", "audit",
    "requests", "hotlists", "plan", "bundles", "health", "calamity", "metrics",
)  # fmt: skip


class BackupError(Exception):
    """A backup cannot be made as asked."""


@dataclass
class BackupReport:
    days_copied: list[date] = field(default_factory=list)
    days_expired: list[date] = field(default_factory=list)
    rows_deleted: int = 0


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: consistent while the central keeps writing."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with (
        closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst)
    partial.replace(target)


def make_backup(
    store: PassageStore, data_dir: Path, to: Path, keys_to: Path, now: datetime,
    anchor_dir: Path | None = None,
) -> BackupReport:  # fmt: skip
    """Copy the live days, their keys (elsewhere), the whole stores and the audit anchor:
    the anchor's copy on the backup medium is the auditor's copy `audit-verify --anchor`
    holds the trail against, out of reach of whoever rewrites the central's disk later."""
    if to.resolve() == keys_to.resolve():
        raise BackupError("day keys and day files must be backed up to different places")
    (to / "passages").mkdir(parents=True, exist_ok=True)
    keys_to.mkdir(parents=True, exist_ok=True, mode=0o700)
    report = expire_backups(to, keys_to, now, store.custody.held_in)
    if isinstance(store, DayPartitionedStore):
        for day in store.days():
            if not fully_expired(day, now) and _copy_day(store, day, to, keys_to):
                report.days_copied.append(day)
    else:  # PostgreSQL: the rows are the database's to back up; their keys are ours
        log.info("backup: passages live in PostgreSQL: back them up with its own tools "
                 "(docs/operations.md); copying their day keys only")  # fmt: skip
        for day in store.keys.days():
            if not fully_expired(day, now):
                _copy_key(store, day, keys_to)
                report.days_copied.append(day)
    for name in SMALL_STORES:
        source = data_dir / f"{name}.sqlite"
        if source.exists():
            _copy_sqlite(source, to / f"{name}.sqlite")
    anchor = (anchor_dir or data_dir / "audit-anchor") / "anchor.log"
    if anchor.exists():
        (to / "audit-anchor").mkdir(exist_ok=True)
        shutil.copyfile(anchor, to / "audit-anchor" / "anchor.log")
    log.info("backup: %d day(s) copied to %s", len(report.days_copied), to)
    return report


def _copy_day(store: DayPartitionedStore, day: date, to: Path, keys_to: Path) -> bool:
    try:
        file_key = store.keys.file_key(day)
    except DayKeyError as exc:  # unreadable live: nothing to back up
        log.error("backup: day %s skipped: %s", day, exc)
        return False
    copy_day_file(store.path_of(day), to / "passages" / f"{day.isoformat()}.sqlite", file_key)
    _copy_key(store, day, keys_to)
    return True


def _copy_key(store, day: date, keys_to: Path) -> None:
    key = store.keys.folder / f"{day.isoformat()}.key"
    shutil.copyfile(key, keys_to / key.name)
    os.chmod(keys_to / key.name, 0o600)


def expire_backups(
    to: Path, keys_to: Path, now: datetime, held_in=lambda day: set()
) -> BackupReport:
    """Apply the 28-day rule to a backup: run it at least hourly, like live retention."""
    report = BackupReport()
    keyring = DayKeyring(keys_to)
    for day in keyring.days():
        if fully_expired(day, now) and keyring.destroy(day):
            report.days_expired.append(day)
    folder = to / "passages"
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        match = _DAY.fullmatch(path.name)
        if not match:
            continue
        day = date.fromisoformat(match.group(1))
        if fully_expired(day, now):
            for suffix in ("-wal", "-shm", ""):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            if day not in report.days_expired:
                report.days_expired.append(day)
        elif cutoff_text(now) > day.isoformat():
            try:
                day_file = DayFile(path, day, keyring.file_key(day))
            except DayKeyError as exc:  # without its key the copy is unreadable anyway
                log.error("backup: %s not purged: %s", path.name, exc)
                continue
            try:
                report.rows_deleted += day_file.delete_before(cutoff_text(now), held_in(day))
            finally:
                day_file.close()
    return report
