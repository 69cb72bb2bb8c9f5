"""Seeded synthetic European plates: country styles, fonts, and the photographic damage.

`render_plate` draws a flat, frontal plate; `photograph` puts it in context and spoils it
the way a roadside camera does (perspective, blur, noise, light, dirt, IR, JPEG). Both take
a `random.Random` so a seed reproduces every sample.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from recognition.plate_formats import random_registration

FONT_FILES = (
    "/usr/share/fonts/truetype/opendin/OSP-DIN.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
)
EU_BLUE = (0, 51, 153)
YELLOW = (247, 200, 20)
WHITE = (235, 235, 230)
BLACK = (15, 15, 15)


@dataclass(frozen=True)
class Style:
    country: str
    band: str  # letters in the blue EU band; '' for none
    background: tuple[int, int, int]
    ink: tuple[int, int, int]
    weight: float  # how often this style is drawn


STYLES = (
    Style("NL", "NL", YELLOW, BLACK, 0.40),
    Style("NL", "", (20, 50, 140), WHITE, 0.02),  # old white-on-blue
    Style("NL", "NL", (120, 190, 230), BLACK, 0.02),  # taxi / bus light blue
    Style("NL", "NL", (40, 140, 70), WHITE, 0.01),  # green (moped-style variants)
    Style("NL", "NL", WHITE, BLACK, 0.02),  # white (diplomatic-style) variants
    Style("BE", "B", WHITE, (170, 20, 30), 0.08),
    Style("DE", "D", WHITE, BLACK, 0.10),
    Style("FR", "F", WHITE, BLACK, 0.06),
    Style("PL", "PL", WHITE, BLACK, 0.05),
    Style("ES", "E", WHITE, BLACK, 0.04),
    Style("CZ", "CZ", WHITE, BLACK, 0.03),
    Style("SK", "SK", WHITE, BLACK, 0.03),
    Style("IT", "I", WHITE, BLACK, 0.03),
    Style("LU", "L", YELLOW, BLACK, 0.02),
    Style("GB", "UK", YELLOW, BLACK, 0.03),
    Style("RO", "RO", WHITE, BLACK, 0.04),
    Style("AT", "A", WHITE, BLACK, 0.02),
)
COUNTRIES = ("",) + tuple(sorted({s.country for s in STYLES}))


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    if Path(path).exists():
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _text_mask(text: str, font_path: str, rng: random.Random) -> Image.Image:
    """The text as a tight 'L' mask, drawn large so it can be squeezed to any aspect."""
    font = _font(font_path, 64)
    box = font.getbbox(text)
    mask = Image.new("L", (box[2] - box[0] + 8, box[3] - box[1] + 8), 0)
    ImageDraw.Draw(mask).text((4 - box[0], 4 - box[1]), text, font=font, fill=255)
    if rng.random() < 0.3:
        mask = mask.filter(ImageFilter.MaxFilter(3))  # bolder strokes
    return mask


def render_plate(rng: random.Random) -> tuple[Image.Image, str, str]:
    """A flat plate: (RGB image, plate text without separators, country code)."""
    style = rng.choices(STYLES, weights=[s.weight for s in STYLES])[0]
    printed = random_registration(style.country, rng)
    if rng.random() < 0.3:
        printed = printed.replace("-", " ") if rng.random() < 0.5 else printed.replace(" ", "")
    width = rng.randint(240, 300)
    height = round(width * rng.uniform(0.19, 0.24))
    plate = Image.new("RGB", (width, height), _jitter(style.background, rng, 18))
    draw = ImageDraw.Draw(plate)
    band = round(width * rng.uniform(0.07, 0.09)) if style.band else 0
    if band:
        draw.rectangle([0, 0, band, height], fill=_jitter(EU_BLUE, rng, 20))
        small = _font(FONT_FILES[1], max(8, band // 2))
        draw.text((band / 2, height * 0.75), style.band, font=small, fill=WHITE, anchor="mm")
        if rng.random() < 0.7:
            draw.ellipse(
                [band * 0.25, height * 0.15, band * 0.75, height * 0.15 + band * 0.5],
                outline=(230, 200, 0),
                width=1,
            )
    right = width
    if style.country in ("FR", "IT") and rng.random() < 0.8:
        right = width - band
        draw.rectangle([right, 0, width, height], fill=_jitter(EU_BLUE, rng, 20))
    font_path = rng.choice(FONT_FILES)
    text = printed
    sticker_at = -1
    if style.country == "DE" and " " in printed:
        sticker_at = printed.index(" ") + 1  # centre of a three-space gap
        text = printed[: sticker_at - 1] + "   " + printed[sticker_at:]
    mask = _text_mask(text, font_path, rng)
    margin = rng.uniform(0.02, 0.06) * width
    area_w = right - band - 2 * margin
    text_h = height * rng.uniform(0.62, 0.8)
    text_w = min(area_w, mask.width * text_h / mask.height * rng.uniform(0.75, 1.25))
    mask = mask.resize((max(4, round(text_w)), max(4, round(text_h))), Image.LANCZOS)
    left = band + margin + (area_w - text_w) * rng.uniform(0.3, 0.7)
    top = (height - text_h) / 2 + rng.uniform(-0.05, 0.05) * height
    plate.paste(_jitter(style.ink, rng, 15), (round(left), round(top)), mask)
    if sticker_at > 0:
        x = left + text_w * (sticker_at + 0.5) / len(text)
        r = height * 0.13
        draw.ellipse([x - r, height * 0.3 - r, x + r, height * 0.3 + r], fill=(60, 120, 60))
        draw.ellipse([x - r, height * 0.7 - r, x + r, height * 0.7 + r], fill=(170, 150, 60))
    if style.country == "AT":
        draw.rectangle([0, 0, width, height * 0.06], fill=(200, 20, 30))
        draw.rectangle([0, height * 0.94, width, height], fill=(200, 20, 30))
    border = rng.randint(1, 4)
    draw.rectangle([0, 0, width - 1, height - 1], outline=_jitter(BLACK, rng, 30), width=border)
    plain = printed.replace("-", "").replace(" ", "")
    return plate, plain, style.country


def _jitter(colour: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, ...]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)


def random_background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A plausible car-body / bumper surround: a flat colour with a gradient and noise."""
    w, h = size
    base = np.array([rng.randint(10, 240) for _ in range(3)], dtype=np.float32)
    ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.2), h, dtype=np.float32)
    pixels = base[None, None, :] * ramp[:, None, None] * np.ones((h, w, 1), np.float32)
    pixels += np.random.default_rng(rng.getrandbits(32)).normal(0, 8, (h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def perspective_coefficients(src: list[tuple[float, float]], dst: list[tuple[float, float]]):
    """PIL's 8 coefficients that map output points `dst` back to input points `src`."""
    matrix = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.array(matrix, dtype=np.float64)
    b = np.array([c for point in src for c in point], dtype=np.float64)
    return np.linalg.solve(a, b).tolist()


def warp_corners(
    w: int, h: int, rng: random.Random, strength: float = 1.0
) -> list[tuple[float, float]]:
    """Corners of a w x h plate after a small random rotation, shear and perspective."""
    angle = np.radians(rng.gauss(0, 4) * strength)
    shear = rng.gauss(0, 0.12) * strength
    corners = np.array([(0, 0), (w, 0), (w, h), (0, h)], dtype=np.float64) - (w / 2, h / 2)
    corners[:, 0] += shear * corners[:, 1]
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = corners @ rotation.T
    squash = rng.gauss(0, 0.06) * strength  # one side further away than the other
    corners[:, 1] *= 1 + squash * np.sign(corners[:, 0])
    corners += rng.gauss(0, 0.01 * w) * strength
    return [tuple(c) for c in corners]


def degrade(image: Image.Image, rng: random.Random) -> Image.Image:
    """Camera damage on a finished crop or scene: light, blur, noise, IR, JPEG."""
    if rng.random() < 0.5:
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.45, 1.4))
    if rng.random() < 0.5:
        image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.5, 1.3))
    if rng.random() < 0.15:
        gray = image.convert("L")
        image = Image.merge("RGB", (gray, gray, gray))  # night IR camera
    if rng.random() < 0.6:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.1)))
    if rng.random() < 0.1:
        small = (
            max(8, image.width // rng.randint(2, 4)),
            max(8, image.height // rng.randint(2, 4)),
        )
        image = image.resize(small, Image.BILINEAR).resize(image.size, Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32)
    noise_rng = np.random.default_rng(rng.getrandbits(32))
    if rng.random() < 0.6:
        pixels = pixels + noise_rng.normal(0, rng.uniform(2, 12), pixels.shape)
    if rng.random() < 0.3:  # a shadow or glare across the crop
        h, w = pixels.shape[:2]
        ramp = np.linspace(rng.uniform(0.5, 1.3), rng.uniform(0.5, 1.3), w, dtype=np.float32)
        pixels = pixels * ramp[None, :, None]
    if rng.random() < 0.15:  # dirt specks
        h, w = pixels.shape[:2]
        for _ in range(rng.randint(3, 25)):
            y, x = rng.randrange(h), rng.randrange(w)
            r = rng.randint(1, max(1, h // 12))
            pixels[max(0, y - r) : y + r, max(0, x - r) : x + r] *= rng.uniform(0.3, 0.8)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=rng.randint(20, 85))
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return image


def turned(
    corners: list[tuple[float, float]], yaw: float, distance: float
) -> list[tuple[float, float]]:
    """Centred plate corners turned by `yaw` radians about the plate's vertical axis, seen
    from `distance` plate widths: narrower by cos(yaw), the near side taller than the far.

    Phone photos of parked cars and cameras beside a lane see plates at 30-60 degrees; the
    small warps of `warp_corners` never draw them that narrow."""
    width = max(c[0] for c in corners) - min(c[0] for c in corners)
    taper = 0.5 * math.sin(yaw) / distance
    out = []
    for x, y in corners:
        side = x / (width / 2) if width else 0.0  # -1 at the left edge, +1 at the right
        out.append((x * math.cos(yaw), y * (1 + taper * side)))
    return out


def place_plate(
    plate: Image.Image,
    background: Image.Image,
    rng: random.Random,
    width: float,
    centre,
    yaw: float = 0.0,
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """Warp a flat plate into `background` at `centre`, `width` pixels wide before any
    `yaw` (radians, see `turned`).

    Returns the composed image and the plate's axis-aligned box (x0, y0, x1, y1).
    """
    scale = width / plate.width
    w, h = plate.width * scale, plate.height * scale
    corners = warp_corners(w, h, rng)
    if yaw:
        corners = turned(corners, yaw, rng.uniform(1.5, 5.0))
    corners = [(cx + centre[0], cy + centre[1]) for cx, cy in corners]
    src = [(0, 0), (plate.width, 0), (plate.width, plate.height), (0, plate.height)]
    coefficients = perspective_coefficients(src, corners)
    size = background.size
    warped = plate.transform(size, Image.PERSPECTIVE, coefficients, Image.BILINEAR)
    alpha = Image.new("L", plate.size, 255).transform(
        size, Image.PERSPECTIVE, coefficients, Image.BILINEAR
    )
    out = background.copy()
    out.paste(warped, (0, 0), alpha)
    xs = [c[0] for c in corners]
    ys = [c[1] for c in corners]
    return out, (min(xs), min(ys), max(xs), max(ys))


def render_glyph_plate(
    rng: random.Random, glyphs: dict[str, list[Image.Image]]
) -> tuple[Image.Image, str, str]:
    """A yellow Dutch plate drawn from real Kenteken character images (openalpr/train-ocr).

    DIN and DejaVu only approximate the Dutch font; its narrow 0, D, 8 and B are what the
    reader confuses on the road, so these plates show it the real shapes.
    """
    printed = random_registration("NL", rng)
    width = rng.randint(240, 300)
    height = round(width * rng.uniform(0.19, 0.23))
    background = _jitter(YELLOW, rng, 18) if rng.random() < 0.9 else _jitter(WHITE, rng, 10)
    plate = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(plate)
    band = round(width * rng.uniform(0.07, 0.09))
    draw.rectangle([0, 0, band, height], fill=_jitter(EU_BLUE, rng, 20))
    small = _font(FONT_FILES[1], max(8, band // 2))
    draw.text((band / 2, height * 0.75), "NL", font=small, fill=WHITE, anchor="mm")
    text_h = height * rng.uniform(0.62, 0.76)
    gap = text_h * rng.uniform(0.06, 0.12)
    pieces = []
    for char in printed:
        if char == "-":
            pieces.append(None)
            continue
        mask = rng.choice(glyphs[char])
        scale = text_h / mask.height
        pieces.append(
            mask.resize((max(2, round(mask.width * scale)), round(text_h)), Image.LANCZOS)
        )
    dash_w = text_h * 0.3
    total = sum(p.width if p else dash_w for p in pieces) + gap * (len(pieces) - 1)
    area = width - band - 8
    squeeze = min(1.0, area / total)
    x = band + 4 + (area - total * squeeze) / 2
    top = (height - text_h) / 2
    ink = _jitter(BLACK, rng, 15)
    for piece in pieces:
        if piece is None:
            w = dash_w * squeeze
            draw.rectangle(
                [x, height / 2 - text_h * 0.05, x + w, height / 2 + text_h * 0.05], fill=ink
            )
        else:
            if squeeze < 1.0:
                piece = piece.resize((max(2, round(piece.width * squeeze)), piece.height))
            w = piece.width
            plate.paste(ink, (round(x), round(top)), piece)
        x += w + gap * squeeze
    draw.rectangle(
        [0, 0, width - 1, height - 1], outline=_jitter(BLACK, rng, 30), width=rng.randint(1, 3)
    )
    return plate, printed.replace("-", ""), "NL"
