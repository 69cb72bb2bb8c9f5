"""Plate recognition behind one small interface.

The agent's pipeline needs only a `FrameReader`: something that turns a frame into reads,
best first, and names the model versions that made them. Implementations are injected, so
the pipeline can be tested with ground truth and run with the ONNX models alike.

`Recognizer` is the product: the shipped ONNX plate detector and plate reader
(`models/plate_detector.onnx`, `models/plate_reader.onnx`) run with onnxruntime, plus the
plate-format rules of `recognition.plate_formats`, which may swap a low-confidence character for
its look-alike when that makes the plate fit its country, but never add or invent one.

`AnnotationRecognizer` answers from the sidecar annotation file beside a replayed image
(`image.txt`, lines of `image.jpg<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE`, the evaluation format).
It exists for ground-truth replay: demos, on-site tests with known plates and pipeline tests
whose subject is not recognition accuracy. It never guesses: an image without annotations
yields no reads.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from recognition.detector import Detection, PlateDetector, overlap
from recognition.plate_formats import correct, countries_matching
from recognition.reader import PlateReader, PlateText

log = logging.getLogger(__name__)
_PLATE = re.compile(r"[A-Z0-9]{1,12}")


@dataclass(frozen=True)
class Read:
    """One plate read in one frame."""

    plate: str
    confidence: float
    char_confidences: tuple[float, ...]
    box: tuple[int, int, int, int]
    country: str = ""


class Frame(Protocol):
    """What a reader needs of a captured frame (the agent's `capture.Frame` is one)."""

    image: np.ndarray
    origin: Path | None


class FrameReader(Protocol):
    detector_version: str
    reader_version: str

    def read_frame(self, frame: Frame) -> list[Read]: ...


class ImageError(ValueError):
    """An image handed to the recognizer is not uint8 H x W x 3 BGR."""


@dataclass(frozen=True)
class RecognizerSettings:
    """What counts as a read: weaker or shorter texts are dropped, not reported."""

    threads: int = 1
    min_characters: int = 4
    min_confidence: float = 0.15  # the product of the character confidences
    correction_threshold: float = 0.6  # only characters below this may be swapped
    country_threshold: float = 0.5
    # Second look: a read that fits no country's layout, is weak, or whose characters run
    # into the crop's edge is read again from a few crops around its box (`SECOND_LOOKS`);
    # a new read replaces it only when it fits a layout and is at least as sure. A box whose
    # first read was dropped gets no second look, so no read appears where there was none.
    second_look: bool = True
    second_look_below: float = 0.5  # reads under this confidence are looked at again
    # A frame with no read at all is detected again drawn at this zoom (0 = never): close-ups
    # larger than anything the detector was trained on are found when drawn smaller.
    close_up_zoom: float = 0.5
    # Boxes the detector scores from `weak_box_score` up to its threshold are read too, and
    # kept only where the read is at least `weak_box_confidence` sure (0 = never): plates of
    # layouts the detector is unsure of, confirmed by the reader. No layout is asked for:
    # the plates the detector is unsure of are those of layouts nobody taught it.
    weak_box_score: float = 0.0
    weak_box_confidence: float = 0.97
    # A large frame still without a read (wider than about 2,100 px: 4K cameras, phone
    # photos) is searched again in overlapping tiles at this many times the detail (0 =
    # never): its small plates. 1280x720 and 1920x1080 frames never are.
    tile_detail: float = 2.0


# Boxes a second look reads, as (left, top, right, bottom) growth in box widths / heights.
SECOND_LOOKS = (
    (0.15, 0.15, 0.15, 0.15),  # grown on all sides
    (0.5, 0.1, 0.0, 0.1),  # extended left: a box that lost the first characters
    (0.0, 0.1, 0.5, 0.1),  # extended right: a box that lost the last characters
    (-0.15, 0.0, -0.15, 0.0),  # narrowed: a box too wide, reading a neighbour's mark
)


def _grown(box, growth, size) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    left, top, right, bottom = growth
    return (
        max(0.0, x0 - left * w),
        max(0.0, y0 - top * h),
        min(float(size[0]), x1 + right * w),
        min(float(size[1]), y1 + bottom * h),
    )


class Recognizer:
    """Plate detector + plate reader from the committed ONNX files; the agent's FrameReader."""

    def __init__(
        self,
        detector: PlateDetector,
        reader: PlateReader,
        settings: RecognizerSettings | None = None,
    ) -> None:
        self.detector = detector
        self.reader = reader
        self.settings = settings or RecognizerSettings()
        self.detector_version = detector.config.version
        self.reader_version = reader.config.version

    @classmethod
    def default(
        cls, settings: RecognizerSettings | None = None, providers: list[str] | None = None
    ) -> Recognizer:
        """The shipped models: CPU by default, TensorRT/CUDA first when onnxruntime has them."""
        settings = settings or RecognizerSettings()
        return cls(
            PlateDetector.default(settings.threads, providers),
            PlateReader.default(settings.threads, providers),
            settings,
        )

    def read_image(self, bgr: np.ndarray) -> list[Read]:
        """Reads in one BGR uint8 image, best first."""
        return self.analyse(bgr)[1]

    def analyse(
        self,
        bgr: np.ndarray,
        close_up: bool = True,
        tiles: bool = True,
        moved: tuple[int, int, int, int] | None = None,
    ) -> tuple[list[Detection], list[Read]]:
        """The detector's boxes and the reads made from them (evaluations need both).

        `close_up` / `tiles` False skip that search of a frame without a read, whatever the
        settings say: the agent's motion gate skips both on a periodic frame in which nothing
        moved, and the close-up when nothing large enough to carry a close-up plate moved.
        `moved` (x0, y0, x1, y1), the part of the frame that moved, is all the close-up
        search looks at: a close-up plate is on a vehicle, which moved."""
        if not isinstance(bgr, np.ndarray) or bgr.dtype != np.uint8 or bgr.ndim != 3:
            raise ImageError("expected a numpy uint8 array of shape H x W x 3 (BGR)")
        if bgr.shape[2] != 3 or bgr.shape[0] < 8 or bgr.shape[1] < 8:
            raise ImageError(f"expected H x W x 3 with H, W >= 8, got shape {bgr.shape}")
        image = Image.fromarray(np.ascontiguousarray(bgr))  # channels stay B, G, R
        detections, weak = self._detect(image)
        reads = self._read_boxes(image, detections)
        for search in self._retries(image, close_up, tiles, moved):
            if reads:
                break
            kept = [d.box for d in detections]
            extra = [d for d in search() if all(overlap(d.box, box) < 0.3 for box in kept)]
            if extra:
                detections = detections + extra
                reads = self._read_boxes(image, extra)
        # Weak boxes come last: a sure read of a sign in one must not stop the retries that
        # find a close-up plate, and a box a retry found is not read twice.
        for box, read in self._confirmed(image, weak) if weak else ():
            if all(overlap(box.box, d.box) < 0.3 for d in detections):
                detections = detections + [box]
                reads = reads + [read]
        return detections, sorted(reads, key=lambda r: -r.confidence)

    def _detect(self, image: Image.Image) -> tuple[list[Detection], list[Detection]]:
        """The detector's boxes above its threshold, and the weak ones below it that a sure
        read may still confirm (none unless `weak_box_score` is set)."""
        sure_from = self.detector.config.score_threshold
        weak_from = self.settings.weak_box_score
        if not 0 < weak_from < sure_from:
            return self.detector.detect(image, bgr=True), []
        found = self.detector.detect(image, bgr=True, threshold=weak_from)
        return [d for d in found if d.score >= sure_from], [d for d in found if d.score < sure_from]

    def _confirmed(self, image: Image.Image, weak: list[Detection]) -> list[tuple[Detection, Read]]:
        """The weak boxes whose read is sure enough."""
        reads = self._read_boxes_aligned(image, weak)
        sure = self.settings.weak_box_confidence
        return [(d, r) for d, r in zip(weak, reads, strict=True) if r and r.confidence >= sure]

    def _retries(self, image: Image.Image, close_up: bool, tiles: bool, moved=None):
        """Searches for a frame without a read, cheapest first: the frame (or its part that
        moved) drawn smaller (close-ups), then overlapping tiles at more detail (small plates
        in large frames)."""
        zoom, detail = self.settings.close_up_zoom, self.settings.tile_detail
        if close_up and 0 < zoom < 1:
            yield lambda: self.detector.detect(image, bgr=True, zoom=zoom, region=moved)
        if tiles and detail > 1:
            yield lambda: self.detector.detect_tiles(image, bgr=True, detail=detail)

    def _read_boxes(self, image: Image.Image, detections: list[Detection]) -> list[Read]:
        return [r for r in self._read_boxes_aligned(image, detections) if r is not None]

    def _read_boxes_aligned(self, image: Image.Image, detections: list[Detection]):
        """One read or None per box, second looks included."""
        texts = self.reader.read(image, [d.box for d in detections], bgr=True)
        reads = [self._to_read(d.box, t) for d, t in zip(detections, texts, strict=True)]
        if self.settings.second_look:
            self._second_look(image, detections, texts, reads)
        return reads

    def _uncertain(self, text: PlateText, read: Read | None) -> bool:
        return read is not None and (
            not countries_matching(read.plate)
            or read.confidence < self.settings.second_look_below
            or text.touches_edge()
        )

    def _second_look(self, image, detections, texts, reads: list[Read | None]) -> None:
        """Replace uncertain reads, in place, by a re-read of a crop around their box that
        fits a country's layout and is surer (the read's box is then the re-read region)."""
        looks = [
            (index, _grown(detections[index].box, growth, image.size))
            for index, (text, read) in enumerate(zip(texts, reads, strict=True))
            if self._uncertain(text, read)
            for growth in SECOND_LOOKS
        ]
        if not looks:
            return
        again = self.reader.read(image, [box for _, box in looks], bgr=True)
        for (index, box), text in zip(looks, again, strict=True):
            candidate = self._to_read(box, text)
            if candidate is None or not countries_matching(candidate.plate):
                continue
            current = reads[index]
            assert current is not None  # only reads get a second look
            fits = bool(countries_matching(current.plate))
            if candidate.confidence > current.confidence or (
                not fits and candidate.confidence >= current.confidence
            ):
                reads[index] = candidate

    def read_frame(
        self,
        frame: Frame,
        close_up: bool = True,
        tiles: bool = True,
        moved: tuple[int, int, int, int] | None = None,
    ) -> list[Read]:
        """Reads in a captured frame, best first (`analyse` says what the flags skip)."""
        return self.analyse(frame.image, close_up, tiles, moved)[1]

    def _to_read(self, box, text: PlateText) -> Read | None:
        settings = self.settings
        plate = text.text
        if not settings.min_characters <= len(plate) <= 12:
            return None
        country = text.country if text.country_confidence >= settings.country_threshold else ""
        if country:
            plate = correct(plate, text.char_confidences, country, settings.correction_threshold)
        if country and country not in countries_matching(plate):
            country = ""
        confidence = float(np.prod(text.char_confidences))
        if confidence < settings.min_confidence:
            return None
        x0, y0, x1, y1 = box
        pixels = (int(x0), int(y0), max(1, round(x1 - x0)), max(1, round(y1 - y0)))
        return Read(plate, confidence, text.char_confidences, pixels, country)


class AnnotationError(ValueError):
    """A sidecar annotation line cannot be used; names file and line."""


def parse_annotations(path: Path) -> list[tuple[str, tuple[int, int, int, int], str]]:
    """Parse one annotation file into (image name, box, plate) tuples."""
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 6:
            raise AnnotationError(f"{path}:{number}: expected 6 tab-separated fields")
        name, *numbers, plate = parts
        try:
            x, y, w, h = (int(value) for value in numbers)
        except ValueError:
            raise AnnotationError(f"{path}:{number}: box values must be integers") from None
        plate = plate.strip().upper().replace("-", "").replace(" ", "")
        if not _PLATE.fullmatch(plate) or w < 1 or h < 1 or x < 0 or y < 0:
            raise AnnotationError(f"{path}:{number}: bad plate {plate!r} or box")
        entries.append((name, (x, y, w, h), plate))
    return entries


class AnnotationRecognizer:
    detector_version = "annotations-1"
    reader_version = "annotations-1"

    def __init__(self, country: str = "") -> None:
        self.country = country
        self.missing = 0

    def read_image(self, bgr: np.ndarray, origin: Path | None = None) -> list[Read]:
        if origin is None:
            return []
        sidecar = origin.with_suffix(".txt")
        if not sidecar.exists():
            self.missing += 1
            return []
        height, width = bgr.shape[:2]
        reads = []
        for name, box, plate in parse_annotations(sidecar):
            if name != origin.name:
                continue
            x, y, w, h = box
            if x + w > width or y + h > height:
                raise AnnotationError(
                    f"{sidecar}: box {box} lies outside the {width}x{height} image"
                )
            reads.append(Read(plate, 1.0, (1.0,) * len(plate), box, self.country))
        return reads

    def read_frame(self, frame: Frame) -> list[Read]:
        return self.read_image(frame.image, frame.origin)
