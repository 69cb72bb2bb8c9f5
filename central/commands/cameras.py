"""Camera registration, key rotation and (minimal) camera-plan designation."""

from __future__ import annotations

import argparse
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central import audit
from central.audit import cli_actor
from central.bundles import BundleHistory, SourceFile, make_bundle
from central.cameras import CameraRegistry, CameraRegistryError
from central.config import CentralConfig
from central.enrollment import issue_token
from wire import SigningKey, WireError
from wire.signing import load_verify_key


def add_parsers(commands) -> None:
    add = commands.add_parser("camera-add", help="register a camera's public key")
    add.add_argument("--camera-id", required=True)
    add.add_argument("--public-key", required=True, help="camera's .pub file")
    add.add_argument("--note", default="")
    add_key = commands.add_parser("camera-add-key", help="rotation: add a camera's new key")
    add_key.add_argument("--camera-id", required=True)
    add_key.add_argument("--public-key", required=True, help="camera's new .pub")
    retire = commands.add_parser("camera-retire-key", help="rotation: retire a camera's old key")
    retire.add_argument("--camera-id", required=True)
    retire.add_argument("--key-id", required=True)
    designate = commands.add_parser(
        "camera-designate", help="record the camera plan period in which a camera may store"
    )
    designate.add_argument("--camera-id", required=True)
    designate.add_argument("--from", dest="valid_from", required=True, help="ISO 8601 UTC")
    designate.add_argument("--until", dest="valid_until", help="ISO 8601 UTC (open if absent)")
    designate.add_argument("--plan-version", required=True, help="e.g. 'camera plan 2027'")
    token = commands.add_parser(
        "enrollment-token", help="a one-time token with which a unit registers its keys"
    )
    token.add_argument("--camera-id", required=True)
    token.add_argument("--by", required=True, help="who issues it")
    token.add_argument("--valid-hours", type=float, default=24.0)
    bundle = commands.add_parser("bundle-make", help="a signed, approved change bundle")
    bundle.add_argument("--release-key", type=Path, required=True)
    bundle.add_argument("--camera-id", required=True, help="a camera id, or '*' for all")
    bundle.add_argument("--version", required=True)
    bundle.add_argument("--made-by", required=True)
    bundle.add_argument("--approved-by", required=True, help="not the maker: four eyes")
    bundle.add_argument("--file", action="append", required=True, help="SOURCE[=NAME]; repeat")
    bundle.add_argument("--out", type=Path, required=True)
    user = commands.add_parser("user-add", help="a personal account with its roles")
    user.add_argument("--username", required=True)
    user.add_argument("--full-name", required=True)
    user.add_argument("--unit", required=True)
    user.add_argument("--role", action="append", required=True, help="repeat for several")
    user.add_argument("--password-file", type=Path, required=True, help="first line: password")
    unlock = commands.add_parser("user-unlock", help="lift a lock-out after failed logins")
    unlock.add_argument("--username", required=True)
    unlock.add_argument("--by", required=True)
    authorise = commands.add_parser("officer-authorise", help="enter an authorised officer")
    authorise.add_argument("--username", required=True)
    authorise.add_argument("--unit", required=True)
    authorise.add_argument("--by", required=True, help="who authorises (not the officer)")
    authorise.add_argument("--review-due", required=True, help="YYYY-MM-DD")
    commands.add_parser("officer-register", help="the authorisation register, with warnings")
    hotlist = commands.add_parser("hotlist-create", help="a hotlist (live once approved)")
    hotlist.add_argument("--name", required=True)
    hotlist.add_argument("--owner", required=True)
    hotlist.add_argument("--legal-basis", required=True, help="legal basis or order reference")
    hotlist.add_argument("--category", required=True)
    hotlist.add_argument("--priority", type=int, required=True, help="1 (act now) to 5")
    hotlist.add_argument("--expires", required=True, help="ISO 8601 UTC")
    hotlist.add_argument("--starts", help="ISO 8601 UTC: a time-window list (e.g. one weekend)")
    hotlist.add_argument("--camera", action="append", default=[], help="scope; repeat")
    approve = commands.add_parser("hotlist-approve", help="a prosecutor approves a hotlist")
    approve.add_argument("--list-id", type=int, required=True)
    approve.add_argument("--prosecutor", required=True)
    approve.add_argument("--valid-days", type=int, default=90, help="re-approval due after")
    commands.add_parser("hotlist-due", help="lists whose approval lapses within 14 days")
    entry = commands.add_parser("hotlist-add", help="a plate (exact or wildcard) on a hotlist")
    entry.add_argument("--list-id", type=int, required=True)
    entry.add_argument("--plate", required=True, help="e.g. GBL12X, GB?12X, GBL*")
    entry.add_argument("--country", default="")
    entry.add_argument("--reason", required=True)
    entry.add_argument("--instructions", required=True, help="what the operator must do")
    entry.add_argument("--expires", required=True, help="ISO 8601 UTC")
    entry.add_argument("--by", required=True)
    imp = commands.add_parser("hotlist-import", help="entries from CSV, with a report")
    imp.add_argument("--list-id", type=int, required=True)
    imp.add_argument("--csv", type=Path, required=True, help="plate,country,reason,...")
    imp.add_argument("--by", required=True)
    imp.add_argument("--skip-invalid", action="store_true", help="import the valid rows anyway")
    commands.add_parser("camera-list", help="list registered cameras")


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CameraRegistryError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CameraRegistryError(f"{text!r} has no time zone; write e.g. 2027-01-01T00:00Z")
    return moment.astimezone(UTC)


