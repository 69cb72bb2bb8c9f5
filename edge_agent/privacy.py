"""Static privacy masks: non-public places (homes, gardens) are removed on the unit.

The law forbids recording non-public places. Each camera's masks are polygons in image
pixels, set at provisioning. They are burnt into every frame before anything is encoded,
stored or sent: the masked pixels are overwritten, not blurred, so nothing can be
recovered. A read whose plate lies inside a mask is dropped (and counted).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

Polygon = tuple[tuple[int, int], ...]


def burn_masks(bgr: np.ndarray, masks: Sequence[Polygon]) -> np.ndarray:
    """A copy of the frame with every mask polygon filled with black."""
    if not masks:
        return bgr
    height, width = bgr.shape[:2]
    stencil = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(stencil)
    for polygon in masks:
        draw.polygon(list(polygon), fill=255)
    hidden = np.asarray(stencil, dtype=bool)
    masked = bgr.copy()
    masked[hidden] = 0
    return masked


def point_in_polygon(x: float, y: float, polygon: Polygon) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def box_is_masked(box: tuple[int, int, int, int], masks: Sequence[Polygon]) -> bool:
    """Does the centre of a plate box lie in a non-public place?"""
    x, y, w, h = box
    return any(point_in_polygon(x + w / 2, y + h / 2, polygon) for polygon in masks)


def preview(still: Image.Image, masks: Sequence[Polygon]) -> Image.Image:
    """The still frame with the masks drawn in translucent red, for the technician to check."""
    base = still.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for polygon in masks:
        draw.polygon(list(polygon), fill=(220, 0, 0, 110), outline=(255, 0, 0, 255), width=3)
    return Image.alpha_composite(base, overlay).convert("RGB")


def cabin_region(
    box: tuple[int, int, int, int], width: int, height: int
) -> tuple[int, int, int, int]:
    """Where the cabin of the car carrying this plate is: above the plate, wider than it.

    A geometric estimate from the plate alone (a car is about 4 plate widths wide and its
    windscreen starts about 2 to 7 plate heights above the plate); no person detector.
    """
    x, y, w, h = box
    left = max(0, x - int(1.5 * w))
    right = min(width, x + w + int(1.5 * w))
    top = max(0, y - 9 * h)
    bottom = max(0, y - h)
    return left, top, right, bottom


def blur_cabins(bgr: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
    """A copy with each cabin region strongly blurred; the plate itself stays sharp."""
    if not boxes:
        return bgr
    from PIL import ImageFilter

    height, width = bgr.shape[:2]
    image = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
    for box in boxes:
        left, top, right, bottom = cabin_region(box, width, height)
        if right - left < 2 or bottom - top < 2:
            continue
        region = image.crop((left, top, right, bottom)).filter(ImageFilter.GaussianBlur(25))
        image.paste(region, (left, top))
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
