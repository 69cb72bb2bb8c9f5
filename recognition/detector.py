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

from recognition.model_config import DetectorConfig, load_detector_config
from recognition.onnx_runtime import open_model_session


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
    return draw(rgb, scale, (width, height)), scale


def draw(rgb: Image.Image, scale: float, canvas_size: tuple[int, int]) -> Image.Image:
    """The image scaled by `scale` at the top left of a grey canvas of `canvas_size`."""
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    canvas = Image.new("RGB", canvas_size, (114, 114, 114))
    canvas.paste(rgb.resize(size, Image.BILINEAR), (0, 0))
    return canvas


def canvas_size(
    config: DetectorConfig, width: int, height: int, upright: bool = True
) -> tuple[int, int]:
    """The input canvas (width, height) for a frame of this shape: the configured landscape
    canvas, turned upright for a portrait frame when `upright` (a free-shape model file)."""
    long, short = config.input_width, config.input_height
    if upright and height > width:
        return short, long
    return long, short


# A zoomed-out frame, or a part of one, fills only part of the input canvas; a model with free
# height and width is given a canvas just large enough to hold it, with this much grey beyond
# its right and bottom edges (as at full size, where the pad is grey too) and sides that are
# multiples of ALIGN (the network halves its input four times over and merges the scales).
ZOOM_MARGIN = 32
ALIGN = 32


def fitted_canvas(drawn: tuple[float, float], full: tuple[int, int]) -> tuple[int, int]:
    """The smallest canvas, no larger than `full`, for a picture drawn `drawn` pixels large:
    a 1280x720 frame at zoom 0.5 on a third of the pixels of the full 640x384 canvas."""

    def side(length: float, limit: int) -> int:
        return min(limit, math.ceil((length + ZOOM_MARGIN) / ALIGN) * ALIGN)

    return side(drawn[0], full[0]), side(drawn[1], full[1])


def box_intersection(a, b) -> float:
    """Area shared by two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy


def overlap(a, b) -> float:
    inter = box_intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class PlateDetector:
    def __init__(self, config: DetectorConfig, threads: int = 1, providers=None) -> None:
        self.config = config
        self.session = open_model_session(config, threads, providers)
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        # A model exported with free height and width (the network is fully convolutional)
        # takes a portrait frame on a portrait canvas: a 1080x1920 phone photo is drawn at a
        # third of its size instead of a fifth. Older files fix the landscape shape.
        self.turns_canvas = not all(isinstance(d, int) for d in model_input.shape[2:])

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        """The input canvas for a frame of this shape, as this model file allows."""
        return canvas_size(self.config, width, height, self.turns_canvas)

    @classmethod
    def default(cls, threads: int = 1, providers=None) -> PlateDetector:
        return cls(load_detector_config(), threads, providers)

    def detect(
        self,
        image: Image.Image,
        threshold: float | None = None,
        bgr: bool = False,
        zoom: float = 1.0,
        region: tuple[int, int, int, int] | None = None,
    ) -> list[Detection]:
        """Plate boxes in `image`'s pixels, best first.

        `bgr=True` says the image's channels are B, G, R (a camera frame wrapped without a
        copy): they are swapped after the downscale, where it costs a tenth as much.
        `region` (x0, y0, x1, y1) searches only that part of the image, drawn at the scale
        the whole image would be drawn at, so plates have the sizes they would have there:
        the close-up search looks only where something moved.
        """
        config = self.config
        width, height = self.canvas_size(image.width, image.height)
        scale = min(width / image.width, height / image.height) * zoom
        left, top = 0, 0
        source = image
        if region is not None:
            left, top = max(0, region[0]), max(0, region[1])
            right, bottom = min(image.width, region[2]), min(image.height, region[3])
            if right - left < 8 or bottom - top < 8:
                return []
            source = image.crop((left, top, right, bottom))
        drawn_on = (width, height)
        if (zoom < 1 or region is not None) and self.turns_canvas:
            drawn_on = fitted_canvas((source.width * scale, source.height * scale), drawn_on)
        canvas = draw(source, scale, drawn_on)
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
            cx = (int(ix) + float(dx[iy, ix])) * config.stride / scale + left
            cy = (int(iy) + float(dy[iy, ix])) * config.stride / scale + top
            if not (left <= cx <= left + source.width and top <= cy <= top + source.height):
                continue  # centred on the grey padding, not on the picture
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

    def detect_tiles(
        self, image: Image.Image, bgr: bool = False, detail: float = 2.0, below: float = 0.3
    ) -> list[Detection]:
        """Plate boxes found in overlapping tiles seen at `detail` times the whole frame's
        scale (never above the image's own pixels), best first.

        A frame much larger than the input (a 4K camera, a phone photo) shrinks its plates
        below what the detector finds: a 4000 px wide frame draws a 250 px plate 40 px wide.
        Tiles show them at twice that. Only frames a landscape canvas draws at under `below`
        of their size are tiled (wider than about 2,100 px, or taller than about 1,280 px: a
        portrait phone photo), so 1280x720 and 1920x1080 cameras never pay for it. Boxes that
        a neighbouring tile saw whole are kept once.
        """
        config = self.config
        # Large or not is judged on the landscape canvas a camera frame is drawn on, so a
        # 1080x1920 phone photo is tiled and a 1920x1080 camera frame is not.
        as_camera = min(config.input_width / image.width, config.input_height / image.height)
        canvas_w, canvas_h = self.canvas_size(image.width, image.height)
        scale = min(canvas_w / image.width, canvas_h / image.height)
        tile_scale = min(1.0, scale * detail)
        if as_camera > below or tile_scale <= scale * 1.2:
            return []  # a frame of camera size, or one already seen at nearly full detail
        tile_w = min(image.width, round(canvas_w / tile_scale))
        tile_h = min(image.height, round(canvas_h / tile_scale))
        seen: list[tuple[bool, Detection]] = []
        for left in _tile_starts(image.width, tile_w):
            for top in _tile_starts(image.height, tile_h):
                tile = image.crop((left, top, left + tile_w, top + tile_h))
                for d in self.detect(tile, bgr=bgr):
                    x0, y0, x1, y1 = d.box
                    whole = 2 < x0 and x1 < tile_w - 2  # not cut by the tile's left/right side
                    box = (x0 + left, y0 + top, x1 + left, y1 + top)
                    seen.append((whole, Detection(box, d.score)))
        seen.sort(key=lambda item: (not item[0], -item[1].score))  # whole boxes first
        kept: list[Detection] = []
        for _, d in seen:
            if all(overlap(d.box, k.box) < 0.3 and not _inside(d.box, k.box) for k in kept):
                kept.append(d)
        return sorted(kept, key=lambda d: -d.score)


def _tile_starts(length: int, tile: int) -> list[int]:
    """Tile origins along one side, overlapping by at least a quarter tile."""
    if tile >= length:
        return [0]
    count = math.ceil((length - tile) / (tile * 0.75)) + 1
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def _inside(a, b, share: float = 0.6) -> bool:
    """Most of box `a` lies inside box `b` (a plate's half seen at a tile's edge)."""
    area = (a[2] - a[0]) * (a[3] - a[1])
    return area > 0 and box_intersection(a, b) / area >= share
