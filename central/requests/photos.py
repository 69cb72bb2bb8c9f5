"""Overview photos for a request: blurred by default, approved by the officer, never raw.

The automatic method ships with the project and needs no model: from the plate's box in
the signed record it estimates the vehicle's outline (a car is about 3.5 plate widths
wide and its roof about 3 plate widths above the plate) and blurs everything outside it
(pavement, cyclists, pedestrians, other cars' occupants) and the windscreen and side
windows inside it (driver and passengers). What stays sharp is the vehicle's body, which
is what an overview photo is for. The officer adds or widens boxes where the estimate
falls short; the approved version is stored, and the original is never handed out.
Without a plate box the whole photo is blurred.
"""

from __future__ import annotations

import io
import json
import sqlite3
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageFilter

from wire.fields import format_timestamp

MIGRATIONS = [
    (
        "0003_photos",
        """
        CREATE TABLE photos (
            request_id   INTEGER NOT NULL REFERENCES requests (id),
            camera_id    TEXT NOT NULL,
            seq          INTEGER NOT NULL,
            boxes        TEXT NOT NULL,
            approved_by  TEXT NOT NULL,
            approved_at  TEXT NOT NULL,
            jpeg         BLOB NOT NULL,
            PRIMARY KEY (request_id, camera_id, seq)
        ) WITHOUT ROWID
        """,
    ),
    (
        # Which rendering of a photo (its officer boxes) was sent to which officer: a photo is
        # approved only in a version the officer was shown, one by one or in bulk (#23).
        "0006_photos_shown",
        """
        CREATE TABLE photos_shown (
            request_id  INTEGER NOT NULL,
            camera_id   TEXT NOT NULL,
            seq         INTEGER NOT NULL,
            username    TEXT NOT NULL,
            boxes       TEXT NOT NULL,
            shown_at    TEXT NOT NULL,
            PRIMARY KEY (request_id, camera_id, seq, username, boxes)
        ) WITHOUT ROWID
        """,
    ),
]
BLUR_RADIUS_SHARE = 0.04  # of the image's width: faces and text become unreadable
PIXEL_BLOCK = 12


# No camera of ours takes more than 8K (33 MP); a larger header is a decompression bomb.
MAX_PIXELS = 40_000_000
MAX_SIDE = 20_000


