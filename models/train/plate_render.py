"""Draw a flat plate of any `layouts.Series`: one or two rows, bands, emblems and stickers.

`render(rng)` is the 3.0 generator's plate: (RGB image, label in reading order, country).
Emblems, seals, shields, flags and stickers are drawn shapes, never copied artwork, and
never characters of the label (the small print some of them carry is drawn as marks).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from models.train import layouts
from models.train.layouts import EU_BLUE, Series

# The nearest packaged faces (scripts/install-font-deps.sh installs OSP-DIN and DejaVu):
# no packaged font is FE-Schrift, Kenteken, Charles Wright or the GOST plate font.
_FONT_DIR = "/usr/share/fonts/truetype"
FONT_FAMILIES = {
    # DIN 1451 and its relatives: DE, AT, NL, CH, the Balkans, Scandinavia, PL, CZ, ...
    "din": (f"{_FONT_DIR}/opendin/OSP-DIN.ttf", f"{_FONT_DIR}/dejavu/DejaVuSansCondensed-Bold.ttf"),
    # Charles Wright (GB, IE, MT, CY, GR): wide, even strokes
    "sans": (f"{_FONT_DIR}/dejavu/DejaVuSans-Bold.ttf",),
    # the narrow French/Italian/Spanish/Belgian faces
    "condensed": (
        f"{_FONT_DIR}/dejavu/DejaVuSansCondensed-Bold.ttf",
        f"{_FONT_DIR}/dejavu/DejaVuSansCondensed.ttf",
    ),
    # GOST-like narrow, even-width characters: UA, RU, BY
    "mono": (f"{_FONT_DIR}/dejavu/DejaVuSansMono-Bold.ttf",),
}
DECOR = ("seals", "shield_gap", "shields", "shield_left", "red_bars", "date_strip_yellow",
         "date_strip_red")  # fmt: skip


def available_fonts(family: str) -> list[str]:
    """The family's font files present here, else any present, else '' (Pillow's own)."""
    present = [f for f in FONT_FAMILIES[family] if Path(f).exists()]
    if present:
        return present
    every = [f for files in FONT_FAMILIES.values() for f in files if Path(f).exists()]
    return every[:1] or [""]


@lru_cache(maxsize=32)
def font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


@lru_cache(maxsize=4096)
def _mask(text: str, path: str) -> Image.Image:
    """A run of characters as a tight 'L' ink mask, 64 px type."""
    face = font(path, 64)
    box = face.getbbox(text)
    mask = Image.new("L", (box[2] - box[0] + 4, box[3] - box[1] + 4), 0)
    ImageDraw.Draw(mask).text((2 - box[0], 2 - box[1]), text, font=face, fill=255)
    return mask


def jitter(colour, rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)


@dataclass
class Rendered:
    image: Image.Image
    text: str  # label: characters in reading order, top row first
    country: str
    series: Series
    printed: str  # with separators, `*` emblems and `/` the row break
    random_text: bool


def render(
    rng: random.Random,
    series: Series | None = None,
    pattern: str | None = None,
    random_text: bool | None = None,
    random_share: float = 0.3,
) -> Rendered:
    series = series or layouts.pick_series(rng)
    pattern = pattern or rng.choice(series.patterns)
    if random_text is None:
        random_text = rng.random() < random_share
    printed = layouts.fill(pattern, series, rng, random_text)
    if "-" in printed and "*" not in printed and rng.random() < 0.15:
        printed = printed.replace("-", " ")  # the same plate printed with gaps
    image = draw_plate(printed, series, rng)
    return Rendered(image, layouts.label(printed), series.country, series, printed, random_text)


def plate_size(series: Series, rows: int, rng: random.Random) -> tuple[int, int]:
    if rows == 1:
        width = rng.randint(240, 300)
        return width, round(width * rng.uniform(0.19, 0.24))
    if series.kind == "motorcycle":
        width = rng.randint(150, 210)
        return width, round(width * rng.uniform(0.62, 0.9))
    width = rng.randint(200, 260)
    return width, round(width * rng.uniform(0.45, 0.7))


def draw_plate(printed: str, series: Series, rng: random.Random) -> Image.Image:
    rows = printed.split("/")
    width, height = plate_size(series, len(rows), rng)
    plate = Image.new("RGB", (width, height), jitter(series.background, rng, 15))
    draw = ImageDraw.Draw(plate)
    ink = jitter(series.ink, rng, 15)
    left, right = 0, width
    band_w = round(width * (rng.uniform(0.07, 0.09) if len(rows) == 1 else rng.uniform(0.1, 0.14)))
    if series.band:
        _eu_band(draw, (0, 0, band_w, height), series.band, rng)
        left = band_w
    elif series.flag:
        _flag_band(draw, (0, 0, band_w, height), series, rng)
        left = band_w
    if series.right_band is not None and len(rows) == 1 and rng.random() < 0.85:
        right = width - band_w
        draw.rectangle([right, 0, width, height], fill=jitter(series.right_band, rng, 20))
        _small_print(draw, (right, height * 0.55, width, height * 0.9), rng, WHITE_INK)
    decor = set(series.decor)
    if "shields" in decor:  # CH: the Swiss shield left, the canton's right
        side = round(height * (0.55 if len(rows) == 1 else 0.35))
        _shield(draw, (3, (height - side) / 2, 3 + side * 0.8, (height + side) / 2), rng, True)
        _shield(draw, (width - 3 - side * 0.8, (height - side) / 2, width - 3,
                       (height + side) / 2), rng)  # fmt: skip
        left, right = left + side * 0.8 + 4, right - side * 0.8 - 4
    if "shield_left" in decor:
        side = height * 0.6
        _shield(draw, (4, height * 0.2, 4 + side * 0.8, height * 0.2 + side), rng)
        left += side * 0.8 + 6
    if "date_strip_yellow" in decor or "date_strip_red" in decor:
        colour = (240, 200, 30) if "date_strip_yellow" in decor else (190, 30, 30)
        strip = round(width * 0.09)
        draw.rectangle([right - strip, 0, right, height], fill=jitter(colour, rng, 15))
        _small_print(draw, (right - strip, height * 0.15, right, height * 0.85), rng, ink)
        right -= strip
    if "red_bars" in decor:
        draw.rectangle([0, 0, width, height * 0.07], fill=jitter((200, 20, 30), rng, 15))
        draw.rectangle([0, height * 0.93, width, height], fill=jitter((200, 20, 30), rng, 15))
    family = series.font if rng.random() < 0.75 else rng.choice(list(FONT_FAMILIES))
    font_path = rng.choice(available_fonts(family))
    margin_x = width * rng.uniform(0.02, 0.05)
    margin_y = height * rng.uniform(0.06, 0.12)
    area = (left + margin_x, margin_y, right - margin_x, height - margin_y)
    row_h = (area[3] - area[1]) / len(rows)
    bold = rng.random() < 0.3
    for index, row in enumerate(rows):
        scale = 0.78 if len(rows) == 2 and index == 0 and rng.random() < 0.3 else 1.0
        text_h = row_h * rng.uniform(0.72, 0.88) * scale
        top = area[1] + index * row_h + (row_h - text_h) / 2
        _draw_row(plate, draw, row, (area[0], top, area[2], top + text_h), font_path, ink,
                  series, rng, bold)  # fmt: skip
    if series.border is not None or rng.random() < 0.8:
        colour = jitter(series.border or series.ink, rng, 30)
        draw.rectangle([0, 0, width - 1, height - 1], outline=colour, width=rng.randint(1, 3))
    return plate


WHITE_INK = (240, 240, 240)


def _draw_row(plate, draw, row: str, box, font_path: str, ink, series, rng, bold) -> None:
    """One row of groups and separators, squeezed to fit `box`, centred with a little play."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    stretch = rng.uniform(0.8, 1.15)
    pieces = []  # (kind, width, payload)
    for group in layouts._groups(row):
        if group == "-":
            pieces.append(("dash", h * 0.32, None))
        elif group == " ":
            pieces.append(("gap", h * rng.uniform(0.2, 0.45), None))
        elif group == ":":
            pieces.append(("dots", h * 0.25, None))
        elif group == "|":
            pieces.append(("bar", h * 0.3, None))
        elif group == "*":
            pieces.append(("emblem", h * rng.uniform(0.65, 0.9), None))
        else:
            mask = _mask(group, font_path)
            if bold:
                mask = mask.filter(ImageFilter.MaxFilter(3))
            pieces.append(("text", mask.width * h / mask.height * stretch, mask))
    total = sum(p[1] for p in pieces)
    squeeze = min(1.0, (x1 - x0) / max(1.0, total))
    x = x0 + ((x1 - x0) - total * squeeze) * rng.uniform(0.3, 0.7)
    for kind, w, payload in pieces:
        w *= squeeze
        if kind == "text":
            mask = payload.resize((max(2, round(w)), max(2, round(h))), Image.LANCZOS)
            plate.paste(ink, (round(x), round(y0)), mask)
        elif kind == "dash":
            cy = (y0 + y1) / 2
            draw.rectangle([x + w * 0.15, cy - h * 0.05, x + w * 0.85, cy + h * 0.05], fill=ink)
        elif kind == "dots":
            r = max(1.0, h * 0.05)
            for cy in (y0 + h * 0.35, y0 + h * 0.65):
                draw.ellipse([x + w / 2 - r, cy - r, x + w / 2 + r, cy + r], fill=ink)
        elif kind == "bar":
            draw.rectangle([x + w * 0.4, y0 - h * 0.1, x + w * 0.6, y1 + h * 0.1], fill=ink)
        elif kind == "emblem":
            _emblem(draw, (x, y0, x + w, y1), series, rng)
        x += w


