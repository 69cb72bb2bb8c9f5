"""`anpr-agent update | recover | releases`: software releases from the command line (#22).

Exit status: 0 done (update: the release confirmed healthy); 2 a bad config or key; 3 the
bundle was refused and nothing changed; 4 the release did not confirm and was rolled back.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from edge_agent.bundles import BundleRefused
from edge_agent.config import ConfigError, load_config
from edge_agent.releases import (
    UpdateSettings,
    current_slot,
    health_mark_path,
    read_state,
    recover,
    slot_name,
    slots,
    update,
)
from node.keyfiles import load_verify_key
from wire.errors import KeyFormatError


def run_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        mark = health_mark_path(config.spool.path, config.camera.id)
        if args.command == "releases":
            return _releases(args)
        if args.command == "recover":
            said = recover(args.root, args.config.parent, mark)
            print(f"anpr-agent recover: {said or 'no interrupted update'}")
            return 0
        if args.bundle is None:
            raise ConfigError("update needs --bundle FILE")
        if config.keys.release_public_key is None:
            raise ConfigError("keys.release_public_key is not set: bundles cannot be verified")
        key = load_verify_key(config.keys.release_public_key)
    except (ConfigError, KeyFormatError) as exc:
        print(f"anpr-agent: {exc}", file=sys.stderr)
        return 2
    restart = args.restart_command or f"systemctl restart anpr-agent@{config.camera.id}"
    settings = UpdateSettings(args.root, tuple(shlex.split(restart)), args.deadline_s)
    try:
        outcome = update(args.bundle, config.camera.id, key, args.config.parent, mark, settings)
    except BundleRefused as exc:
        print(f"anpr-agent: release not installed: {exc}", file=sys.stderr)
        return 3
    if outcome.confirmed:
        print(f"release {outcome.version} installed and confirmed healthy: current is "
              f"{outcome.current}")  # fmt: skip
        return 0
    print(f"anpr-agent: release {outcome.version} ROLLED BACK to {outcome.current}: "
          f"{outcome.reason}", file=sys.stderr)  # fmt: skip
    return 4


def _releases(args: argparse.Namespace) -> int:
    current = current_slot(args.root)
    print(f"current: {slot_name(args.root, current) if current else 'none'}")
    for slot in slots(args.root):
        mark = "*" if slot["slot"].resolve() == current else " "
        print(f"{mark} {slot['version']:<12} installed {slot['installed_at']}  approved by "
              f"{slot['approved_by']}  bundle {slot['bundle_id']}")  # fmt: skip
    state = read_state(args.root)
    if state:
        print(f"last update: {state['version']} {state['state']}"
              + (f": {state['reason']}" if state.get("reason") else ""))  # fmt: skip
    return 0
