"""The 3.0 plate generator (#19): every series renders, two rows read top first, random strings
in every layout, night IR monochrome with the plate brighter than its surroundings.

Torch-free but for the last test, which skips without the `train` extra.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from models.train import layouts, photo, plate_render
from models.train.ocr_data import synthetic_sample_v3
from models.train.plates import COUNTRIES as COUNTRIES_2_1
from models.train.plates import place_plate, random_background
from models.train.specs import READER, READER_3
from recognition.model_config import dump_toml, load_reader_config

NAMED = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "GB CH NO RS BA ME MK AL XK UA MD TR"
).split()
SERIES_IDS = [f"{s.country}-{s.kind}-{i}" for i, s in enumerate(layouts.SERIES)]


def test_every_country_a_dutch_road_sees_has_plates_and_a_class():
    assert set(NAMED) <= set(layouts.COUNTRIES)
    assert set(layouts.COUNTRY_WEIGHTS) == set(layouts.COUNTRIES) - {""}
    kinds = {s.kind for s in layouts.SERIES}
    assert kinds == set(layouts.KINDS)
    assert {s.country for s in layouts.SERIES if s.rows == 2} >= {"NL", "DE", "FR", "GB", "CH"}


@pytest.mark.parametrize("series", layouts.SERIES, ids=SERIES_IDS)
def test_every_series_renders_every_pattern_at_its_sizes(series):
    rng = random.Random(str(series))
    for pattern in series.patterns:
        for random_text in (False, True):
            plate = plate_render.render(rng, series, pattern, random_text)
            w, h = plate.image.size
            two_rows = "/" in pattern
            assert 150 <= w <= 300
            assert (
                (0.45 if two_rows else 0.19) - 0.01 <= h / w <= (0.9 if two_rows else 0.24) + 0.01
            )
            assert plate.text == layouts.label(plate.printed)
            assert 2 <= len(plate.text) <= 12  # 64 CTC columns fit any label twice over
            assert set(plate.text) <= set(layouts.ALPHABET)
            assert plate.country == series.country
            ink = np.asarray(plate.image.convert("L"), dtype=np.float32)
            assert ink.std() > 20  # something is drawn on the plate


def test_registrations_fit_their_pattern():
    rng = random.Random(3)
    for series in layouts.SERIES:
        for pattern in series.patterns:
            printed = layouts.fill(pattern, series, rng)
            assert len(printed) >= len(pattern) - 1  # a district prefix may be shorter
            assert printed.count("/") == pattern.count("/")
            if not series.prefixes:
                for symbol, char in zip(pattern, printed, strict=True):
                    if symbol == "L":
                        assert char in series.letters
                    elif symbol == "9":
                        assert char.isdigit()
                    elif symbol.islower():
                        assert char == symbol.upper()


def test_two_row_plates_are_labelled_top_row_first():
    rng = random.Random(5)
    two_row = [(s, p) for s in layouts.SERIES for p in s.patterns if "/" in p]
    assert len(two_row) > 40
    for series, pattern in two_row:
        plate = plate_render.render(rng, series, pattern, random_text=False)
        top, bottom = plate.printed.split("/")
        assert plate.text == layouts.label(top) + layouts.label(bottom)
    # what each row draws: a plate whose bottom row is left blank has ink only at the top
    series = next(s for s in layouts.SERIES if s.country == "CH" and s.kind == "motorcycle")
    both = np.asarray(plate_render.draw_plate("ZH/12345", series, random.Random(1)).convert("L"))
    upper = np.asarray(plate_render.draw_plate("ZH/ ", series, random.Random(1)).convert("L"))
    h = both.shape[0]  # (the border is drawn last, from the rng: left out)
    assert np.array_equal(both[3 : h // 2 - 2, 3:-3], upper[3 : h // 2 - 2, 3:-3])
    assert not np.array_equal(both[h // 2 + 2 : -3, 3:-3], upper[h // 2 + 2 : -3, 3:-3])


def test_random_strings_cover_every_layout():
    rng = random.Random(7)
    for series in layouts.SERIES:
        for pattern in series.patterns:
            seen = set()
            for _ in range(40):
                printed = layouts.fill(pattern, series, rng, random_text=True)
                # the separators, emblems and rows of the layout stay where they were
                assert [c for c in printed if c in layouts.SEPARATORS] == [
                    c for c in pattern if c in layouts.SEPARATORS
                ]
                seen |= set(layouts.label(printed))
            # letters where the layout has digits and digits where it has letters
            assert seen & set(layouts.DIGITS) and seen & set(layouts.LETTERS), pattern
    shares = [plate_render.render(rng).random_text for _ in range(400)]
    assert 0.2 < sum(shares) / len(shares) < 0.4


def _night(seed: int):
    rng = random.Random(seed)
    plate = plate_render.render(rng).image
    background = random_background((plate.width * 2, plate.height * 3), rng)
    plate, background = photo.night_pair(plate, background, rng)
    centre = (background.width / 2, background.height / 2)
    scene, box = place_plate(plate, background, rng, plate.width, centre)
    return photo.night_scene(scene, box, rng), box


@pytest.mark.parametrize("seed", range(12))
def test_night_renderings_are_monochrome_with_a_bright_plate(seed):
    scene, (x0, y0, x1, y1) = _night(seed)
    pixels = np.asarray(scene, dtype=np.int16)
    assert np.array_equal(pixels[..., 0], pixels[..., 1])
    assert np.array_equal(pixels[..., 1], pixels[..., 2])
    gray = pixels[..., 0]
    inside = gray[round(y0) + 2 : round(y1) - 2, round(x0) + 2 : round(x1) - 2]
    outside = np.concatenate([gray[: max(1, round(y0) - 3)].ravel(), gray[round(y1) + 3 :].ravel()])
    # the plate's ground (most of it, around bold characters) against the car's body
    assert np.percentile(inside, 75) > np.percentile(outside, 75) + 60
    assert inside.mean() > outside.mean() + 30


def test_night_crops_for_training_stay_monochrome():
    rng = random.Random(11)
    for _ in range(6):
        crop, text, country = synthetic_sample_v3(rng, READER_3, night_share=1.0)
        assert crop.shape == (READER_3.input_height, READER_3.input_width, 3)
        assert np.array_equal(crop[..., 0], crop[..., 2])
        assert text and layouts.COUNTRIES[country]


def test_day_hazards_keep_the_scene_size():
    rng = random.Random(2)
    scene = Image.new("RGB", (200, 120), (120, 110, 100))
    box = (50, 40, 150, 70)
    assert photo.low_sun(scene, box, rng).size == scene.size
    assert photo.rain(scene, rng).size == scene.size
    assert photo.motion_blur(scene, 5, rng).size == scene.size
    assert photo.dirty(scene, rng).size == scene.size


def test_fonts_fall_back_to_what_is_installed():
    for family in plate_render.FONT_FAMILIES:
        for path in plate_render.available_fonts(family):
            plate_render.font(path, 20)  # loads, or Pillow's own font for ''


def test_3_0_is_a_new_version_beside_the_shipped_2_1():
    assert load_reader_config() == READER  # the shipped files are untouched
    assert READER.countries == COUNTRIES_2_1
    assert READER_3.version == "plate-reader-3.0"
    assert len(READER_3.countries) > len(READER.countries)
    same = ("alphabet", "input_height", "input_width", "colour_mode", "crop_pad_x", "crop_pad_y")
    assert all(getattr(READER_3, f) == getattr(READER, f) for f in same)
    assert 'version = "plate-reader-3.0"' in dump_toml(READER_3)


def test_the_3_0_network_reads_two_rows_over_64_columns():
    torch = pytest.importorskip("torch")
    from models.train.ocr_model import PlateReaderNet

    net = PlateReaderNet(37, len(READER_3.countries), width=1.0, context=1, fold=True).eval()
    characters, country = net(torch.zeros(2, 3, 32, 128))
    assert characters.shape == (2, 64, 37)
    assert country.shape == (2, len(READER_3.countries))
    shipped = PlateReaderNet(37, len(READER.countries), width=1.25, context=2)
    assert "sequence.0.weight" in shipped.state_dict()  # 2.1's weights still load
