"""The real plate photos training and evaluation use, where they come from, and their licences.

Each source is a public GitHub repository pinned to a commit. `ensure` clones it into the data
folder (`$ANPR_DATA`, default `var/data`, git-ignored) when it is not there yet; nothing is
ever committed from it. `openalpr/benchmarks` is deliberately absent: it is reserved for
independent evaluation and never feeds training, tuning or selection.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Source:
    repo: str
    commit: str
    licence: str

    @property
    def folder(self) -> Path:
        return data_dir() / self.repo.replace("/", "+")


LUCIAN = Source(
    "RobertLucian/license-plate-dataset", "f00f309e4564e7f386fd7641569d861e2910d65f", "MIT"
)
PETROV = Source(
    "n-p-petrov/dutch-license-plate-recognition", "458ff42b49814b9694e7f6eb008b726d05fbdb7c", "MIT"
)
ALPR_DETECTOR = Source(
    "openalpr/train-detector", "1bd54b452c5fad1d7b5717a339664c85fefc4481", "AGPL-3.0"
)

ALPR_OCR = Source("openalpr/train-ocr", "8dd50158334be077a52883af2a567e479fd8fb1c", "AGPL-3.0")

# Real held-out set 2 (`heldout2_labels.tsv`): evaluation only, never training or tuning.
NOMEROFF = Source("ria-com/nomeroff-net", "01cb03dcab9b6a9fd4e77cee47f476413d1978c6", "GPL-3.0")
RFDETR_NL = Source(
    "rickkosse/rfdetr-dutch-license-plate-detector",
    "64df5eecf394554d07484413adfa8ef9191980d0",
    "Apache-2.0",
)
TABLICE_OCR = Source(
    "xm4rta/TabliceRejestracyjneOCR", "59a69c7f5482507795105b19a8e99f1f62b58708", "GPL-3.0"
)
# The Roboflow "Polish license plates v5" export in this repository declares "License: Public
# Domain" in its README.dataset.txt; the repository itself has no licence file, so only that
# export folder is used.
POLISH_ROBOFLOW = Source(
    "simje71380/Polish-licence-plates-recognition",
    "9c14945e3bf65a4607362cd93fc94fff68c9c20c",
    "Public Domain (Roboflow export only)",
)
HELDOUT2_SOURCES = {s.repo: s for s in (NOMEROFF, RFDETR_NL, TABLICE_OCR, POLISH_ROBOFLOW)}

# Real held-out set 3 (`heldout3_labels.tsv`): Spanish plates photographed by students of the
# ULPGC computer-vision course. These repositories have no licence file (all rights reserved):
# evaluation only, never trained or tuned on, never committed; the photos stay in the data folder.
ULPGC_EFM = Source(
    "efm092000/Visi-n-por-Computador",
    "17e2d11936c7028c2b8e87795df5bed9b213056c",
    "none: evaluation only",
)
ULPGC_CARLOS = Source(
    "carlosfc02/VC_P4", "8052a03d4b3639e16bd2fa282d9859c8f22bf582", "none: evaluation only"
)
ULPGC_ALLEN = Source(
    "AllenHyun/VC_P4_LRM_MCV", "21c94c013f8e226b47da791bec45762f690a126f", "none: evaluation only"
)
HELDOUT3_SOURCES = {s.repo: s for s in (ULPGC_EFM, ULPGC_CARLOS, ULPGC_ALLEN)}

# Real held-out set 4 (`heldout4_labels.tsv`): Hungarian (a few Czech and German), Czech and Dutch
# cars from course and hobby repositories that have no licence file (all rights reserved):
# evaluation only, never trained or tuned on, never committed; the photos stay in the data folder.
HU_DAVID = Source(
    "david00721/Gepi-latas---rendszam-felismeres",
    "e25248aa3e23ff489e788384cb5e2ab3810f7e2e",
    "none: evaluation only",
)
HU_PMATE = Source(
    "pmate93/Gepi-latas-rendszam-felismeres",
    "5ca0b370a5c9e2f6e990253931dc3d949cde9bac",
    "none: evaluation only",
)
HU_SILVER = Source(
    "silver0550/Rendszam-felismeres",
    "27d7cabe49b3e72069688af78722fb90b72767f9",
    "none: evaluation only",
)
CZ_KVITAJAKUB = Source(
    "kvitajakub/numberPlatesRecognition",
    "785b3fb19a3c0ad6396ec5e23ddaa16168c9751d",
    "none: evaluation only",
)
NL_PAPPAVIS = Source(
    "pappavis/PythonKentekenplaatHerkenning",
    "37da7054f9afccee97dadcad7b2c67d1a7f293f8",
    "none: evaluation only",
)
HELDOUT4_SOURCES = {s.repo: s for s in (HU_DAVID, HU_PMATE, HU_SILVER, CZ_KVITAJAKUB, NL_PAPPAVIS)}

# Real held-out set 5 (`heldout5_labels.tsv`): Dutch dealer photos, Spanish cars (Gran Canaria and
# Barcelona course photos, a few web photos of British, German and Spanish cars), Polish, Slovak and
# Dutch cars from course and hobby repositories that have no licence file (all rights reserved):
# evaluation only, never trained or tuned on, never committed; the photos stay in the data folder.
NL_RFJHENDRIKS = Source(
    "RFJHendriks/Kentekenherkenning",
    "59654ff62a5d046565d9937c06156601ea7dc54e",
    "none: evaluation only",
)
ES_CARLOSQCHAO = Source(
    "Carlosqchao/VC_P4", "c64733adecfbf95cc3d2965a32a5c11e42bdd2bf", "none: evaluation only"
)
ES_GAUSACHS = Source(
    "GabrielGausachs/License-plate-recognition",
    "b7a07ee14d603c998610a04f5afa944e362737a5",
    "none: evaluation only",
)
PL_WITEK = Source(
    "witek2310/SW_projekt", "29aa67a8e0bc8fcc37173535d6b05b5bf1afc97f", "none: evaluation only"
)
NL_KENTIE = Source(
    "KevinKentieHBO/kentekenscanner_stage",
    "7db7ea15dc7f180fa6a5a902f301526bd82b8a62",
    "none: evaluation only",
)
HU_SZEPZSOFIA = Source(
    "szepzsofia/GepiLatas_RendszamFelismero",
    "d6c83eb90df6a3c3ac8e3661afb01b7878766df2",
    "none: evaluation only",
)
HELDOUT5_SOURCES = {
    s.repo: s
    for s in (NL_RFJHENDRIKS, ES_CARLOSQCHAO, ES_GAUSACHS, PL_WITEK, NL_KENTIE, HU_SZEPZSOFIA)
}

# Real held-out set 6 (`heldout6_labels.tsv`): Turkish web photos and motorway dash-cam frames
# (a Roboflow export whose README declares no licence), Croatian parked cars (Osijek), German cars
# from a street-side video (Hamburg) and German press photos of used cars, from repositories that
# have no licence file (all rights reserved): evaluation only, never trained or tuned on, never
# committed; the photos stay in the data folder.
TR_LORENZOSUPPA = Source(
    "LorenzoSuppa00/TrainingLocaleVSCTargheAuto",
    "8d9fa92b79489464b3658abc6127b445e5ac353f",
    "none: evaluation only",
)
HR_TODOBASIC = Source(
    "todobasic/Automatic-Number-Plate-Recognition",
    "29282228dfaf493c927746f0fc8cd796a742aa22",
    "none: evaluation only",
)
DE_XAARIS = Source(
    "Xaaris/LicensePlateDetection",
    "99623d1e12e84916cba4bc023b6e5f654a8a96b6",
    "none: evaluation only",
)
DE_UNBEKANNT = Source(
    "Unbekannt28/german-license-plate-ai",
    "257b9e3012519e84d7127780ba26e33b866ba75f",
    "none: evaluation only",
)
HELDOUT6_SOURCES = {s.repo: s for s in (TR_LORENZOSUPPA, HR_TODOBASIC, DE_XAARIS, DE_UNBEKANNT)}

# Real held-out set 7 (`heldout7_labels.tsv`): Swedish cars in web photos scraped from the Blocket
# classifieds site (dealer and owner photos of parked cars), from a repository that has no licence
# file (all rights reserved): evaluation only, never trained or tuned on, never committed; the
# photos stay in the data folder.
SE_ABBERIHAL = Source(
    "abberihal/ai_projekt", "43f4e54c4cc8e1b0d8c0a260aadf82cded259a6d", "none: evaluation only"
)
HELDOUT7_SOURCES = {s.repo: s for s in (SE_ABBERIHAL,)}


class SourceUnavailableError(RuntimeError):
    """A data source is missing and could not be cloned."""


def data_dir() -> Path:
    return Path(os.environ.get("ANPR_DATA", "var/data")).resolve()


def ensure(source: Source) -> Path:
    """The source's folder, cloned at its pinned commit when missing."""
    folder = source.folder
    if folder.exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    url = f"https://github.com/{source.repo}.git"
    log.info("cloning %s at %s into %s", url, source.commit, folder)
    try:
        subprocess.run(["git", "clone", "--quiet", url, str(folder)], check=True)
        subprocess.run(["git", "-C", str(folder), "checkout", "-q", source.commit], check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise SourceUnavailableError(
            f"cannot clone {url} ({error}); clone it by hand into {folder}"
        ) from None
    return folder


# The repository's own train/valid split cuts the same videos frame by frame (the same cars
# appear in both), so it is useless as a held-out set: split by video instead.
LUCIAN_HELD_OUT_VIDEOS = ("dayride_type1_002.mp4", "dayride_type1_003.mp4")


def lucian_frames(split: str) -> list[tuple[Path, list[Box]]]:
    """RobertLucian dash-cam frames (1280x720, Romania) with plate boxes.

    `split` is "train" (every frame of the other videos) or "heldout" (the held-out videos).
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    folder = ensure(LUCIAN) / "dataset"
    frames = []
    for xml in sorted(folder.glob("*/annots/*.xml")):
        tree = ET.parse(xml).getroot()
        name = tree.findtext("filename", "")
        if (name.split("#")[0] in LUCIAN_HELD_OUT_VIDEOS) != (split == "heldout"):
            continue
        image = xml.parent.parent / "images" / name
        boxes = []
        for obj in tree.iter("bndbox"):
            boxes.append(
                tuple(float(obj.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
            )
        if image.exists() and boxes:
            frames.append((image, boxes))
    return frames


def petrov_frames() -> list[tuple[Path, Box, str]]:
    """n-p-petrov Dutch frames (640x480) with one plate box and its text each.

    Frame N of a category pairs with plate N of the same category; categories whose box file
    counts plates rather than frames (several plates per frame) are left out.
    """
    root = ensure(PETROV) / "dataset"
    out = []
    for frames_csv in sorted(root.glob("*/localisationFrames/*/AABBGroundTruth.csv")):
        plates_csv = Path(
            str(frames_csv)
            .replace("localisationFrames", "recognitionPlates")
            .replace("AABBGroundTruth", "PlateGroundTruth")
        )
        boxes = list(csv.reader(frames_csv.read_text(encoding="utf-8-sig").splitlines()))
        texts = list(csv.reader(plates_csv.read_text(encoding="utf-8-sig").splitlines()))
        folder = frames_csv.parent
        if len(boxes) - 1 != len(list(folder.glob("*.jpg"))):
            continue
        text_of = {row[0]: row[1] for row in texts[1:] if len(row) >= 2}
        for row in boxes[1:]:
            image = folder / f"{row[0]}.jpg"
            plate = text_of.get(row[0], "").replace("-", "").upper()
            if image.exists() and plate:
                out.append((image, tuple(float(v) for v in row[1:5]), plate))
    return out


def alpr_eu_crops() -> list[Path]:
    """openalpr/train-detector tightly cropped European plates (no text labels)."""
    root = ensure(ALPR_DETECTOR)
    return sorted((root / "eu").glob("*.png")) + sorted((root / "eu2").glob("*.jpg"))


def alpr_br_crops() -> list[tuple[Path, str]]:
    """openalpr/train-detector Brazilian crops whose file name carries the plate (LLL9999)."""
    root = ensure(ALPR_DETECTOR) / "br"
    out = []
    for path in sorted(root.iterdir()):
        match = re.search(r"_([A-Z]{3}[0-9]{4})\.(?:jpe?g|png)_", path.name, re.IGNORECASE)
        if match:
            out.append((path, match.group(1).upper()))
    return out


def alpr_negatives() -> list[Path]:
    """openalpr/train-detector images with no plate, as detector backgrounds."""
    root = ensure(ALPR_DETECTOR) / "raw-neg"
    return sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpg", ".png", ".jpeg"))


def alpr_glyphs(sheet: str = "netherlands") -> dict[str, list[Image.Image]]:
    """Real plate characters from an openalpr/train-ocr sheet, as ink masks (ink = 255).

    The sheets are binarised scans of real plates' characters with Tesseract box files
    (`char x0 y0 x1 y1 page`, y counted from the bottom).
    """
    root = ensure(ALPR_OCR) / "eu" / "input"
    image = Image.open(root / f"leu.{sheet}.exp0.tif").convert("L")
    glyphs: dict[str, list[Image.Image]] = {}
    for line in (root / f"leu.{sheet}.exp0.box").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 5 or len(parts[0]) != 1:
            continue
        char = parts[0].upper()
        x0, y0, x1, y1 = (int(v) for v in parts[1:5])
        crop = image.crop((x0, image.height - y1, x1, image.height - y0))
        if crop.width > 1 and crop.height > 4:
            glyphs.setdefault(char, []).append(crop.point(lambda v: 255 - v))
    return glyphs
