"""What is known of each evaluation photo: its source, its kind of scene and each plate's country.

An overall figure hides where a reader fails: 91 % on a set that is three quarters Dutch says
little about Polish plates or night frames. `anpr-eval --breakdown` splits its scores by the
groups this module assigns. The annotation format has no country or scene column, so both are
derived, in this order:

1. `groups.tsv` in the evaluated folder, if present: `image<TAB>country<TAB>scene` per line
   (`#` comments; an empty field means "derive it"). A set whose file names do not name their
   source (openalpr's benchmark, a folder of one's own) can be described there.
2. The file-name prefix `models/train/heldout.py` gives every photo it writes: `nl-petrov-`,
   `ro-lucian-` and, for the labelled sets, the first word of the source repository's owner
   (`david00721-012.jpg`). `SOURCES` maps each prefix to its repository, its scene kind and
   the countries it holds, read from the label files' headers and `models/train/sources.py`.
   Synthetic scenes (`scene-` from `models/train/synthetic_scenes.py`) are Dutch road frames.
3. A plate's country: the only country of its source; for a mixed source the first of its
   countries (in the order of `SOURCES`, most plates first) whose layout admits the plate
   (`recognition.plate_formats` plus the few layouts `EXTRA_LAYOUTS` adds for countries the
   reader has no layout of); `?` when none does. Look-alike layouts can misattribute a plate
   between a mixed source's countries (a Hungarian ABC123 is also a valid German plate): the
   source's main country wins.

Scene kinds: `road` (traffic and dash-cam frames from a moving or roadside camera), `gate`
(a fixed camera close to slow or parked cars: car-park entrances, garages, lateral views in a
car park), `phone` (hand-held photos of parked cars), `web` (press, dealer and stock photos),
`night` (night and infrared frames), `synthetic` (rendered), `unknown` (nothing known).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from recognition.plate_formats import countries_matching

SCENES = ("road", "gate", "phone", "web", "night", "synthetic", "unknown")
UNKNOWN_COUNTRY = "?"


class GroupsFileError(ValueError):
    """A line of `groups.tsv` cannot be used; names file and line."""


@dataclass(frozen=True)
class Source:
    """A file-name prefix's repository, scene kind and countries (main country first)."""

    repo: str
    scene: str
    countries: tuple[str, ...]


# File-name prefix (as models/train/heldout.py writes it) -> what is known of that source.
SOURCES: dict[str, Source] = {
    # validation set (real-heldout): heldout.py write_real
    "nl-petrov": Source("n-p-petrov/dutch-license-plate-recognition", "phone", ("NL",)),
    "ro-lucian": Source("RobertLucian/license-plate-dataset", "road", ("RO",)),
    # development set 2
    "ria": Source("ria-com/nomeroff-net", "web", ("UA", "PL", "BG", "LT", "GE")),
    "rickkosse": Source("rickkosse/rfdetr-dutch-license-plate-detector", "web", ("NL",)),
    "xm4rta": Source("xm4rta/TabliceRejestracyjneOCR", "web", ("PL", "BG", "FR")),
    "simje71380": Source("simje71380/Polish-licence-plates-recognition", "phone", ("PL",)),
    # development set 3 (Spanish phone photos; one Italian plate)
    "efm092000": Source("efm092000/Visi-n-por-Computador", "phone", ("ES", "IT")),
    "carlosfc02": Source("carlosfc02/VC_P4", "phone", ("ES", "IT")),
    "allenhyun": Source("AllenHyun/VC_P4_LRM_MCV", "phone", ("ES", "IT")),
    # fresh held-out set 4 (evaluation only)
    "david00721": Source(
        "david00721/Gepi-latas---rendszam-felismeres", "phone", ("HU", "CZ", "DE")
    ),
    "pmate93": Source("pmate93/Gepi-latas-rendszam-felismeres", "web", ("HU",)),
    "silver0550": Source("silver0550/Rendszam-felismeres", "gate", ("HU",)),
    "kvitajakub": Source("kvitajakub/numberPlatesRecognition", "road", ("CZ",)),
    "pappavis": Source("pappavis/PythonKentekenplaatHerkenning", "web", ("NL",)),
    # fresh held-out set 5 (evaluation only)
    "rfjhendrik": Source("RFJHendriks/Kentekenherkenning", "web", ("NL",)),
    "carlosqcha": Source("Carlosqchao/VC_P4", "phone", ("ES", "GB", "DE")),
    "gabrielgau": Source("GabrielGausachs/License-plate-recognition", "gate", ("ES",)),
    "witek2310": Source("witek2310/SW_projekt", "phone", ("PL",)),
    "kevinkenti": Source("KevinKentieHBO/kentekenscanner_stage", "web", ("NL",)),
    "szepzsofia": Source("szepzsofia/GepiLatas_RendszamFelismero", "phone", ("DE", "SK")),
    # fresh held-out set 6 (evaluation only)
    "lorenzosup": Source("LorenzoSuppa00/TrainingLocaleVSCTargheAuto", "web", ("TR",)),
    "todobasic": Source("todobasic/Automatic-Number-Plate-Recognition", "phone", ("HR",)),
    "xaaris": Source("Xaaris/LicensePlateDetection", "road", ("DE",)),
    "unbekannt2": Source("Unbekannt28/german-license-plate-ai", "web", ("DE", "FR")),
    # fresh held-out set 7 (evaluation only)
    "abberihal": Source("abberihal/ai_projekt", "web", ("SE",)),
    # rendered Dutch road scenes (synthetic-heldout, samples/replay)
    "scene": Source("models/train/synthetic_scenes.py", "synthetic", ("NL",)),
}

