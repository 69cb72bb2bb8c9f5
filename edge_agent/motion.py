"""Motion gate: an empty road costs next to nothing, a moving vehicle is always searched.

On a live road most frames hold no vehicle, and a frame without a read is the recognizer's
most expensive frame (the close-up retry runs the detector a second time). Video
surveillance systems gate their detectors on motion; so does the agent. Each frame is
reduced to a small grey thumbnail (about 160 columns, a few strided samples averaged per
cell: numpy only, well under a millisecond at 1280x720) and compared with the thumbnail of
the last frame the recognizer searched. The difference is taken relative to the frame's
median difference, so a global brightness change (auto exposure, a cloud) moves the median
with it, and a cell counts as changed only above `threshold` grey levels and five times the
frame's own noise (the median deviation of its cells; at most `noise_ceiling`), well above
sensor and JPEG noise by day and by night, when an infrared camera's gain doubles the
noise. Then:

- enough changed cells (`min_cells`): the frame is searched as always, retries included
  (the close-up retry only when the moved cells span a quarter of the frame's width: a
  close-up plate is a third of the frame wide, and the vehicle carrying it wider still;
  and only in the part of the frame that moved, so it costs a fraction of a detector run);
- nothing changed beyond noise: no detector run at all;
- whatever the gate says, a frame is searched at least every `full_frame_s` (detector and
  reads, no retries): a vehicle that stopped in view, or one creeping in so slowly that
  nothing changed since the last search, is still seen, and a stopped vehicle's track stays
  alive (the period is shorter than the tracker's timeout).

Comparing with the last *searched* frame rather than the previous one makes slow change
add up: a vehicle entering at a walking pace changes a few cells a frame, and those changes
accumulate until the frame is searched and becomes the new reference. Masked areas are
burnt black before the gate sees a frame, so motion in a driveway never wakes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from edge_agent.capture import Frame
from recognition.recognizer import FrameReader, Read, Recognizer

# The median absolute deviation of normal noise, times this, is its standard deviation.
MAD_TO_SIGMA = 1.4826


class Decision(enum.Enum):
    SEARCH = "search"  # something moved (or the first frame): the full search
    REFRESH = "refresh"  # nothing moved, but a periodic full frame is due: detect, no retries
    SKIP = "skip"  # nothing moved beyond noise: no detector run


@dataclass(frozen=True)
class Verdict:
    """The gate's decision, how wide the moved cells spread (share of the frame width) and
    the frame's part that holds them, grown by `MotionSettings.region_margin` (pixels
    x0, y0, x1, y1; None when nothing moved)."""

    decision: Decision
    extent: float
    region: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class MotionSettings:
    """What counts as motion; defaults suit 720p and 1080p road cameras at 10-30 fps."""

    threshold: float = 12.0  # grey levels a cell must change by, above the frame's median
    # ... and at least this many times the frame's noise (the spread of most cells'
    # differences): an infrared camera at night, at full gain, has twice the day's noise,
    # which alone would wake the gate on an empty road several times a second.
    noise_factor: float = 5.0
    # ... but never more than this many grey levels: a vehicle that fills most of the view
    # at once spreads the differences of most cells, and must not pass for noise (without
    # this bound a frame-filling vehicle was skipped; sensor noise needs about 21 at night).
    noise_ceiling: float = 30.0
    min_cells: int = 6  # changed cells that make a frame "moved" (of about 160 x 90)
    full_frame_s: float = 1.0  # a frame is searched at least this often, moved or not
    # The close-up retry finds plates wider than about a third of the frame (200 px at the
    # detector's 640 px input), which only a vehicle at least that wide carries: it runs when
    # the moved cells span at least this share of the frame's width.
    close_up_extent: float = 0.25
    # The close-up search looks only at the part of the frame that moved, grown on every
    # side by this share of the frame's width: a plate's flat middle may not change from one
    # frame to the next, its edges and its vehicle do.
    region_margin: float = 0.1
    columns: int = 160  # thumbnail width in cells


def cell_size(width: int, columns: int) -> int:
    """Frame pixels per thumbnail cell, across and down."""
    return max(1, width // columns)


def thumbnail(image: np.ndarray, columns: int = 160) -> np.ndarray:
    """A small grey image: per cell, the mean of four strided samples of the green channel
    (the largest share of luma). Strided sampling reads a few hundred rows of the frame,
    not all of it; averaging four samples halves the sensor noise of one."""
    height, width = image.shape[:2]
    step = cell_size(width, columns)
    rows, cols = height // step * step, width // step * step
    half = step // 2
    green = image[:rows, :cols, 1] if image.ndim == 3 else image[:rows, :cols]
    total = green[::step, ::step].astype(np.uint16)
    total += green[half::step, half::step]
    total += green[::step, half::step]
    total += green[half::step, ::step]
    return total.astype(np.float32) * 0.25


class MotionGate:
    """Decides, frame by frame, whether the recognizer must run (see the module docstring)."""

    def __init__(self, settings: MotionSettings | None = None) -> None:
        self.settings = settings or MotionSettings()
        self._reference: np.ndarray | None = None
        self._last_search: datetime | None = None

    def changed(self, small: np.ndarray) -> np.ndarray:
        """Per thumbnail cell: changed beyond noise since the last searched frame (every
        cell, when there is none yet or the frame's size changed)."""
        reference = self._reference
        if reference is None or reference.shape != small.shape:
            return np.ones(small.shape, dtype=bool)
        difference = small - reference
        difference -= float(np.median(difference))  # a global brightness change
        difference = np.abs(difference)
        settings = self.settings
        noise = MAD_TO_SIGMA * float(np.median(difference))
        floor = min(settings.noise_factor * noise, settings.noise_ceiling)
        return difference > max(settings.threshold, floor)

    def decide(self, image: np.ndarray, captured_at: datetime) -> Verdict:
        """SEARCH, REFRESH or SKIP for this frame; a searched frame becomes the reference."""
        small = thumbnail(image, self.settings.columns)
        changed = self.changed(small)
        moved = int(np.count_nonzero(changed)) >= self.settings.min_cells
        due = (
            self._last_search is None
            or (captured_at - self._last_search).total_seconds() >= self.settings.full_frame_s
            or captured_at < self._last_search  # the clock stepped back: search, start again
        )
        if not moved and not due:
            return Verdict(Decision.SKIP, 0.0)
        self._reference = small
        self._last_search = captured_at
        if not moved:
            return Verdict(Decision.REFRESH, 0.0)
        columns = np.flatnonzero(changed.any(axis=0))
        extent = (columns[-1] - columns[0] + 1) / changed.shape[1]
        return Verdict(Decision.SEARCH, extent, self._region(changed, columns, image.shape))

    def _region(self, changed: np.ndarray, columns: np.ndarray, shape) -> tuple[int, ...]:
        """The moved cells' bounding box in frame pixels, grown by the margin."""
        height, width = shape[:2]
        step = cell_size(width, self.settings.columns)
        rows = np.flatnonzero(changed.any(axis=1))
        margin = round(self.settings.region_margin * width)
        return (
            max(0, int(columns[0]) * step - margin),
            max(0, int(rows[0]) * step - margin),
            min(width, (int(columns[-1]) + 1) * step + margin),
            min(height, (int(rows[-1]) + 1) * step + margin),
        )


class MotionGatedReader:
    """A `FrameReader` that asks the motion gate before it asks the recognizer it wraps.

    Counts its decisions (`searched`, `refreshed`, `skipped`) for the unit's figures."""

    def __init__(self, reader: FrameReader, settings: MotionSettings | None = None) -> None:
        self.reader = reader
        self.gate = MotionGate(settings)
        self.detector_version = reader.detector_version
        self.reader_version = reader.reader_version
        self.searched = self.refreshed = self.skipped = 0

    def read_frame(self, frame: Frame) -> list[Read]:
        verdict = self.gate.decide(frame.image, frame.captured_at)
        if verdict.decision is Decision.SKIP:
            self.skipped += 1
            return []
        if verdict.decision is Decision.REFRESH:
            self.refreshed += 1
        else:
            self.searched += 1
        if not isinstance(self.reader, Recognizer):
            return self.reader.read_frame(frame)  # ground truth: no searches to skip
        searched = verdict.decision is Decision.SEARCH
        close_up = searched and verdict.extent >= self.gate.settings.close_up_extent
        return self.reader.read_frame(
            frame, close_up=close_up, tiles=searched, moved=verdict.region
        )
