"""Plate text for unlabelled real crops, from the RapidOCR teacher, checked by layout rules.

A label is kept only when the teacher's text fits a known country layout (or, for crops of
a source whose country is known, that country's layout): a wrong label teaches the reader
a wrong answer, so doubtful crops are dropped, not guessed. Labels are cached as TSV
(`path<TAB>text<TAB>score`) under the data folder so reruns skip the slow teacher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from models.plate_formats import countries_matching

log = logging.getLogger(__name__)


def _bgr48(image: Image.Image) -> np.ndarray:
    image = image.convert("RGB")
    scale = 48 / image.height
    image = image.resize((max(8, round(image.width * scale)), 48), Image.BICUBIC)
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def teacher_read(peer, image: Image.Image) -> tuple[str, float]:
    """Read the crop whole and with its left 9 % (the EU band) cut off; prefer what fits.

    The teacher reads the band's country letters as part of the plate; the cut version drops
    them. A text that fits no layout comes back with score 0.
    """
    cut = image.crop((round(image.width * 0.09), 0, image.width, image.height))
    for candidate in (cut, image):
        text, score = peer.read_line(_bgr48(candidate))
        if 4 <= len(text) <= 10 and countries_matching(text):
            return text, score
    return text, 0.0


def label_crops(
    items: list[tuple[str, Callable[[], Image.Image]]], cache: Path, min_score: float = 0.8
) -> dict[str, str]:
    """Teacher labels for (key, crop loader) items; returns key -> plate text for kept ones."""
    done: dict[str, tuple[str, float]] = {}
    if cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            key, text, score = line.split("\t")
            done[key] = (text, float(score))
    todo = [(k, load) for k, load in items if k not in done]
    if todo:
        from models.peer import RapidOcrPeer

        peer = RapidOcrPeer()
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("a", encoding="utf-8") as out:
            for index, (key, load) in enumerate(todo):
                text, score = teacher_read(peer, load())
                done[key] = (text, score)
                out.write(f"{key}\t{text}\t{score:.4f}\n")
                if index % 100 == 0:
                    log.info("teacher: %d/%d labelled", index, len(todo))
                    out.flush()
    kept = {}
    for key, _ in items:
        text, score = done[key]
        if score >= min_score and 4 <= len(text) <= 10 and countries_matching(text):
            kept[key] = text
    log.info("teacher: kept %d of %d crops", len(kept), len(items))
    return kept
