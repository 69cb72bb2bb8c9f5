"""Signed periodic health reports: is the camera delivering, is data piling up."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from edge_agent.spool import Spool
from edge_agent.system_probe import clock_sync_state, cpu_temp_millicelsius, disk_free_mb
from node import wallclock
from wire import Heartbeat, SigningKey, encode_heartbeat
from wire.fields import truncate_to_millis
from wire.records import ResearchHealth

AGENT_VERSION = "0.1.0"


@dataclass(frozen=True)
class HeartbeatFigures:
    """Running totals from the pipeline; the builder turns them into rates per interval."""

    reads: int = 0
    confidence_sum: float = 0.0
    reads_fitting_layout: int = 0
    reads_masked: int = 0
    records_expired: int = 0
    detector_version: str = "unknown"
    reader_version: str = "unknown"
    research: ResearchHealth | None = None  # traffic research, where configured


class HeartbeatBuilder:
    def __init__(
        self,
        camera_id: str,
        key: SigningKey,
        spool: Spool,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
    ) -> None:
        self.camera_id = camera_id
        self.key = key
        self.spool = spool
        self.clock = clock
        self.boot_id = secrets.token_hex(8)
        self.started = time.monotonic()
        self._last_at = self.started
        self._last_frames = 0
        self._last_reads = 0
        self._last_confidence = 0.0
        self._last_fitting = 0

    def build(
        self,
        source_ok: bool,
        frames_captured: int,
        frames_dropped: int,
        figures: HeartbeatFigures | None = None,
    ) -> bytes:
        figures = figures or HeartbeatFigures()
        now = time.monotonic()
        elapsed = max(now - self._last_at, 1e-3)
        fps = (frames_captured - self._last_frames) / elapsed
        reads = figures.reads - self._last_reads
        confidence = figures.confidence_sum - self._last_confidence
        fitting = figures.reads_fitting_layout - self._last_fitting
        self._last_at, self._last_frames = now, frames_captured
        self._last_reads, self._last_confidence = figures.reads, figures.confidence_sum
        self._last_fitting = figures.reads_fitting_layout
        heartbeat = Heartbeat(
            camera_id=self.camera_id,
            key_id=self.key.key_id,
            sent_at=truncate_to_millis(self.clock()),
            boot_id=self.boot_id,
            uptime_s=int(time.monotonic() - self.started),
            source_ok=source_ok,
            frames_captured=frames_captured,
            frames_dropped=frames_dropped,
            last_seq=self.spool.last_seq(),
            spool_depth=self.spool.depth(),
            spool_oldest_age_s=self.spool.oldest_age_s(),
            agent_version=AGENT_VERSION,
            fps_milli=max(0, round(fps * 1000)),
            reads_per_min=max(0, round(reads * 60 / elapsed)),
            mean_confidence_pm=round(1000 * confidence / reads) if reads > 0 else -1,
            layout_match_pm=round(1000 * fitting / reads) if reads > 0 else -1,
            reads_masked=figures.reads_masked,
            records_expired=figures.records_expired,
            records_dropped=self.spool.dropped_full,
            disk_free_mb=disk_free_mb(self.spool.path.parent),
            cpu_temp_mc=cpu_temp_millicelsius(),
            clock_sync=clock_sync_state(),
            detector_version=figures.detector_version,
            reader_version=figures.reader_version,
            research=figures.research,
        )
        return encode_heartbeat(heartbeat, self.key)
