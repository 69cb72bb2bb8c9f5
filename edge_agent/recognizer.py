"""Plate recognition behind one small interface.

The agent's pipeline needs only a `FrameReader`: something that turns a frame into reads,
best first, and names the model versions that made them. Implementations are injected, so
the pipeline can be tested with ground truth and run with the ONNX models alike.

`Recognizer` is the product: the shipped ONNX plate detector and plate reader
(`models/plate_detector.onnx`, `models/plate_reader.onnx`) run with onnxruntime, plus the
plate-format rules of `models.plate_formats`, which may swap a low-confidence character for
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

from edge_agent.capture import Frame
from edge_agent.detector import Detection, PlateDetector
from edge_agent.reader import PlateReader, PlateText
from models.plate_formats import correct, countries_matching

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

    def analyse(self, bgr: np.ndarray) -> tuple[list[Detection], list[Read]]:
        """The detector's boxes and the reads made from them (evaluations need both)."""
        if not isinstance(bgr, np.ndarray) or bgr.dtype != np.uint8 or bgr.ndim != 3:
            raise ImageError("expected a numpy uint8 array of shape H x W x 3 (BGR)")
        if bgr.shape[2] != 3 or bgr.shape[0] < 8 or bgr.shape[1] < 8:
            raise ImageError(f"expected H x W x 3 with H, W >= 8, got shape {bgr.shape}")
        image = Image.fromarray(np.ascontiguousarray(bgr))  # channels stay B, G, R
        detections = self.detector.detect(image, bgr=True)
        texts = self.reader.read(image, [d.box for d in detections], bgr=True)
        reads = []
        for detection, text in zip(detections, texts, strict=True):
            read = self._to_read(detection.box, text)
            if read is not None:
                reads.append(read)
        return detections, sorted(reads, key=lambda r: -r.confidence)

    def read_frame(self, frame: Frame) -> list[Read]:
        return self.read_image(frame.image)

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
