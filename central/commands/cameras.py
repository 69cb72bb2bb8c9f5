"""Cameras from the command line: registration, key rotation, designation, enrolment tokens
and the signed change bundles units install."""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from central.accounts.users import Identity
from central.bundles import APPROVER_ROLE, MAKER_ROLE, BundleHistory, SourceFile, make_bundle
from central.cameras import CameraRegistry, CameraRegistryError
from central.commands.cli import parse_moment, record_action
from central.commands.identity import ConfirmationFailed, confirm_person
from central.config import CentralConfig
from central.enrollment import issue_token
from central.purposes import PURPOSES, PurposeError
from node import wallclock
from node.keyfiles import load_signing_key, load_verify_key
from wire import WireError
from wire.bundles import Software

COMMANDS = {
    "camera-add", "camera-add-key", "camera-retire-key", "camera-designate", "camera-list",
    "enrollment-token", "bundle-make", "camera-purpose",
}  # fmt: skip


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
    bundle.add_argument("--maker", required=True, help=f"the maker's account ({MAKER_ROLE})")
    approver = f"the approver's account ({APPROVER_ROLE}), not the maker's: four eyes"
    bundle.add_argument("--approver", required=True, help=approver)
    for who in ("maker", "approver"):
        bundle.add_argument(f"--{who}-secrets", type=Path, default=None,
                            help=f"the {who}'s password and code, two lines, in a file only "
                                 "its owner reads; prompted for when absent")  # fmt: skip
    bundle.add_argument("--file", action="append", required=True, help="SOURCE[=NAME]; repeat")
    bundle.add_argument("--out", type=Path, required=True)
    bundle.add_argument("--software", metavar="PACKAGE", default=None,
                        help="a software release of PACKAGE (e.g. anpr): --version is the release "
                             "number and the files are its wheels, named wheels/*.whl")  # fmt: skip
    bundle.add_argument(
        "--downgrade",
        action="store_true",
        help="with --software: approve installing it over a newer release",
    )
    commands.add_parser("camera-list", help="list registered cameras")
    purpose = commands.add_parser("camera-purpose", help="record a purpose a camera serves")
    purpose.add_argument("--camera-id", required=True)
    purpose.add_argument("--purpose", required=True, choices=sorted(PURPOSES))
    purpose.add_argument("--owner", required=True, help="who is responsible for this purpose")
    purpose.add_argument("--legal-basis", required=True)
    purpose.add_argument("--from", dest="valid_from", required=True, help="ISO 8601 with zone")
    purpose.add_argument("--until", dest="valid_until", help="ISO 8601 with zone (open if absent)")
    purpose.add_argument("--by", required=True, help="who records it")


def run(config: CentralConfig, args: argparse.Namespace) -> int:
    registry = CameraRegistry(config.cameras_path)
    now = wallclock.now()
    try:
        if args.command == "camera-add":
            key = load_verify_key(Path(args.public_key))
            camera = registry.add(args.camera_id, key, now, args.note)
            record_action(
                config, "camera_registered", {"camera_id": args.camera_id, "key_id": key.key_id}
            )
            print(f"registered camera {camera.camera_id} key_id={key.key_id}")
        elif args.command == "camera-add-key":
            key = load_verify_key(Path(args.public_key))
            registry.add_key(args.camera_id, key, now)
            record_action(
                config, "camera_key_added", {"camera_id": args.camera_id, "key_id": key.key_id}
            )
            print(f"camera {args.camera_id}: key {key.key_id} added")
        elif args.command == "camera-retire-key":
            registry.retire_key(args.camera_id, args.key_id, now)
            record_action(
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
        elif args.command == "camera-purpose":
            until = parse_moment(args.valid_until) if args.valid_until else None
            try:
                registry.purposes.record(
                    args.camera_id, args.purpose, args.owner, args.legal_basis,
                    parse_moment(args.valid_from), until, args.by, now,
                )  # fmt: skip
            except PurposeError as exc:
                raise CameraRegistryError(str(exc)) from None
            details = {"camera_id": args.camera_id, "purpose": args.purpose, "owner": args.owner,
                       "legal_basis": args.legal_basis}  # fmt: skip
            record_action(config, "camera_purpose_recorded", details, args.by)
            print(f"camera {args.camera_id}: purpose {args.purpose} ({args.owner})")
        elif args.command == "bundle-make":
            _bundle_make(config, args, now)
        elif args.command == "enrollment-token":
            valid = timedelta(hours=args.valid_hours)
            print(issue_token(registry, args.camera_id, args.by, now, valid))
            record_action(config, "enrollment_token_issued", {"camera_id": args.camera_id}, args.by)
        else:
            for camera in registry.all():
                key_ids = ",".join(key.key_id for key in camera.keys)
                serving = ",".join(sorted(registry.purposes.serving(camera.camera_id, now)))
                print(f"{camera.camera_id}\t{key_ids}\t{camera.registered_at}\t{serving or '-'}")
    finally:
        registry.close()
    return 0


def _confirm_two_people(
    config: CentralConfig, args: argparse.Namespace, now: datetime
) -> tuple[Identity, Identity]:
    """Maker and approver, two different accounts, each confirmed by password and code."""
    if args.maker == args.approver:
        raise CameraRegistryError(
            f"bundle refused: {args.maker} cannot approve their own bundle; name another approver"
        )
    act = f"bundle {args.version} for {args.camera_id}"
    try:
        maker = confirm_person(config, args.maker, args.maker_secrets, MAKER_ROLE,
                               f"making {act}", now)  # fmt: skip
        approver = confirm_person(config, args.approver, args.approver_secrets, APPROVER_ROLE,
                                  f"approving {act}", now)  # fmt: skip
    except ConfirmationFailed as exc:
        raise CameraRegistryError(f"bundle refused: {exc}") from None
    return maker, approver


def _bundle_make(config: CentralConfig, args: argparse.Namespace, now: datetime) -> None:
    if args.downgrade and not args.software:
        raise CameraRegistryError("--downgrade goes with --software: only releases are ordered")
    maker, approver = _confirm_two_people(config, args, now)
    files = []
    for spec in args.file:
        source, _, name = spec.partition("=")
        files.append(SourceFile(Path(source), name or Path(source).name))
    try:
        manifest = make_bundle(
            files, args.camera_id, args.version, maker.username, approver.username,
            load_signing_key(args.release_key), now, args.out,
            software=Software(args.software, args.downgrade) if args.software else None,
        )  # fmt: skip
    except WireError as exc:
        raise CameraRegistryError(f"bundle refused: {exc}") from None
    except OSError as exc:
        raise CameraRegistryError(f"cannot read a bundle file: {exc}") from None
    with zipfile.ZipFile(args.out) as bundle:
        manifest_bytes = bundle.read("manifest.json")
    history = BundleHistory(config.bundles_path)
    try:
        history.record(manifest, manifest_bytes, confirmed=True)
    finally:
        history.close()
    details = {
        "bundle_id": manifest.bundle_id,
        "camera_id": manifest.camera_id,
        "version": manifest.version,
        "files": [f.path for f in manifest.files],
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "made_by": maker.username,
        "approved_by": approver.username,
    }
    if manifest.software is not None:
        details["software"] = {
            "package": manifest.software.package, "downgrade": manifest.software.downgrade
        }  # fmt: skip
    record_action(config, "bundle_made", details, maker.username)
    record_action(config, "bundle_approved", details, approver.username)
    print(f"bundle {manifest.bundle_id} ({manifest.version}) for {manifest.camera_id}: {args.out}")
