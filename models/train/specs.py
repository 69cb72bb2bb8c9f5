"""Training's view of each model's config: what the exported TOML files must say.

Torch-free on purpose, so the test that keeps training and inference consistent runs
without the `train` extra.
"""

from __future__ import annotations

from models.train.plates import COUNTRIES
from recognition.model_config import DetectorConfig, ReaderConfig

READER = ReaderConfig(
    version="plate-reader-2.1",
    onnx="plate_reader.onnx",
    alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    countries=COUNTRIES,
    input_height=32,
    input_width=128,
    colour_mode="rgb",
    crop_pad_x=0.06,
    crop_pad_y=0.15,
)

DETECTOR = DetectorConfig(
    version="plate-detector-1.2",
    onnx="plate_detector.onnx",
    input_height=384,
    input_width=640,
    colour_mode="rgb",
    stride=4,
    score_threshold=0.4,
    box_scale=16.0,
)
