"""The unit side installs and runs on Python 3.10, JetPack 6's own (issue #22).

A venv of a real Python 3.10 gets the project as scripts/install-unit.sh installs it (pip,
`[camera]`, from the configured package index), so 3.10's environment markers pick its own
pins; then `anpr-agent --version`, the provider choice, a TOML config read through tomli, a
real ONNX read of samples/replay/scene-000.jpg and the installer's offline checks
(`python -m provisioning.unit_check`) all run under 3.10, and the central refuses it. Last,
the real agent under 3.10 replays the sample scenes through a real Mosquitto to a central on
the project's own Python, which verifies, stores and acknowledges them.

Debian 12 has no Python 3.10: the test takes `python3.10` from the path or a pyenv version
(docs/operations.md, "A Jetson (JetPack 6)", says how a maintainer gets one) and is skipped
with that reason where there is none.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from central.store import open_store
from tests.conftest import REPO, SAMPLES, write_agent_config
from tests.test_end_to_end import expected_plates, ingest  # noqa: F401  (a fixture)

# What pip copies to build the project (the packages pyproject.toml names, and its metadata).
SOURCES = ("pyproject.toml", "README.md", "wire", "node", "recognition", "edge_agent",
           "central", "provisioning", "models", "traffic_research")  # fmt: skip


def is_python310(candidate: str) -> bool:
    """A pyenv shim on the path exists whether or not it can run 3.10: ask the interpreter."""
    try:
        done = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == "True"


def find_python310() -> str | None:
    candidates = [shutil.which("python3.10")]
    for root in (Path.home() / ".pyenv", Path("/root/.pyenv")):
        candidates += [str(p) for p in sorted(root.glob("versions/3.10*/bin/python3.10"))]
    return next((c for c in candidates if c and is_python310(c)), None)


PYTHON310 = find_python310()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(
        PYTHON310 is None,
        reason="no Python 3.10 here (Debian 12 has none): install one with pyenv or uv and put "
        "python3.10 on the path; docs/operations.md, 'A Jetson (JetPack 6)'",
    ),
]


def pins_for_310() -> dict[str, str]:
    """The releases pyproject.toml gives Python 3.10 where it differs from 3.11's."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for dependency in project["dependencies"]:
        found = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+); python_version < '3.11'", dependency)
        if found:
            pins[found.group(1)] = found.group(2)
    return pins


def run(argv: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    return done


@pytest.fixture(scope="module")
def venv310(tmp_path_factory) -> Path:
    """A venv of Python 3.10 with the project installed as the unit installer installs it."""
    base = tmp_path_factory.mktemp("python310")
    source = base / "anpr"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    venv = base / "venv"
    made = run([PYTHON310, "-m", "venv", str(venv)], base)
    assert made.returncode == 0, made.stderr
    pip = [str(venv / "bin" / "pip"), "install", "--no-input", "--disable-pip-version-check"]
    installed = run([*pip, f"{source}[camera]"], base, timeout=1000)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return venv


def test_the_unit_side_installs_with_the_pins_for_3_10(venv310, tmp_path):
    pins = pins_for_310()
    assert {"numpy", "onnxruntime", "pillow", "tomli"} <= set(pins)
    script = (
        "import json, sys; from importlib.metadata import version; "
        f"print(json.dumps([sys.version_info[:2], {{n: version(n) for n in {sorted(pins)}}}]))"
    )
    done = run([str(venv310 / "bin" / "python"), "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    interpreter, versions = json.loads(done.stdout)
    assert interpreter == [3, 10]
    assert versions == pins

    agent = run([str(venv310 / "bin" / "anpr-agent"), "--version"], tmp_path)
    assert agent.returncode == 0, agent.stderr
    assert re.search(r"\d+\.\d+\.\d+", agent.stdout + agent.stderr)


def test_providers_config_and_a_real_read_under_3_10(venv310, tmp_path):
    config = tmp_path / "small.toml"
    config.write_text('[source]\nkind = "folder"\nfps = 2.0\n')
    script = f"""
import json, sys
from pathlib import Path
import cv2, onnxruntime
from node.config_file import read_toml
from recognition.onnx_runtime import choose_providers, default_providers
from recognition.recognizer import Recognizer

assert sys.version_info[:2] == (3, 10), sys.version_info
cpu, cuda, trt = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
assert choose_providers([cpu, cuda, trt]) == [trt, cuda, cpu]
assert choose_providers([cuda, cpu]) == [cuda, cpu]
assert choose_providers(["AzureExecutionProvider", cpu]) == [cpu]
recognizer = Recognizer.default()
reads = recognizer.read_image(cv2.imread({str(SAMPLES / "scene-000.jpg")!r}))
print(json.dumps({{
    "toml": read_toml(Path({str(config)!r}), "agent config"),
    "onnxruntime": onnxruntime.__version__,
    "providers": default_providers(),
    "session": recognizer.detector.session.get_providers(),
    "plates": [read.plate for read in reads],
}}))
"""
    done = run([str(venv310 / "bin" / "python"), "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["toml"] == {"source": {"kind": "folder", "fps": 2.0}}
    assert result["onnxruntime"] == pins_for_310()["onnxruntime"]
    assert result["providers"][-1] == "CPUExecutionProvider"
    assert "CPUExecutionProvider" in result["session"]
    expected = (SAMPLES / "scene-000.txt").read_text().splitlines()[0].split()[-1]
    assert expected in result["plates"]


def test_the_installers_offline_checks_pass_under_3_10(venv310, tmp_path):
    done = run([str(venv310 / "bin" / "python"), "-m", "provisioning.unit_check"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Python 3.10 or newer" in done.stdout
    assert re.search(r"Python 3\.10\.\d+ on", done.stdout)
    assert re.search(r"recognition reads the test image +PASS", done.stdout)
    assert "ALL PASS" in done.stdout


def test_the_central_refuses_3_10_with_a_sentence(venv310, tmp_path):
    for program in ("anpr-central", "anpr-research"):
        done = run([str(venv310 / "bin" / program), "--help"], tmp_path)
        assert done.returncode == 1
        assert "needs Python 3.11 or newer; this is 3.10" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_an_agent_on_3_10_delivers_to_the_central(
    venv310,
    tmp_path,
    mosquitto,
    central_setup,
    camera,
    ingest,  # noqa: F811
):
    """The real agent under 3.10 (the shipped ONNX models, signing, sealing, the spool, MQTT)
    replays the sample scenes to the central on the project's own Python, which verifies,
    stores and acknowledges every passage."""
    path = write_agent_config(tmp_path, camera, central_setup, mosquitto.port)
    path.write_text(path.read_text().replace('kind = "annotations"', 'kind = "onnx"'))
    agent = [str(venv310 / "bin" / "anpr-agent"), "run", "--config", str(path),
             "--exit-when-drained"]  # fmt: skip
    done = run(agent, tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    stored = {p.plate for p in open_store(central_setup.config).recent(camera.camera_id, 100)}
    truth = set(expected_plates())
    assert len(stored & truth) >= len(truth) - 1, f"read {sorted(stored)}, truth {sorted(truth)}"
    assert ingest.counters["stored"] == len(stored) > 0