def _emblem(draw, box, series: Series, rng: random.Random) -> None:
    """What sits between the groups: DE seals, a coat of arms, an inspection sticker."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    if "seals" in series.decor:
        r = min(w, h) * 0.3
        for cy, colour in ((y0 + h * 0.28, _sticker_colour(rng)), (y0 + h * 0.72, None)):
            if colour is None:
                colour = jitter((150, 40, 40) if rng.random() < 0.5 else (60, 60, 60), rng, 40)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=(40, 40, 40))
            _marks(draw, (cx - r * 0.6, cy - r * 0.25, cx + r * 0.6, cy + r * 0.25), rng)
    elif rng.random() < 0.75:
        _shield(draw, (cx - w * 0.35, y0 + h * 0.05, cx + w * 0.35, y1 - h * 0.05), rng)
    else:
        r = min(w, h) * 0.42
        draw.ellipse([cx - r, (y0 + y1) / 2 - r, cx + r, (y0 + y1) / 2 + r],
                     fill=_sticker_colour(rng), outline=(30, 30, 30))  # fmt: skip


def _sticker_colour(rng: random.Random):
    return jitter(rng.choice([(60, 150, 70), (230, 130, 40), (60, 110, 200), (220, 60, 160),
                              (240, 220, 60), (140, 90, 50)]), rng, 25)  # fmt: skip


def _shield(draw, box, rng: random.Random, cross: bool = False) -> None:
    """A coat of arms: a shield outline split into two or three coloured fields."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    outline = [(x0, y0), (x1, y0), (x1, y0 + h * 0.6), ((x0 + x1) / 2, y1), (x0, y0 + h * 0.6)]
    colours = [(200, 30, 40), (30, 70, 170), (240, 240, 240), (240, 200, 40), (30, 130, 60)]
    main = (200, 30, 40) if cross else jitter(rng.choice(colours), rng, 20)
    draw.polygon(outline, fill=main, outline=(30, 30, 30))
    if cross:
        t = w * 0.12
        cx, cy = (x0 + x1) / 2, y0 + h * 0.42
        draw.rectangle([cx - t, cy - h * 0.25, cx + t, cy + h * 0.25], fill=(245, 245, 245))
        draw.rectangle([cx - w * 0.3, cy - t, cx + w * 0.3, cy + t], fill=(245, 245, 245))
    elif rng.random() < 0.7:
        split = rng.choice(("pale", "fess", "chevron"))
        second = jitter(rng.choice(colours), rng, 20)
        if split == "pale":
            draw.polygon([((x0 + x1) / 2, y0), (x1, y0), (x1, y0 + h * 0.6), ((x0 + x1) / 2, y1)],
                         fill=second)  # fmt: skip
        elif split == "fess":
            draw.rectangle([x0 + 1, y0 + h * 0.35, x1 - 1, y0 + h * 0.55], fill=second)
        else:
            draw.polygon([(x0, y0 + h * 0.6), ((x0 + x1) / 2, y0 + h * 0.25),
                          (x1, y0 + h * 0.6)], fill=second)  # fmt: skip
    if rng.random() < 0.3:  # a crown or a chequer: fine structure above/inside
        for i in range(3):
            px = x0 + w * (0.25 + 0.25 * i)
            draw.ellipse([px - w * 0.06, y0 - h * 0.1, px + w * 0.06, y0 + h * 0.02],
                         fill=(220, 180, 40))  # fmt: skip


