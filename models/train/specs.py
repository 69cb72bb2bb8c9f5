"""Training's view of each model's config: what the exported TOML files must say.

Torch-free on purpose, so the test that keeps training and inference consistent runs
without the `train` extra.
"""

from __future__ import annotations

from models.train import layouts
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

# The 3.0 candidate (#19): every country a Dutch road sees in the country head, two-row
# plates read over 64 columns (`ocr_model._Fold`). Everything inference reads is as in 2.1
# but the countries; it replaces READER only once a trained 3.0 is measured better.
READER_3 = ReaderConfig(
    version="plate-reader-3.0",
    onnx="plate_reader.onnx",
    alphabet=READER.alphabet,
    countries=layouts.COUNTRIES,
    input_height=READER.input_height,
    input_width=READER.input_width,
    colour_mode=READER.colour_mode,
    crop_pad_x=READER.crop_pad_x,
    crop_pad_y=READER.crop_pad_y,
)
READERS = {"2.1": READER, "3.0": READER_3}

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
