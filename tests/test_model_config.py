"""Training and inference agree on each model: config files, crops, letterboxing, files."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from edge_agent import detector as inference_detector
from edge_agent import reader as inference_reader
from models.config import (
    MODELS_DIR,
    ModelConfigError,
    dump_toml,
    load_detector_config,
    load_reader_config,
)
from models.train import detector_data, ocr_data
from models.train.specs import DETECTOR, READER
from tests.conftest import REPO


def test_shipped_configs_are_what_training_exports():
    assert load_reader_config() == READER
    assert load_detector_config() == DETECTOR


def test_config_round_trips_through_toml(tmp_path):
    path = tmp_path / "reader.toml"
    path.write_text(dump_toml(READER))
    assert load_reader_config(path) == READER


def test_unknown_or_missing_keys_are_refused(tmp_path):
    path = tmp_path / "reader.toml"
    path.write_text(dump_toml(READER) + 'extra = "x"\n')
    with pytest.raises(ModelConfigError, match="unknown keys \\['extra'\\]"):
        load_reader_config(path)
    path.write_text("version = 'x'\n")
    with pytest.raises(ModelConfigError, match="missing keys"):
        load_reader_config(path)
    with pytest.raises(ModelConfigError, match="not found"):
        load_reader_config(tmp_path / "absent.toml")


def test_crops_are_cut_as_training_cut_them():
    rng = random.Random(4)
    for _ in range(200):
        x0, y0 = rng.uniform(-20, 1200), rng.uniform(-20, 700)
        box = (x0, y0, x0 + rng.uniform(1, 300), y0 + rng.uniform(1, 80))
        pads = (READER.crop_pad_x, READER.crop_pad_y, (1280, 720))
        assert ocr_data.crop_box(box, *pads) == inference_reader.crop_region(box, *pads)


def test_frames_are_letterboxed_as_training_letterboxed_them():
    pixels = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    size = (DETECTOR.input_width, DETECTOR.input_height)
    trained, scale_a = detector_data.letterbox(image, *size)
    served, scale_b = inference_detector.letterbox(image, *size)
    assert scale_a == scale_b
    assert np.array_equal(np.asarray(trained), np.asarray(served))


def test_model_files_together_stay_under_20_mb():
    total = sum(p.stat().st_size for p in MODELS_DIR.glob("*.onnx"))
    assert {p.name for p in MODELS_DIR.glob("*.onnx")} == {READER.onnx, DETECTOR.onnx}
    assert total < 20 * 1024 * 1024


def test_inference_never_imports_torch_or_training_code():
    code = (
        "import sys, edge_agent.recognizer, models.evaluate, models.bench;"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('models.train')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
