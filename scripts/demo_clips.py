"""The demo's traffic: one rendered clip per demo camera, cached under var/demo/clips/.

Each clip comes from `models/train/traffic_clip.py` (the renderer the motion gate's test and
benchmark use): a fixed road camera, four vehicles with Dutch plates driving towards it, each
in view for 3-6 s (a city road), with the motion blur of an 8 ms exposure, sensor noise, an
auto-exposure drift and JPEG compression; the first camera's second vehicle stops in view for
three seconds. It is rendered at 12 frames a second and the agents replay it at 6, half speed,
so four agents and their ONNX models fit a laptop's CPU; a vehicle stays in many frames, so
the agent's tracker links its reads and its vote gives one passage.

A clip is rendered once: its folder is named for everything that shapes it (camera, seed,
frame rate, the renderer's source), written under a temporary name and renamed when complete,
so an interrupted render is redone and a finished one is reused by every later start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from models.train import synthetic_scenes, traffic_clip

CLIP_FPS = 12
REPLAY_FPS = 6.0  # half speed: each camera's agent reads 6 frames a second
VEHICLES = 4
CROSSING_S = (3.0, 6.0)
SEEDS = (2303, 2311, 2327, 2333)  # one per demo camera, in DEMO_CAMERAS order


@dataclass(frozen=True)
class ClipSpec:
    """What shapes one camera's clip."""

    camera_id: str
    seed: int
    stopping: int | None  # the vehicle that stops in view for 3 s, if any

    @property
    def key(self) -> str:
        sources = b"".join(
            Path(module.__file__).read_bytes() for module in (traffic_clip, synthetic_scenes)
        )
        shape = json.dumps([self.seed, self.stopping, VEHICLES, CLIP_FPS, CROSSING_S])
        digest = hashlib.sha256(shape.encode() + sources).hexdigest()[:12]
        return f"{self.camera_id}-{digest}"

    def traffic(self) -> tuple[list[traffic_clip.Vehicle], int]:
        """The clip's vehicles (plates, crossing frames) and its length, without rendering."""
        return traffic_clip.traffic(self.seed, VEHICLES, None, self.stopping, CLIP_FPS, CROSSING_S)

    def plates(self) -> list[str]:
        return [vehicle.plate for vehicle in self.traffic()[0]]


def specs(camera_ids: list[str]) -> list[ClipSpec]:
    return [
        ClipSpec(camera_id, SEEDS[n % len(SEEDS)] + 100 * (n // len(SEEDS)), 1 if n == 0 else None)
        for n, camera_id in enumerate(camera_ids)
    ]


def _render(spec: ClipSpec, folder: Path) -> None:
    """Render one clip into `folder` (a worker process's task); its ground truth last."""
    fleet = traffic_clip.write_clip(
        folder, spec.seed, VEHICLES, fps=CLIP_FPS, crossing_s=CROSSING_S, stopping=spec.stopping
    )
    truth = [{"plate": v.plate, "frames_in_view": len(v.frames_in_view)} for v in fleet]
    (folder / "vehicles.json").write_text(json.dumps(truth, indent=1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tidy(root: Path, keep: set[str]) -> None:
    """Remove clips no camera uses any more, and renders cut off by a process now gone."""
    for path in root.iterdir():
        name, _, pid = path.name.partition(".partial-")
        if pid:
            if not (pid.isdigit() and _alive(int(pid))):
                shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def ensure(root: Path, wanted: list[ClipSpec], say: Callable[[str], None] = print) -> dict:
    """Each spec's clip folder under `root`, rendered now where not cached (one process per
    clip, as many at once as there are CPUs), saying what is rendered and how far it is."""
    root.mkdir(parents=True, exist_ok=True)
    _tidy(root, {spec.key for spec in wanted})
    folders = {spec.camera_id: root / spec.key for spec in wanted}
    pending = [spec for spec in wanted if not (folders[spec.camera_id] / "vehicles.json").exists()]
    if not pending:
        say(f"traffic clips: {len(wanted)} cached in {root}")
        return folders
    lengths = {spec.camera_id: spec.traffic()[1] for spec in pending}
    total = sum(lengths.values())
    workers = max(1, min(len(pending), os.cpu_count() or 1))
    say(f"traffic clips: rendering {len(pending)} clip(s), {total} frames of 1280x720 "
        f"(vehicles crossing over many frames, motion blur, noise), {workers} at a time, "
        f"into {root}")  # fmt: skip
    partial = {spec.camera_id: root / f"{spec.key}.partial-{os.getpid()}" for spec in pending}
    began = time.monotonic()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(_render, spec, partial[spec.camera_id]) for spec in pending]
        last = ""
        while not all(job.done() for job in jobs):
            time.sleep(0.5)
            counts = {c: len(list(p.glob("*.jpg"))) if p.exists() else 0
                      for c, p in partial.items()}  # fmt: skip
            line = "  " + ", ".join(f"{c} {counts[c]}/{lengths[c]}" for c in counts)
            line += f"  ({100 * sum(counts.values()) // total} %)"
            if line != last and (time.monotonic() - began > 3 or all(j.done() for j in jobs)):
                say(line)
                last = line
                time.sleep(2.5)  # a line every few seconds, not a flood
        for job in jobs:
            job.result()  # a worker's error ends the demo with its traceback
    for spec in pending:
        try:
            partial[spec.camera_id].rename(folders[spec.camera_id])
        except OSError:  # another demo finished the same clip first: keep that one
            shutil.rmtree(partial[spec.camera_id], ignore_errors=True)
    say(f"traffic clips: rendered in {time.monotonic() - began:.0f} s")
    return folders
