"""Roadside light on a synthetic plate, for the 3.0 generator (#19 item 2).

Night on a roadside ANPR camera is infrared: a monochrome frame in which the retroreflective
plate shines and the car around it is nearly black, with headlight glare, motion blur, rain
streaks and dirt. By day the low sun washes one side out and throws hard shadows.
`night_pair` turns the flat plate and its surround into an IR pair before the plate is
placed; `night_scene` and `day_scene` spoil the placed scene. `plates.degrade` still runs
on the cut crop afterwards (light, blur, noise, JPEG).
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def to_mono(image: Image.Image) -> Image.Image:
    gray = image.convert("L")
    return Image.merge("RGB", (gray, gray, gray))


def night_pair(
    plate: Image.Image, background: Image.Image, rng: random.Random
) -> tuple[Image.Image, Image.Image]:
    """An IR plate (bright retroreflective ground, dark characters) and a dark surround.

    Under IR most inks and plate colours look alike: yellow, white and even blue grounds
    return the light, so the plate's own colours are flattened towards white."""
    gray = np.asarray(plate.convert("L"), dtype=np.float32)
    lo, hi = np.percentile(gray, 5), np.percentile(gray, 95)
    ground = np.clip((gray - lo) / max(1.0, hi - lo), 0, 1)  # 1 = plate ground, 0 = ink
    if np.mean(ground) < 0.5:  # light characters on a dark ground (old blue, black plates)
        ground = 1 - ground  # the sheeting still returns the light: a bright ground
    bright, dark = rng.uniform(175, 255), rng.uniform(5, 70)
    pixels = dark + (bright - dark) * ground
    ir_plate = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGB")
    surround = np.asarray(background.convert("L"), dtype=np.float32) * rng.uniform(0.04, 0.3)
    ir_background = Image.fromarray(np.clip(surround, 0, 255).astype(np.uint8)).convert("RGB")
    return ir_plate, ir_background


def night_scene(scene: Image.Image, box, rng: random.Random) -> Image.Image:
    """Glare, blooming, motion blur and rain on an IR scene; stays monochrome."""
    image = scene.convert("L")
    if rng.random() < 0.5:
        image = _headlights(image, box, rng)
    if rng.random() < 0.35:  # the bright plate blooms into its surround
        bloom = image.filter(ImageFilter.GaussianBlur(rng.uniform(2, 5)))
        image = Image.blend(image, bloom, rng.uniform(0.2, 0.5))
    if rng.random() < 0.4:
        image = motion_blur(image, rng.randint(2, 7), rng)
    if rng.random() < 0.25:
        image = rain(image, rng)
    return Image.merge("RGB", (image, image, image))


def day_scene(scene: Image.Image, box, rng: random.Random) -> Image.Image:
    """Low sun, hard shadows, motion blur, rain: the daytime hazards beyond `degrade`."""
    image = scene
    if rng.random() < 0.2:
        image = low_sun(image, box, rng)
    if rng.random() < 0.15:
        image = motion_blur(image, rng.randint(2, 6), rng)
    if rng.random() < 0.1:
        image = rain(image, rng)
    return image


def dirty(plate: Image.Image, rng: random.Random) -> Image.Image:
    """Road dirt on a flat plate: brownish smears, heavier towards the bottom edge."""
    w, h = plate.size
    layer = Image.new("L", plate.size, 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(rng.randint(3, 15)):
        x, y = rng.uniform(0, w), h * rng.triangular(0.2, 1.0, 0.95)
        rx, ry = rng.uniform(0.02, 0.12) * w, rng.uniform(0.05, 0.25) * h
        draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=rng.randint(60, 180))
    layer = layer.filter(ImageFilter.GaussianBlur(h * 0.04))
    mud = Image.new("RGB", plate.size, (rng.randint(70, 120), rng.randint(55, 90), 40))
    return Image.composite(mud, plate, layer)


def motion_blur(image: Image.Image, length: int, rng: random.Random) -> Image.Image:
    """A mostly horizontal smear `length` pixels long (the car passing the camera)."""
    pixels = np.asarray(image, dtype=np.float32)
    vertical = rng.random() < 0.3  # a car coming towards the camera smears vertically
    axis = 0 if vertical else 1
    out = np.zeros_like(pixels)
    for shift in range(length):
        out += np.roll(pixels, shift - length // 2, axis=axis)
    return Image.fromarray(np.clip(out / length, 0, 255).astype(np.uint8), image.mode)


def rain(image: Image.Image, rng: random.Random) -> Image.Image:
    """Slanted light streaks, slightly blurred, over the whole picture."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    slant = rng.uniform(-0.3, 0.3)
    length = rng.uniform(0.05, 0.2) * h
    light = rng.randint(150, 230)
    fill = light if out.mode == "L" else (light, light, light)
    for _ in range(rng.randint(20, 120)):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        draw.line([(x, y), (x + slant * length, y + length)], fill=fill, width=1)
    return Image.blend(image, out.filter(ImageFilter.GaussianBlur(0.6)), rng.uniform(0.3, 0.7))


def low_sun(image: Image.Image, box, rng: random.Random) -> Image.Image:
    """One side washed out by a low sun, and a hard shadow edge across the plate."""
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    xs = np.linspace(0, 1, w, dtype=np.float32)
    if rng.random() < 0.5:
        xs = xs[::-1]
    wash = rng.uniform(60, 160) * xs**2
    pixels = pixels + wash[None, :, None]
    if rng.random() < 0.6:
        x0, y0, x1, y1 = box
        cut = rng.uniform(x0, x1)
        tilt = rng.uniform(-1.5, 1.5)
        yy, xx = np.mgrid[0:h, 0:w]
        shade = (xx - cut) > tilt * (yy - (y0 + y1) / 2)
        pixels[shade] *= rng.uniform(0.3, 0.6)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _headlights(image: Image.Image, box, rng: random.Random) -> Image.Image:
    """One or two saturated glare blobs beside the plate (the car's headlights)."""
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[0:h, 0:w]
    for side in rng.sample((-1, 1), rng.randint(1, 2)):
        cx = (x0 + x1) / 2 + side * (x1 - x0) * rng.uniform(0.6, 1.2)
        cy = (y0 + y1) / 2 - (y1 - y0) * rng.uniform(0.0, 1.5)
        radius = (x1 - x0) * rng.uniform(0.1, 0.35)
        glow = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2))
        pixels += 255 * rng.uniform(0.6, 1.5) * glow
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
