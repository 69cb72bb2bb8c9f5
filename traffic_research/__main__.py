"""`anpr-research`: the traffic-research service (ingest, day keys, figures, pages)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import date
from pathlib import Path

from node import wallclock
from node.cli import add_config_anywhere, add_version, config_given
from node.keyfiles import load_seal_public_key, load_signing_key, load_verify_key, save_signing_key
from node.logs import add_log_options
from node.logs import configure as configure_logs
from traffic_research.config import ConfigError, ResearchConfig, load_config
from traffic_research.figures import flows, od_matrix
from traffic_research.registry import Registry, RegistryError
from traffic_research.store import ResearchStore
from wire import SigningKey
from wire.errors import KeyFormatError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anpr-research", description=__doc__)
    add_version(parser)
    add_log_options(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="ingest, day-key upkeep and the pages in one process")
    key = commands.add_parser("signing-key", help="make the service's day-key signing key")
    key.add_argument("--out", type=Path, required=True, help="folder for research-signing.key/.pub")
    camera = commands.add_parser("camera-add", help="enter a camera in a research area")
    camera.add_argument("--camera-id", required=True)
    camera.add_argument("--area", required=True)
    camera.add_argument("--public-key", type=Path, required=True, help="the camera's ID.pub")
    camera.add_argument("--research-key", type=Path, required=True,
                        help="the unit's research key (anpr-provision research-key)")  # fmt: skip
    figures = commands.add_parser("figures", help="a day's figures as JSON (k-anonymous)")
    figures.add_argument("--area", required=True)
    figures.add_argument("--day", type=date.fromisoformat, required=True)
    add_config_anywhere(parser, "research TOML file (before or after the command)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logs(args)
    try:
        if args.command == "signing-key":
            args.out.mkdir(parents=True, exist_ok=True)
            key = SigningKey.generate()
            save_signing_key(key, args.out / "research-signing.key")
            (args.out / "research-signing.pub").write_text(key.verify_key.b64 + "\n")
            print(f"research signing key {key.key_id} written to {args.out}")
            return 0
        if config_given(args) is None:
            raise ConfigError("--config research.toml is required for this command")
        config = load_config(args.config)
        if args.command == "camera-add":
            return _camera_add(config, args)
        if args.command == "figures":
            return _figures(config, args.area, args.day)
        return serve(config)
    except (ConfigError, RegistryError, KeyFormatError) as exc:
        print(f"anpr-research: {exc}", file=sys.stderr)
        return 2


def _camera_add(config: ResearchConfig, args: argparse.Namespace) -> int:
    registry = Registry(config.registry_path)
    try:
        registry.add_camera(args.camera_id, args.area, load_verify_key(args.public_key),
                            load_seal_public_key(args.research_key), wallclock.now())  # fmt: skip
    finally:
        registry.close()
    print(f"{args.camera_id} entered in research area {args.area}")
    return 0


def _figures(config: ResearchConfig, area: str, day: date) -> int:
    store = ResearchStore(config.store_path)
    try:
        arrays = store.day_arrays(area, day)
    finally:
        store.close()
    k, window = config.figures.k, config.figures.trip_window_minutes * 60
    figures = {
        "flows": [c.__dict__ for c in flows(arrays, k)],
        "od": [c.__dict__ for c in od_matrix(arrays, k, window)],
    }
    print(json.dumps(figures, indent=1))
    return 0


def serve(config: ResearchConfig, stop: threading.Event | None = None) -> int:
    from werkzeug.serving import make_server

    from traffic_research.ingest import ResearchIngest
    from traffic_research.keys import KeyKeeper
    from traffic_research.web import create_app

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    ingest = ResearchIngest(config)
    ingest.start()
    signer = load_signing_key(config.secrets.signing_key_file)
    keeper = KeyKeeper(
        config.registry_path, signer,
        lambda topic, payload: ingest.client.publish(topic, payload, qos=1, retain=True),
    )  # fmt: skip
    ingest.subscribed.wait(timeout=10)
    keeper.start()
    server = make_server(config.web.host, config.web.port, create_app(config), threaded=True)
    threading.Thread(target=server.serve_forever, name="research-web", daemon=True).start()
    logging.getLogger("research").info(
        "research: listening on http://%s:%d/", config.web.host, config.web.port
    )
    stop.wait()
    server.shutdown()
    keeper.stop()
    ingest.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
