"""USB and IP cameras, GStreamer pipelines (Jetson CSI) and video files, through OpenCV.

A camera that drops is reopened with growing back-off (1 s doubling to `reconnect_max_s`);
while it is down the source reports itself unhealthy (the heartbeat's `source_ok`), and
every reconnect is counted. A video file is a replay: it ends, and it is not live.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from edge_agent.capture import Frame
from node import wallclock

log = logging.getLogger(__name__)


def _open(uri: str):
    import cv2  # imported here: units without OpenCV can still replay folders

    if uri.isdigit():
        return cv2.VideoCapture(int(uri))
    if uri.startswith("gst:"):
        return cv2.VideoCapture(uri[4:], cv2.CAP_GSTREAMER)
    return cv2.VideoCapture(uri)


class OpenCVSource:
    def __init__(
        self,
        uri: str,
        live: bool = True,
        reconnect_max_s: float = 30.0,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
    ) -> None:
        self.uri = uri
        self.live = live
        self.reconnect_max_s = reconnect_max_s
        self.stop = stop or threading.Event()
        self.clock = clock
        self.healthy = False
        self.reconnects = 0

    def frames(self) -> Iterator[Frame]:
        delay = 1.0
        while not self.stop.is_set():
            capture = _open(self.uri)
            if not capture.isOpened():
                self.healthy = False
                self.reconnects += 1
                log.warning("camera %s cannot be opened; retrying in %.0f s", self.uri, delay)
                if self.stop.wait(delay):
                    return
                delay = min(delay * 2, self.reconnect_max_s)
                continue
            self.healthy = True
            delay = 1.0
            try:
                while not self.stop.is_set():
                    ok, image = capture.read()
                    if not ok:
                        break
                    yield Frame(image=image, captured_at=self.clock(), origin=None)
            finally:
                capture.release()
            self.healthy = False
            if not self.live:
                return  # the file has ended
            log.warning("camera %s stopped delivering; reconnecting", self.uri)
