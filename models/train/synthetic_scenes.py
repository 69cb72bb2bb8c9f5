"""Seeded synthetic road scenes with Dutch plates and their ground-truth annotations.

Renders a simple 1280x720 scene (sky, road, a car body, a yellow EU plate with the blue NL
band) and writes `<name>.jpg` plus `<name>.txt` in the evaluation annotation format
(`name.jpg<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE`). The repository's replay samples are made
with this; the recognition models' training data generator grows from it.

`night=True` renders the same scene as a roadside infrared camera sees it at night (#19):
monochrome, the retroreflective plate bright against a nearly black car and road
(`photo.night_pair`), then headlight glare, blooming, motion blur and rain
(`photo.night_scene`), the helpers of the 3.0 training generator. The day path draws
exactly what it drew before, so a seed gives the same day scenes as ever.

    python -m models.train.synthetic_scenes --out samples/replay --count 8 --seed 3
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from models.train import photo

# Letters issued on current Dutch plates: no vowels, no C, Q, M, W (M only on some).
DUTCH_LETTERS = "BDFGHJKLNPRSTVXZ"
DIGITS = "0123456789"
# Side-codes 4 to 11 as (groups of L=letter / 9=digit).
DUTCH_SIDECODES = (
    ("LL", "99", "99"), ("99", "99", "LL"), ("99", "LL", "99"), ("LL", "99", "LL"),
    ("LL", "LL", "99"), ("99", "LL", "LL"), ("99", "LLL", "9"), ("9", "LLL", "99"),
    ("LL", "999", "L"), ("L", "999", "LL"), ("LLL", "99", "L"), ("L", "99", "LLL"),
)  # fmt: skip
FRAME = (1280, 720)
PLATE_YELLOW = (247, 200, 20)
EU_BLUE = (0, 51, 153)


def random_dutch_plate(rng: random.Random) -> tuple[str, str]:
    """A plausible Dutch registration: (plate without dashes, printed form with dashes)."""
    groups = []
    for group in rng.choice(DUTCH_SIDECODES):
        groups.append("".join(rng.choice(DIGITS if c == "9" else DUTCH_LETTERS) for c in group))
    return "".join(groups), "-".join(groups)


def render_plate(printed: str, width: int) -> Image.Image:
    height = round(width * 110 / 520)
    plate = Image.new("RGB", (width, height), PLATE_YELLOW)
    draw = ImageDraw.Draw(plate)
    band = round(width * 0.08)
    draw.rectangle([0, 0, band, height], fill=EU_BLUE)
    small = ImageFont.load_default(size=max(8, band // 2))
    draw.text((band / 2, height * 0.78), "NL", font=small, fill=(255, 255, 255), anchor="mm")
    font = ImageFont.load_default(size=round(height * 0.72))
    text_width = draw.textlength(printed, font=font)
    scale = min(1.0, (width - band - 12) / max(1, text_width))
    if scale < 1.0:
        font = ImageFont.load_default(size=max(8, round(height * 0.72 * scale)))
    centre = (band + (width - band) / 2, height / 2)
    draw.text(centre, printed, font=font, fill=(10, 10, 10), anchor="mm")
    draw.rectangle([0, 0, width - 1, height - 1], outline=(20, 20, 20), width=2)
    return plate


def render_scene(
    rng: random.Random, night: bool = False
) -> tuple[Image.Image, tuple[int, int, int, int], str]:
    """A scene, the plate's box (x, y, w, h) and its text; `night`: an IR night frame."""
    scene = Image.new("RGB", FRAME)
    draw = ImageDraw.Draw(scene)
    horizon = rng.randint(180, 300)
    for y in range(FRAME[1]):
        if y < horizon:
            shade = 150 + int(80 * y / horizon)
            colour = (shade - 40, shade - 10, shade + 20)
        else:
            shade = 70 + int(40 * (y - horizon) / (FRAME[1] - horizon))
            colour = (shade, shade, shade + 5)
        draw.line([(0, y), (FRAME[0], y)], fill=colour)
    car_w = rng.randint(420, 700)
    car_h = int(car_w * rng.uniform(0.55, 0.7))
    car_x = rng.randint(60, FRAME[0] - car_w - 60)
    lowest = FRAME[1] - car_h - 20
    car_y = rng.randint(min(horizon - 40, lowest), lowest)
    body = tuple(rng.randint(20, 230) for _ in range(3))
    draw.rounded_rectangle([car_x, car_y, car_x + car_w, car_y + car_h], 40, fill=body)
    glass = (40, 50, 60)
    draw.rounded_rectangle(
        [car_x + car_w * 0.12, car_y + car_h * 0.08, car_x + car_w * 0.88, car_y + car_h * 0.42],
        20,
        fill=glass,
    )
    plate_text, printed = random_dutch_plate(rng)
    plate_w = rng.randint(int(car_w * 0.3), int(car_w * 0.42))
    plate = render_plate(printed, plate_w)
    px = car_x + (car_w - plate.width) // 2 + rng.randint(-20, 20)
    py = car_y + int(car_h * 0.62)
    if night:  # after every draw the day scene makes, so a day scene's draws are unchanged
        plate, scene = photo.night_pair(plate, scene, rng)
    scene.paste(plate, (px, py))
    scene = scene.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if night:
        box = (px, py, px + plate.width, py + plate.height)
        scene = photo.night_scene(scene, box, rng)
    return scene, (px, py, plate.width, plate.height), plate_text


def write_samples(out: Path, count: int, seed: int, night: bool = False) -> list[Path]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(count):
        scene, (x, y, w, h), plate = render_scene(rng, night=night)
        name = f"scene-{index:03d}.jpg"
        scene.save(out / name, quality=85)
        (out / f"scene-{index:03d}.txt").write_text(f"{name}\t{x}\t{y}\t{w}\t{h}\t{plate}\n")
        written.append(out / name)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--night", action="store_true", help="infrared night scenes")
    args = parser.parse_args()
    for path in write_samples(args.out, args.count, args.seed, night=args.night):
        print(path)


if __name__ == "__main__":
    main()
