"""Would RapidOCR, reading again where our reader is unsure, read more plates right?

    python -m models.peer_fallback var/eval/real-heldout var/eval/real-heldout-2 ...

Runs the shipped recognizer once per photo and RapidOCR's recogniser once per read (on the
read's crop, padded as our reader pads it), then scores each policy "replace our read by the
peer's when ours is below a threshold" with `anpr-eval`'s own scoring, pooled over the
folders. Development sets only: a fresh held-out set is scored once, with what ships. The
answer (not shipped; the figures) is in `plate_reader.md`. Needs the `bench` extra.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models import evaluate
from recognition.model_config import ReaderConfig, load_reader_config
from recognition.plate_formats import countries_matching
from recognition.reader import crop_region
from recognition.recognizer import Read, Recognizer

THRESHOLDS = (0.3, 0.5, 0.7, 0.9)
Choice = Callable[[Read, str], str]


def policy(threshold: float, must_fit_layout: bool = False) -> Choice:
    """Our read unless it is below `threshold` and the peer read something (that fits a
    plate layout, when `must_fit_layout`)."""

    def choose(read: Read, peer_text: str) -> str:
        if read.confidence >= threshold or not peer_text:
            return read.plate
        if must_fit_layout and not countries_matching(peer_text):
            return read.plate
        return peer_text

    return choose


def padded_crop(bgr: np.ndarray, read: Read, config: ReaderConfig) -> np.ndarray:
    """The region our reader reads for this box (its own padding), as the peer's input."""
    x, y, w, h = read.box
    size = (bgr.shape[1], bgr.shape[0])
    left, top, right, bottom = crop_region((x, y, x + w, y + h), config.crop_pad_x,
                                           config.crop_pad_y, size)  # fmt: skip
    return np.ascontiguousarray(bgr[top:bottom, left:right])


def collect(folder: Path, recognizer: Recognizer, peer) -> tuple[list, list, float]:
    """Per photo: the detector's boxes and [(our read, the peer's text)]; the peer's seconds."""
    samples = evaluate.load_folder(folder)
    config = load_reader_config()
    rows, peer_seconds = [], 0.0
    for sample in samples:
        bgr = evaluate.load_bgr(sample.image)
        detections, reads = recognizer.analyse(bgr)
        boxes = [(d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]) for d in detections]
        pairs = []
        for read in reads:
            crop = padded_crop(bgr, read, config)
            began = time.perf_counter()
            text = peer.read_line(crop)[0] if crop.size else ""
            peer_seconds += time.perf_counter() - began
            pairs.append((read, text))
        rows.append((boxes, pairs))
    return samples, rows, peer_seconds


def pooled(collected: list[tuple[list, list]], choose: Choice) -> tuple[float, float, int]:
    """Exact plate accuracy and false reads per photo over every folder; reads replaced."""
    exact = plates = false = images = replaced = 0.0
    for samples, rows in collected:
        answers = iter(rows)

        def run(bgr, answers=answers):
            boxes, pairs = next(answers)
            return boxes, [(read.box, choose(read, text)) for read, text in pairs]

        scores = evaluate.score(samples, run)
        exact += scores.exact_plate_accuracy * scores.plates
        plates += scores.plates
        false += scores.false_reads_per_image * scores.images
        images += scores.images
        replaced += sum(choose(r, t) != r.plate for _, pairs in rows for r, t in pairs)
    return exact / max(plates, 1), false / max(images, 1), int(replaced)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    from models.peer import RapidOcrPeer

    recognizer, peer = Recognizer.default(), RapidOcrPeer()
    collected, reads, seconds = [], 0, 0.0
    for folder in args.folders:
        samples, rows, peer_seconds = collect(folder, recognizer, peer)
        collected.append((samples, rows))
        reads += sum(len(pairs) for _, pairs in rows)
        seconds += peer_seconds
    print(f"{reads} reads; the peer's recogniser: {1000 * seconds / max(reads, 1):.1f} ms a crop")
    policies = {"ours alone": policy(0.0)}
    for threshold in THRESHOLDS:
        policies[f"peer when ours < {threshold}"] = policy(threshold)
        policies[f"peer when ours < {threshold}, fits a layout"] = policy(threshold, True)
    for name, choose in policies.items():
        exact, false, replaced = pooled(collected, choose)
        print(
            f"  {name:40s} exact {100 * exact:5.1f} %  false/photo {false:.2f}  re-read {replaced}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
