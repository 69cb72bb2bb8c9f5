"""onnxruntime sessions for the shipped models: CPU by default, GPU providers when present.

On a Jetson the TensorRT and CUDA execution providers come first when the installed
onnxruntime build offers them; everywhere else the CPU provider runs the models. The
thread count is explicit because the agent budgets its CPU cores between stages.
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from recognition.model_config import MODELS_DIR, DetectorConfig, ModelConfigError, ReaderConfig

log = logging.getLogger(__name__)
# Best first: TensorRT (NVIDIA's onnxruntime-gpu on a Jetson), then CUDA, then the CPU, which
# every build has and which runs whatever the GPU providers leave to it.
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"


def choose_providers(available: list[str]) -> list[str]:
    """The providers to ask for, in order, of those an onnxruntime build reports."""
    return [p for p in GPU_PROVIDERS if p in available] + [CPU_PROVIDER]


def default_providers() -> list[str]:
    """TensorRT, CUDA and the CPU, as far as the installed onnxruntime offers them."""
    return choose_providers(ort.get_available_providers())


def open_session(
    path: Path, threads: int = 1, providers: list[str] | None = None
) -> ort.InferenceSession:
    """An inference session for one model file, refusing a missing or unreadable file clearly."""
    if not path.exists():
        raise ModelConfigError(f"{path}: model file not found; run the training make target")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=providers or default_providers())
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise ModelConfigError(f"{path}: cannot load model: {error}") from None


def open_model_session(
    config: DetectorConfig | ReaderConfig, threads: int = 1, providers: list[str] | None = None
) -> ort.InferenceSession:
    """The session for a shipped model, refusing one whose input its config does not describe."""
    session = open_session(MODELS_DIR / config.onnx, threads, providers)
    shape = session.get_inputs()[0].shape
    expected = [config.channels, config.input_height, config.input_width]
    # The detector is fully convolutional: its file may leave height and width free (names,
    # not numbers). The reader's input is fixed.
    free = isinstance(config, DetectorConfig)
    if len(shape) != 4 or not all(
        size == want or (free and index > 0 and not isinstance(size, int))
        for index, (size, want) in enumerate(zip(shape[1:], expected, strict=True))
    ):
        raise ModelConfigError(f"{config.onnx}: input {shape} does not match config {expected}")
    return session
