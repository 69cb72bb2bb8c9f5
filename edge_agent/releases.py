"""Software releases on the unit, A/B style (#22): a new slot, an atomic switch, a health
confirmation within a deadline, and an automatic rollback when it does not come.

Under the install root (`/opt/anpr`, the venv `scripts/install-unit.sh` made):

    releases/<version>/   one venv per release, built offline from the bundle's wheels only;
                          `release.json`, written last, marks the slot complete
    current               symlink: `releases/<version>`, or `.` (the install itself, the base)
    update.json           the last update: trial, confirmed or rolled back, and why

The agent's unit runs `/opt/anpr/current/bin/anpr-agent`. An update verifies the signed bundle
(a software release, never older than the running one unless the bundle approves a downgrade),
builds the new slot, writes `update.json` (trial), switches `current` with one rename and
restarts the agent. The new agent confirms by writing its health mark (its release, once it
has loaded its config and models and published a heartbeat through the broker). No mark
within the deadline (it does not start, crashes, or never reaches the broker): `current` goes
back to the previous slot, the agent is restarted, and the failure is logged, kept in
`update.json` and appended to the unit's history (`installed-bundles.jsonl`). A power cut
leaves a slot without `release.json` (removed by the next attempt) or a trial whose updater
is gone, settled by `anpr-agent recover` before the agent starts (`ExecStartPre=`).
The current slot and the two most recently installed others are kept; older ones go.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import chain
from pathlib import Path

from edge_agent.bundles import HISTORY, BundleRefused, read_bundle
from wire import VerifyKey
from wire.bundles import Manifest, release_number, wheel_prefix

UTC = timezone.utc  # datetime.UTC is 3.11's; the unit runs on 3.10 (JetPack 6)

log = logging.getLogger(__name__)
ROOT = Path("/opt/anpr")
RELEASES = "releases"
CURRENT = "current"
COMPLETE = "release.json"
STATE = "update.json"
BASE = "base"  # the release install-unit.sh installed into the root itself
KEEP_PREVIOUS = 2
PROGRAM = "bin/anpr-agent"


@dataclass(frozen=True)
class UpdateSettings:
    root: Path = ROOT
    restart: tuple[str, ...] = ()  # the command that restarts the agent (systemctl restart ...)
    deadline_s: float = 180.0
    poll_s: float = 0.5


@dataclass(frozen=True)
class UpdateOutcome:
    version: str
    confirmed: bool
    current: str  # the slot current points at afterwards
    reason: str = ""


# --- the health mark: written by the agent, read by the updater ------------------------


def health_mark_path(spool_path: Path, camera_id: str) -> Path:
    """Beside the spool: the agent's state directory, the one place the service writes."""
    return spool_path.parent / f"health-{camera_id}.json"