def run(config: CentralConfig, args: argparse.Namespace) -> int:
    registry = CameraRegistry(config.cameras_path)
    now = datetime.now(UTC)
    try:
        if args.command == "camera-add":
            key = load_verify_key(Path(args.public_key))
            camera = registry.add(args.camera_id, key, now, args.note)
            _audit(config, "camera_registered", {"camera_id": args.camera_id, "key_id": key.key_id})
            print(f"registered camera {camera.camera_id} key_id={key.key_id}")
        elif args.command == "camera-add-key":
            key = load_verify_key(Path(args.public_key))
            registry.add_key(args.camera_id, key, now)
            _audit(config, "camera_key_added", {"camera_id": args.camera_id, "key_id": key.key_id})
            print(f"camera {args.camera_id}: key {key.key_id} added")
        elif args.command == "camera-retire-key":
            registry.retire_key(args.camera_id, args.key_id, now)
            _audit(
                config, "camera_key_retired", {"camera_id": args.camera_id, "key_id": args.key_id}
            )
            print(f"camera {args.camera_id}: key {args.key_id} retired")
        elif args.command == "camera-designate":
            until = parse_moment(args.valid_until) if args.valid_until else None
            registry.designate(
                args.camera_id, parse_moment(args.valid_from), until, args.plan_version, now
            )
            print(
                f"camera {args.camera_id}: designated from {args.valid_from} ({args.plan_version})"
            )
        elif args.command.startswith("hotlist-"):
            _hotlist(config, args, now)
        elif args.command in ("officer-authorise", "officer-register"):
            _register(config, args, now)
        elif args.command in ("user-add", "user-unlock"):
            _users(config, args, now)
        elif args.command == "bundle-make":
            _bundle_make(config, args, now)
        elif args.command == "enrollment-token":
            valid = timedelta(hours=args.valid_hours)
            print(issue_token(registry, args.camera_id, args.by, now, valid))
            _audit(config, "enrollment_token_issued", {"camera_id": args.camera_id}, args.by)
        else:
            for camera in registry.all():
                key_ids = ",".join(key.key_id for key in camera.keys)
                print(f"{camera.camera_id}\t{key_ids}\t{camera.registered_at}")
    finally:
        registry.close()
    return 0


