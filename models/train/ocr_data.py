"""Training samples for the plate reader: synthetic plates and real crops, jittered like the
detector's boxes, rendered once into uint8 arrays cached under the data folder.

Every crop is cut by inference's own `recognition.reader.crop_region` (+ the config's
padding) from a box that is deliberately a little wrong, so the reader learns to cope
with a loose detector.
"""

from __future__ import annotations

import logging
import os
import random
import re
import zlib
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

from models.train import layouts, photo, plate_render, sources, teacher
from models.train.plates import (
    COUNTRIES,
    degrade,
    place_plate,
    random_background,
    render_glyph_plate,
    render_plate,
)
from recognition.model_config import ReaderConfig
from recognition.reader import crop_region

log = logging.getLogger(__name__)

# Plate text read by eye for openalpr crops the teacher could not label or labelled wrong:
# `path relative to the repository<TAB>TEXT`, or `-` for a crop nobody can read with certainty.
EYE_LABELS = Path(__file__).with_name("alpr_eu_eye_labels.tsv")
PLATE_TEXT = re.compile(r"[A-Z0-9]{1,10}")


def eye_labels(path: Path = EYE_LABELS) -> dict[str, str]:
    """Relative crop path -> text read by eye ('' for unreadable); empty when no file ships."""
    if not path.exists():
        return {}
    labels = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, _, text = line.partition("\t")
        text = text.strip()
        if text != "-" and not PLATE_TEXT.fullmatch(text):
            raise ValueError(f"{path.name} line {number}: {text!r} is neither a plate nor '-'")
        labels[name.strip()] = "" if text == "-" else text
    return labels


