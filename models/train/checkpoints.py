"""Training checkpoints, so a run cut off with its session resumes where it stopped.

Everything needed to continue bit-for-bit on the same schedule is saved: weights (and their
moving average, when the run keeps one), optimiser and learning-rate schedule state, and the
step. The file is written beside and then renamed over the last one, so a kill mid-write
never leaves a broken checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def checkpoint_path(work: Path) -> Path:
    return work / "last.pt"


def resume(work: Path, net, optimiser, schedule, average=None) -> int:
    """Load the last checkpoint under `work` when there is one; the step to continue from."""
    checkpoint = checkpoint_path(work)
    if not checkpoint.exists():
        return 0
    state = torch.load(checkpoint, weights_only=False)
    net.load_state_dict(state["net"])
    if average is not None:
        if "average" not in state:
            raise RuntimeError(
                f"{checkpoint} holds no weight average; delete it or train with --ema 0"
            )
        average.load_state_dict(state["average"])
    optimiser.load_state_dict(state["optimiser"])
    schedule.load_state_dict(state["schedule"])
    log.info("resumed at step %d", state["step"])
    return state["step"]


def save(work: Path, net, optimiser, schedule, step: int, average=None) -> None:
    work.mkdir(parents=True, exist_ok=True)
    state = {
        "net": net.state_dict(),
        "optimiser": optimiser.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
    }
    if average is not None:
        state["average"] = average.state_dict()
    torch.save(state, work / "tmp.pt")
    (work / "tmp.pt").replace(checkpoint_path(work))
