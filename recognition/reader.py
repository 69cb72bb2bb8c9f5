"""The plate reader at inference: plate crops in, characters with confidences out.

Crops are cut as training cut them (`crop_region`, the config's padding around the
detector's box), resized to the model's input and read in one batch. The model scores each
column of the crop (CTC); the best path, with repeats merged and blanks dropped, is the
plate, and each character's confidence is its best column's probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from recognition.model_config import ModelConfigError, ReaderConfig, load_reader_config
from recognition.onnx_runtime import open_model_session


@dataclass(frozen=True)
class PlateText:
    """One crop's reading before plate-format rules: text, per-character and country scores."""

    text: str
    char_confidences: tuple[float, ...]
    country: str
    country_confidence: float
    # the first and last output column that holds a character, and the number of columns:
    # a plate whose characters run into the crop's edge columns may be cut by its box
    columns: tuple[int, int, int] = (0, 0, 0)

    def touches_edge(self, margin: int = 1) -> bool:
        first, last, count = self.columns
        return bool(self.text) and (first <= margin or last >= count - 1 - margin)


def crop_region(
    box, pad_x: float, pad_y: float, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The region cut around a box (x0, y0, x1, y1), padded and clipped to the image."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    left = max(0, int(round(x0 - pad_x * w)))
    top = max(0, int(round(y0 - pad_y * h)))
    right = min(size[0], int(round(x1 + pad_x * w)))
    bottom = min(size[1], int(round(y1 + pad_y * h)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def ctc_best_path(probs: np.ndarray, alphabet: str) -> tuple[str, tuple[float, ...]]:
    """Greedy CTC decoding of one T x classes probability matrix (class 0 = blank)."""
    best = probs.argmax(-1)
    chars: list[str] = []
    confidences: list[float] = []
    previous = 0
    for t, index in enumerate(best):
        p = float(probs[t, index])
        if index != 0 and index == previous:
            confidences[-1] = max(confidences[-1], p)
        elif index != 0:
            chars.append(alphabet[index - 1])
            confidences.append(p)
        previous = index
    return "".join(chars), tuple(confidences)


class PlateReader:
    def __init__(self, config: ReaderConfig, threads: int = 1, providers=None) -> None:
        self.config = config
        self.session = open_model_session(config, threads, providers)
        classes = self.session.get_outputs()[0].shape[-1]
        if classes != len(config.alphabet) + 1:
            raise ModelConfigError(
                f"{config.onnx}: {classes} output classes, config alphabet needs "
                f"{len(config.alphabet) + 1}"
            )
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def default(cls, threads: int = 1, providers=None) -> PlateReader:
        return cls(load_reader_config(), threads, providers)

    def prepare(self, image: Image.Image, box, bgr: bool = False) -> np.ndarray:
        """One crop as the model's C x H x W float input (`bgr`: the image's channel order)."""
        config = self.config
        region = crop_region(box, config.crop_pad_x, config.crop_pad_y, image.size)
        size = (config.input_width, config.input_height)
        array = np.asarray(image.crop(region).resize(size, Image.BILINEAR), dtype=np.float32)
        if bgr:
            array = array[:, :, ::-1]
        if config.colour_mode == "gray":
            array = array.mean(axis=2, keepdims=True)
        return np.ascontiguousarray(array.transpose(2, 0, 1)) / 255.0

    def read(self, image: Image.Image, boxes, bgr: bool = False) -> list[PlateText]:
        """Read every box in `image` in one batch; results in the boxes' order."""
        if not boxes:
            return []
        batch = np.stack([self.prepare(image, box, bgr) for box in boxes])
        characters, countries = self.session.run(None, {self.input_name: batch})
        out = []
        for probs, country in zip(characters, countries, strict=True):
            text, confidences = ctc_best_path(probs, self.config.alphabet)
            best = int(country.argmax())
            marked = np.flatnonzero(probs.argmax(-1))
            columns = (int(marked[0]), int(marked[-1]), len(probs)) if len(marked) else (0, 0, 0)
            out.append(
                PlateText(
                    text, confidences, self.config.countries[best], float(country[best]), columns
                )
            )
        return out
