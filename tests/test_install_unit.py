"""The unit's installer (issue #22) agrees with docs/operations.md, and is clean shell.

`scripts/install-unit.sh --dry-run` prints its numbered steps and changes nothing; every step's
title must be the documented step of the same number (as tests/test_systemd_units.py checks
the docs against the units). The real install runs on arm64 in `make test-arm64`
(scripts/test-arm64.sh), too slow and too network-hungry for `make test`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

INSTALLER = REPO / "scripts" / "install-unit.sh"
OPERATIONS = (REPO / "docs" / "operations.md").read_text()
SECTION = OPERATIONS[OPERATIONS.index("## An agent on a Raspberry Pi 5 or Jetson") :]
SECTION = SECTION[: SECTION.index("\n## ")]


def dry_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(INSTALLER), "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def steps(output: str) -> list[tuple[int, str]]:
    return [(int(n), title) for n, title in re.findall(r"^\[(\d+)\] (.+)$", output, re.M)]


def documented_steps() -> list[tuple[int, str]]:
    """The install's numbered list: the section's text before its first subsection (the
    commissioning steps that follow are numbered too)."""
    install = SECTION[: SECTION.index("\n### ")]
    return [(int(n), title) for n, title in re.findall(r"^(\d+)\. (.+)$", install, re.M)]


@pytest.mark.parametrize("platform", ["debian", "pi", "jetson"])
def test_dry_run_prints_the_documented_steps_and_changes_nothing(platform, tmp_path):
    prefix = tmp_path / "opt-anpr"
    done = dry_run("--platform", platform, "--prefix", str(prefix))
    assert done.returncode == 0, done.stderr
    printed = steps(done.stdout)
    assert [n for n, _ in printed] == list(range(1, 10))
    documented = dict(documented_steps())
    for number, title in printed:
        assert documented.get(number) == title, (
            f"step {number} prints {title!r}; docs/operations.md says {documented.get(number)!r}"
        )
    assert "dry run: nothing was changed" in done.stdout
    assert not prefix.exists()
    assert f"installing as platform '{platform}'" in done.stdout
    assert f"-m venv --system-site-packages {prefix}" in done.stdout
    assert "/etc/systemd/system/anpr-agent@.service" in done.stdout
    jetson_dropin = "/etc/systemd/system/anpr-agent@.service.d/jetson.conf"
    assert (jetson_dropin in done.stdout) == (platform == "jetson")
    # the private keys' folder: root's, readable by the service's group only
    assert "/etc/anpr/credentials" in done.stdout
    if platform == "pi" and shutil.which("dpkg-query"):
        picamera = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Status}", "python3-picamera2"],
            capture_output=True, text=True,
        )  # fmt: skip
        if "install ok installed" not in picamera.stdout:
            assert "python3-picamera2" in done.stdout.split("[4]")[0]
        assert "--require picamera2" in done.stdout


def test_os_opencv_leaves_pypi_opencv_out_and_requires_gstreamer(tmp_path):
    done = dry_run("--platform", "debian", "--os-opencv", "--prefix", str(tmp_path / "v"))
    assert done.returncode == 0, done.stderr
    assert "[camera]" not in done.stdout
    assert "--require gstreamer" in done.stdout


def fake_python(folder: Path, version: str) -> Path:
    """An interpreter that only answers the installer's questions: its version, and whether
    it is new enough (the `sys.version_info < (3, 10)` probe)."""
    old = tuple(map(int, version.split("."))) < (3, 10)
    python = folder / f"python{version}"
    python.write_text(
        f'#!/bin/sh\ncase "$2" in *"<"*) exit {int(old)};; *) echo {version};; esac\n'
    )
    python.chmod(0o755)
    return python


def test_a_jetson_installs_on_jetpacks_python_3_10(tmp_path):
    """JetPack 6's python3 is 3.10: the unit runs on it (issue #22), in a venv that sees the
    OS's packages, NVIDIA's onnxruntime-gpu among them."""
    python310 = fake_python(tmp_path, "3.10")
    done = dry_run("--platform", "jetson", "--python", str(python310), "--prefix",
                   str(tmp_path / "v"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{python310} (Python 3.10)" in done.stdout
    assert f"{python310} -m venv --system-site-packages" in done.stdout
    assert "--onnxruntime-gpu-index" in done.stdout  # the note: PyPI's is CPU only
    assert "--onnxruntime-gpu-index" in SECTION


def test_a_jetson_can_take_onnxruntime_gpu_from_nvidias_index(tmp_path):
    index = "https://nvidia.example/jp6/cu126"
    done = dry_run("--platform", "jetson", "--onnxruntime-gpu-index", index, "--prefix",
                   str(tmp_path / "v"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = done.stdout
    uninstall = printed.index("pip uninstall -y onnxruntime")
    install = printed.index(f"--no-deps --force-reinstall --index-url {index} onnxruntime-gpu")
    assert printed.index("<that copy>[camera]") < uninstall < install
    # the install's check then fails unless the models really run on TensorRT or CUDA
    assert "-m provisioning.unit_check --require gpu" in printed
    # elsewhere NVIDIA's Jetson builds do not fit, and the option takes a URL
    pi = dry_run("--platform", "pi", "--onnxruntime-gpu-index", index)
    assert pi.returncode == 1
    assert "is for a Jetson" in pi.stderr
    assert dry_run("--onnxruntime-gpu-index", "jp6").returncode == 2


def test_a_jetson_uses_the_oss_onnxruntime_gpu_when_python3_has_one(tmp_path):
    """NVIDIA's onnxruntime-gpu installed into JetPack's python3: the venv drops PyPI's so
    that it sees the OS's through its system site packages."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # JetPack's python3: 3.10, and its onnxruntime offers CUDA (every probe answers yes)
    (bin_dir / "python3").write_text('#!/bin/sh\ncase "$2" in *"<"*) exit 0;; esac\necho 3.10\n')
    (bin_dir / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = dry_run("--platform", "jetson", "--prefix", str(tmp_path / "v"), env=env)
    assert done.returncode == 0, done.stderr
    assert f"{bin_dir / 'python3'} (Python 3.10)" in done.stdout
    uninstall = "pip uninstall -y onnxruntime   (the OS python3's onnxruntime-gpu is used)"
    assert uninstall in done.stdout
    assert "onnxruntime-gpu --index-url" not in done.stdout
    assert "-m provisioning.unit_check --require gpu" in done.stdout


@pytest.mark.parametrize("platform", ["debian", "pi"])
def test_elsewhere_pypis_onnxruntime_stays(platform, tmp_path):
    done = dry_run("--platform", platform, "--prefix", str(tmp_path / "v"))
    assert done.returncode == 0, done.stderr
    assert "onnxruntime" not in done.stdout.split("[7]")[1].split("[8]")[0].split("\n", 1)[1]
    assert "--require gpu" not in done.stdout


def test_python_older_than_3_10_is_refused(tmp_path):
    python39 = fake_python(tmp_path, "3.9")
    done = dry_run("--platform", "jetson", "--python", str(python39))
    assert done.returncode == 1
    assert "is Python 3.9: the unit needs 3.10 or newer" in done.stderr


def test_without_dry_run_it_needs_root():
    if os.geteuid() != 0:
        done = subprocess.run(["sh", str(INSTALLER)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "run as root" in done.stderr
    bad = subprocess.run(["sh", str(INSTALLER), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "unknown option --bogus" in bad.stderr


def test_docs_and_readme_name_the_arm64_test():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test-arm64:", makefile, re.M)
    assert "test-arm64" not in makefile.split("\ntest:")[1].split("\n\n")[0]
    assert "make test-arm64" in SECTION
    assert "make test-arm64" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("script", ["install-unit.sh", "test-arm64.sh"])
def test_shellcheck(script):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is missing: run `make test` (scripts/install-system-deps.sh)")
    done = subprocess.run(
        [shellcheck, "--shell=sh", str(REPO / "scripts" / script)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout


def test_the_selftest_image_ships_with_the_package():
    """An installed unit has no samples/ folder: the self-test's frame is package data."""
    from provisioning.selftest import TEST_IMAGE

    assert TEST_IMAGE.is_relative_to(Path(REPO / "provisioning"))
    assert TEST_IMAGE.read_bytes() == (REPO / "samples/replay/scene-000.jpg").read_bytes()
    assert TEST_IMAGE.with_suffix(".txt").exists()
