"""Rendered live traffic: a fixed road camera, vehicles crossing it over many frames.

A seeded 1280x720 clip as a roadside camera sees it: a static road scene (sky, lanes, poles
and a sign), and vehicles with Dutch plates driving towards the camera, from
the top of the view to the bottom, growing as they come (perspective). Each frame gets
what a real camera adds: vertical motion blur on the moving vehicle (the shutter open for
a fifth of the frame interval, 8 ms: up to about 10 px on the fastest), sensor noise (sigma 3
grey levels) on every pixel, a slow global brightness drift (auto exposure), and JPEG
compression at quality 85. The traffic mixes
fast and slow vehicles, gaps of empty road, one vehicle that stops in view for three
seconds and one that creeps through at walking pace. Frames are rendered one at a time
(`frames()`), so a long clip never sits in memory. A clip at a lower frame rate (`fps`) shows
the same traffic sampled less often, with the same 8 ms exposure.

Its users: the motion gate's test and benchmark (`tests/test_motion.py`,
`benchmarks/agent.py`) and `make demo`, which writes one clip per demo camera as a folder of
frames with sidecar annotations (`write_clip`) for the agent's folder replay.

The ground truth per frame (`Shot.plates`) says which plates lie wholly in the view, and
per vehicle its plate and the frames it is in view: the benchmark scores passages against
vehicles, and costs against frames with and without a plate.

`night=True` renders the same traffic as a roadside camera's infrared view at night
(issue 19 item 2): a monochrome frame, the road lit only near the camera by its
illuminator, dark vehicles, the retroreflective plate bright (`photo.night_pair`),
headlights blooming into glare around it, and more sensor noise (sigma 6). The night's own
random draws come from their own generator, so the vehicles, plates and paths are those of
the day clip with the same seed.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from models.train.photo import night_pair
from models.train.synthetic_scenes import random_dutch_plate, render_plate

SIZE = (1280, 720)
FPS = 25
SHUTTER = 0.2  # exposure as a share of the frame interval (8 ms at 25 fps)
HEADLIGHTS = (0.1, 0.78)  # headlights' left edges across the sprite (share of its width)
HEADLIGHT_W = 0.12  # their width (share of the sprite's width)
HEADLIGHT_Y = 0.55  # their centre down the sprite (share of its height)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # grey from R, G, B (ITU-R BT.601)


@dataclass
class Vehicle:
    """One vehicle: its plate and where it is at each frame of its crossing."""

    plate: str
    sprite: Image.Image  # the vehicle at scale 1, plate included
    plate_box: tuple[int, int, int, int]  # x, y, w, h inside the sprite
    start: int  # first frame
    path: list[tuple[float, float, float]]  # per frame: x centre, y bottom, scale
    frames_in_view: list[int] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + len(self.path)


@dataclass(frozen=True)
class Shot:
    """One frame and its ground truth: (plate, x, y, w, h) of every plate wholly in view, and
    whether any vehicle is in view at all."""

    index: int
    jpeg: bytes  # the frame as the camera encoded it
    plates: tuple[tuple[str, int, int, int, int], ...]
    vehicle_in_view: bool

    @cached_property
    def image(self) -> np.ndarray:
        """The frame as the agent sees it: the JPEG decoded, BGR uint8."""
        with Image.open(io.BytesIO(self.jpeg)) as encoded:
            rgb = np.asarray(encoded.convert("RGB"))
        return np.ascontiguousarray(rgb[:, :, ::-1])


def background(rng: random.Random) -> np.ndarray:
    """The empty road: sky, tarmac with lane markings, two poles and a sign. The sign has
    an arrow, not lettering: text that a reader takes for a plate in every frame would keep
    every frame of the ungated baseline off its retries and hide what an empty frame costs."""
    width, height = SIZE
    scene = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(scene)
    horizon = 170
    for y in range(height):
        if y < horizon:
            shade = 150 + int(80 * y / horizon)
            colour = (shade - 40, shade - 10, shade + 20)
        else:
            shade = 70 + int(40 * (y - horizon) / (height - horizon))
            colour = (shade, shade, shade + 5)
        draw.line([(0, y), (width, y)], fill=colour)
    for lane in (-1, 1):  # lane markings converging on the horizon
        for y in range(horizon + 10, height, 60):
            spread = (y - horizon) / (height - horizon)
            x = width / 2 + lane * spread * width * 0.45
            draw.line([(x, y), (x + lane * 6 * spread, y + 30)], fill=(230, 230, 220), width=5)
    draw.rectangle([90, 40, 104, 460], fill=(80, 80, 85))
    draw.rectangle([1150, 60, 1162, 430], fill=(80, 80, 85))
    draw.rectangle([960, 70, 1240, 150], fill=(20, 90, 40))  # a sign: an arrow, no lettering
    draw.polygon([(1000, 110), (1060, 85), (1060, 100), (1200, 100), (1200, 120), (1060, 120),
                  (1060, 135)], fill=(240, 240, 240))  # fmt: skip
    texture = np.asarray(scene, dtype=np.int16) + rng.randint(0, 5)
    grain = np.random.default_rng(rng.randint(0, 2**31)).integers(-6, 7, texture.shape[:2])
    return np.clip(texture + grain[..., None], 0, 255).astype(np.uint8)


def vehicle_sprite(rng: random.Random) -> tuple[Image.Image, tuple[int, int, int, int], str]:
    """A car seen from the front at its nearest (about 560 px wide), plate under the grille."""
    car_w = rng.randint(500, 620)
    car_h = int(car_w * rng.uniform(0.6, 0.72))
    sprite = Image.new("RGBA", (car_w, car_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(sprite)
    body = tuple(rng.randint(20, 230) for _ in range(3))
    draw.rounded_rectangle([0, 0, car_w - 1, car_h - 1], 40, fill=(*body, 255))
    draw.rounded_rectangle(
        [car_w * 0.12, car_h * 0.08, car_w * 0.88, car_h * 0.42], 20, fill=(40, 50, 60, 255)
    )
    for side in HEADLIGHTS:
        draw.ellipse(
            [car_w * side, car_h * 0.5, car_w * (side + HEADLIGHT_W), car_h * 0.6],
            fill=(235, 235, 220, 255),
        )
    plate_text, printed = random_dutch_plate(rng)
    plate = render_plate(printed, int(car_w * rng.uniform(0.36, 0.44)))
    px = (car_w - plate.width) // 2 + rng.randint(-15, 15)
    py = int(car_h * 0.66)
    sprite.paste(plate, (px, py))
    return sprite, (px, py, plate.width, plate.height), plate_text


def traffic(
    seed: int = 19,
    vehicles: int = 24,
    creeping: int | None = 5,
    stopping: int | None = 11,
    fps: int = FPS,
    crossing_s: tuple[float, float] = (0.6, 2.5),
) -> tuple[list[Vehicle], int]:
    """The clip's vehicles and its length in frames at `fps`. Crossing times `crossing_s`
    (0.6-2.5 s: a main road; vehicle number `creeping` takes 6 s, number `stopping` stops for
    3 s halfway), 0.4-3 s of empty road between. The same seed gives the same vehicles at any
    frame rate and crossing times."""
    rng = random.Random(seed)
    fleet, frame = [], fps  # one second of empty road first
    for number in range(vehicles):
        sprite, box, plate = vehicle_sprite(rng)
        seconds = 6.0 if number == creeping else rng.uniform(*crossing_s)
        steps = max(2, round(seconds * fps))
        lane_x = SIZE[0] / 2 + rng.uniform(-180, 180)
        path = []
        for step in range(steps):
            t = step / (steps - 1)
            scale = 0.35 + 0.75 * t  # far (top) to near (bottom)
            y_bottom = 200 + t * (SIZE[1] + sprite.height * 0.6 - 200)
            path.append((lane_x + (t - 0.5) * 60, y_bottom, scale))
        if number == stopping:  # stops halfway for 3 s (a queue), then drives on
            half = len(path) // 2
            path = path[:half] + [path[half]] * (3 * fps) + path[half:]
        fleet.append(Vehicle(plate, sprite, box, frame, path))
        frame += len(path) + round(rng.uniform(0.4, 3.0) * fps)
    return fleet, frame + fps


def night_road(road: np.ndarray, rng: random.Random) -> np.ndarray:
    """The empty road under the camera's infrared illuminator: grey, dark, lit more
    towards the camera (the bottom of the view) than far away."""
    grey = road.astype(np.float32) @ LUMA
    lit = np.linspace(0.06, rng.uniform(0.25, 0.35), road.shape[0], dtype=np.float32)
    return np.repeat((grey * lit[:, None])[..., None], 3, axis=2).astype(np.uint8)


def night_sprite(vehicle: Vehicle, rng: random.Random) -> Image.Image:
    """The vehicle in infrared: a dark grey body, the plate bright with dark characters,
    the headlights saturated."""
    rgba = np.asarray(vehicle.sprite).copy()
    rgb = rgba[..., :3].astype(np.float32)
    headlight = rgb.min(axis=2) >= 215
    grey = rgb @ LUMA * rng.uniform(0.1, 0.3)
    grey[headlight] = 255
    x, y, w, h = vehicle.plate_box
    plate = vehicle.sprite.crop((x, y, x + w, y + h)).convert("RGB")
    ir_plate, _ = night_pair(plate, plate, rng)
    grey[y : y + h, x : x + w] = np.asarray(ir_plate.convert("L"), dtype=np.float32)
    rgba[..., :3] = np.clip(grey, 0, 255).astype(np.uint8)[..., None]
    return Image.fromarray(rgba, "RGBA")


def glare(pixels: np.ndarray, centre: tuple[float, float], radius: float, gain: float) -> None:
    """A headlight's bloom added in place: a Gaussian glow within three radii of `centre`."""
    height, width = pixels.shape[:2]
    cx, cy = centre
    reach = 3 * radius
    x0, x1 = max(0, int(cx - reach)), min(width, int(cx + reach) + 1)
    y0, y1 = max(0, int(cy - reach)), min(height, int(cy + reach) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    glow = gain * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2))
    pixels[y0:y1, x0:x1] += glow.astype(np.float32)[..., None]