def _eu_band(draw, box, code: str, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    draw.rectangle(box, fill=jitter(EU_BLUE, rng, 20))
    cx, cy, r = (x0 + x1) / 2, y0 + min(h * 0.3, w * 0.55), w * 0.3
    for i in range(12):  # the ring of stars, as dots
        a = 2 * math.pi * i / 12
        sx, sy = cx + r * math.cos(a), cy + r * math.sin(a)
        draw.ellipse([sx - 1.2, sy - 1.2, sx + 1.2, sy + 1.2], fill=(240, 200, 0))
    size = max(7, round(min(w * (0.55 if len(code) < 3 else 0.4), h * 0.3)))
    face = font(available_fonts("sans")[0], size)
    draw.text((cx, y0 + h * 0.75), code, font=face, fill=WHITE_INK, anchor="mm")


def _flag_band(draw, box, series: Series, rng: random.Random) -> None:
    """Non-EU countries: the flag's stripes above the country code, on white or blue."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    base = jitter(EU_BLUE if rng.random() < 0.4 else (235, 235, 230), rng, 15)
    draw.rectangle(box, fill=base)
    stripes = series.flag
    fy0, fy1 = y0 + h * 0.1, y0 + h * 0.1 + w * 0.7
    step = (fy1 - fy0) / len(stripes)
    for i, colour in enumerate(stripes):
        draw.rectangle([x0 + w * 0.15, fy0 + i * step, x1 - w * 0.15, fy0 + (i + 1) * step],
                       fill=jitter(colour, rng, 15))  # fmt: skip
    size = max(7, round(min(w * 0.45, h * 0.3)))
    face = font(available_fonts("sans")[0], size)
    ink = WHITE_INK if base[2] > 120 and base[0] < 100 else (20, 20, 20)
    draw.text(((x0 + x1) / 2, y0 + h * 0.75), series.country, font=face, fill=ink, anchor="mm")


def _small_print(draw, box, rng: random.Random, ink) -> None:
    """The region number, the year or a date: print too small to be part of the plate's
    text, drawn as short strokes (the label never holds it)."""
    _marks(draw, box, rng, ink)


def _marks(draw, box, rng: random.Random, ink=(30, 30, 30)) -> None:
    x0, y0, x1, y1 = box
    n = rng.randint(2, 4)
    w = (x1 - x0) / (n * 1.4)
    for i in range(n):
        x = x0 + i * w * 1.4 + w * 0.2
        if rng.random() < 0.5:
            draw.rectangle([x, y0, x + max(1.0, w * 0.3), y1], fill=ink)
        else:
            draw.ellipse([x, y0, x + w, y1], outline=ink, width=1)
