"""Day keys made ahead, handed to the units sealed, destroyed when their day closes.

Once a minute: make today's and tomorrow's key for every area, destroy the keys of closed
days, and (when anything changed) publish to each camera, retained on its research-key
topic, the current keys sealed to that unit's research key. A unit without a key for the
day emits nothing for research.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from node import wallclock
from traffic_research.registry import Registry
from wire import SigningKey
from wire.research import encode_day_keys, seal_day_key
from wire.topics import research_key_topic

log = logging.getLogger("traffic_research.keys")


class KeyKeeper:
    """The once-a-minute upkeep, in its own thread, publishing through `publish`."""

    def __init__(
        self, registry_path, signer: SigningKey, publish: Callable[[str, bytes], None],
        interval_s: float = 60.0,
    ) -> None:  # fmt: skip
        self.registry_path, self.signer, self.publish = registry_path, signer, publish
        self.interval_s = interval_s
        self._published: dict[str, tuple] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="research-keys", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self, registry: Registry, now: datetime) -> int:
        """Upkeep, then publish where a camera's set of keys changed (sealing only those);
        returns how many cameras were published to."""
        today = now.astimezone(UTC).date()
        registry.destroy_closed_day_keys(today, now)
        registry.ensure_day_keys(today, now)
        current = {area: [k for k in registry.day_keys(area) if k.day >= today]
                   for area in registry.areas()}  # fmt: skip
        published = 0
        for camera in registry.cameras():
            keys = current[camera.area]
            ids = tuple(k.key_id for k in keys)
            if self._published.get(camera.camera_id) == ids:
                continue
            sealed = [seal_day_key(k, camera.camera_id, camera.research_key, self.signer)
                      for k in keys]  # fmt: skip
            self.publish(research_key_topic(camera.camera_id), encode_day_keys(sealed))
            self._published[camera.camera_id] = ids
            published += 1
        return published

    def _run(self) -> None:
        registry = Registry(self.registry_path)
        try:
            while True:
                try:
                    count = self.run_once(registry, wallclock.now())
                    if count:
                        log.info("research: day keys published to %d camera(s)", count)
                except Exception:  # keep the keeper alive; the next minute tries again
                    log.exception("research: day-key upkeep failed")
                if self._stop.wait(self.interval_s):
                    return
        finally:
            registry.close()
