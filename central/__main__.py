"""`anpr-central`: run ingest and web, or manage registered cameras."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from central.cameras import CameraRegistry, CameraRegistryError
from central.config import CentralConfig, ConfigError, load_config
from central.store.migrations import MigrationError
from wire import SigningKey
from wire.errors import KeyFormatError
from wire.signing import load_verify_key

log = logging.getLogger("central")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anpr-central", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="central TOML file")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run MQTT ingest and the web service in one process")
    commands.add_parser("ingest", help="run MQTT ingest only (web under gunicorn)")
    add = commands.add_parser("camera-add", help="register a camera's public key")
    add.add_argument("--camera-id", required=True)
    add.add_argument("--public-key", type=Path, required=True, help="camera's .pub file")
    add.add_argument("--note", default="")
    add_key = commands.add_parser("camera-add-key", help="rotation: add a camera's new key")
    add_key.add_argument("--camera-id", required=True)
    add_key.add_argument("--public-key", type=Path, required=True, help="camera's new .pub")
    retire = commands.add_parser("camera-retire-key", help="rotation: retire a camera's old key")
    retire.add_argument("--camera-id", required=True)
    retire.add_argument("--key-id", required=True)
    commands.add_parser("camera-list", help="list registered cameras")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        config = load_config(args.config)
        if args.command == "camera-add":
            return _camera_add(config, args.camera_id, args.public_key, args.note)
        if args.command in ("camera-add-key", "camera-retire-key"):
            return _camera_rotate(config, args)
        if args.command == "camera-list":
            return _camera_list(config)
        return _run(config, with_web=args.command == "serve")
    except (ConfigError, KeyFormatError, CameraRegistryError, MigrationError) as exc:
        print(f"anpr-central: {exc}", file=sys.stderr)
        return 2


def _camera_add(config: CentralConfig, camera_id: str, key_path: Path, note: str) -> int:
    registry = CameraRegistry(config.cameras_path)
    try:
        camera = registry.add(camera_id, load_verify_key(key_path), datetime.now(UTC), note)
    finally:
        registry.close()
    print(f"registered camera {camera.camera_id} key_id={camera.keys[0].key_id}")
    return 0


def _camera_rotate(config: CentralConfig, args: argparse.Namespace) -> int:
    registry = CameraRegistry(config.cameras_path)
    try:
        if args.command == "camera-add-key":
            key = load_verify_key(args.public_key)
            registry.add_key(args.camera_id, key, datetime.now(UTC))
            print(f"camera {args.camera_id}: key {key.key_id} added")
        else:
            registry.retire_key(args.camera_id, args.key_id, datetime.now(UTC))
            print(f"camera {args.camera_id}: key {args.key_id} retired")
    finally:
        registry.close()
    return 0


def _camera_list(config: CentralConfig) -> int:
    registry = CameraRegistry(config.cameras_path)
    try:
        for camera in registry.all():
            key_ids = ",".join(key.key_id for key in camera.keys)
            print(f"{camera.camera_id}\t{key_ids}\t{camera.registered_at}")
    finally:
        registry.close()
    return 0


def _retention_worker(config: CentralConfig):
    """Retention in its own thread; its stores are opened in that thread on first run."""
    from central.retention import RetentionWorker, run_retention
    from central.statistics import DailyStatistics
    from central.store import open_store

    opened: dict = {}

    def run_once(now: datetime):
        if not opened:
            opened["store"] = open_store(config)
            opened["statistics"] = DailyStatistics(config.statistics_path)
            opened["registry"] = CameraRegistry(config.cameras_path)
        return run_retention(opened["store"], opened["statistics"], opened["registry"], now)

    return RetentionWorker(run_once, config.retention.interval_s)


def _run(config: CentralConfig, with_web: bool) -> int:
    from central import create_app
    from central.ingest import IngestWorker

    ack_key = SigningKey.load(config.secrets.ack_signing_key_file)
    app = create_app(config) if with_web else None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = IngestWorker(config, ack_key)
    worker.start()
    retention = _retention_worker(config)
    retention.start()
    server = None
    if app is not None:
        from werkzeug.serving import make_server

        server = make_server(config.web.host, config.web.port, app, threaded=True)
        threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
        log.info("web: listening on http://%s:%d/", config.web.host, config.web.port)
    stop.wait()
    log.info("central: stopping")
    if server is not None:
        server.shutdown()
    retention.stop()
    worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
