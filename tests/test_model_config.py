"""Training and inference agree on each model: config files, crops, letterboxing, files."""

from __future__ import annotations

import subprocess
import sys

import pytest

from models.train import detector_data, ocr_data, teacher
from models.train.specs import DETECTOR, READER
from recognition import detector as inference_detector
from recognition import reader as inference_reader
from recognition.model_config import (
    MODELS_DIR,
    ModelConfigError,
    dump_toml,
    load_detector_config,
    load_reader_config,
)
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
    # Training calls inference's own crop, so the two cannot drift apart.
    assert ocr_data.crop_region is inference_reader.crop_region


def test_frames_are_letterboxed_as_training_letterboxed_them():
    assert detector_data.letterbox is inference_detector.letterbox


def test_model_files_together_stay_under_20_mb():
    total = sum(p.stat().st_size for p in MODELS_DIR.glob("*.onnx"))
    assert {p.name for p in MODELS_DIR.glob("*.onnx")} == {READER.onnx, DETECTOR.onnx}
    assert total < 20 * 1024 * 1024


def test_inference_never_imports_torch_or_training_code():
    code = (
        "import sys, recognition.recognizer, models.evaluate, models.bench;"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('models.train')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_teacher_labels_of_a_known_country_are_repaired_never_guessed():
    repair_for = teacher.repair_for
    assert repair_for("RO", "F99STK") == "IF99STK"  # the band cut took the county's I
    assert repair_for("RO", "SB90TZ1") == "SB90TZI"  # a digit read where a letter stands
    assert repair_for("RO", "B58DTK") == "B58DTK"
    assert repair_for("RO", "B089414") == ""  # no Romanian layout: dropped, not invented


def test_real_validation_crops_are_never_training_crops():
    keys = [f"/data/eu/eu-{n}.png" for n in range(200)]
    validation = [k for k in keys if ocr_data.is_validation(k)]
    assert 5 < len(validation) < 40
    assert not any(ocr_data.is_validation(f"{k}#0") for k in keys)  # video frames never
