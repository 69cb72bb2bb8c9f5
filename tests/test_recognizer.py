"""The recognition API the agent and evaluations use, on the shipped sample scenes and the
committed ONNX models (no mocks)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image

from edge_agent.capture import Frame
from edge_agent.recognizer import ImageError, Read, Recognizer, parse_annotations
from models.config import load_detector_config, load_reader_config
from tests.conftest import SAMPLES

SCENES = sorted(SAMPLES.glob("*.jpg"))


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.default()


def bgr(path) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1])


def test_default_loads_the_shipped_models_and_names_their_versions(recognizer):
    assert recognizer.detector_version == load_detector_config().version
    assert recognizer.reader_version == load_reader_config().version


@pytest.mark.parametrize("scene", SCENES, ids=lambda p: p.stem)
def test_reads_keep_the_contract(recognizer, scene):
    image = bgr(scene)
    reads = recognizer.read_image(image)
    height, width = image.shape[:2]
    for read in reads:
        assert isinstance(read, Read)
        assert re.fullmatch(r"[A-Z0-9]{1,12}", read.plate)
        assert 0.0 <= read.confidence <= 1.0
        assert len(read.char_confidences) == len(read.plate)
        assert all(0.0 <= c <= 1.0 for c in read.char_confidences)
        x, y, w, h = read.box
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= width and y + h <= height
        assert read.country in load_reader_config().countries
    assert [r.confidence for r in reads] == sorted((r.confidence for r in reads), reverse=True)


def test_sample_scenes_are_read_correctly(recognizer):
    right = 0
    for scene in SCENES:
        (_, box, plate), *_ = parse_annotations(scene.with_suffix(".txt"))
        reads = recognizer.read_image(bgr(scene))
        right += bool(reads) and reads[0].plate == plate
    assert right >= len(SCENES) - 1


def test_read_frame_is_read_image(recognizer):
    image = bgr(SCENES[0])
    frame = Frame(image=image, captured_at=datetime.now(UTC), origin=None)
    assert recognizer.read_frame(frame) == recognizer.read_image(image)


def test_an_empty_road_gives_no_reads(recognizer):
    grey = np.full((720, 1280, 3), 110, dtype=np.uint8)
    assert recognizer.read_image(grey) == []


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((720, 1280, 3), dtype=np.float32),
        np.zeros((720, 1280), dtype=np.uint8),
        np.zeros((720, 1280, 4), dtype=np.uint8),
        np.zeros((4, 4, 3), dtype=np.uint8),
        "not an image",
    ],
    ids=["float", "grey", "bgra", "tiny", "str"],
)
def test_bad_images_are_refused_clearly(recognizer, image):
    with pytest.raises(ImageError, match="H x W x 3"):
        recognizer.read_image(image)


def test_a_missing_model_file_is_refused_with_its_name():
    from dataclasses import replace

    from edge_agent.reader import PlateReader
    from models.config import ModelConfigError

    config = replace(load_reader_config(), onnx="absent.onnx")
    with pytest.raises(ModelConfigError, match="absent.onnx: model file not found"):
        PlateReader(config)


def test_explicit_cpu_provider_gives_the_same_reads(recognizer):
    cpu = Recognizer.default(providers=["CPUExecutionProvider"])
    image = bgr(SCENES[1])
    assert cpu.read_image(image) == recognizer.read_image(image)
