"""`anpr-agent`: run the roadside agent from its TOML configuration."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.capture.folder import SourceError
from edge_agent.config import ConfigError, load_config
from edge_agent.queue_file import SpoolError
from node.cli import add_version
from node.keyfiles import load_sealing_key, load_signing_key
from node.logs import add_log_options
from node.logs import configure as configure_logs
from wire.errors import KeyFormatError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anpr-agent", description=__doc__)
    add_version(parser)
    parser.add_argument(
        "command",
        nargs="?",
        choices=["run", "check", "update", "recover", "releases"],
        default="run",
        help="run the agent (default); check the configuration and keys without running; "
        "update: install a signed software release (--bundle) in a new slot, switch to it and "
        "roll back unless it confirms healthy; recover: settle an interrupted update (before "
        "the agent starts); releases: list the slots and the last update",
    )
    parser.add_argument("--config", type=Path, required=True, help="agent TOML file")
    parser.add_argument(
        "--exit-when-drained",
        action="store_true",
        help="exit once the source is finished and every record is acknowledged (replays)",
    )
    parser.add_argument(
        "--install-bundle",
        type=Path,
        help="verify a signed change bundle and install its files beside the config, then exit",
    )
    parser.add_argument("--bundle", type=Path, help="update: the signed software release bundle")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/opt/anpr"),
        help="update/recover/releases: the install root (default /opt/anpr)",
    )
    parser.add_argument(
        "--restart-command",
        default=None,
        help="update: how to restart the agent (default: systemctl restart anpr-agent@<camera-id>)",
    )
    parser.add_argument(
        "--deadline-s",
        type=float,
        default=180.0,
        help="update: seconds the new release has to confirm (default 180)",
    )
    add_log_options(parser)
    args = parser.parse_args(argv)
    configure_logs(args)
    if args.command in ("update", "recover", "releases"):
        from edge_agent.update_command import run_command

        return run_command(args)
    if args.install_bundle:
        return _install(args.config, args.install_bundle)
    if args.command == "check":
        return _check(args.config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        agent = Agent(load_config(args.config), stop=stop)
    except (ConfigError, SourceError, SpoolError, KeyFormatError) as exc:
        print(f"anpr-agent: {exc}", file=sys.stderr)
        return 2
    agent.run(exit_when_drained=args.exit_when_drained)
    return 0


def _check(config_path: Path) -> int:
    """Everything the agent needs at start, checked without starting it."""
    from edge_agent.capture.folder import FolderSource
    from node.keyfiles import load_verify_key

    try:
        config = load_config(config_path)
        key = load_signing_key(config.keys.signing_key)
        load_verify_key(config.keys.central_public_key)
        if config.keys.release_public_key:
            load_verify_key(config.keys.release_public_key)
        purposes = _check_purposes(config)
        images = (
            f"{len(FolderSource(config.source.path, config.source.fps).images)} image(s) to replay"
            if config.source.kind == "folder"
            else f"camera {getattr(config.source, 'uri', 'picamera')}"
        )
    except (ConfigError, KeyFormatError, SourceError) as exc:
        print(f"anpr-agent: {exc}", file=sys.stderr)
        return 2
    print(
        f"configuration OK: camera {config.camera.id}, key_id {key.key_id}, "
        f"{images}, {len(config.privacy.masks)} privacy mask(s), "
        f"broker {config.mqtt.host}:{config.mqtt.port} ({'TLS' if config.mqtt.tls else 'loopback'})"
        f"; purposes: {purposes}"
    )
    return 0


def _check_purposes(config) -> str:
    """The purposes in words, after loading the research keys where research is on."""
    from node.keyfiles import load_verify_key

    purposes = config.purposes
    named = [name for name in ("hotlist", "store") if getattr(purposes, name)]
    research = purposes.traffic_research
    if research is not None:
        load_sealing_key(config.keys.research_key)
        load_verify_key(config.keys.research_service_public_key)
        until = research.valid_until.isoformat() if research.valid_until else "open"
        named.append(f"traffic research ({research.area}, {research.valid_from} to {until})")
    if not purposes.emits_passages:
        named.append("no passages leave this unit")
    return ", ".join(named)


def _install(config_path: Path, bundle: Path) -> int:
    from edge_agent.bundles import BundleRefused, install_bundle
    from node.keyfiles import load_verify_key

    try:
        config = load_config(config_path)
        if config.keys.release_public_key is None:
            raise ConfigError("keys.release_public_key is not set: bundles cannot be verified")
        manifest = install_bundle(
            bundle,
            config.camera.id,
            load_verify_key(config.keys.release_public_key),
            config_path.parent,
        )
    except (ConfigError, KeyFormatError, BundleRefused) as exc:
        print(f"anpr-agent: bundle not installed: {exc}", file=sys.stderr)
        return 3
    print(f"installed bundle {manifest.bundle_id} version {manifest.version}, approved by "
          f"{manifest.approved_by}; restart the agent to use it")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
