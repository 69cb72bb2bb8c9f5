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
    return [(int(n), title) for n, title in re.findall(r"^(\d+)\. (.+)$", SECTION, re.M)]


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


def test_a_jetson_with_python_3_10_is_told_how_to_get_3_11(tmp_path):
    python310 = tmp_path / "python3.10"
    python310.write_text('#!/bin/sh\ncase "$2" in *"<"*) exit 1;; *) echo 3.10;; esac\n')
    python310.chmod(0o755)
    done = dry_run("--platform", "jetson", "--python", str(python310))
    assert done.returncode == 1
    assert "Python 3.10; the project needs 3.11 or newer" in done.stderr
    for advice in ("ppa:deadsnakes/ppa", "python3.11-venv", "uv python install 3.11"):
        assert advice in done.stderr
        assert advice in SECTION, f"docs/operations.md does not give {advice!r}"


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
