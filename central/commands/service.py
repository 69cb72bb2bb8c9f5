"""`serve` and `ingest`: the long-running central, with retention on its own schedule."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta

from central import audit_trails
from central.audit_trails import open_audit_trail
from central.calamity.listener import PRUNE_INTERVAL_S, BufferListener, prune_run
from central.cameras import CameraRegistry
from central.config import CentralConfig, ConfigError
from central.health.monitor import HealthMonitor
from central.health.records import HealthRecords
from central.hotlists.listener import HotlistListener, escalation_run
from central.hotlists.lists import Hotlists
from central.metrics import record_retention
from central.retention import RetentionWorker, run_retention
from central.statistics import DailyStatistics
from central.store import open_store
from central.tally import Ledger
from node.keyfiles import load_signing_key

log = logging.getLogger("central")


CHECKPOINT_EVERY = timedelta(hours=1)


def _anchor_audit_trail(config: CentralConfig, now: datetime) -> None:
    """Sign the trail's head, so a rewritten tail cannot pass for the real one."""
    trail = open_audit_trail(config)
    try:
        trail.checkpoint(load_signing_key(config.secrets.audit_signing_key_file), now)
    finally:
        trail.close()


def retention_worker(config: CentralConfig) -> RetentionWorker:
    """Retention in its own thread; its stores are opened in that thread on first run."""
    opened: dict = {}

    def run_once(now: datetime):
        if not opened:
            opened["store"] = open_store(config)
            opened["statistics"] = DailyStatistics(config.statistics_path)
            opened["registry"] = CameraRegistry(config.cameras_path)
            opened["health"] = HealthRecords(config.health_path)
            opened["hotlists"] = Hotlists(config.hotlists_path)
            opened["ledger"] = Ledger(config.metrics_path)
        keep_alerts = timedelta(days=config.retention.alert_days)
        opened["hotlists"].expire_alerts(now, keep_alerts)
        report = run_retention(
            opened["store"], opened["statistics"], opened["registry"], opened["health"], now
        )
        if report.days_destroyed or report.rows_deleted:
            # The yearly report counts deletions from the trail, which outlives the data.
            details = {"days": [d.isoformat() for d in report.days_destroyed],
                       "rows": report.rows_deleted}  # fmt: skip
            audit_trails.record_in(config, "system", "retention_destroyed", details, now)
        try:
            record_retention(opened["ledger"], opened["store"], report.rows_deleted,
                             len(report.days_destroyed), now)  # fmt: skip
        except Exception:  # figures must never stop the run that destroys
            log.exception("retention: writing its figures to %s failed", config.metrics_path)
        if config.secrets.audit_signing_key_file and now >= opened.get("checkpoint_due", now):
            _anchor_audit_trail(config, now)
            opened["checkpoint_due"] = now + CHECKPOINT_EVERY
        return report

    return RetentionWorker(run_once, config.retention.interval_s)


def _unit_hotlist_pusher(config: CentralConfig, worker) -> RetentionWorker | None:
    """Every minute, push changed unit hotlists (retained) to the cameras that match too."""
    alerts = config.alerts
    if not alerts.unit_hotlist_cameras:
        return None
    from central.hotlists.unit_export import UnitPusher, read_master_key

    pusher = UnitPusher(
        config.hotlists_path, alerts.unit_hotlist_cameras,
        read_master_key(alerts.unit_hotlist_master_key_file),
        load_signing_key(config.secrets.ack_signing_key_file),
        lambda topic, data: worker.client.publish(topic, data, qos=1, retain=True),
    )  # fmt: skip
    return RetentionWorker(pusher.run_once, interval_s=60.0, name="unit-hotlists")


def serve_training(config: CentralConfig, stop: threading.Event) -> int:
    """A training instance: its pages only. It never connects to the broker, so no real
    camera's passage can reach it; its passages come from `training-seed`."""
    from werkzeug.serving import make_server

    from central import create_app

    server = make_server(config.web.host, config.web.port, create_app(config), threaded=True)
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    log.warning("TRAINING instance: web only on http://%s:%d/, no ingest", config.web.host,
                config.web.port)  # fmt: skip
    stop.wait()
    server.shutdown()
    return 0


def run(config: CentralConfig, with_web: bool) -> int:
    from central import create_app
    from central.ingest.service import IngestWorker

    if config.web.training:
        if not with_web:
            raise ConfigError("a training instance has no ingest: run `serve` (pages only)")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        return serve_training(config, stop)

    ack_key = load_signing_key(config.secrets.ack_signing_key_file)
    app = create_app(config) if with_web else None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = IngestWorker(config, ack_key)
    hotlists = HotlistListener(
        config.hotlists_path,
        publish=lambda topic, payload: worker.client.publish(topic, payload, qos=1),
        tally=worker.counters,
    )
    webhook = None
    if config.alerts.webhook_url:
        from central.hotlists.webhook import WebhookSender, read_secret

        webhook = WebhookSender(
            config.alerts.webhook_url,
            read_secret(config.alerts.webhook_secret_file),
            config.alerts.webhook_attempts,
            config.alerts.webhook_timeout_s,
        )
        hotlists.notifiers.append(webhook)
        webhook.start()
    worker.batch_listeners.append(hotlists.batch)  # the live entries read once a batch
    calamity_buffer = BufferListener(config.calamity_path)
    worker.batch_listeners.append(calamity_buffer)
    worker.start()
    retention = retention_worker(config)
    retention.start()
    escalation = RetentionWorker(
        escalation_run(
            config.hotlists_path,
            publish=lambda topic, payload: worker.client.publish(topic, payload, qos=1),
        ),
        interval_s=10.0,
        name="escalation",
    )
    escalation.start()
    calamity_prune = RetentionWorker(
        prune_run(config.calamity_path), PRUNE_INTERVAL_S, name="calamity-prune"
    )
    calamity_prune.start()
    unit_lists = _unit_hotlist_pusher(config, worker)
    if unit_lists is not None:
        unit_lists.start()
    health = HealthMonitor(
        config.cameras_path, config.health_path, config.health.limits(), config.health.interval_s
    )
    health.start()
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
    health.stop()
    escalation.stop()
    calamity_prune.stop()
    if unit_lists is not None:
        unit_lists.stop()
    retention.stop()
    worker.stop()
    if webhook is not None:
        webhook.stop()
    hotlists.close()
    calamity_buffer.close()
    return 0
