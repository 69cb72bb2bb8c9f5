"""The agent asks onnxruntime for TensorRT, then CUDA, then the CPU, as far as the installed
build offers them (issue #22: NVIDIA's onnxruntime-gpu on a Jetson), and the unit's offline
check says which providers the models really run on."""

from __future__ import annotations

import pytest

from provisioning import unit_check
from recognition import onnx_runtime
from recognition.model_config import load_detector_config
from recognition.recognizer import Recognizer

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"


@pytest.mark.parametrize(
    ("reported", "chosen"),
    [
        # PyPI's onnxruntime (here, a Pi, a CPU-only Jetson)
        ([CPU], [CPU]),
        (["AzureExecutionProvider", CPU], [CPU]),
        # NVIDIA's onnxruntime-gpu for JetPack 6 reports all three, in its own order
        ([CPU, CUDA, TRT], [TRT, CUDA, CPU]),
        ([TRT, CUDA, CPU], [TRT, CUDA, CPU]),
        # a CUDA-only build (PyPI's onnxruntime-gpu on x86_64 without TensorRT)
        ([CUDA, CPU], [CUDA, CPU]),
        ([TRT, CPU], [TRT, CPU]),
        # the CPU provider is always asked for last, to run what the GPU ones leave
        ([], [CPU]),
    ],
)
def test_the_provider_order_follows_what_onnxruntime_reports(monkeypatch, reported, chosen):
    assert onnx_runtime.choose_providers(reported) == chosen
    monkeypatch.setattr(onnx_runtime.ort, "get_available_providers", lambda: list(reported))
    assert onnx_runtime.default_providers() == chosen


def test_sessions_are_opened_with_the_chosen_providers(monkeypatch):
    asked: list[list[str]] = []
    real = onnx_runtime.ort.InferenceSession

    def session(path, options, providers):
        asked.append(providers)
        return real(path, options, providers=[CPU])  # this machine has the CPU only

    monkeypatch.setattr(onnx_runtime.ort, "get_available_providers", lambda: [CUDA, TRT, CPU])
    monkeypatch.setattr(onnx_runtime.ort, "InferenceSession", session)
    onnx_runtime.open_model_session(load_detector_config())
    assert asked == [[TRT, CUDA, CPU]]
    # an explicit list (a test, a benchmark) is passed as it is
    onnx_runtime.open_model_session(load_detector_config(), providers=[CPU])
    assert asked[-1] == [CPU]


def test_the_unit_check_reports_the_order_and_what_the_models_run_on(monkeypatch):
    monkeypatch.setattr(onnx_runtime.ort, "get_available_providers", lambda: [CPU, CUDA, TRT])
    reported = unit_check.check_providers()
    assert reported.passed
    assert "GPU first (TensorrtExecutionProvider, CUDAExecutionProvider)" in reported.detail
    monkeypatch.undo()

    reader = Recognizer.default()
    on_cpu = unit_check.check_active_providers(reader, require_gpu=False)
    assert on_cpu.passed
    assert on_cpu.detail == "detector CPUExecutionProvider; reader CPUExecutionProvider"
    # a Jetson install with onnxruntime-gpu requires the GPU: a silent fallback to the CPU
    # (CUDA or TensorRT libraries missing) fails the install's check
    required = unit_check.check_active_providers(reader, require_gpu=True)
    assert not required.passed
    assert "expects TensorRT or CUDA" in required.detail


def test_the_unit_check_runs_on_python_3_10_and_newer():
    python = unit_check.check_python()
    assert python.name == "Python 3.10 or newer"
    assert python.passed
