"""On the unit: the shipped models' speed with onnxruntime, and the accelerators it offers.

Skips where it does not apply: the speed test runs on any aarch64 unit (Pi 5, Jetson); the
provider test only where CUDA or TensorRT is present (Jetson).
"""

import platform
import time

import numpy as np
import pytest

onnxruntime = pytest.importorskip("onnxruntime")

ON_UNIT = platform.machine() in ("aarch64", "arm64")
accelerated = pytest.mark.skipif(
    not {"CUDAExecutionProvider", "TensorrtExecutionProvider"}
    & set(onnxruntime.get_available_providers()),
    reason="no CUDA or TensorRT provider (not a Jetson)",
)


@pytest.mark.skipif(not ON_UNIT, reason="not a roadside unit (aarch64)")
def test_detector_and_reader_keep_up_with_25_fps_on_the_unit():
    from recognition.recognizer import Recognizer

    recognizer = Recognizer.default()
    frame = np.zeros((720, 1280, 3), dtype=np.uint8)
    recognizer.read_image(frame)  # warm up
    began = time.perf_counter()
    for _ in range(25):
        recognizer.read_image(frame)
    per_frame = (time.perf_counter() - began) / 25
    assert per_frame < 0.040, f"{per_frame * 1000:.0f} ms per frame: not real time at 25 fps"


@accelerated
def test_jetson_uses_its_accelerator():
    from recognition.recognizer import Recognizer

    recognizer = Recognizer.default()
    used = set(recognizer.detector.session.get_providers())
    assert used & {"CUDAExecutionProvider", "TensorrtExecutionProvider"}, used


@accelerated
def test_the_accelerator_runs_the_detector_on_both_canvases():
    # The detector file leaves height and width free; TensorRT builds an engine per shape.
    from PIL import Image

    from recognition.detector import PlateDetector

    detector = PlateDetector.default()
    for size in ((1280, 720), (1080, 1920)):
        assert detector.detect(Image.new("RGB", size, (120, 120, 120))) == []
