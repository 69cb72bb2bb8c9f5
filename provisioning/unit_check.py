"""`python -m provisioning.unit_check`: the unit's offline checks, run by scripts/install-unit.sh.

What an installed unit can prove without a broker, a camera or keys (issue #22): the
interpreter, onnxruntime and the execution providers it will use, the shipped ONNX models
loading and reading the self-test's bundled frame, and which camera stacks the venv sees
(picamera2 from the OS; OpenCV, with or without GStreamer). With `--config` it adds the
on-site self-test's parts that need no broker: the configured source delivers frames and the
configured recognizer reads the test image (`anpr-provision selftest` adds the broker, the
round trip and the clock). Prints the self-test's table; exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from node.cli import installed_version
from provisioning.selftest import Check, check_recognition, check_source, render

REQUIREMENTS = ("picamera2", "gstreamer", "gpu")


def check_python() -> Check:
    """The unit side runs on 3.10 (JetPack 6's Python) and newer; the central needs 3.11."""
    ok = sys.version_info >= (3, 10)
    machine = platform.machine()
    detail = f"Python {platform.python_version()} on {machine}, anpr {installed_version()}"
    return Check("Python 3.10 or newer", ok, detail)


def check_providers() -> Check:
    import onnxruntime as ort

    from recognition.onnx_runtime import default_providers

    used = default_providers()
    gpu = [p for p in used if p != "CPUExecutionProvider"]
    where = f"GPU first ({', '.join(gpu)})" if gpu else "CPU only"
    return Check("onnxruntime", True, f"{ort.__version__}: {where}; available "
                 f"{', '.join(ort.get_available_providers())}")  # fmt: skip


def check_active_providers(reader, require_gpu: bool) -> Check:
    """The providers the models' sessions really run on: onnxruntime falls back to the CPU,
    with no error, when the CUDA or TensorRT libraries do not load."""
    from recognition.onnx_runtime import CPU_PROVIDER

    active = {
        "detector": reader.detector.session.get_providers(),
        "reader": reader.reader.session.get_providers(),
    }
    detail = "; ".join(f"{name} {', '.join(used)}" for name, used in active.items())
    on_gpu = all(any(p != CPU_PROVIDER for p in used) for used in active.values())
    if require_gpu and not on_gpu:
        detail += (" (a Jetson install with onnxruntime-gpu expects TensorRT or CUDA: see "
                   "docs/operations.md, \"A Jetson (JetPack 6)\")")  # fmt: skip
    return Check("the models run on", on_gpu or not require_gpu, detail)


def check_models() -> tuple[Check, object | None]:
    from recognition.recognizer import Recognizer

    try:
        reader = Recognizer.default()
    except Exception as exc:  # a missing or broken model file is a FAIL, not a crash
        return Check("the shipped models load", False, f"{type(exc).__name__}: {exc}"), None
    versions = f"detector {reader.detector_version}, reader {reader.reader_version}"
    return Check("the shipped models load", True, versions), reader


def check_picamera2(required: bool) -> Check:
    try:
        import picamera2  # noqa: F401  (the OS's python3-picamera2 through system site packages)
    except Exception as exc:
        detail = f"not importable ({type(exc).__name__}: {exc})"
        if not required:
            detail += '; only a Raspberry Pi needs it (source.kind = "picamera")'
        return Check("picamera2 (the OS's libcamera)", not required, detail)
    where = Path(picamera2.__file__).parent
    return Check("picamera2 (the OS's libcamera)", True, f"from {where}")


def check_opencv(require_gstreamer: bool) -> Check:
    try:
        import cv2
    except Exception as exc:
        detail = f"not importable ({type(exc).__name__}: {exc}); folder replays and picamera "
        return Check("OpenCV", not require_gstreamer, detail + "still work")
    build = cv2.getBuildInformation()
    gstreamer = any(
        line.strip().startswith("GStreamer:") and "YES" in line for line in build.splitlines()
    )
    where = Path(cv2.__file__).parent
    detail = f"{cv2.__version__} from {where}, GStreamer {'yes' if gstreamer else 'no'}"
    if not gstreamer:
        detail += " (`gst:` sources need the OS's python3-opencv: --os-opencv)"
    return Check("OpenCV", gstreamer or not require_gstreamer, detail)


def run(require: set[str], config_path: Path | None) -> list[Check]:
    checks = [check_python(), check_providers()]
    models, reader = check_models()
    checks.append(models)
    if reader is not None:
        checks.append(check_active_providers(reader, "gpu" in require))
        checks.append(check_recognition(reader))
    checks += [check_picamera2("picamera2" in require), check_opencv("gstreamer" in require)]
    if config_path is not None:
        from edge_agent.agent import make_recognizer
        from edge_agent.config import ConfigError, load_config

        try:
            config = load_config(config_path)
        except ConfigError as exc:
            return [*checks, Check("configuration", False, str(exc))]
        checks += [check_source(config), check_recognition(make_recognizer(config))]
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioning.unit_check", description=__doc__)
    parser.add_argument("--require", action="append", default=[], choices=REQUIREMENTS,
                        help="fail unless the venv sees this camera stack (gpu: unless "
                             "the models run on TensorRT or CUDA)")  # fmt: skip
    parser.add_argument("--config", type=Path, help="also check this agent TOML's source")
    args = parser.parse_args(argv)
    checks = run(set(args.require), args.config)
    print(render(checks))
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
