"""A software update keeps the onnxruntime build a Jetson runs (#22).

A Jetson's install swaps PyPI's onnxruntime (the project's pin, CPU only) for NVIDIA's
onnxruntime-gpu, in the venv or in the OS's Python (scripts/install-unit.sh, step 7). A new
release slot is built from the bundle's wheels, which bring PyPI's again: the slot must make
the same swap, or the updated unit would read plates on the CPU without a word. Real venvs
and real pip, offline, with small stand-in wheels (two builds of one module, `onnxruntime`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from edge_agent.bundles import BundleRefused
from edge_agent.releases import install_slot
from tests.test_software_update import wheel

CPU_BUILD = {"onnxruntime/__init__.py": 'BUILD = "pypi"\n'}
GPU_BUILD = {"onnxruntime/__init__.py": 'BUILD = "gpu"\n'}
AGENT = {"anpr_probe.py": "def main():\n    pass\n"}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("gpu-wheels")
    return {
        "anpr": wheel(
            out,
            "anpr",
            "2.0.0",
            AGENT,
            requires=["onnxruntime"],
            scripts={"anpr-agent": "anpr_probe:main"},
        ),  # fmt: skip
        "onnxruntime": wheel(out, "onnxruntime", "1.23.2", CPU_BUILD),
        "onnxruntime_gpu": wheel(out, "onnxruntime_gpu", "1.23.0", GPU_BUILD),
    }


def pip(python: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args, "--no-index",
                    "--no-deps", "--no-input", "--disable-pip-version-check"],
                   check=True, capture_output=True, timeout=300)  # fmt: skip


def base_install(root: Path, *wheels: Path, shared: bool = True) -> Path:
    """The install made by install-unit.sh: a venv at the root, `current -> .`."""
    venv = [sys.executable, "-m", "venv", "--without-pip", str(root)]
    subprocess.run(venv + (["--system-site-packages"] if shared else []), check=True)
    for made in wheels:
        pip(root / "bin" / "python", "install", str(made))
    (root / "current").symlink_to(".")
    return root


def release(version: str = "2.0.0") -> SimpleNamespace:
    return SimpleNamespace(version=version, software=SimpleNamespace(package="anpr"),
                           bundle_id="b-1", made_by="dev-jan", approved_by="cab-marie")  # fmt: skip


def contents(*wheels: Path) -> dict[str, bytes]:
    return {f"wheels/{w.name}": w.read_bytes() for w in wheels}


def installed(slot: Path) -> tuple[set[str], str]:
    names = {p.name.split("-")[0] for p in slot.glob("lib/python3*/site-packages/*.dist-info")}
    build = subprocess.run([str(slot / "bin" / "python"), "-I", "-c",
                            "import onnxruntime; print(onnxruntime.BUILD)"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    return names, build.stdout.strip() or build.stderr.strip().splitlines()[-1]


def test_a_slot_gets_onnxruntime_gpu_from_the_bundle_where_the_unit_runs_it(tmp_path, wheels):
    root = base_install(tmp_path / "opt-anpr", wheels["onnxruntime_gpu"])
    slot = install_slot(root, release(), contents(*wheels.values()))
    names, build = installed(slot)
    assert build == "gpu"
    assert "onnxruntime_gpu" in names and "onnxruntime" not in names
    assert "anpr" in names


def test_a_bundle_without_the_gpu_wheel_is_refused_there(tmp_path, wheels):
    root = base_install(tmp_path / "opt-anpr", wheels["onnxruntime_gpu"])
    with pytest.raises(BundleRefused, match="no onnxruntime_gpu wheel"):
        install_slot(root, release(), contents(wheels["anpr"], wheels["onnxruntime"]))
    assert not (root / "releases" / "2.0.0").exists()


def test_the_oss_onnxruntime_gpu_stays_visible_through_system_site_packages(tmp_path, wheels):
    """The install removed PyPI's from the venv so that the OS python3's is imported."""
    root = base_install(tmp_path / "opt-anpr")
    slot = install_slot(root, release(), contents(wheels["anpr"], wheels["onnxruntime"]))
    names, _ = installed(slot)
    assert "onnxruntime" not in names and "anpr" in names


def test_elsewhere_pypis_onnxruntime_is_left_alone(tmp_path, wheels):
    root = base_install(tmp_path / "opt-anpr", wheels["onnxruntime"], shared=False)
    slot = install_slot(root, release(), contents(*wheels.values()))
    names, build = installed(slot)
    assert build == "pypi"
    assert "onnxruntime" in names and "onnxruntime_gpu" not in names
