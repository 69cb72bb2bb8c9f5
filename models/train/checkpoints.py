"""Training checkpoints, so a run cut off with its session resumes where it stopped.

Everything needed to continue bit-for-bit on the same schedule is saved: weights,
optimiser and learning-rate schedule state, and the step. The file is written beside
and then renamed over the last one, so a kill mid-write never leaves a broken checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def checkpoint_path(work: Path) -> Path:
    return work / "last.pt"


def resume(work: Path, net, optimiser, schedule) -> int:
    """Load the last checkpoint under `work` when there is one; the step to continue from."""
    checkpoint = checkpoint_path(work)
    if not checkpoint.exists():
        return 0
    state = torch.load(checkpoint, weights_only=False)
    net.load_state_dict(state["net"])
    optimiser.load_state_dict(state["optimiser"])
    schedule.load_state_dict(state["schedule"])
    log.info("resumed at step %d", state["step"])
    return state["step"]


def save(work: Path, net, optimiser, schedule, step: int) -> None:
    work.mkdir(parents=True, exist_ok=True)
    state = {
        "net": net.state_dict(),
        "optimiser": optimiser.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
    }
    torch.save(state, work / "tmp.pt")
    (work / "tmp.pt").replace(checkpoint_path(work))