def jitter_box(box, rng: random.Random, sx: float = 0.03, sy: float = 0.08):
    """Each edge moved by a normal error, `sx` of the width, `sy` of the height (1 sigma)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (
        x0 + rng.gauss(0, sx) * w,
        y0 + rng.gauss(0, sy) * h,
        x1 + rng.gauss(0, sx) * w,
        y1 + rng.gauss(0, sy) * h,
    )


def cut(image: Image.Image, box, rng: random.Random, config: ReaderConfig, damage: bool):
    """Jittered crop -> damaged at a random plate resolution -> the model's input size.

    The box's left/right edges err by half the crop padding (1 sigma): the padding is there to
    catch a detector box that is a little short, and the reader learns the boxes it gets."""
    jittered = jitter_box(box, rng, sx=config.crop_pad_x / 2)
    region = crop_region(jittered, config.crop_pad_x, config.crop_pad_y, image.size)
    crop = image.crop(region)
    if damage:
        width = rng.randint(50, 220)
        height = max(8, round(crop.height * width / max(1, crop.width)))
        crop = degrade(crop.resize((width, height), Image.BILINEAR), rng)
    crop = crop.resize((config.input_width, config.input_height), Image.BILINEAR)
    return np.asarray(crop.convert("RGB"), dtype=np.uint8)


def synthetic_sample(
    rng: random.Random, config: ReaderConfig, glyphs=None
) -> tuple[np.ndarray, str, int]:
    """One crop: a font-drawn plate, or with `glyphs` a Dutch plate of real character images."""
    plate, text, country = render_glyph_plate(rng, glyphs) if glyphs else render_plate(rng)
    size = (round(plate.width * rng.uniform(1.3, 1.8)), round(plate.height * rng.uniform(2, 3.5)))
    background = random_background(size, rng)
    centre = (size[0] / 2 + rng.uniform(-5, 5), size[1] / 2 + rng.uniform(-5, 5))
    scene, box = place_plate(plate, background, rng, plate.width, centre)
    return cut(scene, box, rng, config, damage=True), text, COUNTRIES.index(country)


def synthetic_sample_v3(
    rng: random.Random, config: ReaderConfig, glyphs=None, night_share: float = 0.2
) -> tuple[np.ndarray, str, int]:
    """One crop of the 3.0 generator (#19): any series of any country (`layouts`), a share of
    random strings in every layout, dirt, and night IR or daytime sun, blur and rain
    (`photo`). With `glyphs`: the real-glyph Dutch plate of 2.1, under the same light.
    Country indices are `layouts.COUNTRIES`'."""
    if glyphs:
        plate, text, country = render_glyph_plate(rng, glyphs)
    else:
        rendered = plate_render.render(rng)
        plate, text, country = rendered.image, rendered.text, rendered.country
    if rng.random() < 0.15:
        plate = photo.dirty(plate, rng)
    size = (round(plate.width * rng.uniform(1.3, 1.8)), round(plate.height * rng.uniform(2, 3.5)))
    background = random_background(size, rng)
    night = rng.random() < night_share
    if night:
        plate, background = photo.night_pair(plate, background, rng)
    centre = (size[0] / 2 + rng.uniform(-5, 5), size[1] / 2 + rng.uniform(-5, 5))
    scene, box = place_plate(plate, background, rng, plate.width, centre)
    scene = photo.night_scene(scene, box, rng) if night else photo.day_scene(scene, box, rng)
    crop = cut(scene, box, rng, config, damage=True)
    if night:  # `degrade`'s noise is per channel: an IR frame has one
        crop = np.repeat(crop.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    return crop, text, layouts.COUNTRIES.index(country)


GENERATORS = {"v2": synthetic_sample, "v3": synthetic_sample_v3}


def _synthetic_chunk(args) -> tuple[np.ndarray, list[str], list[int]]:
    seed, count, config, with_glyphs, *rest = args
    generator = GENERATORS[rest[0] if rest else "v2"]
    rng = random.Random(seed)
    glyphs = sources.alpr_glyphs() if with_glyphs else None
    images, texts, countries = [], [], []
    for _ in range(count):
        image, text, country = generator(rng, config, glyphs)
        images.append(image)
        texts.append(text)
        countries.append(country)
    return np.stack(images), texts, countries


def synthetic_set(
    config: ReaderConfig,
    count: int,
    seed: int,
    cache: Path,
    workers: int | None = None,
    glyphs: bool = False,
    generator: str = "v2",
) -> tuple[np.ndarray, list[str], list[int]]:
    """`count` synthetic samples from `seed`, cached as .npz (same seed, same samples);
    `glyphs`: Dutch plates drawn from real character images instead of fonts; `generator`:
    "v2" (2.1's plates, `plates.render_plate`) or "v3" (3.0's, `synthetic_sample_v3`)."""
    if cache.exists():
        data = np.load(cache)
        return data["images"], list(data["texts"]), list(data["countries"])
    chunk = 500
    jobs = [
        (seed * 100_003 + i, min(chunk, count - i * chunk), config, glyphs, generator)
        for i in range((count + chunk - 1) // chunk)
    ]
    with Pool(workers or os.cpu_count()) as pool:
        parts = pool.map(_synthetic_chunk, jobs)
    images = np.concatenate([p[0] for p in parts])
    texts = [t for p in parts for t in p[1]]
    countries = [c for p in parts for c in p[2]]
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=images, texts=np.array(texts), countries=np.array(countries))
    return images, texts, countries


def _tight_crop_scene(crop: Image.Image, rng: random.Random):
    """A tight real crop placed on a random surround, so crops can be cut around it."""
    crop = crop.convert("RGB")
    margin_x, margin_y = round(crop.width * 0.3), round(crop.height * 0.8)
    scene = random_background((crop.width + 2 * margin_x, crop.height + 2 * margin_y), rng)
    scene.paste(crop, (margin_x, margin_y))
    return scene, (margin_x, margin_y, margin_x + crop.width, margin_y + crop.height)


def real_items(
    eye_only: bool = False,
) -> list[tuple[str, Callable[[], tuple[Image.Image, tuple]], str]]:
    """Labelled real training crops: (key, loader of (scene, box), text).

    `eye_only`: only the openalpr crops read by eye (`EYE_LABELS`), without the teacher, for
    machines where RapidOCR is not installed (the 3.0 CPU run): no RobertLucian frames then.

    Sources: openalpr/train-detector European crops (labelled by the teacher, and by eye where
    the teacher failed or erred: `EYE_LABELS`) and RobertLucian training videos (teacher).
    RobertLucian's held-out videos, n-p-petrov and the real held-out sets are never used.
    """
    cache = sources.data_dir() / "teacher"
    items = []
    crops = [(str(p), (lambda p=p: Image.open(p))) for p in sources.alpr_eu_crops()]
    labels = {} if eye_only else teacher.label_crops(crops, cache / "alpr_eu.tsv")
    by_eye = eye_labels()
    root = sources.ALPR_DETECTOR.folder
    for path in sources.alpr_eu_crops():
        text = by_eye.get(path.relative_to(root).as_posix(), labels.get(str(path)))
        if text and len(text) >= 4:  # an eye label wins over the teacher's; '-' drops it
            items.append((str(path), ("crop", path, None), text))
    if eye_only:
        return items
    frames = []
    for image, boxes in sources.lucian_frames("train"):
        for index, box in enumerate(boxes):
            frames.append((f"{image}#{index}", image, box))
    loaders = [
        (k, (lambda i=i, b=b: Image.open(i).crop(tuple(round(v) for v in b)))) for k, i, b in frames
    ]
    labels = teacher.label_crops(loaders, cache / "lucian.tsv", country="RO")
    for key, image, box in frames:
        if key in labels:
            items.append((key, ("frame", image, box), labels[key]))
    return items


def is_validation(key: str) -> bool:
    """A tenth of the openalpr crops, by file name, never trained on: the real validation set
    that runs are compared on (the RobertLucian frames repeat their cars, so none of them)."""
    return "#" not in key and zlib.crc32(Path(key).name.encode()) % 10 == 0


def real_validation_set(
    config: ReaderConfig, seed: int, eye_only: bool = False
) -> tuple[np.ndarray, list[str]]:
    """One lightly jittered, undamaged crop of every validation item (`eye_only`: of those
    read by eye; fewer than the 132 the teacher's labels add)."""
    rng = random.Random(seed)
    images, texts = [], []
    for key, (_, path, _), text in real_items(eye_only):
        if is_validation(key):
            scene, tight = _tight_crop_scene(Image.open(path).convert("RGB"), rng)
            images.append(cut(scene, tight, rng, config, damage=False))
            texts.append(text)
    return np.stack(images), texts


def _real_chunk(args):
    seed, chunk, variants, config = args
    rng = random.Random(seed)
    images, texts = [], []
    for _, (kind, path, box), text in chunk:
        source = Image.open(path).convert("RGB")
        for _ in range(variants):
            if kind == "crop":
                scene, tight = _tight_crop_scene(source, rng)
            else:
                scene, tight = source, box
            images.append(cut(scene, tight, rng, config, damage=rng.random() < 0.7))
            texts.append(text)
    return images, texts


def brazil_items() -> list[tuple[str, tuple[str, Path, None], str]]:
    """openalpr's Brazilian crops labelled by their file names: real glyphs, blur and light."""
    return [(str(p), ("crop", p, None), text) for p, text in sources.alpr_br_crops()]


def real_set(
    config: ReaderConfig,
    variants: int,
    seed: int,
    cache: Path,
    workers: int | None = None,
    brazil_variants: int = 0,
    eye_only: bool = False,
) -> tuple[np.ndarray, list[str], list[int]]:
    """Every labelled real crop but the validation ones `variants` times with fresh jitter and
    damage (country unknown); the Brazilian crops `brazil_variants` times (0: left out)."""
    if cache.exists():
        data = np.load(cache)
        return data["images"], list(data["texts"]), list(data["countries"])
    items = [item for item in real_items(eye_only) if not is_validation(item[0])]
    chunks = [items[i : i + 100] for i in range(0, len(items), 100)]
    jobs = [(seed * 7919 + n, chunk, variants, config) for n, chunk in enumerate(chunks)]
    if brazil_variants:
        extra = brazil_items()
        chunks = [extra[i : i + 100] for i in range(0, len(extra), 100)]
        jobs += [(seed * 7919 + 5000 + n, c, brazil_variants, config) for n, c in enumerate(chunks)]
    with Pool(workers or os.cpu_count()) as pool:
        parts = pool.map(_real_chunk, jobs)
    images = np.stack([image for p in parts for image in p[0]])
    texts = [t for p in parts for t in p[1]]
    countries = [-1] * len(texts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=images, texts=np.array(texts), countries=np.array(countries))
    log.info("real crops: %d labelled, %d samples", len(items), len(texts))
    return images, texts, countries
