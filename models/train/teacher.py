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

from recognition.plate_formats import LAYOUTS, countries_matching

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


# Letters a digit is read for, where a layout needs a letter (the teacher reads `I` as `1`).
_LETTER_FOR_DIGIT = {"0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "8": "B"}


def repair_for(country: str, text: str) -> str:
    """The teacher's text fitted to a source's known country, or '' when it cannot be.

    Two teacher habits are undone, nothing else: the band cut that also cut a plate's first
    letter (Romanian `IF 99 STK` read `F99STK`: `F` is no county, `IF` is), and digits read
    where the layout's trailing letters stand (`SB90TZ1` for `SB90TZI`).
    """
    regex = LAYOUTS[country].regex()
    tail = len(text) - len(text.rstrip("0123456789"))
    letters = text[: len(text) - tail] + "".join(_LETTER_FOR_DIGIT.get(c, c) for c in text[-tail:])
    for candidate in (text, "I" + text, letters, "I" + letters) if tail else (text, "I" + text):
        if regex.fullmatch(candidate):
            return candidate
    return ""


def label_crops(
    items: list[tuple[str, Callable[[], Image.Image]]],
    cache: Path,
    min_score: float = 0.8,
    country: str = "",
) -> dict[str, str]:
    """Teacher labels for (key, crop loader) items; returns key -> plate text for kept ones.

    `country`: the source's known country; labels must then fit its layout (`repair_for`).
    """
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
        if country:
            text = repair_for(country, text)
        if score >= min_score and 4 <= len(text) <= 10 and countries_matching(text):
            kept[key] = text
    log.info("teacher: kept %d of %d crops", len(kept), len(items))
    return kept
