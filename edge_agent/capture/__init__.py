"""Frame sources. Every source yields `Frame`s; the rest of the agent never knows which one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One captured image: BGR uint8 pixels, when it was taken, and where it came from."""

    image: np.ndarray = field(repr=False)
    captured_at: datetime
    origin: Path | None = None


class FrameSource(Protocol):
    """`live` sources (cameras) drop frames when the pipeline is behind; replays wait."""

    live: bool

    def frames(self) -> Iterator[Frame]: ...

    @property
    def healthy(self) -> bool: ...
