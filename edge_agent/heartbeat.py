"""Signed periodic health reports: is the camera delivering, is data piling up."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from edge_agent.spool import Spool
from wire import Heartbeat, SigningKey, encode_heartbeat
from wire.fields import truncate_to_millis

AGENT_VERSION = "0.1.0"


class HeartbeatBuilder:
    def __init__(
        self,
        camera_id: str,
        key: SigningKey,
        spool: Spool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.camera_id = camera_id
        self.key = key
        self.spool = spool
        self.clock = clock
        self.boot_id = secrets.token_hex(8)
        self.started = time.monotonic()

    def build(self, source_ok: bool, frames_captured: int, frames_dropped: int) -> bytes:
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
        )
        return encode_heartbeat(heartbeat, self.key)
