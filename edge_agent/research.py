"""Traffic research on the unit: each passage becomes a pseudonymised sighting, no plate.

For every vehicle the tracker reports (the same one-per-vehicle output that becomes a
passage), a research camera makes a Sighting: the second it was seen, the camera's
direction, and HMAC-SHA-256(day key, plate). The plate itself goes no further than this
function's argument. Sightings are collected into batches (one UTC day and one day key per
batch), signed with the camera's key and put in the research queue; a batch closes after
`flush_s`, at `wire.research.MAX_BATCH` sightings, or when the day changes.

Without the day key for the vehicle's day, or outside the purpose's validity, nothing is
made for research; the unit says so in its log (once a day) and its heartbeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timezone

from edge_agent.purposes import TrafficResearchConfig
from edge_agent.research_keys import DayKeyRing, utc_today
from edge_agent.research_queue import ResearchQueue
from wire import SigningKey
from wire.records import ResearchHealth
from wire.research import MAX_BATCH, DayKey, ResearchBatch, Sighting, encode_batch, vehicle_hash

UTC = timezone.utc  # datetime.UTC is 3.11's; the unit runs on 3.10 (JetPack 6)

log = logging.getLogger(__name__)
EXPIRY_CHECK_S = 10.0


class ResearchEmitter:
    def __init__(
        self,
        camera_id: str,
        direction: str,
        config: TrafficResearchConfig,
        keys: DayKeyRing,
        queue: ResearchQueue,
        signing_key: SigningKey,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera_id, self.direction, self.config = camera_id, direction, config
        self.keys, self.queue, self.signing_key = keys, queue, signing_key
        self.monotonic = monotonic
        self.unkeyed = 0  # vehicles that made no sighting: no day key, or purpose not valid
        self._buffer: list[Sighting] = []
        self._buffer_key: DayKey | None = None
        self._opened_at = 0.0
        self._warned_day: date | None = None
        self._next_expiry = 0.0

    def sight(self, plate: str, seen_at: datetime) -> bool:
        """One vehicle; returns whether it became a sighting."""
        at = int(seen_at.astimezone(UTC).timestamp())
        day = datetime.fromtimestamp(at, UTC).date()
        key = self.keys.key_for(day) if self.config.valid_on(day) else None
        if key is None:
            self.unkeyed += 1
            if self._warned_day != day:
                self._warned_day = day
                reason = "no day key held" if self.config.valid_on(day) else "purpose not valid"
                log.warning("research: %s for %s %s: nothing is emitted for research",
                            reason, self.config.area, day)  # fmt: skip
            return False
        if self._buffer_key is not None and self._buffer_key.key_id != key.key_id:
            self.flush()
        if not self._buffer:
            self._opened_at = self.monotonic()
            self._buffer_key = key
        self._buffer.append(Sighting(at, self.direction, vehicle_hash(key.key, plate)))
        if len(self._buffer) >= MAX_BATCH:
            self.flush()
        return True

    def tick(self) -> int:
        """Close a batch that has waited `flush_s` (returns its seq, or 0); destroy day keys
        whose day has closed."""
        seq, now = 0, self.monotonic()
        if self._buffer and now - self._opened_at >= self.config.flush_s:
            seq = self.flush()
        if now >= self._next_expiry:  # a key goes within seconds of its day's end
            self._next_expiry = now + EXPIRY_CHECK_S
            self.keys.expire()
        return seq

    def flush(self) -> int:
        """Sign the collected sightings as one batch into the queue; returns its seq (0: none)."""
        if not self._buffer or self._buffer_key is None:
            return 0
        sightings, key = tuple(self._buffer), self._buffer_key
        self._buffer, self._buffer_key = [], None

        def build(seq: int) -> tuple[bytes, int]:
            batch = ResearchBatch(
                camera_id=self.camera_id, key_id=self.signing_key.key_id, seq=seq,
                area=key.area, day=key.day, day_key_id=key.key_id, sightings=sightings,
            )  # fmt: skip
            return encode_batch(batch, self.signing_key), len(sightings)

        seq = self.queue.append(build)
        log.info("research: batch seq=%d queued (%d sighting(s), day %s)", seq, len(sightings),
                 key.day)  # fmt: skip
        return seq

    def status(self) -> ResearchHealth:
        today = utc_today()
        held = self.keys.held_days()
        return ResearchHealth(
            area=self.config.area,
            valid_today=self.config.valid_on(today),
            key_today=today in held,
            key_tomorrow=any(day > today for day in held),
            sightings_sent=self.queue.sent_sightings,
            sightings_queued=self.queue.queued_sightings() + len(self._buffer),
            sightings_dropped=self.queue.dropped_sightings,
            sightings_unkeyed=self.unkeyed,
            keys_refused=self.keys.refused,
        )
