"""Plate-format rules: countries from layouts, and corrections that never invent a read."""

from __future__ import annotations

import random

import pytest

from recognition.plate_formats import LAYOUTS, correct, countries_matching, random_registration


@pytest.mark.parametrize("code", sorted(LAYOUTS))
def test_every_generated_registration_fits_its_country(code):
    rng = random.Random(code)
    for _ in range(50):
        plate = random_registration(code, rng).replace("-", "").replace(" ", "")
        assert code in countries_matching(plate)


def test_dutch_side_codes_are_recognised():
    for plate in ("RPNL93", "63HKHD", "56JTT5", "VD020P", "1KBB22", "GBB12K"):
        assert "NL" in countries_matching(plate)
    assert "NL" not in countries_matching("AE1234")  # vowels are never issued


def test_a_weak_look_alike_is_swapped_to_fit_the_layout():
    assert correct("VD02OP", (0.9, 0.9, 0.9, 0.9, 0.3, 0.9), "NL") == "VD020P"


def test_confident_characters_are_never_changed():
    assert correct("VD02OP", (0.9,) * 6, "NL") == "VD02OP"


def test_corrections_never_change_the_length_or_invent_a_plate():
    assert correct("VD02", (0.1,) * 4, "NL") == "VD02"
    assert correct("XXXXXX", (0.1,) * 6, "NL") == "XXXXXX"
    assert correct("VD020P", (0.1,) * 6, "XX") == "VD020P"


def test_romanian_plates_start_with_a_county_code():
    assert "RO" in countries_matching("IF99STK")
    assert "RO" in countries_matching("B123ABC")  # Bucharest: one letter, three digits
    assert "RO" not in countries_matching("F99STK")  # no county F
    assert "RO" not in countries_matching("IF123ABC")  # three digits only for B
