"""Assess every camera on a schedule, record each change of state with its reason, alert.

The assessment itself is `rules.assess`; this module keeps the history (so a maintainer
sees when and why a camera went DEGRADED) and logs an alert line on every change for the
worse, which the operations log watcher turns into a notification.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from central.cameras import CameraRegistry
from central.health.records import HealthRecords
from central.health.rules import Assessment, Limits, State, assess
from node import wallclock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraHealth:
    camera_id: str
    assessment: Assessment
    since: str | None


def survey(
    cameras: CameraRegistry, records: HealthRecords, now: datetime, limits: Limits
) -> list[CameraHealth]:
    """Every camera's current health, worst first."""
    result = []
    for camera in cameras.all():
        assessment = assess(
            records.last_heartbeat(camera.camera_id),
            now,
            limits,
            records.traffic(camera.camera_id, now),
        )
        history = records.health_history(camera.camera_id, 1)
        since = (
            history[0]["at"] if history and history[0]["state"] == assessment.state.name else None
        )
        result.append(CameraHealth(camera.camera_id, assessment, since))
    result.sort(key=lambda h: (-h.assessment.state, h.camera_id))
    return result


def record_changes(
    cameras: CameraRegistry, records: HealthRecords, now: datetime, limits: Limits
) -> list[CameraHealth]:
    """Record (and log) each camera whose state differs from its last recorded one."""
    changed = []
    for health in survey(cameras, records, now, limits):
        history = records.health_history(health.camera_id, 1)
        state = health.assessment.state
        if history and history[0]["state"] == state.name:
            continue
        reasons = "; ".join(health.assessment.reasons) or "all figures within limits"
        records.health_change(health.camera_id, now, state.name, reasons)
        level = logging.WARNING if state is not State.OK else logging.INFO
        log.log(level, "HEALTH camera=%s state=%s reason=%s", health.camera_id, state.name, reasons)
        changed.append(health)
    return changed


class HealthMonitor:
    """Runs `record_changes` every `interval_s` in its own thread."""

    def __init__(
        self,
        cameras_path,
        health_path,
        limits: Limits,
        interval_s: float = 15.0,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
    ) -> None:
        self.cameras_path = cameras_path
        self.health_path = health_path
        self.limits = limits
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        cameras = CameraRegistry(self.cameras_path)
        records = HealthRecords(self.health_path)
        try:
            while not self._stop.is_set():
                try:
                    record_changes(cameras, records, self.clock(), self.limits)
                except Exception:
                    log.exception("health: assessment failed; retrying")
                self._stop.wait(self.interval_s)
        finally:
            cameras.close()
            records.close()
