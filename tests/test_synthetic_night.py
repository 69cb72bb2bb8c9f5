"""Rendered night scenes (#19): an infrared road frame, monochrome, with the retroreflective plate
bright in a nearly black scene and inside its annotated box; the day scenes stay as they were;
`heldout.write_night` marks every image's scene `night` for `anpr-eval --breakdown`."""

from __future__ import annotations

import random

import numpy as np
import pytest

from models.breakdown import read_groups_file
from models.train import heldout
from models.train.synthetic_scenes import render_scene, write_samples

SEEDS = (0, 1, 2, 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_night_scene_is_monochrome_with_the_plate_bright_in_its_box(seed):
    scene, (x, y, w, h), plate = render_scene(random.Random(seed), night=True)
    pixels = np.asarray(scene).astype(float)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    gray = pixels[..., 0]
    median = np.median(gray)
    inside = gray[y + 2 : y + h - 2, x + 2 : x + w - 2]
    assert inside.mean() > max(3 * median, median + 100)
    # The box holds the plate: bright inside, dark in the bands just above and below it.
    bright = median + 60
    assert (inside > bright).mean() > 0.8
    for band in (gray[max(0, y - h) : y - 3, x : x + w], gray[y + h + 3 : y + 2 * h, x : x + w]):
        assert (band > bright).mean() < 0.5
        assert band.mean() < inside.mean() - 60
    # Night draws come after the day's: the same seed places the same plate in the same box.
    _, day_box, day_plate = render_scene(random.Random(seed))
    assert (day_box, day_plate) == ((x, y, w, h), plate)


@pytest.mark.parametrize("seed", SEEDS)
def test_day_scene_is_unchanged_by_the_night_option(seed):
    default, explicit = random.Random(seed), random.Random(seed)
    for _ in range(2):
        scene, box, plate = render_scene(default)
        day, day_box, day_plate = render_scene(explicit, night=False)
        assert scene.tobytes() == day.tobytes() and (box, plate) == (day_box, day_plate)
    assert default.random() == explicit.random()  # the same draws, so the next scene matches


def test_write_samples_writes_night_scenes_on_request(tmp_path):
    day = write_samples(tmp_path / "day", 1, 5)
    default = write_samples(tmp_path / "default", 1, 5, night=False)
    night = write_samples(tmp_path / "night", 1, 5, night=True)
    assert day[0].read_bytes() == default[0].read_bytes() != night[0].read_bytes()
    assert day[0].with_suffix(".txt").read_text() == night[0].with_suffix(".txt").read_text()


def test_heldout_writes_the_night_set_with_its_scene_kind(tmp_path):
    folder = tmp_path / "synthetic-night"
    written = heldout.write_night(folder, count=3)
    assert [p.name for p in written] == ["scene-000.jpg", "scene-001.jpg", "scene-002.jpg"]
    assert all(p.is_file() and p.with_suffix(".txt").is_file() for p in written)
    assert read_groups_file(folder) == {p.name: ("NL", "night") for p in written}
    assert heldout.NIGHT_SEED not in (heldout.SYNTHETIC_SEED, 999_001, 999_002)