# Layouts the reader has none for (countries, older series), used here only to name a plate's
# country.
EXTRA_LAYOUTS = {
    "UA": re.compile(r"[A-Z]{2}[0-9]{4}[A-Z]{2}"),
    "BG": re.compile(r"[A-Z]{1,2}[0-9]{4}[A-Z]{1,2}"),
    "HU": re.compile(r"[A-Z]{3}[0-9]{3}|[A-Z]{4}[0-9]{3}"),
    "LT": re.compile(r"[A-Z]{3}[0-9]{3}"),
    "GE": re.compile(r"[A-Z]{2}[0-9]{3}[A-Z]{2}"),
    # Spain beyond the national 9999LLL: provincial (GC8389CK), moped (C0366BVY), historic
    "ES": re.compile(r"[A-Z]{1,2}[0-9]{4}[A-Z]{1,2}|[CH][0-9]{4}[A-Z]{3}"),
    # Germany's red plates: district, then 06 (dealers) or 07 (classic cars) and a serial (HH061365)
    "DE": re.compile(r"[A-Z]{1,3}0[67][0-9]{2,4}"),
}


@dataclass(frozen=True)
class Groups:
    """The groups one photo's plates fall in: its scene kind and per plate a country."""

    scene: str
    countries: tuple[str, ...]


def source_of(image_name: str) -> Source | None:
    """The source a photo's file-name prefix names, if any."""
    stem = Path(image_name).stem.lower()
    for prefix in sorted(SOURCES, key=len, reverse=True):
        if stem.startswith(prefix + "-"):
            return SOURCES[prefix]
    return None


def fits(plate: str, country: str) -> bool:
    extra = EXTRA_LAYOUTS.get(country)
    if extra is not None and extra.fullmatch(plate):
        return True
    return country in countries_matching(plate)


def plate_country(plate: str, source: Source | None) -> str:
    """The source's only country, or the first of its countries whose layout admits the plate;
    without a source, the only country whose layout admits it; otherwise `?`."""
    if source is None:
        matching = countries_matching(plate)
        return matching[0] if len(matching) == 1 else UNKNOWN_COUNTRY
    if len(source.countries) == 1:
        return source.countries[0]
    for country in source.countries:
        if fits(plate, country):
            return country
    return UNKNOWN_COUNTRY


def read_groups_file(folder: Path) -> dict[str, tuple[str, str]]:
    """`groups.tsv` in the folder: image name -> (country, scene); empty fields derive."""
    path = folder / "groups.tsv"
    if not path.exists():
        return {}
    described = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise GroupsFileError(f"{path}:{number}: expected image<TAB>country<TAB>scene")
        name, country, scene = (part.strip() for part in parts)
        if scene and scene not in SCENES:
            raise GroupsFileError(f"{path}:{number}: scene {scene!r} is not one of {SCENES}")
        described[name] = (country.upper(), scene)
    return described


def groups_of(image: Path, plates: list[str], described: dict[str, tuple[str, str]]) -> Groups:
    """The scene kind of one photo and the country of each of its plates."""
    source = source_of(image.name)
    country, scene = described.get(image.name, ("", ""))
    scene = scene or (source.scene if source else "unknown")
    countries = tuple(country or plate_country(plate, source) for plate in plates)
    return Groups(scene, countries)
