"""Commissioning on the live view (#22): sample the configured camera, judge, report.

For a short window the unit takes frames from its configured source exactly as the agent
would, first to time the frame rate reached, then reading plates in every frame with the
agent's own recognizer. From those frames it judges, each PASS, WARN or FAIL with the
figure and what to do about it:

- frame rate: the rate reached against `source.fps`;
- focus: the Laplacian variance of the plates read (of the whole frame when none was read);
- exposure: mean grey level and clipped shadows/highlights; day (colour) or night (infrared);
- plates read: none in the whole window fails (a camera aimed at the sky, or at no road);
- plate width: the median width of the plates read, in pixels;
- plate angle: the median tilt of the plates read.

The thresholds are below; docs/operations.md explains them to the technician. Reads inside a
privacy mask are left out, as the agent leaves them out.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from dataclasses import dataclass, field

from edge_agent.capture import Frame
from edge_agent.capture.folder import FolderSource, SourceError
from edge_agent.capture.opencv import OpenCVSource
from edge_agent.config import AgentConfig
from edge_agent.privacy import box_is_masked
from provisioning import live_view
from recognition.recognizer import FrameReader

RATE_FRAMES = 20  # frames timed for the rate, before reading starts
RATE_SECONDS = 3.0
WINDOW_S = 6.0  # seconds of reading plates
MAX_READ_FRAMES = 120
FIRST_FRAME_S = 10.0  # a source that has not delivered one frame by then fails

# Focus: Laplacian variance on the plates (sharp 1280x720 plates measure ~900-2,000; a
# slightly soft lens ~200; out of focus below 50). On the whole frame, the figure depends on
# the scene; a frame with no detail at all (sky, fog, a lens cap) is judged by it.
PLATE_FOCUS_FAIL, PLATE_FOCUS_WARN = 100.0, 300.0
FRAME_FOCUS_FAIL, FRAME_FOCUS_WARN = 5.0, 12.0
# Exposure: grey level 0-255 and shares of clipped pixels.
DAY_MEAN = (50.0, 210.0)  # fail outside
DAY_MEAN_WARN = (75.0, 185.0)
NIGHT_MEAN_FAIL, NIGHT_MEAN_WARN = 10.0, 25.0  # infrared: a dark scene is normal
CLIPPED_FAIL, CLIPPED_WARN = 0.30, 0.08
# Plates: width in pixels and tilt in degrees.
WIDTH_FAIL, WIDTH_WARN = 80, 110
WIDTH_TOO_CLOSE = 0.5  # of the frame's width
TILT_WARN, TILT_FAIL = 8.0, 15.0
RATE_WARN, RATE_FAIL = 0.8, 0.5  # of the configured rate


@dataclass(frozen=True)
class Judged:
    """One check: a stable key (the report's check name), a title, result, figure, advice."""

    key: str
    title: str
    result: str  # "pass", "warn" or "fail"
    figure: str
    advice: str = ""


@dataclass
class Sample:
    """What the window saw."""

    rate_frames: int = 0
    rate_seconds: float = 0.0
    read_frames: int = 0
    width: int = 0
    plate_focus: list[float] = field(default_factory=list)
    frame_focus: list[float] = field(default_factory=list)
    exposures: list[live_view.Exposure] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    tilts: list[float] = field(default_factory=list)
    plates: set[str] = field(default_factory=set)
    snapshot: bytes = b""
    error: str = ""

    @property
    def rate(self) -> float:
        return (self.rate_frames - 1) / self.rate_seconds if self.rate_frames > 1 else 0.0

    @property
    def frames(self) -> int:
        return self.rate_frames + self.read_frames

    @property
    def night(self) -> bool:
        return bool(self.exposures) and sum(e.monochrome for e in self.exposures) * 2 > len(
            self.exposures
        )


def open_source(config: AgentConfig):
    source = config.source
    if source.kind == "folder":
        return FolderSource(source.path, source.fps, loop=True)
    if source.kind == "picamera":
        from edge_agent.capture.picamera import PiCameraSource

        return PiCameraSource((source.width, source.height), source.fps)
    return OpenCVSource(source.uri, live=True, reconnect_max_s=1.0)


def frames_until(source, deadline_first: float):
    """The source's frames from a thread, so that a camera that never delivers cannot hold
    the test: None once no frame came for `deadline_first` seconds."""
    frames: queue.Queue = queue.Queue(maxsize=2)
    done = threading.Event()

    def pump() -> None:
        try:
            for frame in source.frames():
                while not done.is_set():
                    try:
                        frames.put(frame, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if done.is_set():
                    return
        except Exception as exc:  # noqa: BLE001 - a failing camera is a FAIL, not a crash
            frames.put(exc)
        frames.put(None)

    thread = threading.Thread(target=pump, name="commissioning-source", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = frames.get(timeout=deadline_first)
            except queue.Empty:
                yield None
                return
            if isinstance(item, Exception):
                raise SourceError(f"{type(item).__name__}: {item}")
            yield item
            if item is None:
                return
    finally:
        done.set()
        if hasattr(source, "stop"):
            source.stop.set()


def sample_live(
    config: AgentConfig,
    reader: FrameReader,
    window_s: float = WINDOW_S,
    source=None,
) -> Sample:
    """Take the window's frames from the configured source and measure them."""
    sample = Sample()
    try:
        source = source if source is not None else open_source(config)
    except SourceError as exc:
        sample.error = str(exc)
        return sample
    masks = config.privacy.masks
    started = time.monotonic()
    reading_until = None
    best: tuple[int, Frame, list] | None = None
    last: tuple[Frame, list] | None = None
    try:
        for frame in frames_until(source, FIRST_FRAME_S):
            if frame is None:
                break
            now = time.monotonic()
            if reading_until is None:
                sample.rate_frames += 1
                sample.rate_seconds = now - started
                sample.width = frame.image.shape[1]
                if sample.rate_frames >= RATE_FRAMES or sample.rate_seconds >= RATE_SECONDS:
                    reading_until = now + window_s
                continue
            boxes = _measure(sample, frame, reader, masks)
            last = (frame, boxes)
            if boxes and (best is None or len(boxes) > best[0]):
                best = (len(boxes), frame, boxes)
            if now >= reading_until or sample.read_frames >= MAX_READ_FRAMES:
                break
    except SourceError as exc:
        sample.error = str(exc)
    shown = (best[1], best[2]) if best is not None else last
    if shown is not None:
        sample.snapshot = live_view.aim_snapshot(shown[0].image, masks, shown[1])
    return sample


def _measure(sample: Sample, frame: Frame, reader: FrameReader, masks) -> list:
    sample.read_frames += 1
    gray = live_view.grey(frame.image)
    sample.exposures.append(live_view.exposure(frame.image))
    sample.frame_focus.append(live_view.sharpness(gray))
    reads = [r for r in reader.read_frame(frame) if not box_is_masked(r.box, masks)]
    boxes = [r.box for r in reads]
    sample.plate_focus += live_view.plate_focus(gray, boxes)
    for read in reads:
        sample.plates.add(read.plate)
        sample.widths.append(read.box[2])
        tilt = live_view.plate_tilt(gray, read.box)
        if tilt is not None:
            sample.tilts.append(tilt)
    return boxes


def judge(sample: Sample, configured_fps: float) -> list[Judged]:
    if sample.frames < 2:
        why = sample.error or f"{sample.frames} frame(s) in {FIRST_FRAME_S:.0f} s"
        advice = "check the camera's cable and power, and [source] in the agent config"
        return [Judged("frame_rate", "camera delivers frames", "fail", why, advice)]
    return [_rate(sample, configured_fps), _focus(sample), _exposure(sample),
            *_plates(sample)]  # fmt: skip


def _rate(sample: Sample, configured: float) -> Judged:
    figure = f"{sample.rate:.1f} fps (configured {configured:g})"
    share = sample.rate / configured
    result = "pass" if share >= RATE_WARN else "warn" if share >= RATE_FAIL else "fail"
    advice = "" if result == "pass" else (
        "the camera or the unit does not keep up: lower the resolution or the configured "
        "rate, check the cable (USB 3 / CSI) and the unit's temperature")  # fmt: skip
    return Judged("frame_rate", "frame rate reached", result, figure, advice)


def _focus(sample: Sample) -> Judged:
    if sample.plate_focus:
        value = statistics.median(sample.plate_focus)
        figure = f"{value:.0f} (Laplacian variance on {len(sample.plate_focus)} plate(s))"
        fail, warn = PLATE_FOCUS_FAIL, PLATE_FOCUS_WARN
    else:
        value = statistics.median(sample.frame_focus)
        figure = f"{value:.1f} (Laplacian variance of the whole frame; no plate read)"
        fail, warn = FRAME_FOCUS_FAIL, FRAME_FOCUS_WARN
    result = "fail" if value < fail else "warn" if value < warn else "pass"
    advice = "" if result == "pass" else (
        "focus the lens on the lane's plates (where vehicles pass the trigger line), clean "
        "the window; in fog or rain, test again when it clears")  # fmt: skip
    return Judged("focus", "focus", result, figure, advice)


def _exposure(sample: Sample) -> Judged:
    mean = statistics.median(e.mean for e in sample.exposures)
    shadows = statistics.median(e.shadows for e in sample.exposures)
    highlights = statistics.median(e.highlights for e in sample.exposures)
    light = "night (infrared)" if sample.night else "day (colour)"
    figure = (f"{light}: mean grey {mean:.0f}, shadows clipped {shadows:.0%}, "
              f"highlights clipped {highlights:.0%}")  # fmt: skip
    if sample.night:
        low_fail, low_warn, high_fail, high_warn = NIGHT_MEAN_FAIL, NIGHT_MEAN_WARN, 230.0, 200.0
    else:
        (low_fail, high_fail), (low_warn, high_warn) = DAY_MEAN, DAY_MEAN_WARN
    if mean < low_fail or shadows > CLIPPED_FAIL:
        result, advice = "fail", "too dark: open the iris or raise exposure/gain"
    elif mean > high_fail or highlights > CLIPPED_FAIL:
        result, advice = "fail", "blown out: close the iris, shorten the exposure, shade the lens"
    elif mean < low_warn or shadows > CLIPPED_WARN:
        result, advice = "warn", "rather dark: raise exposure a little"
    elif mean > high_warn or highlights > CLIPPED_WARN:
        result, advice = "warn", "rather bright: shorten the exposure a little"
    else:
        result, advice = "pass", ""
    if result != "pass":
        advice += ("; check the infrared lamp and the night profile" if sample.night
                   else "; test again after dark, on the infrared profile")  # fmt: skip
    return Judged("exposure", "exposure", result, figure, advice)


def _plates(sample: Sample) -> list[Judged]:
    if not sample.widths:
        none = Judged("plates_read", "plates read", "fail",
                      f"no plates read in {sample.read_frames} frames",
                      "aim the camera at the lane (not the sky or the verge) so that plates "
                      "cross the frame's lower half, and test while traffic passes")  # fmt: skip
        unmeasured = "not measured: no plates read"
        return [none, Judged("plate_width", "plate width", "warn", unmeasured, ""),
                Judged("plate_angle", "plate angle", "warn", unmeasured, "")]  # fmt: skip
    read = Judged("plates_read", "plates read", "pass",
                  f"{len(sample.widths)} read(s) of {len(sample.plates)} plate(s) in "
                  f"{sample.read_frames} frames")  # fmt: skip
    return [read, _width(sample), _tilt(sample)]


def _width(sample: Sample) -> Judged:
    width = int(statistics.median(sample.widths))
    figure = f"{width} px wide (median of {len(sample.widths)}; frame {sample.width} px)"
    if width < WIDTH_FAIL:
        result, advice = "fail", f"plates are too small to read well: zoom in to at least " \
            f"{WIDTH_WARN} px or move the camera closer to the lane"  # fmt: skip
    elif width < WIDTH_WARN:
        result, advice = "warn", f"plates are small: zoom in to at least {WIDTH_WARN} px"
    elif sample.width and width > WIDTH_TOO_CLOSE * sample.width:
        result, advice = "warn", "plates fill the frame: zoom out so a whole car passes in view"
    else:
        result, advice = "pass", ""
    return Judged("plate_width", "plate width", result, figure, advice)


def _tilt(sample: Sample) -> Judged:
    if not sample.tilts:
        return Judged("plate_angle", "plate angle", "warn", "not measured: no plate edge found",
                      "check the aim by eye on the snapshot")  # fmt: skip
    tilt = statistics.median(sample.tilts)
    figure = f"{tilt:+.1f} deg (median of {len(sample.tilts)})"
    size = abs(tilt)
    result = "fail" if size > TILT_FAIL else "warn" if size > TILT_WARN else "pass"
    advice = "" if result == "pass" else (
        "plates lean in the picture: level the camera (roll) and aim it along the lane "
        "rather than across it")  # fmt: skip
    return Judged("plate_angle", "plate angle", result, figure, advice)
