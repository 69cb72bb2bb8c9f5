"""`plan-*` commands: build, sign, ratify and publish the yearly camera plan.

`plan-sign` is a prosecutor's own act: `--as` names their account, whose holder confirms it
with password and a fresh code (`central.commands.identity`); the motivation is shown first
and its digest is what the signature covers.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from central.audit import AuditTrail
from central.audit_trails import open_audit_trail
from central.cameras import CameraRegistry
from central.commands.cli import parse_moment
from central.commands.identity import ConfirmationFailed, confirm_person
from central.config import CentralConfig
from central.databases import IntegrityError
from central.plan.publication import plan_csv
from central.plan.registry import SIGNER_ROLE, CameraPlan, Entry, PlanError, motivation_digest
from node import wallclock

COMMANDS = {
    "plan-draft", "plan-location", "plan-section", "plan-add", "plan-sign", "plan-revise",
    "plan-ratify", "plan-publish", "plan-status", "plan-accept", "plan-deploy", "plan-export",
}  # fmt: skip


def add_parsers(commands) -> None:
    def command(name: str, help_text: str, by: bool = True) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        if by:
            parser.add_argument("--by", required=True, help="who makes this change")
        return parser

    draft = command("plan-draft", "start the camera plan of a year")
    draft.add_argument("--year", type=int, required=True)
    location = command("plan-location", "add a location (a junction, a bridge, a town entry)")
    location.add_argument("--id", required=True)
    location.add_argument("--name", required=True)
    location.add_argument("--road", required=True)
    location.add_argument("--lat", type=float, required=True)
    location.add_argument("--lon", type=float, required=True)
    section = command("plan-section", "add a direction or exit to a location")
    section.add_argument("--id", required=True)
    section.add_argument("--location", required=True)
    section.add_argument("--name", required=True, help='e.g. "northbound exit 12"')
    section.add_argument("--direction", required=True)
    add = command("plan-add", "add a camera to a draft plan, with its legal ground")
    add.add_argument("--year", type=int, required=True)
    add.add_argument("--camera-id", required=True)
    add.add_argument("--kind", choices=["fixed", "mobile", "third_party"], required=True)
    add.add_argument("--owner", required=True)
    add.add_argument("--controller", required=True, help="the police chief, or the minister")
    add.add_argument("--section", default=None)
    add.add_argument("--lat", type=float, required=True)
    add.add_argument("--lon", type=float, required=True)
    add.add_argument("--road", required=True)
    add.add_argument("--direction", required=True)
    add.add_argument("--lane", type=int, default=0)
    add.add_argument("--criterion", choices=["a", "b", "c"], required=True)
    add.add_argument("--motivation", required=True)
    sign = command("plan-sign", "a prosecutor signs cameras' motivations", by=False)
    sign.add_argument("--year", type=int, required=True)
    sign.add_argument("--camera-id", dest="camera_ids", action="append", required=True,
                      help="repeat to sign several motivations with one confirmation")  # fmt: skip
    sign.add_argument("--as", dest="signer", required=True, help="the prosecutor's account")
    sign.add_argument("--secrets", type=Path, default=None,
                      help="password and code, two lines, in a file only you can read ('-': "
                           "standard input); prompted for when absent")  # fmt: skip
    revise = command("plan-revise", "rewrite a draft motivation (voids its signature)")
    revise.add_argument("--year", type=int, required=True)
    revise.add_argument("--camera-id", required=True)
    revise.add_argument("--motivation", required=True)
    ratify = command("plan-ratify", "ratify a draft whose motivations are all signed")
    ratify.add_argument("--year", type=int, required=True)
    publish = command("plan-publish", "publish a ratified plan")
    publish.add_argument("--year", type=int, required=True)
    status = command("plan-status", "record a camera's status from a moment on")
    status.add_argument("--camera-id", required=True)
    status.add_argument("--status", choices=["planned", "active", "suspended", "retired"],
                        required=True)  # fmt: skip
    status.add_argument("--from", dest="valid_from", required=True, help="ISO 8601 UTC")
    status.add_argument("--reason", required=True)
    accept = command("plan-accept", "record a technical acceptance read test")
    accept.add_argument("--camera-id", required=True)
    accept.add_argument("--reads", type=int, required=True)
    accept.add_argument("--correct", type=int, required=True)
    deploy = command("plan-deploy", "record a mobile camera's deployment (where, when, why)")
    deploy.add_argument("--year", type=int, required=True)
    deploy.add_argument("--camera-id", required=True)
    deploy.add_argument("--place", required=True)
    deploy.add_argument("--place-kind", required=True)
    deploy.add_argument("--lat", type=float, required=True)
    deploy.add_argument("--lon", type=float, required=True)
    deploy.add_argument("--from", dest="starts", required=True)
    deploy.add_argument("--until", dest="ends", required=True)
    deploy.add_argument("--reason", required=True)
    export = command("plan-export", "write the plan as CSV", by=False)
    export.add_argument("--year", type=int, required=True)
    export.add_argument("--csv", type=Path, required=True)


def run(config: CentralConfig, args: argparse.Namespace) -> int:
    cameras = CameraRegistry(config.cameras_path)
    plan = CameraPlan(config.plan_path, cameras)
    try:
        if args.command in ("plan-sign", "plan-revise"):
            _run_signature(config, plan, args, wallclock.now())
        else:
            _run(plan, args, wallclock.now())
    except IntegrityError as exc:
        raise PlanError(
            f"{args.command}: already recorded, or names something unknown ({exc})"
        ) from None
    finally:
        plan.close()
        cameras.close()
    return 0


def _run_signature(
    config: CentralConfig, plan: CameraPlan, args: argparse.Namespace, now: datetime
) -> None:
    """Signing and revising a motivation: both in the audit trail."""
    audit = open_audit_trail(config)
    try:
        if args.command == "plan-revise":
            plan.revise(args.year, args.camera_id, args.motivation, args.by, audit, now)
        else:
            _sign(config, plan, audit, args, now)
    finally:
        audit.close()
    print(f"{args.command}: done")


def _sign(
    config: CentralConfig, plan: CameraPlan, audit: AuditTrail, args: argparse.Namespace,
    now: datetime,
) -> None:  # fmt: skip
    """Show each motivation with its digest, confirm the prosecutor once (a code's time step
    is used once), then sign exactly the texts shown."""
    shown = {}
    for camera_id in args.camera_ids:
        entry = plan.entry(args.year, camera_id)
        if entry is None:
            raise PlanError(f"camera {camera_id} is not in the {args.year} plan")
        shown[camera_id] = motivation_digest(entry.motivation)
        print(f"motivation of {camera_id} in plan {args.year} (criterion {entry.criterion}):\n"
              f"  {entry.motivation}\n  sha256 {shown[camera_id]}")  # fmt: skip
    act = f"signing {len(shown)} motivation(s) of plan {args.year}"
    try:
        signer = confirm_person(config, args.signer, args.secrets, SIGNER_ROLE, act, now)
    except ConfirmationFailed as exc:
        raise PlanError(str(exc)) from None
    for camera_id, digest in shown.items():
        plan.sign(args.year, camera_id, signer, digest, audit, now)


def _run(plan: CameraPlan, args: argparse.Namespace, now: datetime) -> None:
    c = args.command
    if c == "plan-draft":
        plan.draft(args.year, args.by, now)
    elif c == "plan-location":
        plan.add_location(args.id, args.name, args.road, args.lat, args.lon, args.by, now)
    elif c == "plan-section":
        plan.add_section(args.id, args.location, args.name, args.direction, args.by, now)
    elif c == "plan-add":
        entry = Entry(
            year=args.year, camera_id=args.camera_id, kind=args.kind, owner=args.owner,
            controller=args.controller, section_id=args.section, lat_e7=round(args.lat * 1e7),
            lon_e7=round(args.lon * 1e7), road=args.road, direction=args.direction,
            lane=args.lane, criterion=args.criterion, motivation=args.motivation,
            signed_by=None, signed_at=None,
        )  # fmt: skip
        plan.add_entry(entry, args.by, now)
    elif c == "plan-ratify":
        plan.ratify(args.year, args.by, now)
    elif c == "plan-publish":
        plan.publish(args.year, args.by, now)
    elif c == "plan-status":
        plan.set_status(args.camera_id, args.status, parse_moment(args.valid_from), args.reason,
                        args.by, now)  # fmt: skip
    elif c == "plan-accept":
        passed = plan.record_acceptance(args.camera_id, args.reads, args.correct, args.by, now)
        print(f"acceptance test {'passed' if passed else 'FAILED (below 90 %)'}")
        return
    elif c == "plan-deploy":
        plan.deploy(args.year, args.camera_id, args.place, args.place_kind, args.lat, args.lon,
                    parse_moment(args.starts), parse_moment(args.ends), args.reason, args.by,
                    now)  # fmt: skip
    elif c == "plan-export":
        args.csv.write_text(plan_csv(plan, args.year))
    print(f"{c}: done")
