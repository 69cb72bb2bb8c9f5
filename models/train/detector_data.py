"""Training frames for the plate detector, at the detector's input size, with plate boxes.

Three kinds, all seeded: real dash-cam frames (RobertLucian *train* split, zoomed and shifted
so plates appear at many sizes), composites (openalpr no-plate photos with synthetic plates
and real openalpr plate crops warped onto them at 30-200 px wide), and rendered road scenes.
Frames are cached as one uint8 array; boxes as (x0, y0, x1, y1) in input pixels.
"""

from __future__ import annotations

import logging
import math
import random
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from models.train import plate_render, sources
from models.train.plates import degrade, place_plate, random_background, render_plate
from models.train.synthetic_scenes import render_scene
from recognition.detector import box_intersection, letterbox
from recognition.model_config import DetectorConfig

log = logging.getLogger(__name__)


def _zoomed(image: Image.Image, boxes, rng: random.Random, config: DetectorConfig):
    """A random zoom/shift of a real frame, so its plates appear at other sizes."""
    zoom = rng.uniform(1.0, 2.2) if rng.random() < 0.7 else 1.0
    w, h = image.width / zoom, image.height / zoom
    x0 = rng.uniform(0, image.width - w)
    y0 = rng.uniform(0, image.height - h)
    if boxes and zoom > 1:  # keep at least one plate in view
        bx0, by0, bx1, by1 = rng.choice(boxes)
        x0 = min(max(0, bx1 - w + rng.uniform(0, w - (bx1 - bx0)) * 0.9), bx0)
        y0 = min(max(0, by1 - h + rng.uniform(0, h - (by1 - by0)) * 0.9), by0)
        x0 = min(max(0, x0), image.width - w)
        y0 = min(max(0, y0), image.height - h)
    view = image.crop((round(x0), round(y0), round(x0 + w), round(y0 + h)))
    canvas, scale = letterbox(view.convert("RGB"), config.input_width, config.input_height)
    out = []
    for bx0, by0, bx1, by1 in boxes:
        box = ((bx0 - x0) * scale, (by0 - y0) * scale, (bx1 - x0) * scale, (by1 - y0) * scale)
        box = (
            max(0, box[0]),
            max(0, box[1]),
            min(view.width * scale, box[2]),
            min(view.height * scale, box[3]),
        )
        if box[2] - box[0] > 4 and box[3] - box[1] > 2:
            out.append(box)
    return canvas, out


def _composite(
    rng: random.Random,
    config: DetectorConfig,
    negatives,
    crops,
    yaw_share: float,
    every_country_share: float = 0.0,
):
    size = (config.input_width, config.input_height)
    if negatives and rng.random() < 0.85:
        background = Image.open(rng.choice(negatives)).convert("RGB")
        background, _ = _zoomed(background, [], rng, config)
        if rng.random() < 0.5:
            background = background.resize(size, Image.BILINEAR)  # no grey pad band
    else:
        background = random_background(size, rng)
    boxes = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        if crops and rng.random() < 0.45:
            plate = Image.open(rng.choice(crops)).convert("RGB")
        elif every_country_share and rng.random() < every_country_share:
            plate = plate_render.render(rng).image  # any layout a Dutch road sees (3.0's)
        else:
            plate = render_plate(rng)[0]
        width = rng.uniform(28, 200) if rng.random() < 0.8 else rng.uniform(20, 40)
        height = width * plate.height / plate.width
        centre = (
            rng.uniform(width / 2, size[0] - width / 2),
            rng.uniform(height, size[1] - height),
        )
        if any(
            abs(centre[0] - (b[0] + b[2]) / 2) < width
            and abs(centre[1] - (b[1] + b[3]) / 2) < 2 * height
            for b in boxes
        ):
            continue
        if rng.random() < 0.5:  # a car body around the plate
            cw, ch = width * rng.uniform(2.5, 4), height * rng.uniform(4, 9)
            colour = tuple(rng.randint(10, 240) for _ in range(3))
            body = (
                centre[0] - cw / 2,
                centre[1] - ch * 0.6,
                centre[0] + cw / 2,
                centre[1] + ch * 0.4,
            )
            if not any(box_intersection(body, b) for b in boxes):  # never paint over a plate
                ImageDraw.Draw(background).rounded_rectangle(body, round(width * 0.2), fill=colour)
        yaw = 0.0
        if yaw_share and rng.random() < yaw_share:  # seen from the side: narrow and tapered
            yaw = math.radians(rng.uniform(20, 65)) * rng.choice((-1, 1))
        background, box = place_plate(plate, background, rng, width, centre, yaw)
        boxes.append(box)
    return degrade(background, rng), boxes


def _rendered_scene(rng: random.Random, config: DetectorConfig):
    scene, (x, y, w, h), _ = render_scene(rng)
    return _zoomed(scene, [(x, y, x + w, y + h)], rng, config)


def _chunk(args):
    seed, count, config, kind, frames, negatives, crops, yaw_share, every_country_share = args
    rng = random.Random(seed)
    images, boxes = [], []
    for index in range(count):
        if kind == "real":
            path, frame_boxes = frames[index % len(frames)]
            image, found = _zoomed(Image.open(path).convert("RGB"), frame_boxes, rng, config)
            if rng.random() < 0.5:
                image = degrade(image, rng)
        elif kind == "composite":
            image, found = _composite(rng, config, negatives, crops, yaw_share, every_country_share)
        else:
            image, found = _rendered_scene(rng, config)
        if rng.random() < 0.5:  # mirror: plates read backwards still look like plates
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
            found = [
                (config.input_width - b[2], b[1], config.input_width - b[0], b[3]) for b in found
            ]
        images.append(np.asarray(image, dtype=np.uint8))
        boxes.append(found)
    return np.stack(images), boxes


def detector_set(
    config: DetectorConfig,
    counts: dict[str, int],
    seed: int,
    cache: Path,
    workers: int = 2,
    yaw_share: float = 0.0,
    every_country_share: float = 0.0,
) -> tuple[np.ndarray, list[list[tuple[float, float, float, float]]]]:
    """Frames of each kind ('real', 'composite', 'scene') per `counts`, cached as .npz.

    `yaw_share` of the composite plates are turned 20-65 degrees (`plates.turned`);
    `every_country_share` of the synthetic composite plates come from the 3.0 renderer
    (`plate_render`: every layout a Dutch road sees, one and two rows) instead of the
    13-country one."""
    if cache.exists():
        data = np.load(cache, allow_pickle=True)
        return data["images"], list(data["boxes"])
    frames = [(p, b) for p, b in sources.lucian_frames("train")]
    negatives = sources.alpr_negatives()
    crops = sources.alpr_eu_crops()
    jobs = []
    for kind, count in counts.items():
        for start in range(0, count, 200):
            n = min(200, count - start)
            part = frames[start % len(frames) :] + frames[: start % len(frames)]
            jobs.append(
                (
                    seed * 104_729 + len(jobs),
                    n,
                    config,
                    kind,
                    part,
                    negatives,
                    crops,
                    yaw_share,
                    every_country_share,
                )
            )
    with Pool(workers) as pool:
        parts = pool.map(_chunk, jobs)
    images = np.concatenate([p[0] for p in parts])
    boxes = [b for p in parts for b in p[1]]
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=images, boxes=np.array(boxes, dtype=object))
    log.info("detector frames: %d", len(images))
    return images, boxes
