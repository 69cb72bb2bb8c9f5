"""Write the evaluation folders `anpr-eval` reads: real held-out photos and synthetic scenes.

    python -m models.train.heldout --out var/eval

- `real-heldout/`: photos never used for training or tuning: every n-p-petrov Dutch frame
  (640x480, boxes and text from the repository's ground truth) and the RobertLucian
  held-out videos (1280x720, boxes from the repository, text read by eye:
  `heldout_labels.tsv`). Both MIT; written to the data folder, never committed.
- `synthetic-heldout/`: rendered Dutch road scenes from a seed training never uses.
- `synthetic-night/` (`--night N`, 200 by default): the same scenes rendered as a roadside
  infrared camera sees them at night (#19), from their own seed, with a `groups.tsv` that marks
  every image's scene `night`. `--only night` (or `--only synthetic`) writes just that set.

- `real-heldout-2/` (`--fresh`): real photos from sources no model has seen (UA, PL, NL,
  BG, FR, LT, GE plates), boxes and text checked by eye: `heldout2_labels.tsv`.
- `real-heldout-3/` (`--fresh`): Spanish cars photographed by ULPGC students (repositories
  without a licence: evaluation only, never trained on or committed): `heldout3_labels.tsv`.
  Boxes are in upright pixels (after the photo's EXIF orientation); rotated photos are
  written upright.
- `real-heldout-4/` (`--fresh`): Hungarian (a few Czech and German), Czech and Dutch cars from
  repositories without a licence (evaluation only, never trained on or committed):
  `heldout4_labels.tsv`.
- `real-heldout-5/` (`--fresh`): Dutch dealer photos, Spanish (Gran Canaria, Barcelona), Polish,
  British and a few German, Slovak and Dutch cars from repositories without a licence (evaluation
  only, never trained on or committed): `heldout5_labels.tsv`.
- `real-heldout-6/` (`--fresh`): Turkish web photos and motorway dash-cam frames, Croatian parked
  cars, German cars from a street-side video and German press photos, from repositories without a
  licence (evaluation only, never trained on or committed): `heldout6_labels.tsv`.
- `real-heldout-7/` (`--fresh`): Swedish cars in web photos (Blocket classifieds: dealer and owner
  photos of parked cars) from a repository without a licence (evaluation only, never trained on or
  committed): `heldout7_labels.tsv`.

`openalpr/benchmarks` (endtoend/eu) is already in this format; point `anpr-eval` at it.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image, ImageOps

from models.train import sources
from models.train.synthetic_scenes import write_samples

LABELS = Path(__file__).with_name("heldout_labels.tsv")
# The fresh sets `--fresh` writes: number -> the sources their label file may name.
FRESH_SETS = {
    2: sources.HELDOUT2_SOURCES,
    3: sources.HELDOUT3_SOURCES,  # sets 3-6: evaluation only (no licence)
    4: sources.HELDOUT4_SOURCES,
    5: sources.HELDOUT5_SOURCES,
    6: sources.HELDOUT6_SOURCES,
    7: sources.HELDOUT7_SOURCES,
}
SYNTHETIC_SEED = 999_003
# The rendered night set's seed. Training seeds are small integers (train_ocr --data-seed 1 and
# +1000, train_detector --seed 1, synthetic_scenes --seed 3, traffic_clip 19), spread by
# ocr_data (seed * 100_003 + i, seed * 7919 + n) and detector_data (seed * 104_729 + n); the
# held-out seeds are 999_001 to 999_003. 70_019_004 is above anything a training seed below 600
# spreads to, and far from the other held-out seeds.
NIGHT_SEED = 70_019_004


def _write(folder: Path, name: str, source: Path, plates: list[tuple[tuple, str]]) -> None:
    shutil.copyfile(source, folder / name)
    _write_labels(folder, name, plates)


def _write_labels(folder: Path, name: str, plates: list[tuple[tuple, str]]) -> None:
    lines = []
    for (x0, y0, x1, y1), plate in plates:
        x, y = max(0, round(x0)), max(0, round(y0))
        lines.append(
            f"{name}\t{x}\t{y}\t{max(1, round(x1) - x)}\t{max(1, round(y1) - y)}\t{plate}\n"
        )
    (folder / name).with_suffix(".txt").write_text("".join(lines), encoding="utf-8")


def write_real(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for index, (image, box, plate) in enumerate(sources.petrov_frames()):
        _write(folder, f"nl-petrov-{index:03d}.jpg", image, [(box, plate)])
        count += 1
    labels: dict[tuple[str, int], str] = {}
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, index, plate = line.split("\t")
            labels[(name, int(index))] = plate
    for n, (image, boxes) in enumerate(sources.lucian_frames("heldout")):
        plates = [(box, labels.get((image.name, i))) for i, box in enumerate(boxes)]
        if any(plate is None for _, plate in plates):
            continue  # a plate too blurred to label: leave the frame out
        _write(folder, f"ro-lucian-{n:03d}.jpg", image, plates)
        count += 1
    return count


def read_labels(path: Path) -> dict[tuple[str, str], list[tuple[tuple, str]]]:
    """(repo, path) -> [((x0, y0, x1, y1), plate)] from a TSV: repo, path, x, y, w, h, plate."""
    photos: dict[tuple[str, str], list[tuple[tuple, str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        repo, rel, x, y, w, h, plate = line.split("\t")
        x0, y0 = float(x), float(y)
        photos.setdefault((repo, rel), []).append(((x0, y0, x0 + float(w), y0 + float(h)), plate))
    return photos


def _write_labelled(folder: Path, labels: Path, repos: dict[str, sources.Source]) -> int:
    """Write every photo of a (repo, path, box, plate) label file, named by source and index.

    Boxes are in upright pixels: a photo whose EXIF orientation rotates it is written upright.
    """
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for n, ((repo, rel), plates) in enumerate(sorted(read_labels(labels).items())):
        image = sources.ensure(repos[repo]) / rel
        tag = repo.split("/")[0].split("-")[0].lower()[:10]
        name = f"{tag}-{n:03d}.jpg"
        with Image.open(image) as opened:
            rotated = opened.getexif().get(0x0112, 1) != 1
            if image.suffix.lower() in (".jpg", ".jpeg") and not rotated:
                _write(folder, name, image, plates)
            else:
                ImageOps.exif_transpose(opened).convert("RGB").save(folder / name, quality=95)
                _write_labels(folder, name, plates)
        count += 1
    return count


def write_fresh(number: int, folder: Path) -> int:
    """Write `real-heldout-N`: every photo of `heldoutN_labels.tsv`."""
    labels = Path(__file__).with_name(f"heldout{number}_labels.tsv")
    written = _write_labelled(folder, labels, FRESH_SETS[number])
    write_groups(number, folder)
    return written


def write_groups(number: int, folder: Path) -> None:
    """Copy `heldoutN_groups.tsv`, where the set has one, to `folder/groups.tsv`: photos whose
    scene differs from their source's kind (a road or night frame in a source of web
    photos), which `models/breakdown.py` cannot tell from the file name."""
    groups = Path(__file__).with_name(f"heldout{number}_groups.tsv")
    if groups.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(groups, folder / "groups.tsv")


def write_night(folder: Path, count: int = 200, seed: int = NIGHT_SEED) -> list[Path]:
    """`synthetic-night`: `count` rendered IR night scenes and a `groups.tsv` (NL, night)."""
    written = write_samples(folder, count, seed, night=True)
    lines = ["# image\tcountry\tscene: rendered infrared night scenes (heldout.write_night)\n"]
    lines += [f"{path.name}\tNL\tnight\n" for path in written]
    (folder / "groups.tsv").write_text("".join(lines), encoding="utf-8")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/eval"))
    parser.add_argument("--synthetic", type=int, default=200)
    parser.add_argument("--night", type=int, default=200, help="rendered night scenes")
    parser.add_argument("--fresh", action="store_true", help="write only real-heldout-2 to -7")
    parser.add_argument(
        "--only", choices=("night", "synthetic"), help="write only this rendered set"
    )
    args = parser.parse_args()
    if args.only == "night":
        write_night(args.out / "synthetic-night", args.night)
        print("synthetic night scenes:", args.night)
        return
    if args.only == "synthetic":
        write_samples(args.out / "synthetic-heldout", args.synthetic, SYNTHETIC_SEED)
        print("synthetic held-out scenes:", args.synthetic)
        return
    if args.fresh:
        for number in FRESH_SETS:
            written = write_fresh(number, args.out / f"real-heldout-{number}")
            print(f"real held-out {number} photos:", written)
        return
    print("real held-out photos:", write_real(args.out / "real-heldout"))
    write_samples(args.out / "synthetic-heldout", args.synthetic, SYNTHETIC_SEED)
    print("synthetic held-out scenes:", args.synthetic)
    write_night(args.out / "synthetic-night", args.night)
    print("synthetic night scenes:", args.night)


if __name__ == "__main__":
    main()
