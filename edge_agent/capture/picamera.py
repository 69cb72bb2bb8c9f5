"""Raspberry Pi camera modules through picamera2 (imported only on a Pi).

Covered by hardware_tests/test_pi_camera.py, which runs on a real Pi with a camera; the
main suite cannot exercise it (there is no camera here).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

import numpy as np

from edge_agent.capture import Frame
from node import wallclock

log = logging.getLogger(__name__)


class PiCameraSource:
    live = True

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        fps: float = 25.0,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
    ) -> None:
        self.size = size
        self.fps = fps
        self.stop = stop or threading.Event()
        self.clock = clock
        self.healthy = False

    def frames(self) -> Iterator[Frame]:
        from picamera2 import Picamera2  # only present on a Raspberry Pi

        camera = Picamera2()
        config = camera.create_video_configuration(
            main={"size": self.size, "format": "RGB888"},
            controls={"FrameRate": self.fps},
        )
        camera.configure(config)
        camera.start()
        self.healthy = True
        try:
            while not self.stop.is_set():
                # picamera2's "RGB888" is laid out B, G, R in memory: already BGR.
                image = np.ascontiguousarray(camera.capture_array("main"))
                yield Frame(image=image, captured_at=self.clock(), origin=None)
        finally:
            self.healthy = False
            camera.stop()
            camera.close()
