"""Figures read from the camera's live view during commissioning (#22), and the aim snapshot.

Pure functions of one frame (BGR uint8) and the plate boxes read in it:
- focus: the variance of the Laplacian, on the plates where there are any (the part that
  has to be sharp; a frame's figure depends on the scene), else on the whole frame;
- exposure: the mean grey level, the shares of crushed shadows and blown highlights, and
  whether the frame is monochrome (a camera on infrared light at night);
- plate tilt: the angle of the longest straight edge around a plate box (its border or the
  line of its characters), from a Hough transform;
- the aim snapshot: the view scaled down, privacy masks burnt in, cabins and every plate
  found blurred beyond reading, as a small JPEG for the maintainer.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageFilter

from edge_agent.privacy import Polygon, blur_cabins, burn_masks

Box = tuple[int, int, int, int]
SHADOW_LEVEL = 8  # grey levels at or below: crushed shadows
HIGHLIGHT_LEVEL = 247  # at or above: blown highlights
# Mean |B-G|, |G-R| below this share of the mean grey (and at least 0.8 levels, JPEG's own
# colour noise): an infrared (night) picture. A dark colour picture keeps its colour share.
MONOCHROME_SHARE = 0.03
SNAPSHOT_WIDTH = 320
SNAPSHOT_QUALITY = 60


def grey(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def _inside(box: Box, shape) -> Box | None:
    x, y, w, h = box
    height, width = shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    return (x0, y0, x1 - x0, y1 - y0) if x1 - x0 >= 8 and y1 - y0 >= 4 else None


def sharpness(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def plate_focus(gray: np.ndarray, boxes: Sequence[Box]) -> list[float]:
    """The Laplacian variance of each plate box (the plates are what must be sharp)."""
    found = []
    for box in boxes:
        inside = _inside(box, gray.shape)
        if inside is not None:
            x, y, w, h = inside
            found.append(sharpness(gray[y : y + h, x : x + w]))
    return found


@dataclass(frozen=True)
class Exposure:
    mean: float
    shadows: float  # share of pixels at or below SHADOW_LEVEL
    highlights: float  # share at or above HIGHLIGHT_LEVEL
    monochrome: bool


def exposure(bgr: np.ndarray) -> Exposure:
    small = cv2.resize(bgr, (160, max(1, 160 * bgr.shape[0] // bgr.shape[1])),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    gray = grey(small)
    channels = small.astype(np.int16)
    spread = float(np.abs(channels[..., 0] - channels[..., 1]).mean()
                   + np.abs(channels[..., 1] - channels[..., 2]).mean()) / 2  # fmt: skip
    return Exposure(
        mean=float(gray.mean()),
        shadows=float((gray <= SHADOW_LEVEL).mean()),
        highlights=float((gray >= HIGHLIGHT_LEVEL).mean()),
        monochrome=spread < max(0.8, MONOCHROME_SHARE * float(gray.mean())),
    )


def plate_tilt(gray: np.ndarray, box: Box) -> float | None:
    """Degrees the plate's long edge leans (positive: its right end higher), or None when
    no straight edge of at least a third of the plate's width is found."""
    x, y, w, h = box
    height, width = gray.shape[:2]
    crop = gray[max(0, y - h // 2) : min(height, y + h + h // 2),
                max(0, x - w // 8) : min(width, x + w + w // 8)]  # fmt: skip
    if crop.size == 0 or w < 12:
        return None
    edges = cv2.Canny(crop, 50, 150)
    lines = cv2.HoughLinesP(edges, 1, math.pi / 360, threshold=max(10, w // 4),
                            minLineLength=max(8, w // 3), maxLineGap=5)  # fmt: skip
    if lines is None or len(lines) == 0:  # OpenCV 5.1 answers an empty array, 5.0 None
        return None
    x0, y0, x1, y1 = max(lines.reshape(-1, 4), key=lambda s: math.hypot(s[2] - s[0], s[3] - s[1]))
    angle = math.degrees(math.atan2(-(int(y1) - int(y0)), int(x1) - int(x0)))
    if angle > 90:
        angle -= 180
    elif angle <= -90:
        angle += 180
    return angle


def aim_snapshot(
    bgr: np.ndarray, masks: Sequence[Polygon], boxes: Sequence[Box], width: int = SNAPSHOT_WIDTH
) -> bytes:
    """The view for the maintainer: masks burnt in (before the blurs, so that nothing masked
    is smeared out, and after), cabins and plates blurred, scaled down."""
    hidden = blur_cabins(burn_masks(bgr, masks), list(boxes))
    image = Image.fromarray(cv2.cvtColor(hidden, cv2.COLOR_BGR2RGB))
    for box in boxes:
        inside = _inside(box, bgr.shape)
        if inside is None:
            continue
        x, y, w, h = inside
        grow = max(4, h // 2)
        region = (max(0, x - grow), max(0, y - grow),
                  min(image.width, x + w + grow), min(image.height, y + h + grow))  # fmt: skip
        patch = image.crop(region).filter(ImageFilter.GaussianBlur(max(6, h)))
        image.paste(patch, region[:2])
    # Masks again: the blurs must not smear the unmasked view into a masked place.
    image = Image.fromarray(burn_masks(np.asarray(image), masks))
    height = max(1, round(image.height * width / image.width))
    image = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=SNAPSHOT_QUALITY)
    return out.getvalue()
