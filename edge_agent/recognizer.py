"""Plate recognition behind one small interface.

The agent's pipeline needs only a `FrameReader`: something that turns a frame into reads,
best first, and names the model versions that made them. Implementations are injected, so
the pipeline can be tested with ground truth and run with the ONNX models alike.

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

from edge_agent.capture import Frame

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
