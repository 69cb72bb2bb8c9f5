"""Plate series of every country a Dutch road sees, for the 3.0 generator (#19).

A `Series` is one kind of plate of one country: its layout patterns, colours, EU band, font
family and decorations. Patterns are drawn by `models.train.plate_render`; the label is the
pattern's characters in reading order (top row, then bottom row), separators left out.

Pattern symbols:
  `L` a letter of the series' `letters`, `9` a digit, `#` a letter or a digit,
  lowercase letters and the digits 0-8 stand for themselves (`cd 999` is a `CD` plate),
  `-` a printed dash, ` ` a gap, `*` an emblem between the groups (coat of arms, seals,
  sticker, flag: drawn, never a character), `|` a printed vertical divider (e.g. the Russian
  region box), `/` the break between the top and the bottom row.

The layouts are close enough to the real ones to look right; they are not a registry. With
`random_text` every character slot of every layout is drawn from the whole alphabet (and a
group may grow or shrink by one), so the reader cannot lean on where letters and digits stand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from recognition.plate_formats import DUTCH_LETTERS, DUTCH_SIDECODES, ROMANIAN_COUNTIES

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALPHABET = DIGITS + LETTERS
# Letters that look the same in Cyrillic or Greek and Latin: the only ones those plates issue.
CYRILLIC_LATIN = "ABEKMHOPCTYX"
GREEK_LATIN = "ABEHIKMNOPTXYZ"

RGB = tuple[int, int, int]
WHITE: RGB = (235, 235, 230)
YELLOW: RGB = (247, 200, 20)
BLACK: RGB = (15, 15, 15)
RED: RGB = (190, 25, 35)
GREEN: RGB = (30, 120, 60)
BLUE: RGB = (25, 55, 150)
LIGHT_BLUE: RGB = (120, 190, 230)
SILVER: RGB = (200, 200, 200)
EU_BLUE: RGB = (0, 51, 153)

KINDS = ("car", "motorcycle", "trailer", "temporary", "trade", "export", "diplomatic", "historic")


@dataclass(frozen=True)
class Series:
    country: str
    kind: str
    patterns: tuple[str, ...]
    background: RGB = WHITE
    ink: RGB = BLACK
    band: str = ""  # code in the blue EU band at the left; '' for none
    font: str = "din"  # family in `plate_render.FONT_FAMILIES`
    weight: float = 1.0  # relative share within the country
    letters: str = LETTERS
    prefixes: tuple[str, ...] = ()  # when set, the pattern's leading `L`s are one of these
    right_band: RGB | None = None  # a coloured band at the right (FR region, PT year)
    flag: tuple[RGB, ...] = ()  # non-EU countries: a flag above the code in the left band
    decor: tuple[str, ...] = ()  # extra drawings: see `plate_render.DECOR`
    border: RGB | None = None  # None: a thin border in the ink colour

    @property
    def rows(self) -> int:
        return 2 if any("/" in p for p in self.patterns) else 1


def _s(country: str, kind: str, *patterns: str, **kw) -> Series:
    return Series(country, kind, patterns, **kw)


def _eu(country: str, band: str, car: tuple[str, ...], moto: tuple[str, ...], **kw) -> list:
    """The usual EU trio: white car plate, square motorcycle plate, trailer plate."""
    square = tuple(p for p in car if "/" in p)
    flat = tuple(p for p in car if "/" not in p)
    out = [_s(country, "car", *flat, band=band, weight=6, **kw)]
    if square:
        out.append(_s(country, "car", *square, band=band, weight=1, **kw))
    out.append(_s(country, "motorcycle", *moto, band=band, weight=1, **kw))
    out.append(_s(country, "trailer", *flat, band=band, weight=0.5, **kw))
    return out


def _de_patterns(seal: str = "*") -> tuple[str, ...]:
    return tuple(
        f"{'L' * d}{seal}{'L' * letters} {'9' * digits}"
        for d in (1, 2, 3)
        for letters in (1, 2)
        for digits in (1, 2, 3, 4)
        if d + letters + digits <= 8
    )


SERIES: tuple[Series, ...] = tuple(
    [
        # --- The Netherlands: yellow side-codes, and the plates that differ ---
        _s("NL", "car", *DUTCH_SIDECODES, background=YELLOW, band="NL", letters=DUTCH_LETTERS,
           weight=30),
        _s("NL", "car", "LL-99/-LL", "99-LL/-LL", "L-999/-LL", background=YELLOW, band="NL",
           letters=DUTCH_LETTERS, weight=1.5),
        _s("NL", "motorcycle", "LL-99/-L", "LL-L/99", "LL-999/-L", "L-99/-LLL",
           background=YELLOW, band="NL", letters=DUTCH_LETTERS, weight=3),
        _s("NL", "trailer", "wL-99-LL", "wL-LL-99", "99-wL-LL", background=YELLOW, band="NL",
           letters=DUTCH_LETTERS, weight=1.5),
        _s("NL", "historic", "LL-99-99", "99-99-LL", "99-LL-99", background=BLUE, ink=WHITE,
           letters=DUTCH_LETTERS, weight=1.5),
        _s("NL", "trade", "99-LLL-9", "9-LL-999", "L-999-LL", background=GREEN, ink=WHITE,
           band="NL", letters=DUTCH_LETTERS, weight=0.7),
        _s("NL", "diplomatic", "cd-999", "cd-L-99", "cda-999", background=YELLOW, band="NL",
           weight=0.3),
        _s("NL", "export", "99-LL-LL", "LL-99-99", background=WHITE, band="NL",
           letters=DUTCH_LETTERS, weight=0.3),
        _s("NL", "car", *DUTCH_SIDECODES, background=LIGHT_BLUE, band="NL",
           letters=DUTCH_LETTERS, weight=0.7),  # taxi and bus
        # --- Germany: district, two seals, letters, digits ---
        _s("DE", "car", *_de_patterns(), band="D", decor=("seals",), weight=10),
        _s("DE", "car", *(p + "e" for p in _de_patterns() if len(p) <= 9), band="D",
           decor=("seals",), weight=1),  # electric
        _s("DE", "historic", *(p + "h" for p in _de_patterns() if len(p) <= 9), band="D",
           decor=("seals",), weight=0.6),
        _s("DE", "motorcycle", "LL*L/999", "L*LL/99", "LLL*L/99", "LL*LL/9", band="D",
           decor=("seals",), weight=1.5),
        _s("DE", "trailer", *_de_patterns(), band="D", decor=("seals",), weight=1),
        _s("DE", "temporary", "LL*049", "L*0499", "LLL*0499", band="D",
           decor=("seals", "date_strip_yellow"), weight=0.6),
        _s("DE", "trade", "LL*069", "L*0699", "LLL*06999", ink=RED, band="D",
           decor=("seals",), weight=0.4),
        _s("DE", "export", "LL*999L", "L*99LL", band="D", decor=("seals", "date_strip_red"),
           weight=0.3),
        _s("DE", "diplomatic", "0 999-9", "0 99-99", band="D", decor=("seals",), weight=0.2),
        # --- Belgium: red on white ---
        *_eu("BE", "B", ("9-LLL-999", "LLL-999"), ("9-LL/999", "LL/999"), ink=RED,
             font="condensed"),
        _s("BE", "trade", "9-zLL-999", "zLL-999", ink=RED, band="B", font="condensed",
           weight=0.8),
        _s("BE", "temporary", "9-LLL-999", ink=RED, band="B", font="condensed",
           decor=("date_strip_red",), weight=0.5),
        _s("BE", "diplomatic", "cd-L-999", ink=RED, band="B", font="condensed", weight=0.2),
        _s("BE", "historic", "9-oLL-999", ink=RED, band="B", font="condensed", weight=0.3),
        # --- France: a blue band each side, the region's number at the right ---
        *_eu("FR", "F", ("LL-999-LL", "LL-999/-LL"), ("LL-999/-LL",), right_band=EU_BLUE,
             font="condensed"),
        _s("FR", "temporary", "ww-999-LL", "ww999LL", band="F", font="condensed", weight=0.5),
        _s("FR", "trade", "w-999-LL", band="F", font="condensed", weight=0.3),
        _s("FR", "historic", "999 LL 99", "9999 LL 99", background=BLACK, ink=SILVER,
           font="condensed", weight=0.5),
        _s("FR", "diplomatic", "9999 cd 99", background=GREEN, ink=(240, 160, 40),
           font="condensed", weight=0.1),
        # --- Southern and western EU ---
        *_eu("ES", "E", ("9999 LLL", "9999/LLL"), ("9999/LLL",), letters="BCDFGHJKLMNPRSTVWXYZ",
             font="condensed"),
        _s("ES", "trade", "9999 L LL", "9999 LLL", background=WHITE, ink=RED, band="E",
           font="condensed", weight=0.4),
        _s("ES", "temporary", "p 9999 LLL", "s 9999 LLL", background=(200, 30, 30), ink=WHITE,
           band="E", font="condensed", weight=0.3),
        _s("ES", "historic", "h 9999 LLL", ink=BLACK, band="E", font="condensed", weight=0.2),
        *_eu("IT", "I", ("LL 999LL", "LL 999/LL"), ("LL/99999",), right_band=EU_BLUE,
             font="condensed"),
        _s("IT", "diplomatic", "cd 999LL", ink=BLUE, font="condensed", weight=0.2),
        *_eu("PT", "P", ("LL-99-LL", "99-LL-99", "99-99-LL", "LL-99/-LL"), ("99-LL/99",),
             right_band=YELLOW, font="condensed"),
        *_eu("LU", "L", ("LL 9999", "L 9999"), ("LL/9999",), background=YELLOW),
        *_eu("IE", "IRL", ("999-L-99999", "99-LL-9999", "999-LL-999"), ("99-L/9999",),
             font="sans"),
        *_eu("MT", "M", ("LLL 999",), ("LLL/999",), font="sans"),
        *_eu("CY", "CY", ("LLL 999",), ("LLL/999",), font="sans"),
        *_eu("GR", "GR", ("LLL-9999", "LLL-999"), ("LLL/999",), letters=GREEK_LATIN,
             font="sans"),
        # --- Central and eastern EU ---
        *_eu("PL", "PL", ("LL 99999", "LL 9999L", "LLL 9999", "LLL 99LL", "LL 999LL",
                          "LL/99999"), ("LL/999L", "LLL/99L")),
        _s("PL", "temporary", "LL 9999b", "LLL 999b", ink=RED, band="PL", weight=0.4),
        _s("PL", "historic", "LL 999L", "LLL 99L", background=YELLOW, band="PL", weight=0.3),
        _s("PL", "diplomatic", "w 999999", background=BLUE, ink=WHITE, band="PL", weight=0.1),
        *_eu("CZ", "CZ", ("9L9 9999", "9LL 9999", "9L9/9999"), ("9L/9999", "9L9/999")),
        _s("CZ", "temporary", "v9 99999", "9L9 9999", ink=GREEN, band="CZ", weight=0.3),
        *_eu("SK", "SK", ("LL*999LL", "LL-999LL", "LL*999/LL"), ("LL*/999LL",),
             decor=("shield_gap",)),
        *_eu("HU", "H", ("LLL-999", "LL LL*999", "LL LL-999"), ("LLL/999", "LL/LL-999")),
        _s("HU", "car", "LLL-999", "LL LL*999", background=WHITE, ink=GREEN, band="H",
           weight=0.5),  # electric
        _s("HU", "temporary", "L 99999", "p 99999", ink=(20, 90, 40), band="H", weight=0.2),
        *_eu("AT", "A", ("L*9999L", "LL*999LL", "L*999LL", "LL*99LL", "LL*9999/L"),
             ("L*99/9L", "LL*/999LL"), decor=("red_bars",)),
        _s("AT", "trade", "L*999LL", "LL*99LL", ink=RED, band="A", decor=("red_bars",),
           weight=0.3),
        *_eu("SI", "SLO", ("LL*L9-99L", "LL*99-999", "LL*LL-999"), ("LL*/99-99L",)),
        *_eu("HR", "HR", ("LL*999-L", "LL*9999-LL", "LL*999-LL"), ("LL*/999-LL",)),
        *_eu("RO", "RO", ("L 99 LLL", "LL 99 LLL", "L 999 LLL", "LL 99/LLL"), ("LL/99LLL",),
             prefixes=ROMANIAN_COUNTIES),
        _s("RO", "temporary", "LL 999999", "L 999999", ink=RED, band="RO",
           prefixes=ROMANIAN_COUNTIES, weight=0.4),
        *_eu("BG", "BG", ("LL 9999 LL", "L 9999 LL", "LL 9999/LL"), ("LL/9999", "L/9999"),
             letters=CYRILLIC_LATIN),
        *_eu("LT", "LT", ("LLL 999", "LLL:999"), ("999/LL", "LLL/99")),
        *_eu("LV", "LV", ("LL-9999", "LL-999"), ("LL/999",)),
        *_eu("EE", "EST", ("999 LLL", "999 LL"), ("999/LLL",)),
        *_eu("FI", "FIN", ("LLL-999", "LL-999", "LLL-99"), ("LL/999", "LLL/99")),
        *_eu("SE", "S", ("LLL 999", "LLL 99L"), ("LLL/999", "LLL/99L")),
        _s("SE", "diplomatic", "LL 999 L", background=BLUE, ink=WHITE, weight=0.1),
        *_eu("DK", "DK", ("LL 99 999", "LL 99/999"), ("LL/99999",)),
        _s("DK", "trade", "LL 99 999", background=YELLOW, band="DK", weight=0.3),
        # --- Outside the EU ---
        *_eu("GB", "UK", ("LL99 LLL", "L999 LLL", "LLL 999L", "LL99/LLL"), ("LL99/LLL",),
             background=YELLOW, font="sans"),
        _s("GB", "car", "LL99 LLL", "L999 LLL", background=WHITE, band="UK", font="sans",
           weight=2),  # front plates
        _s("GB", "trade", "999 LL", "99999", background=WHITE, ink=RED, font="sans",
           weight=0.2),
        _s("GB", "historic", "LLL 999", "999 LLL", background=BLACK, ink=SILVER, font="sans",
           weight=0.3),
        _s("CH", "car", "LL 999999", "LL 99999", "LL 9999", background=WHITE,
           decor=("shields",), weight=4),
        _s("CH", "car", "LL/999999", "LL/99999", background=WHITE, decor=("shields",),
           weight=1.5),
        _s("CH", "motorcycle", "LL/99999", "LL/9999", background=WHITE, decor=("shields",),
           weight=1),
        _s("CH", "trade", "LL 9999u", "LL 999u", background=WHITE, decor=("shields",),
           weight=0.2),
        _s("CH", "diplomatic", "cd LL 999", "LL 99999", background=BLUE, ink=WHITE,
           decor=("shields",), weight=0.2),
        _s("LI", "car", "fl 99999", "fl 9999", background=BLACK, ink=WHITE,
           decor=("shield_left",), weight=1),
        _s("NO", "car", "LL 99999", "LL/99999", background=WHITE, band="N", weight=4),
        _s("NO", "car", "el 99999", "ek 99999", background=WHITE, ink=GREEN, band="N",
           weight=1),
        _s("NO", "motorcycle", "LL/9999", background=WHITE, band="N", weight=0.5),
        _s("IS", "car", "LL L99", "LLL99", background=WHITE, ink=BLUE, band="IS", weight=1),
        _s("RS", "car", "LL*999-LL", "LL*9999-LL", "LL*999/-LL", flag=(RED, BLUE, WHITE),
           decor=("shield_gap",), weight=4),
        _s("RS", "motorcycle", "LL*/999LL", flag=(RED, BLUE, WHITE), decor=("shield_gap",),
           weight=0.5),
        _s("BA", "car", "L99-L-999", "999-L-999", flag=(BLUE, YELLOW), weight=3),
        _s("ME", "car", "LL*LL999", "LL*LL9999", "LL*999LL", flag=(RED, YELLOW),
           decor=("shield_gap",), weight=2),
        _s("MK", "car", "LL-9999-LL", "LL 9999 LL", "LL*9999-LL", flag=(RED, YELLOW),
           weight=2),
        _s("AL", "car", "LL 999 LL", "LL/999LL", flag=(RED, BLACK), weight=2),
        _s("XK", "car", "99-999-LL", "99 999 LL", flag=(BLUE, YELLOW), weight=2),
        _s("UA", "car", "LL 9999 LL", "LL9999LL", "LL 9999/LL", flag=(BLUE, YELLOW),
           letters=CYRILLIC_LATIN, font="mono", weight=4),
        _s("UA", "motorcycle", "9999/LL", "LL/9999LL", flag=(BLUE, YELLOW),
           letters=CYRILLIC_LATIN, font="mono", weight=0.5),
        _s("UA", "temporary", "LLL 99999", "99 LL 9999", ink=RED, flag=(BLUE, YELLOW),
           letters=CYRILLIC_LATIN, font="mono", weight=0.4),
        _s("UA", "diplomatic", "cdp 999", "99999 dp", background=BLUE, ink=WHITE,
           font="mono", weight=0.1),
        _s("MD", "car", "LLL 999", "LL LL 999", "LLL:999", flag=(BLUE, YELLOW, RED),
           weight=3),
        _s("TR", "car", "99 L 9999", "99 LL 999", "99 LLL 99", "99 LL 9999", "99 L 99999",
           "99/L 9999", band="TR", weight=4),
        _s("TR", "diplomatic", "99 cc 999", "99 cd 999", background=BLUE, ink=WHITE,
           band="TR", weight=0.2),
        _s("BY", "car", "9999 LL-9", "9999 LL/-9", flag=(RED, GREEN), letters=CYRILLIC_LATIN,
           font="mono", weight=2),
        _s("RU", "car", "L999LL|99", "L999LL|999", "L999LL/99", letters=CYRILLIC_LATIN,
           font="mono", flag=(WHITE, BLUE, RED), weight=2),
        _s("GE", "car", "LL-999-LL", flag=(WHITE, RED), weight=1.5),
    ]
)  # fmt: skip

# Roughly what passes a Dutch motorway camera; the long tail is still drawn often enough
# to be learned (every country at least 0.5 % of the plates).
COUNTRY_WEIGHTS = {
    "NL": 22, "DE": 10, "BE": 7, "PL": 5, "FR": 4, "RO": 3, "GB": 2.5, "ES": 2.5, "IT": 2.5,
    "LT": 2.5, "BG": 2.5, "CZ": 2, "SK": 2, "HU": 2, "AT": 1.5, "LU": 1.5, "PT": 1.5,
    "UA": 2, "TR": 1.5, "LV": 1.2, "EE": 1, "SI": 1, "HR": 1, "DK": 1.2, "SE": 1, "FI": 1,
    "CH": 1.5, "NO": 1, "IE": 1, "RS": 1, "BA": 1, "MK": 1, "AL": 1, "XK": 1, "ME": 0.8,
    "MD": 1, "GR": 1, "BY": 1, "RU": 0.8, "LI": 0.5, "IS": 0.5, "MT": 0.5, "CY": 0.5,
    "GE": 0.5,
}  # fmt: skip

COUNTRIES = ("",) + tuple(sorted({s.country for s in SERIES}))


def pick_series(rng: random.Random) -> Series:
    country = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
    options = [s for s in SERIES if s.country == country]
    return rng.choices(options, weights=[s.weight for s in options])[0]


def fill(pattern: str, series: Series, rng: random.Random, random_text: bool = False) -> str:
    """A printed registration from `pattern` (separators, `*` and `/` kept).

    `random_text`: every slot from the whole alphabet, literals included, and now and then a
    group one character longer or shorter, so no layout is learned as a rule."""
    if random_text:
        return _random_fill(pattern, rng)
    out = []
    if series.prefixes and pattern.startswith("L"):
        lead = len(pattern) - len(pattern.lstrip("L"))
        options = [p for p in series.prefixes if len(p) == lead]
        if options:
            out.append(rng.choice(options))
            pattern = pattern[lead:]
    for symbol in pattern:
        if symbol == "L":
            out.append(rng.choice(series.letters))
        elif symbol == "9":
            out.append(rng.choice(DIGITS))
        elif symbol == "#":
            out.append(rng.choice(ALPHABET))
        elif symbol.islower():
            out.append(symbol.upper())
        else:
            out.append(symbol)  # a literal digit 0-8 or a separator
    return "".join(out)


def _random_fill(pattern: str, rng: random.Random) -> str:
    out = []
    for group in _groups(pattern):
        if group and group[0] in SEPARATORS:
            out.append(group)
            continue
        length = len(group)
        if rng.random() < 0.15:
            length = max(1, length + rng.choice((-1, 1)))
        out.append("".join(rng.choice(ALPHABET) for _ in range(length)))
    return "".join(out)


SEPARATORS = "- *|/:"


def _groups(pattern: str) -> list[str]:
    """Runs of characters and single separators: `LL-99` -> ['LL', '-', '99']."""
    groups: list[str] = []
    for symbol in pattern:
        if symbol in SEPARATORS:
            groups.append(symbol)
        elif groups and groups[-1][0] not in SEPARATORS:
            groups[-1] += symbol
        else:
            groups.append(symbol)
    return groups


def label(printed: str) -> str:
    """The reader's label: the characters in reading order, top row first."""
    return "".join(c for c in printed if c in ALPHABET)