class PhotoError(Exception):
    """A photo cannot be shown or approved as asked."""


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    def clipped(self, width: int, height: int) -> Box | None:
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        return Box(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


def parse_boxes(text: str) -> list[Box]:
    """Officer boxes as 'x,y,w,h' separated by ';' or new lines."""
    boxes = []
    for part in text.replace("\n", ";").split(";"):
        if not part.strip():
            continue
        try:
            x, y, w, h = (int(float(v)) for v in part.split(","))
        except (ValueError, OverflowError):  # OverflowError: "inf", "1e400"
            raise PhotoError(f"blur box {part.strip()!r}: write x,y,width,height") from None
        if max(abs(x), abs(y), w, h) > MAX_SIDE:
            raise PhotoError(f"blur box {part.strip()!r} lies outside any photo")
        if w <= 0 or h <= 0:
            raise PhotoError(f"blur box {part.strip()!r} has no area")
        boxes.append(Box(x, y, w, h))
    return boxes


def vehicle_outline(plate_box: Sequence[int]) -> tuple[Box, Box]:
    """(the vehicle, its windows) estimated from the plate's box, in image pixels."""
    x, y, w, h = plate_box
    centre = x + w / 2
    vehicle = Box(round(centre - 1.9 * w), round(y - 3.2 * w), round(3.8 * w), round(4.2 * w + h))
    windows = Box(round(centre - 1.75 * w), round(y - 3.0 * w), round(3.5 * w), round(1.6 * w))
    return vehicle, windows


def _blurred(image: Image.Image) -> Image.Image:
    """Pixelate, then blur: irreversible, and unreadable for faces and text."""
    small = image.resize(
        (max(1, image.width // PIXEL_BLOCK), max(1, image.height // PIXEL_BLOCK)),
        Image.Resampling.BILINEAR,
    )
    coarse = small.resize(image.size, Image.Resampling.NEAREST)
    return coarse.filter(ImageFilter.GaussianBlur(max(2, image.width * BLUR_RADIUS_SHARE / 4)))


def _decoded(overview_jpeg: bytes) -> Image.Image:
    """The unit's overview as pixels. A unit signs what it sends but may be hostile or
    broken: a truncated file, a non-image, or a header claiming billions of pixels is a
    PhotoError (400 to the officer), never a crash or a memory bomb."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(overview_jpeg)) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise PhotoError(
                        f"the overview claims {opened.width}x{opened.height} pixels: not a photo "
                        "a camera takes"
                    )
                return opened.convert("RGB")
    except (
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise PhotoError(f"the overview photo cannot be read: {exc}") from None


def render(overview_jpeg: bytes, plate_box: Sequence[int] | None, extra: Sequence[Box]) -> bytes:
    """The photo as it may leave the system: automatic blur plus the officer's boxes."""
    image = _decoded(overview_jpeg)
    blurred = _blurred(image)
    result = blurred.copy()
    boxes = list(extra)
    if plate_box is not None:
        vehicle, windows = vehicle_outline(plate_box)
        keep = vehicle.clipped(image.width, image.height)
        if keep is not None:
            area = (keep.x, keep.y, keep.x + keep.w, keep.y + keep.h)
            result.paste(image.crop(area), area[:2])
        boxes.append(windows)
    for box in boxes:
        _paste_blur(result, blurred, box)
    out = io.BytesIO()
    result.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _paste_blur(target: Image.Image, blurred: Image.Image, box: Box) -> None:
    inside = box.clipped(target.width, target.height)
    if inside is not None:
        area = (inside.x, inside.y, inside.x + inside.w, inside.y + inside.h)
        target.paste(blurred.crop(area), area[:2])


class Photos:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def approve(
        self, request_id: int, camera_id: str, seq: int, boxes: Sequence[Box], jpeg: bytes,
        by: str, now: datetime,
    ) -> None:  # fmt: skip
        self.db.execute(
            "INSERT INTO photos VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (request_id, camera_id, seq) DO UPDATE SET boxes = excluded.boxes, "
            "approved_by = excluded.approved_by, approved_at = excluded.approved_at, "
            "jpeg = excluded.jpeg",
            (request_id, camera_id, seq, json.dumps([b.as_list() for b in boxes]), by,
             format_timestamp(now), jpeg),
        )  # fmt: skip

    def shown(
        self, request_id: int, camera_id: str, seq: int, boxes: Sequence[Box], username: str,
        now: datetime,
    ) -> None:  # fmt: skip
        """The photo, blurred with `boxes`, was sent to `username`'s screen."""
        self.db.execute(
            "INSERT OR IGNORE INTO photos_shown VALUES (?, ?, ?, ?, ?, ?)",
            (request_id, camera_id, seq, username, _box_key(boxes), format_timestamp(now)),
        )

    def was_shown(
        self, request_id: int, camera_id: str, seq: int, boxes: Sequence[Box], username: str
    ) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM photos_shown WHERE request_id = ? AND camera_id = ? AND seq = ? "
                "AND username = ? AND boxes = ?",
                (request_id, camera_id, seq, username, _box_key(boxes)),
            ).fetchone()
            is not None
        )

    def approved(self, request_id: int) -> dict[tuple[str, int], dict]:
        rows = self.db.execute(
            "SELECT camera_id, seq, boxes, approved_by, approved_at FROM photos "
            "WHERE request_id = ?",
            (request_id,),
        )
        return {(r[0], r[1]): {"boxes": json.loads(r[2]), "by": r[3], "at": r[4]} for r in rows}

    def jpeg(self, request_id: int, camera_id: str, seq: int) -> bytes | None:
        row = self.db.execute(
            "SELECT jpeg FROM photos WHERE request_id = ? AND camera_id = ? AND seq = ?",
            (request_id, camera_id, seq),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def destroy_for_request(self, request_id: int) -> int:
        self.db.execute("DELETE FROM photos_shown WHERE request_id = ?", (request_id,))
        return self.db.execute("DELETE FROM photos WHERE request_id = ?", (request_id,)).rowcount


def _box_key(boxes: Sequence[Box]) -> str:
    return json.dumps([b.as_list() for b in boxes])