def _bundle_make(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    files = []
    for spec in args.file:
        source, _, name = spec.partition("=")
        files.append(SourceFile(Path(source), name or Path(source).name))
    try:
        manifest = make_bundle(
            files, args.camera_id, args.version, args.made_by, args.approved_by,
            SigningKey.load(args.release_key), now, args.out,
        )  # fmt: skip
    except WireError as exc:
        raise CameraRegistryError(f"bundle refused: {exc}") from None
    except OSError as exc:
        raise CameraRegistryError(f"cannot read a bundle file: {exc}") from None
    details = {
        "bundle_id": manifest.bundle_id,
        "camera_id": manifest.camera_id,
        "version": manifest.version,
        "approved_by": manifest.approved_by,
    }
    _audit(config, "bundle_made", details, args.made_by)
    history = BundleHistory(config.bundles_path)
    try:
        with zipfile.ZipFile(args.out) as bundle:
            history.record(manifest, bundle.read("manifest.json"))
    finally:
        history.close()
    print(f"bundle {manifest.bundle_id} ({manifest.version}) for {manifest.camera_id}: {args.out}")


def _audit(config: CentralConfig, action: str, details: dict, actor: str | None = None) -> None:
    audit.record(config.audit_path, actor or cli_actor(), action, details, datetime.now(UTC))


def _users(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    from central.accounts import totp
    from central.accounts.users import AccountError, Accounts

    accounts = Accounts(config.accounts_path)
    try:
        if args.command == "user-unlock":
            accounts.unlock(args.username, args.by, now)
            _audit(config, "account_unlocked", {"username": args.username}, args.by)
            print(f"{args.username} unlocked")
            return
        try:
            password = args.password_file.read_text().splitlines()[0]
        except (OSError, IndexError):
            raise CameraRegistryError(f"cannot read a password from {args.password_file}") from None
        try:
            secret = accounts.add(
                args.username, args.full_name, args.unit, args.role, password, now
            )
        except AccountError as exc:
            raise CameraRegistryError(str(exc)) from None
        _audit(config, "account_created", {"username": args.username, "roles": args.role})
        print(f"account {args.username} created; second factor (enter in the authenticator):")
        print(totp.provisioning_uri(secret, args.username))
    finally:
        accounts.close()


def _register(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    from datetime import date

    from central.accounts.register import Register
    from central.accounts.users import AccountError, Accounts

    accounts = Accounts(config.accounts_path)
    register = Register(accounts)
    try:
        if args.command == "officer-authorise":
            try:
                due = date.fromisoformat(args.review_due)
                register.authorise(args.username, args.unit, args.by, due, now)
            except (ValueError, AccountError) as exc:
                raise CameraRegistryError(f"not authorised: {exc}") from None
            details = {"username": args.username, "unit": args.unit, "review_due": args.review_due}
            _audit(config, "officer_authorised", details, args.by)
            print(f"{args.username} authorised for {args.unit} until review on {args.review_due}")
            return
        for entry in register.active(now):
            state = "LAPSED" if entry.lapsed else "active"
            print(f"{entry.unit}\t{entry.username}\tby {entry.authorised_by}\t"
                  f"since {entry.since[:10]}\treview {entry.review_due}\t{state}")  # fmt: skip
        for warning in register.warnings(now):
            print(f"WARNING: {warning}")
    finally:
        accounts.close()


def _hotlist(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    from central.hotlists.matching import PatternError
    from central.hotlists.store import HotlistError, Hotlists

    store = Hotlists(config.hotlists_path)
    try:
        if args.command == "hotlist-create":
            list_id = store.create_list(
                args.name, args.owner, args.legal_basis, args.category, args.priority,
                parse_moment(args.expires), now,
                parse_moment(args.starts) if args.starts else None, tuple(args.camera),
            )  # fmt: skip
            _audit(config, "hotlist_created", {"list_id": list_id, "name": args.name}, args.owner)
            print(f"hotlist {list_id} created; not live until approved")
        elif args.command == "hotlist-approve":
            store.approve(args.list_id, args.prosecutor, now, timedelta(days=args.valid_days))
            _audit(config, "hotlist_approved", {"list_id": args.list_id}, args.prosecutor)
            print(f"hotlist {args.list_id} approved: live")
        elif args.command == "hotlist-due":
            for due in store.due_for_approval(now, timedelta(days=14)):
                until = due["approved_until"] or "never approved"
                print(f"{due['list_id']}\t{due['name']}\t{due['owner']}\tapproval until {until}")
        elif args.command == "hotlist-import":
            try:
                text = args.csv.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise HotlistError(f"cannot read {args.csv}: {exc}") from None
            report = store.import_csv(args.list_id, text, args.by, now, args.skip_invalid)
            for line, problem in report.errors:
                print(f"line {line}: {problem}")
            print(f"{report.imported} entries imported, {len(report.errors)} rejected")
            details = {"list_id": args.list_id, "imported": report.imported}
            _audit(config, "hotlist_imported", details, args.by)
            if report.errors and not args.skip_invalid:
                raise HotlistError("nothing imported: fix the rows above, or --skip-invalid")
        else:
            entry_id = store.add_entry(
                args.list_id, args.plate, args.country, args.reason, args.instructions,
                parse_moment(args.expires), args.by, now,
            )  # fmt: skip
            _audit(config, "hotlist_entry_added", {"list_id": args.list_id, "entry": entry_id},
                   args.by)  # fmt: skip
            print(f"entry {entry_id} added to hotlist {args.list_id}")
    except (HotlistError, PatternError) as exc:
        raise CameraRegistryError(str(exc)) from None
    finally:
        store.close()
