"""RapidOCR (PP-OCR models shipped inside the `rapidocr-onnxruntime` wheel) as peer and teacher.

It is never the product's reader: evaluations run it beside ours (`anpr-eval --peer rapidocr`,
`make bench-models`) and training may use it to label unlabelled real plate crops. It is an
optional dependency (`pip install -e '.[bench]'`), imported only when asked for.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from recognition.plate_formats import countries_matching

log = logging.getLogger(__name__)
_NOT_PLATE = re.compile(r"[^A-Z0-9]")


class PeerUnavailableError(RuntimeError):
    """RapidOCR is not installed."""


def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise PeerUnavailableError(
            "rapidocr-onnxruntime is not installed: pip install -e '.[bench]'"
        ) from None
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    return RapidOCR()


def clean(text: str) -> str:
    """Upper-case letters and digits only: separators, EU band letters' spaces go."""
    return _NOT_PLATE.sub("", text.upper())


class RapidOcrPeer:
    """Whole-image reads: every text line RapidOCR finds that looks like a plate."""

    name = "rapidocr"

    def __init__(self) -> None:
        self.engine = _engine()

    def lines(self, bgr: np.ndarray) -> list[tuple[tuple[int, int, int, int], str, float]]:
        """Text lines as (box x, y, w, h; cleaned text; score)."""
        result, _ = self.engine(bgr)
        out = []
        for points, text, score in result or []:
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            box = (int(min(xs)), int(min(ys)), int(max(xs) - min(xs)), int(max(ys) - min(ys)))
            out.append((box, clean(text), float(score)))
        return out

    def read_image(self, bgr: np.ndarray) -> list[tuple[tuple[int, int, int, int], str, float]]:
        """Plate-like lines (4-10 characters, letters and digits mixed), best first."""
        plates = []
        for box, text, score in self.lines(bgr):
            if 4 <= len(text) <= 10 and re.search(r"\d", text) and re.search(r"[A-Z]", text):
                plates.append((box, text, score))
            elif 4 <= len(text) <= 10 and countries_matching(text):
                plates.append((box, text, score))
        return sorted(plates, key=lambda p: -p[2])

    def read_line(self, bgr: np.ndarray) -> tuple[str, float]:
        """One tight one-line plate crop -> its cleaned text and score (recogniser only)."""
        result, _ = self.engine(bgr, use_det=False, use_cls=False, use_rec=True)
        if not result:
            return "", 0.0
        text, score = result[0]
        return clean(text), float(score)
