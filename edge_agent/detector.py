"""The plate detector at inference: frame in, plate boxes out.

Pre-processing (`letterbox`, which training calls too): scale to fit the
input, pad right and bottom with grey, RGB in 0-1. The ONNX output already marks local
peaks of the centre score, so decoding is a threshold plus a small overlap suppression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from edge_agent.onnx_runtime import open_model_session
from models.config import DetectorConfig, load_detector_config


@dataclass(frozen=True)
class Detection:
    """A plate box in image pixels (x0, y0, x1, y1) and the detector's score."""

    box: tuple[float, float, float, float]
    score: float


def letterbox(
    rgb: Image.Image, width: int, height: int, zoom: float = 1.0
) -> tuple[Image.Image, float]:
    """Scale to fit (keeping aspect), pad right and bottom with grey; returns the scale.

    `zoom` < 1 draws the image smaller than the input (a zoomed-out second look for plates
    too large for the detector at full size)."""
    scale = min(width / rgb.width, height / rgb.height) * zoom
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    canvas = Image.new("RGB", (width, height), (114, 114, 114))
    canvas.paste(rgb.resize(size, Image.BILINEAR), (0, 0))
    return canvas, scale


def overlap(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class PlateDetector:
    def __init__(self, config: DetectorConfig, threads: int = 1, providers=None) -> None:
        self.config = config
        self.session = open_model_session(config, threads, providers)
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def default(cls, threads: int = 1, providers=None) -> PlateDetector:
        return cls(load_detector_config(), threads, providers)

    def detect(
        self,
        image: Image.Image,
        threshold: float | None = None,
        bgr: bool = False,
        zoom: float = 1.0,
    ) -> list[Detection]:
        """Plate boxes in `image`'s pixels, best first.

        `bgr=True` says the image's channels are B, G, R (a camera frame wrapped without a
        copy): they are swapped after the downscale, where it costs a tenth as much.
        """
        config = self.config
        canvas, scale = letterbox(image, config.input_width, config.input_height, zoom)
        planes = np.asarray(canvas).transpose(2, 0, 1)  # uint8 work is 4x cheaper than float
        if bgr:
            planes = planes[::-1]
        tensor = np.ascontiguousarray(planes).astype(np.float32)[None]
        if config.colour_mode == "gray":
            tensor = tensor.mean(axis=1, keepdims=True)
        tensor *= 1.0 / 255.0
        (maps,) = self.session.run(None, {self.input_name: tensor})
        limit = config.score_threshold if threshold is None else threshold
        peaks, log_w, log_h, dx, dy = maps[0]
        found: list[Detection] = []
        order = sorted(zip(*np.nonzero(peaks >= limit), strict=True), key=lambda p: -peaks[p])
        for iy, ix in order:
            w = math.exp(float(log_w[iy, ix])) * config.box_scale / scale
            h = math.exp(float(log_h[iy, ix])) * config.box_scale / scale
            cx = (int(ix) + float(dx[iy, ix])) * config.stride / scale
            cy = (int(iy) + float(dy[iy, ix])) * config.stride / scale
            box = (
                max(0.0, cx - w / 2),
                max(0.0, cy - h / 2),
                min(float(image.width), cx + w / 2),
                min(float(image.height), cy + h / 2),
            )
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            if all(overlap(box, kept.box) < 0.3 for kept in found):
                found.append(Detection(box, float(peaks[iy, ix])))
        return found
