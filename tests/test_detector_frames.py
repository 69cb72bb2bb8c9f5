"""The detector's synthetic frames teach what a plate looks like: every box holds a plate."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from models.train import detector_data
from models.train.plates import turned
from models.train.specs import DETECTOR


def test_a_turned_plate_is_narrower_and_taller_on_its_near_side():
    corners = [(-100.0, -22.0), (100.0, -22.0), (100.0, 22.0), (-100.0, 22.0)]
    seen = turned(corners, math.radians(60), distance=2.0)
    xs = [x for x, _ in seen]
    assert max(xs) - min(xs) == pytest.approx(200 * math.cos(math.radians(60)))
    left = seen[3][1] - seen[0][1]
    right = seen[2][1] - seen[1][1]
    assert right > 44 > left  # turned towards +x: the right side is the nearer
    assert turned(corners, 0.0, 2.0) == corners


@pytest.fixture
def undamaged(monkeypatch):
    # Without camera damage a plate's pixels vary and a painted-over area is one colour.
    monkeypatch.setattr(detector_data, "degrade", lambda image, rng: image)


@pytest.mark.parametrize("yaw_share", [0.0, 1.0])
def test_no_composite_box_is_painted_over(undamaged, yaw_share):
    flat = []
    for seed in range(120):
        image, boxes = detector_data._composite(random.Random(seed), DETECTOR, [], [], yaw_share)
        pixels = np.asarray(image, dtype=np.float32)
        for x0, y0, x1, y1 in boxes:
            inner = pixels[
                round(y0 + (y1 - y0) * 0.3) : round(y1 - (y1 - y0) * 0.3),
                round(x0 + (x1 - x0) * 0.3) : round(x1 - (x1 - x0) * 0.3),
            ]
            if inner.size and inner.reshape(-1, 3).std(axis=0).max() < 3:
                flat.append((seed, (x0, y0, x1, y1)))
    assert not flat