def _motion_blur(pixels: np.ndarray, length: int) -> np.ndarray:
    """Vertical motion blur: the mean of `length` copies shifted down one row each."""
    if length <= 1:
        return pixels
    work = pixels.astype(np.float32)
    total = np.zeros_like(work)
    for shift in range(length):
        total[shift:] += work[: work.shape[0] - shift]
        total[:shift] += work[:1]
    return (total / length).astype(np.uint8)


def frames(
    seed: int = 19,
    vehicles: int = 24,
    creeping: int | None = 5,
    stopping: int | None = 11,
    fps: int = FPS,
    crossing_s: tuple[float, float] = (0.6, 2.5),
    night: bool = False,
) -> tuple[list[Vehicle], Iterator[Shot]]:
    """The vehicles (ground truth) and an iterator over the clip's frames at `fps`, by day
    or (`night`) as an infrared camera sees them at night."""
    rng = random.Random(seed)
    road = background(rng)
    fleet, length = traffic(seed, vehicles, creeping, stopping, fps, crossing_s)
    noise = np.random.default_rng(seed)
    shutter = SHUTTER * fps / FPS  # the same exposure time: a smaller share of a longer frame
    sigma = 3.0
    if night:
        dark = random.Random(seed * 7919 + 1)  # the night's own draws: the day's stay the same
        road = night_road(road, dark)
        for vehicle in fleet:
            vehicle.sprite = night_sprite(vehicle, dark)
        sigma = 6.0

    def render() -> Iterator[Shot]:
        for index in range(length):
            canvas = Image.fromarray(road)
            plates, in_view = [], False
            lamps: list[tuple[int, int, tuple[int, int]]] = []
            for vehicle in fleet:
                if not vehicle.start <= index < vehicle.end:
                    continue
                step = index - vehicle.start
                x_centre, y_bottom, scale = vehicle.path[step]
                previous = vehicle.path[max(0, step - 1)][1]
                size = (round(vehicle.sprite.width * scale), round(vehicle.sprite.height * scale))
                sprite = vehicle.sprite.resize(size, Image.BILINEAR)
                blur = round(abs(y_bottom - previous) * shutter)
                rgba = _motion_blur(np.asarray(sprite), blur)
                left, top = round(x_centre - size[0] / 2), round(y_bottom - size[1])
                canvas.paste(Image.fromarray(rgba), (left, top), Image.fromarray(rgba[..., 3]))
                in_view = in_view or (top < SIZE[1] and top + size[1] > 0)
                px, py, pw, ph = (round(v * scale) for v in vehicle.plate_box)
                x, y = left + px, top + py
                if x >= 0 and y >= 0 and x + pw <= SIZE[0] and y + ph <= SIZE[1]:
                    plates.append((vehicle.plate, x, y, pw, ph))
                    vehicle.frames_in_view.append(index)
                if night:
                    lamps.append((left, top, size))
            drift = 4 * np.sin(index / (fps * 4))  # auto exposure breathing, +-4 levels
            pixels = np.asarray(canvas, dtype=np.float32) + drift
            for left, top, (width, height) in lamps:  # headlights bloom over their surround
                for side in HEADLIGHTS:
                    centre = (left + width * (side + HEADLIGHT_W / 2), top + height * HEADLIGHT_Y)
                    glare(pixels, centre, width * 0.07, 220.0)
            pixels += noise.normal(0, sigma, pixels.shape[:2])[..., None]
            rgb = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            buffer = io.BytesIO()
            rgb.save(buffer, "JPEG", quality=85)
            yield Shot(index, buffer.getvalue(), tuple(plates), in_view)

    return fleet, render()


def write_clip(
    folder: Path,
    seed: int,
    vehicles: int,
    *,
    fps: int = FPS,
    crossing_s: tuple[float, float] = (0.6, 2.5),
    stopping: int | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[Vehicle]:
    """Write a clip as a folder of frames for the agent's folder replay: `f00000.jpg` (the
    camera's JPEG as rendered) and beside each its annotations `f00000.txt`
    (`name<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE` per plate wholly in view, the format of
    samples/replay). `progress(done, total)` is called after each frame. Returns the vehicles
    in the order they cross, with the frames each plate is wholly in view."""
    _, length = traffic(seed, vehicles, None, stopping, fps, crossing_s)
    fleet, shots = frames(seed, vehicles, None, stopping, fps, crossing_s)
    folder.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        name = f"f{shot.index:05d}"
        (folder / f"{name}.jpg").write_bytes(shot.jpeg)
        lines = "".join(f"{name}.jpg\t{x}\t{y}\t{w}\t{h}\t{plate}\n"
                        for plate, x, y, w, h in shot.plates)  # fmt: skip
        (folder / f"{name}.txt").write_text(lines)
        progress(shot.index + 1, length)
    return fleet