def running_release() -> str:
    """The release this interpreter belongs to: its slot's version, or `base`."""
    try:
        return str(json.loads((Path(sys.prefix) / COMPLETE).read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return BASE


def last_update_failed() -> bool:
    """Whether the last software update on this install was rolled back (or failed): read
    by the agent at start, from the root its own slot lies in."""
    prefix = Path(sys.prefix).resolve()
    root = prefix.parent.parent if (prefix / COMPLETE).exists() else prefix
    return read_state(root).get("state") in ("rolled_back", "failed")


def write_health_mark(path: Path, camera_id: str, release: str) -> None:
    """Logged, never raised, when it cannot be written: the unit keeps delivering (and an
    update waiting for it rolls back)."""
    try:
        _write_json(path, {"camera_id": camera_id, "release": release, "pid": os.getpid(),
                           "at": datetime.now(UTC).isoformat()})  # fmt: skip
    except OSError as exc:
        log.warning("agent: health mark %s not written: %s", path, exc)


def _healthy_since(path: Path, version: str, since: datetime) -> bool:
    try:
        mark = json.loads(path.read_text())
        return mark["release"] == version and datetime.fromisoformat(mark["at"]) >= since
    except (OSError, ValueError, KeyError, TypeError):
        return False  # absent, or half written: not (yet) a confirmation


# --- slots --------------------------------------------------------------------------------


def current_slot(root: Path) -> Path | None:
    link = root / CURRENT
    return link.resolve() if link.is_symlink() else None


def slot_name(root: Path, slot: Path) -> str:
    """What `current` holds for a slot: `releases/<version>`, or `.` for the root itself."""
    return "." if slot == root.resolve() else str(slot.relative_to(root.resolve()))


def slot_version(slot: Path, package: str) -> str | None:
    """A slot's release: its release.json, or for the base the package's installed version."""
    try:
        return str(json.loads((slot / COMPLETE).read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    probe = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    try:
        done = subprocess.run([str(slot / "bin" / "python"), "-I", "-c", probe, package],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    except OSError:
        return None
    found = re.match(r"[0-9]+(\.[0-9]+)*", done.stdout.strip()) if done.returncode == 0 else None
    return found.group(0) if found else None


def slots(root: Path) -> list[dict]:
    """Complete release slots, most recently installed first."""
    folder = root / RELEASES
    found = []
    for slot in folder.iterdir() if folder.is_dir() else ():
        try:
            found.append(json.loads((slot / COMPLETE).read_text()) | {"slot": slot})
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda s: s.get("installed_at", ""), reverse=True)


def switch(root: Path, name: str) -> None:
    """Points `current` at a slot with one rename: a power cut leaves the old or the new."""
    staged = root / f".{CURRENT}.new"
    if staged.is_symlink() or staged.exists():
        staged.unlink()
    os.symlink(name, staged)
    os.replace(staged, root / CURRENT)
    _sync_folder(root)


def remove_half_written(root: Path) -> list[str]:
    """Slots a power cut or a killed installer left without release.json."""
    current = current_slot(root)
    removed = []
    folder = root / RELEASES
    for slot in folder.iterdir() if folder.is_dir() else ():
        if slot.is_dir() and not (slot / COMPLETE).exists() and slot.resolve() != current:
            shutil.rmtree(slot)
            removed.append(slot.name)
            log.warning("update: removed the half-written slot %s (an interrupted install)", slot)
    return removed


def prune(root: Path, keep: int = KEEP_PREVIOUS) -> list[str]:
    """Removes complete slots beyond the current one and the `keep` most recent others."""
    current = current_slot(root)
    others = [s["slot"] for s in slots(root) if s["slot"].resolve() != current]
    for slot in others[keep:]:
        shutil.rmtree(slot)
        log.info("update: pruned the old release slot %s", slot)
    return [slot.name for slot in others[keep:]]


def install_slot(root: Path, manifest: Manifest, contents: dict[str, bytes]) -> Path:
    """Builds `releases/<version>` from the bundle's wheels, offline; release.json last."""
    assert manifest.software is not None
    os.umask(0o022)  # the service's user reads the slot; root alone writes it
    slot = root / RELEASES / manifest.version
    if slot.exists():
        shutil.rmtree(slot)  # an earlier, failed or half-written build of the same release
    slot.mkdir(parents=True)
    for path, data in contents.items():
        _write_bytes(slot / path, data)
    own = next(p for p in contents if p.startswith(wheel_prefix(manifest.software.package,
                                                                manifest.version)))  # fmt: skip
    current = current_slot(root)
    shared = current is not None and "include-system-site-packages = true" in _read(
        current / "pyvenv.cfg"
    )  # the OS's picamera2/OpenCV stay visible where the running release sees them
    venv = [sys.executable, "-m", "venv", "--without-pip"]
    venv += ["--system-site-packages"] if shared else []
    pip = [sys.executable, "-m", "pip", "--python", str(slot / "bin" / "python"), "install",
           "--no-index", "--find-links", str(slot / "wheels"), "--no-cache-dir", "--no-input",
           "--disable-pip-version-check", str(slot / own)]  # fmt: skip
    # chain: the onnxruntime steps are worked out once the project's wheels are in the slot
    for step in chain([venv + [str(slot)], pip], _keep_onnxruntime(current, slot, shared)):
        done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            shutil.rmtree(slot)
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise BundleRefused(f"release {manifest.version} did not install: {' / '.join(tail)}")
    if not os.access(slot / PROGRAM, os.X_OK):
        shutil.rmtree(slot)
        raise BundleRefused(f"release {manifest.version} has no {PROGRAM}: it cannot run the unit")
    _write_json(slot / COMPLETE, {
        "version": manifest.version, "package": manifest.software.package,
        "bundle_id": manifest.bundle_id, "made_by": manifest.made_by,
        "approved_by": manifest.approved_by, "installed_at": datetime.now(UTC).isoformat(),
    })  # fmt: skip
    _sync_folder(slot.parent)
    return slot


def _has(slot: Path, distribution: str) -> bool:
    return any(slot.glob(f"lib/python3*/site-packages/{distribution}-*.dist-info"))


def _keep_onnxruntime(current: Path | None, slot: Path, shared: bool) -> Iterator[list[str]]:
    """The pip steps that give a new slot the onnxruntime build the running one uses (#22).

    A Jetson runs NVIDIA's onnxruntime-gpu (TensorRT, CUDA), in its venv or the OS's Python;
    the bundle's PyPI onnxruntime (the project's pin, CPU only) installs the same module and
    would shadow it. A generator: it looks at the slot once the project's wheels are in."""
    if current is None or not _has(slot, "onnxruntime") or _has(current, "onnxruntime"):
        return  # the running release has PyPI's too, or the new one brings none
    pip = [sys.executable, "-m", "pip", "--python", str(slot / "bin" / "python")]
    quiet = ["--no-input", "--disable-pip-version-check"]
    if _has(current, "onnxruntime_gpu"):
        gpu = sorted((slot / "wheels").glob("onnxruntime_gpu-*.whl"))
        if not gpu:
            shutil.rmtree(slot)
            raise BundleRefused(
                "the running release uses onnxruntime-gpu (TensorRT, CUDA) and the bundle has "
                "no onnxruntime_gpu wheel: add NVIDIA's, for the unit's Python, or the release "
                "would run the models on the CPU"
            )
        yield [*pip, "uninstall", "-y", *quiet, "onnxruntime"]
        yield [*pip, "install", "--no-index", "--no-deps", "--force-reinstall",
               "--no-cache-dir", *quiet, str(gpu[-1])]  # fmt: skip
    elif shared:  # the OS's onnxruntime-gpu, seen through the system site packages
        yield [*pip, "uninstall", "-y", *quiet, "onnxruntime"]


# --- the update, its confirmation and its rollback ----------------------------------------


def update(
    bundle: Path, camera_id: str, release_key: VerifyKey, history_dir: Path, mark: Path,
    settings: UpdateSettings,
) -> UpdateOutcome:  # fmt: skip
    """Installs, switches, restarts and waits for the health mark; rolls back without it.
    Raises BundleRefused, with nothing changed, for a bundle that must not be installed."""
    root = settings.root
    manifest, contents = read_bundle(bundle, camera_id, release_key)
    software = manifest.software
    if software is None:
        raise BundleRefused(f"bundle {manifest.bundle_id} is not a software release")
    recover(root, history_dir, mark)  # an earlier interrupted trial is settled first
    previous = current_slot(root)
    if previous is None and os.access(root / PROGRAM, os.X_OK):
        previous = root.resolve()  # installed before releases existed: the root itself runs
    running = slot_version(previous, software.package) if previous else None
    if previous is not None and previous == (root / RELEASES / manifest.version).resolve():
        raise BundleRefused(f"release {manifest.version} is already current")
    if running and release_number(manifest.version) <= release_number(running):
        if not software.downgrade:
            raise BundleRefused(
                f"release {manifest.version} is not newer than the running {running}: "
                "installing it needs a signed bundle that approves the downgrade"
            )
        log.warning("update: %s replaces the newer %s: a signed downgrade approved by %s",
                    manifest.version, running, manifest.approved_by)  # fmt: skip
    remove_half_written(root)
    slot = install_slot(root, manifest, contents)
    started = datetime.now(UTC)
    state = {
        "state": "trial", "version": manifest.version, "slot": slot_name(root, slot),
        "previous": slot_name(root, previous) if previous else None,
        "previous_version": running, "bundle_id": manifest.bundle_id,
        "made_by": manifest.made_by, "approved_by": manifest.approved_by,
        "approved_at": manifest.approved_at.isoformat(), "started_at": started.isoformat(),
        "deadline_at": (started + timedelta(seconds=settings.deadline_s)).isoformat(),
        "pid": os.getpid(), "boot_id": _boot_id(),
    }  # fmt: skip
    _write_json(root / STATE, state)
    switch(root, state["slot"])
    log.info("update: release %s is current (%s); restarting the agent, health due within %.0f s",
             manifest.version, state["slot"], settings.deadline_s)  # fmt: skip
    _restart(settings.restart)
    deadline = time.monotonic() + settings.deadline_s
    while time.monotonic() < deadline:
        if _healthy_since(mark, manifest.version, started):
            return _confirm(root, history_dir, state)
        time.sleep(settings.poll_s)
    reason = (f"release {manifest.version} wrote no health mark within {settings.deadline_s:.0f} s "
              "(it did not start, crashed, or did not reach the broker)")  # fmt: skip
    return _roll_back(root, history_dir, state, reason, settings.restart)


def recover(root: Path, history_dir: Path, mark: Path, restart: tuple[str, ...] = ()) -> str:
    """Settles a trial whose updater is gone (a power cut, a killed process): confirmed if
    the release wrote its health mark meanwhile, else rolled back. Says what it did."""
    state = read_state(root)
    if state.get("state") != "trial":
        return ""
    if state.get("boot_id") == _boot_id() and _alive(state.get("pid")):
        return ""  # its updater is still waiting for the health mark
    if _healthy_since(mark, state["version"], datetime.fromisoformat(state["started_at"])):
        _confirm(root, history_dir, state)
        return f"release {state['version']} had confirmed; its update is now recorded"
    reason = (f"the update to {state['version']} was interrupted (power cut or killed) before "
              "the release confirmed")  # fmt: skip
    outcome = _roll_back(root, history_dir, state, reason, restart)
    return f"rolled back to {outcome.current}: {reason}"


def _confirm(root: Path, history_dir: Path, state: dict) -> UpdateOutcome:
    state = state | {"state": "confirmed", "confirmed_at": datetime.now(UTC).isoformat()}
    _write_json(root / STATE, state)
    _append_history(history_dir, state, "installed")
    log.info("update: release %s confirmed healthy; the previous slot was %s",
             state["version"], state["previous"])  # fmt: skip
    prune(root)
    return UpdateOutcome(state["version"], True, state["slot"])


def _roll_back(
    root: Path, history_dir: Path, state: dict, reason: str, restart: tuple[str, ...]
) -> UpdateOutcome:
    previous = state.get("previous")
    if previous is None:  # the first release on an empty root: nothing to go back to
        state = state | {"state": "failed", "reason": reason}
        _write_json(root / STATE, state)
        _append_history(history_dir, state, "failed", reason)
        log.error("update: FAILED, no previous release to roll back to: %s", reason)
        return UpdateOutcome(state["version"], False, state["slot"], reason)
    switch(root, previous)
    state = state | {"state": "rolled_back", "reason": reason,
                     "rolled_back_at": datetime.now(UTC).isoformat()}  # fmt: skip
    _write_json(root / STATE, state)
    _append_history(history_dir, state, "rolled back", reason)
    log.error("update: ROLLED BACK to %s (%s): %s", previous, state["previous_version"], reason)
    _restart(restart)
    prune(root)
    return UpdateOutcome(state["version"], False, previous, reason)


def read_state(root: Path) -> dict:
    try:
        state = json.loads((root / STATE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _append_history(folder: Path, state: dict, outcome: str, reason: str = "") -> None:
    entry = {
        "installed_at": datetime.now(UTC).isoformat(), "bundle_id": state["bundle_id"],
        "version": state["version"], "made_by": state["made_by"],
        "approved_by": state["approved_by"], "approved_at": state["approved_at"],
        "software": outcome, "slot": state["slot"], "previous": state["previous"],
    } | ({"reason": reason} if reason else {})  # fmt: skip
    with (folder / HISTORY).open("a") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _restart(command: tuple[str, ...]) -> None:
    if not command:
        return
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("update: restart command %s failed: %s", command[0], exc)
        return
    if done.returncode != 0:
        log.warning("update: restart command exited %d: %s", done.returncode,
                    done.stderr.strip()[-200:])  # fmt: skip


def _boot_id() -> str:
    return _read(Path("/proc/sys/kernel/random/boot_id")).strip()


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_json(path: Path, value: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    _write_bytes(partial, (json.dumps(value, sort_keys=True) + "\n").encode())
    partial.chmod(0o644)  # no secret in it; the agent's user reads update.json (its metrics)
    partial.replace(path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
