"""Replay a folder of images as if a camera saw them now, at a fixed rate.

Used for demos, for on-site self-tests with known plates, and for replaying evaluation sets
through the whole pipeline. Unreadable files are skipped, logged and counted, never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from edge_agent.capture import Frame
from node import wallclock

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


class SourceError(Exception):
    """The source cannot deliver frames at all (missing folder, no images)."""


def load_bgr(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


class FolderSource:
    live = False  # a replay waits for the pipeline instead of dropping frames

    def __init__(
        self,
        folder: Path,
        fps: float = 2.0,
        loop: bool = False,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = lambda: wallclock.now(),
    ) -> None:
        self.folder = folder
        self.interval = 1.0 / fps
        self.loop = loop
        self.stop = stop or threading.Event()
        self.clock = clock
        self.unreadable = 0
        self.healthy = True
        self.images = self._list_images()

    def _list_images(self) -> list[Path]:
        if not self.folder.is_dir():
            raise SourceError(f"replay folder {self.folder} does not exist or is not a folder")
        images = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise SourceError(f"replay folder {self.folder} holds no .jpg or .png images")
        return images

    def frames(self) -> Iterator[Frame]:
        next_due = time.monotonic()
        while not self.stop.is_set():
            for path in self.images:
                delay = next_due - time.monotonic()
                if delay > 0 and self.stop.wait(delay):
                    return
                next_due = max(next_due + self.interval, time.monotonic())
                try:
                    image = load_bgr(path)
                except (OSError, UnidentifiedImageError) as exc:
                    self.unreadable += 1
                    log.warning("replay: skipping unreadable image %s: %s", path, exc)
                    continue
                yield Frame(image=image, captured_at=self.clock(), origin=path)
            if not self.loop:
                return
