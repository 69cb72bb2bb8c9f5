"""Plate layouts per country: what characters may stand where.

Shared by the synthetic generator (to draw plausible registrations) and by the recognizer
(to name a country and to correct a low-confidence character whose look-alike fits the
layout). Patterns use `L` for a letter, `9` for a digit and `-`/` ` for printed separators.
A correction only swaps a character for its look-alike; it never adds, drops or invents one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
# Letters issued on current Dutch plates: no vowels, no C, Q, M, W (M only on some).
DUTCH_LETTERS = "BDFGHJKLNPRSTVXZ"
SPANISH_LETTERS = "BCDFGHJKLMNPRSTVWXYZ"


@dataclass(frozen=True)
class CountryLayout:
    """One country's one-line plate layouts and the letters it issues."""

    code: str
    patterns: tuple[str, ...]
    letters: str = LETTERS
    prefixes: tuple[str, ...] = ()  # when set, the leading letters are one of these (districts)

    def regex(self) -> re.Pattern[str]:
        alternatives = []
        for pattern in self.patterns:
            plain = pattern.replace("-", "").replace(" ", "")
            lead = len(plain) - len(plain.lstrip("L")) if self.prefixes else 0
            prefixes = [p for p in self.prefixes if len(p) == lead]
            parts = [f"(?:{'|'.join(prefixes)})"] if prefixes else []
            for symbol in plain[lead if prefixes else 0 :]:
                parts.append(f"[{self.letters}]" if symbol == "L" else "[0-9]")
            alternatives.append("".join(parts))
        return re.compile("|".join(f"(?:{a})" for a in alternatives))


# Romanian county codes (B, Bucharest, is the only one-letter code and the only one with
# three digits); a plate's leading letters are always one of these.
ROMANIAN_COUNTIES = (
    "AB", "AG", "AR", "B", "BC", "BH", "BN", "BR", "BT", "BV", "BZ", "CJ", "CL", "CS", "CT",
    "CV", "DB", "DJ", "GJ", "GL", "GR", "HD", "HR", "IF", "IL", "IS", "MH", "MM", "MS", "NT",
    "OT", "PH", "SB", "SJ", "SM", "SV", "TL", "TM", "TR", "VL", "VN", "VS",
)  # fmt: skip

# Dutch side-codes 4 to 11 (plus 1 to 3 for older cars still on the road).
DUTCH_SIDECODES = (
    "LL-99-99", "99-99-LL", "99-LL-99", "LL-99-LL", "LL-LL-99", "99-LL-LL",
    "99-LLL-9", "9-LLL-99", "LL-999-L", "L-999-LL", "LLL-99-L", "L-99-LLL", "9-LL-999",
    "999-LL-9",
)  # fmt: skip

LAYOUTS: dict[str, CountryLayout] = {
    "NL": CountryLayout("NL", DUTCH_SIDECODES, DUTCH_LETTERS),
    "BE": CountryLayout("BE", ("9-LLL-999", "LLL-999")),
    "DE": CountryLayout(
        "DE",  # district 1-3 letters, 1-2 letters, 1-4 digits, 8 characters at most
        tuple(
            f"{'L' * district} {'L' * letters} {'9' * digits}"
            for district in (1, 2, 3)
            for letters in (1, 2)
            for digits in (1, 2, 3, 4)
            if district + letters + digits <= 8
        ),
    ),
    "FR": CountryLayout("FR", ("LL-999-LL",)),
    "PL": CountryLayout("PL", ("LL 99999", "LL 9999L", "LLL 9999", "LLL 99LL", "LL 999LL")),
    "ES": CountryLayout("ES", ("9999 LLL",), SPANISH_LETTERS),
    "CZ": CountryLayout("CZ", ("9L9 9999", "9LL 9999")),
    "SK": CountryLayout("SK", ("LL-999LL", "LL 999LL")),
    "IT": CountryLayout("IT", ("LL 999LL",)),
    "LU": CountryLayout("LU", ("LL 9999", "L 9999")),
    "GB": CountryLayout("GB", ("LL99 LLL",)),
    "RO": CountryLayout("RO", ("L 99 LLL", "LL 99 LLL", "L 999 LLL"), prefixes=ROMANIAN_COUNTIES),
    "AT": CountryLayout("AT", ("L 9999 L", "LL 999 LL", "L 999 LL")),
}

# Characters a reader confuses; a swap is only tried between these.
LOOK_ALIKES = {
    "0": "ODQ", "O": "0", "D": "0", "Q": "0",
    "1": "IT", "I": "1", "T": "1",
    "2": "Z", "Z": "2", "5": "S", "S": "5", "6": "G", "G": "6", "8": "B", "B": "8",
    "4": "A", "A": "4", "7": "T",
}  # fmt: skip

_REGEXES = {code: layout.regex() for code, layout in LAYOUTS.items()}


def countries_matching(plate: str) -> list[str]:
    """Countries whose layouts admit this plate (no separators)."""
    return [code for code, regex in _REGEXES.items() if regex.fullmatch(plate)]


def random_registration(code: str, rng) -> str:
    """A printed registration (with separators) drawn from one country's layouts."""
    layout = LAYOUTS[code]
    pattern = rng.choice(layout.patterns)
    out = []
    if layout.prefixes:
        lead = len(pattern) - len(pattern.lstrip("L"))
        out.append(rng.choice([p for p in layout.prefixes if len(p) == lead]))
        pattern = pattern[lead:]
    for symbol in pattern:
        if symbol == "L":
            out.append(rng.choice(layout.letters))
        elif symbol == "9":
            out.append(rng.choice(DIGITS))
        else:
            out.append(symbol)
    return "".join(out)


def correct(
    plate: str, confidences: tuple[float, ...], country: str, threshold: float = 0.6
) -> str:
    """Swap low-confidence characters for look-alikes when that makes the plate fit `country`.

    Returns the plate unchanged when it already fits, when the country has no layout, or when
    no swap of low-confidence characters alone makes it fit. Lengths never change.
    """
    regex = _REGEXES.get(country)
    if regex is None or regex.fullmatch(plate) or len(confidences) != len(plate):
        return plate
    weak = [i for i, c in enumerate(confidences) if c < threshold and plate[i] in LOOK_ALIKES]
    if not weak or len(weak) > 3:
        return plate
    candidates = [plate]
    for index in weak:
        grown = []
        for candidate in candidates:
            grown.append(candidate)
            for alike in LOOK_ALIKES[plate[index]]:
                grown.append(candidate[:index] + alike + candidate[index + 1 :])
        candidates = grown
    fitting = [c for c in candidates if regex.fullmatch(c)]
    return fitting[0] if len(fitting) == 1 else plate
