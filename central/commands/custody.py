"""Holds for open requests, backups that expire, retention on demand, daily statistics."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

from central import audit_trails
from central.audit import cli_actor
from central.audit_anchor import AuditAnchor
from central.audit_trails import open_audit_trail
from central.backup import expire_backups, make_backup
from central.cameras import CameraRegistry
from central.config import CentralConfig, ConfigError
from central.health.records import HealthRecords
from central.retention import run_retention
from central.statistics import DailyStatistics
from central.store import PassageStore, open_store
from central.store.integrity import summarise
from central.store.key_chain import CHAIN_FILE, KeyChain, KeyChainError
from central.store.partitioned import SearchError
from node import wallclock
from node.keyfiles import load_signing_key


def add_parsers(commands) -> None:
    hold = commands.add_parser("hold", help="keep a passage past 28 days for an open request")
    hold.add_argument("--camera-id", required=True)
    hold.add_argument("--seq", type=int, required=True)
    hold.add_argument("--request", required=True, help="reference of the open request")
    hold.add_argument("--by", required=True, help="the officer placing the hold")
    release = commands.add_parser("release-holds", help="a request closed: release its holds")
    release.add_argument("--request", required=True)
    backup = commands.add_parser("backup", help="copy day files and (elsewhere) day keys")
    backup.add_argument("--to", type=Path, required=True)
    backup.add_argument("--keys-to", type=Path, required=True)
    expire = commands.add_parser("backup-expire", help="apply the 28 days to a backup (hourly)")
    expire.add_argument("--to", type=Path, required=True)
    expire.add_argument("--keys-to", type=Path, required=True)
    commands.add_parser("retention-run", help="run retention once now")
    verify = commands.add_parser(
        "audit-verify", help="check the audit trail's chain, checkpoints and anchor"
    )
    commands.add_parser("audit-checkpoint", help="sign the audit trail's head now")
    trail = commands.add_parser("audit", help="the audit trail: verify or checkpoint")
    trail.add_argument("action", choices=["verify", "checkpoint"])
    for parser in (verify, trail):
        parser.add_argument(
            "--anchor", type=Path, default=None,
            help="a folder with a copy of the anchor (anchor.log) held elsewhere; "
            "default: the trail's own audit-anchor folder",
        )  # fmt: skip
    check = commands.add_parser(
        "store-verify", help="check a day's stored passages against their signed records"
    )
    check.add_argument("--day", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
    check.add_argument(
        "--images", action="store_true", help="also decrypt every image and check its digest"
    )
    chain = commands.add_parser(
        "day-key-chain", help="begin the day-key chain that several central hosts share"
    )
    chain.add_argument(
        "--start", type=date.fromisoformat, required=True,
        help="YYYY-MM-DD: the first day whose key comes from the chain (today or later)",
    )  # fmt: skip
    stats = commands.add_parser("statistics", help="print a day's plate-free figures as JSON")
    stats.add_argument("--day", type=date.fromisoformat, required=True, help="YYYY-MM-DD")


def run(config: CentralConfig, args: argparse.Namespace) -> int:
    now = wallclock.now()
    if args.command == "audit":
        return _audit(config, f"audit-{args.action}", now, args.anchor)
    if args.command in ("audit-verify", "audit-checkpoint"):
        return _audit(config, args.command, now, getattr(args, "anchor", None))
    if args.command == "statistics":
        statistics = DailyStatistics(config.statistics_path)
        try:
            print(json.dumps([asdict(f) for f in statistics.for_day(args.day)], indent=2))
        finally:
            statistics.close()
        return 0
    if args.command == "day-key-chain":
        return _begin_chain(config, args.start, now)
    if args.command == "backup-expire":
        report = expire_backups(args.to, args.keys_to, now)
        print(f"backup: {len(report.days_expired)} day(s) removed, {report.rows_deleted} rows")
        return 0
    store = open_store(config)  # SQLite day files or PostgreSQL, as configured
    try:
        return _with_store(config, args, store, now)
    finally:
        store.close()


def _begin_chain(config: CentralConfig, start: date, now: datetime) -> int:
    keys_dir = config.storage.keys_dir
    if start < now.date():
        raise ConfigError(f"--start {start}: the chain starts today or later, not in the past")
    try:
        KeyChain.begin(keys_dir, start)
    except KeyChainError as exc:
        print(f"anpr-central: {exc}")
        return 2
    print(
        f"day-key chain begun at {start} in {keys_dir / CHAIN_FILE}.\n"
        f"Copy that file (mode 0600, over a secure channel) into storage.keys_dir of every "
        f"other central host before {start}; keep it off backups (docs/operations.md)."
    )
    return 0


def _audit(config: CentralConfig, command: str, now: datetime, anchor_dir: Path | None) -> int:
    if config.secrets.audit_signing_key_file is None:
        raise ConfigError("secrets.audit_signing_key_file is not set: no key for checkpoints")
    key = load_signing_key(config.secrets.audit_signing_key_file)
    trail = open_audit_trail(config)
    anchor = None if anchor_dir is None else AuditAnchor(anchor_dir)
    if anchor is not None and not anchor.exists():
        raise ConfigError(f"--anchor {anchor_dir}: no {anchor.path.name} in that folder")
    try:
        if command == "audit-checkpoint":
            print(f"checkpoint at entry {trail.checkpoint(key, now)}")
            return 0
        findings = trail.verify(key.verify_key, anchor)
        since = trail.anchored_since(anchor)
    finally:
        trail.close()
    where = (anchor or trail.anchor).path
    # An anchor started afresh (replaced) shows as a late first entry: say it every time.
    print(f"anchor {where}: " + (f"anchored since entry {since[0]} ({since[1]})" if since
                                 else "empty"))  # fmt: skip
    for finding in findings:
        print(f"BROKEN at entry {finding.seq}: {finding.problem}")
    print("audit trail intact" if not findings else f"{len(findings)} problem(s) found")
    return 0 if not findings else 1


def _store_verify(config: CentralConfig, store: PassageStore, day: date, images: bool) -> int:
    """Exit 0 when every stored passage of the day is what its camera signed, else 1."""
    registry = CameraRegistry(config.cameras_path)
    try:
        checked, mismatches = store.verify_day(day, registry.signing_key, images)
    except SearchError as exc:
        print(f"anpr-central: {exc}")
        return 2
    finally:
        registry.close()
    for mismatch in mismatches:
        print(f"MISMATCH {mismatch.camera_id}/{mismatch.seq}: {mismatch.problem}")
    print(f"{day}: {checked} passage(s) checked, " + (summarise(mismatches) or "all as signed"))
    return 1 if mismatches else 0


def _with_store(config, args, store: PassageStore, now: datetime) -> int:
    if args.command == "hold":
        day = store.day_of(args.camera_id, args.seq)
        if day is None:
            print(f"anpr-central: no passage {args.camera_id}/{args.seq} in the store")
            return 2
        store.custody.hold(args.camera_id, args.seq, day, args.request, args.by, now)
        details = {"camera_id": args.camera_id, "seq": args.seq, "request": args.request}
        audit_trails.record_in(config, args.by, "hold_placed", details, now)
        print(f"held {args.camera_id}/{args.seq} for {args.request}")
    elif args.command == "release-holds":
        released = store.custody.release(args.request, now)
        audit_trails.record_in(config, cli_actor(), "holds_released",
                        {"request": args.request, "count": released}, now)  # fmt: skip
        print(f"released {released} hold(s) of {args.request}")
    elif args.command == "backup":
        report = make_backup(store, config.storage.data_dir, args.to, args.keys_to, now,
                             config.audit_anchor_dir)  # fmt: skip
        print(
            f"backup: {len(report.days_copied)} day(s) copied, {len(report.days_expired)} expired"
        )
    elif args.command == "store-verify":
        return _store_verify(config, store, args.day, args.images)
    elif args.command == "retention-run":
        statistics = DailyStatistics(config.statistics_path)
        registry = CameraRegistry(config.cameras_path)
        health = HealthRecords(config.health_path)
        try:
            report = run_retention(store, statistics, registry, health, now)
        finally:
            statistics.close()
            registry.close()
            health.close()
        print(
            f"retention: {len(report.days_destroyed)} day(s) destroyed, "
            f"{report.rows_deleted} rows deleted, {len(report.days_held)} day(s) held"
        )
    return 0
