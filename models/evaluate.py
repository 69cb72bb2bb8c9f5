"""`anpr-eval DIR`: how well the shipped models read a folder of annotated images.

Each image `name.jpg` has a sidecar `name.txt` with one line per plate,
`name.jpg<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE` (the format `recognition.recognizer` parses).
Metrics, per system:

- exact-plate accuracy: annotated plates for which a read lying on the plate has exactly its text
- character accuracy: 1 - edit distance / length of the best such read, averaged over plates
- detection recall: annotated plates the detector's boxes (the peer: its text boxes) cover at
  IoU >= 0.5
- false reads per image: reads that lie on no annotated plate or disagree with it
- ms per image: wall time of one whole-image read, decoding excluded

`--peer rapidocr` runs RapidOCR on the same images and prints it beside ours.
`--reader-model FILE` / `--detector-model FILE` score a candidate ONNX file (a training run's
output) in place of the shipped one, with the shipped configuration, before it is shipped.
`--reader-only` also scores the reader alone on the annotated boxes (the detector's share of
the misses is the difference), and `--by-size` splits recall and exact plates by the
plate's width at the detector's input, where a detector's blind sizes show. `--breakdown`
prints a table per group: by the plate's country, by the photo's kind of scene (road, gate,
phone, web, night, synthetic) and by size, each with plates, found, exact and false reads
(`models/breakdown.py` says how country and scene are known). The JSON output always
carries the three splits.
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from models.breakdown import Groups, GroupsFileError, groups_of, read_groups_file
from recognition.detector import PlateDetector, canvas_size
from recognition.model_config import (
    MODELS_DIR,
    ModelConfigError,
    load_detector_config,
    load_reader_config,
)
from recognition.reader import PlateReader
from recognition.recognizer import (
    AnnotationError,
    Recognizer,
    RecognizerSettings,
    parse_annotations,
)

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
Box = tuple[float, float, float, float]  # x, y, w, h


class EvaluationError(RuntimeError):
    """The folder holds nothing to evaluate."""


@dataclass(frozen=True)
class Sample:
    image: Path
    plates: tuple[tuple[Box, str], ...]
    groups: Groups | None = None  # scene and countries; derived from the name when None

    def grouped(self) -> Groups:
        if self.groups is not None:
            return self.groups
        return groups_of(self.image, [plate for _, plate in self.plates], {})


# Plate width at the detector's input (px): the bins `--by-size` reports, split at these edges.
WIDTH_EDGES = (30, 45, 60, 90, 150)
WIDTH_LABELS = tuple(
    f"{lo}-{hi} px" for lo, hi in zip((0, *WIDTH_EDGES), WIDTH_EDGES, strict=False)
) + (f">= {WIDTH_EDGES[-1]} px",)


@dataclass
class Scores:
    exact_plate_accuracy: float
    character_accuracy: float
    detection_recall: float
    false_reads_per_image: float
    ms_per_image: float
    images: int
    plates: int
    # "lo-hi px" -> [plates, found at IoU 0.5, read exactly], by width at the detector input
    by_width_at_input: dict[str, list[int]] = field(default_factory=dict)
    # country / scene kind -> [plates, found, read exactly, false reads]. A false read counts
    # for the country of the plate it lies on (a misread), and for the scene of its photo
    # (misreads and reads of no plate alike); images per scene in `images_by_scene`.
    by_country: dict[str, list[int]] = field(default_factory=dict)
    by_scene: dict[str, list[int]] = field(default_factory=dict)
    images_by_scene: dict[str, int] = field(default_factory=dict)


def width_bin(width_at_input: float) -> str:
    return WIDTH_LABELS[bisect.bisect_right(WIDTH_EDGES, width_at_input)]


def load_folder(folder: Path) -> list[Sample]:
    """Every image with a sidecar annotation file; images without one are skipped (logged)."""
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: not a folder")
    described = read_groups_file(folder)
    samples = []
    for image in sorted(folder.iterdir()):
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        sidecar = image.with_suffix(".txt")
        if not sidecar.exists():
            log.warning("%s: no annotation file %s, skipped", image, sidecar.name)
            continue
        entries = [
            (box, plate) for name, box, plate in parse_annotations(sidecar) if name == image.name
        ]
        groups = groups_of(image, [plate for _, plate in entries], described)
        samples.append(Sample(image, tuple(entries), groups))
    if not samples:
        raise EvaluationError(f"{folder}: no images with annotation files")
    return samples


def load_bgr(path: Path) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1])


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def on_plate(read: Box, plate: Box) -> bool:
    """A read belongs to a plate when its centre lies inside the plate box grown by a quarter."""
    cx, cy = read[0] + read[2] / 2, read[1] + read[3] / 2
    x, y, w, h = plate
    return x - w / 4 <= cx <= x + w * 1.25 and y - h / 4 <= cy <= y + h * 1.25


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def score(samples: list[Sample], run, given_boxes: bool = False) -> Scores:
    """Run `run(bgr) -> (detector boxes, [(box, text)])` on every sample and score it
    (`given_boxes`: `run(bgr, annotated boxes)`, for a reader scored on its own)."""
    exact = chars = found = false = 0.0
    plates = 0
    elapsed = 0.0
    by_width: dict[str, list[int]] = {}
    by_country: dict[str, list[int]] = {}
    by_scene: dict[str, list[int]] = {}
    images_by_scene: dict[str, int] = {}
    detector = load_detector_config()
    for sample in samples:
        groups = sample.grouped()
        scene = by_scene.setdefault(groups.scene, [0, 0, 0, 0])
        images_by_scene[groups.scene] = images_by_scene.get(groups.scene, 0) + 1
        bgr = load_bgr(sample.image)
        canvas_w, canvas_h = canvas_size(detector, bgr.shape[1], bgr.shape[0])
        scale = min(canvas_w / bgr.shape[1], canvas_h / bgr.shape[0])
        started = time.perf_counter()
        if given_boxes:
            boxes, reads = run(bgr, [box for box, _ in sample.plates])
        else:
            boxes, reads = run(bgr)
        elapsed += time.perf_counter() - started
        for (plate_box, plate), country in zip(sample.plates, groups.countries, strict=True):
            plates += 1
            mine = [text for box, text in reads if on_plate(box, plate_box)]
            exact += plate in mine
            if mine:
                chars += max(max(0.0, 1 - edit_distance(t, plate) / len(plate)) for t in mine)
            hit = any(iou(box, plate_box) >= 0.5 for box in boxes)
            found += hit
            counts = by_width.setdefault(width_bin(plate_box[2] * scale), [0, 0, 0])
            counts[0] += 1
            counts[1] += hit
            counts[2] += plate in mine
            for group in (by_country.setdefault(country, [0, 0, 0, 0]), scene):
                group[0] += 1
                group[1] += hit
                group[2] += plate in mine
        for box, text in reads:
            if not any(on_plate(box, b) and text == p for b, p in sample.plates):
                false += 1
                scene[3] += 1
                misread = [c for (b, _), c in zip(sample.plates, groups.countries, strict=True)
                           if on_plate(box, b)]  # fmt: skip
                if misread:
                    by_country.setdefault(misread[0], [0, 0, 0, 0])[3] += 1
    n = len(samples)
    return Scores(
        exact_plate_accuracy=exact / max(1, plates),
        character_accuracy=chars / max(1, plates),
        detection_recall=found / max(1, plates),
        false_reads_per_image=false / n,
        ms_per_image=1000 * elapsed / n,
        images=n,
        plates=plates,
        by_width_at_input={b: by_width[b] for b in WIDTH_LABELS if b in by_width},
        by_country=dict(sorted(by_country.items(), key=lambda item: (-item[1][0], item[0]))),
        by_scene=dict(sorted(by_scene.items(), key=lambda item: (-item[1][0], item[0]))),
        images_by_scene=images_by_scene,
    )


def candidate(path: Path | None, config, load=None):
    """The shipped config, pointing at `path` instead of the shipped file when one is given;
    a candidate with its own TOML beside it (`x.onnx` and `x.toml`: another version, other
    countries) is read with that config, not the shipped one."""
    if path is None:
        return config
    if not path.is_file():
        raise EvaluationError(f"no model file at {path}")
    own = path.with_suffix(".toml")
    if load is not None and own.is_file() and own.resolve().parent != MODELS_DIR.resolve():
        config = load(own)
    return replace(config, onnx=str(path.resolve()))


def ours(threads: int, reader_model: Path | None = None, detector_model: Path | None = None):
    settings = RecognizerSettings(threads=threads)
    recognizer = Recognizer(
        PlateDetector(candidate(detector_model, load_detector_config(), load_detector_config),
                      threads),
        PlateReader(candidate(reader_model, load_reader_config(), load_reader_config), threads),
        settings,
    )  # fmt: skip

    def run(bgr):
        detections, reads = recognizer.analyse(bgr)
        boxes = [(d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]) for d in detections]
        return boxes, [(r.box, r.plate) for r in reads]

    return run


def reader_only(threads: int, reader_model: Path | None = None):
    """The reader alone on the annotated boxes: what it reads given perfect boxes."""
    reader = PlateReader(candidate(reader_model, load_reader_config(), load_reader_config), threads)

    def run(bgr, boxes):
        image = Image.fromarray(bgr)  # channels stay B, G, R
        corners = [(x, y, x + w, y + h) for x, y, w, h in boxes]
        texts = reader.read(image, corners, bgr=True)
        return boxes, [(box, t.text) for box, t in zip(boxes, texts, strict=True)]

    return run


def rapidocr():
    from models.peer import RapidOcrPeer

    peer = RapidOcrPeer()

    def run(bgr):
        lines = peer.read_image(bgr)
        return [box for box, _, _ in lines], [(box, text) for box, text, _ in lines]

    return run


def table(results: dict[str, Scores]) -> str:
    names = list(results)
    rows = [("metric", *names)]
    for metric in ("exact_plate_accuracy", "character_accuracy", "detection_recall"):
        rows.append((metric, *(f"{100 * getattr(results[n], metric):.1f} %" for n in names)))
    rows.append(
        ("false_reads_per_image", *(f"{results[n].false_reads_per_image:.2f}" for n in names))
    )
    rows.append(("ms_per_image", *(f"{results[n].ms_per_image:.1f}" for n in names)))
    rows.append(("images / plates", *(f"{results[n].images} / {results[n].plates}" for n in names)))
    return _aligned(rows)


def size_table(results: dict[str, Scores]) -> str:
    """Found / read exactly / plates, by the plate's width at the detector's input."""
    names = list(results)
    rows = [("width at input", *(f"{n}: found / exact / plates" for n in names))]
    for label in WIDTH_LABELS:
        cells = []
        for name in names:
            plates, found, exact = results[name].by_width_at_input.get(label, [0, 0, 0])
            cells.append(f"{found} / {exact} / {plates}")
        if any(label in results[n].by_width_at_input for n in names):
            rows.append((label, *cells))
    return _aligned(rows)


def group_table(results: dict[str, Scores], split: str, title: str) -> str:
    """Per group (`by_country` or `by_scene`): plates, found, exact (and its share) and false
    reads, for every system side by side."""
    names = list(results)
    rows = [(title, *(f"{n}: plates / found / exact / false reads" for n in names))]
    groups: list[str] = []
    for name in names:
        groups += [g for g in getattr(results[name], split) if g not in groups]
    for group in groups:
        cells = []
        for name in names:
            plates, found, exact, false = getattr(results[name], split).get(group, [0, 0, 0, 0])
            share = f" ({100 * exact / plates:.1f} %)" if plates else ""
            cells.append(f"{plates} / {found} / {exact}{share} / {false}")
        rows.append((group, *cells))
    return _aligned(rows)


def _aligned(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anpr-eval", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="images with one .txt annotation file each")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--peer", choices=["rapidocr"], help="also run this peer on the images")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads for ours")
    parser.add_argument("--reader-model", type=Path, help="candidate reader ONNX file to score")
    parser.add_argument("--detector-model", type=Path, help="candidate detector ONNX file")
    parser.add_argument(
        "--reader-only", action="store_true", help="also score the reader on the annotated boxes"
    )
    parser.add_argument(
        "--by-size", action="store_true", help="also split by plate width at the detector input"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also a table by country, by kind of scene and by plate size",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        samples = load_folder(args.folder)
        system = ours(args.threads, args.reader_model, args.detector_model)
        results = {"ours": score(samples, system)}
        if args.reader_only:
            reader = reader_only(args.threads, args.reader_model)
            results["ours, reader only"] = score(samples, reader, given_boxes=True)
        if args.peer == "rapidocr":
            results["rapidocr"] = score(samples, rapidocr())
    except (EvaluationError, AnnotationError, GroupsFileError, ModelConfigError) as error:
        print(f"anpr-eval: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({name: asdict(s) for name, s in results.items()}, indent=2))
    else:
        print(table(results))
        if args.breakdown:
            for split, title in (("by_country", "country"), ("by_scene", "scene")):
                print()
                print(group_table(results, split, title))
        if args.by_size or args.breakdown:
            print()
            print(size_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
