"""Why one received record was not admitted: one type, and it is data.

A refusal is made where a check fails, returned (never raised) through admission and the
verify workers, crosses the process boundary as it is (a frozen dataclass pickles), and is
recorded, counted and answered to the unit from that one value. `reason` is the stable,
grep-able name that the rejection log, the counters and `docs/wire-format.md` share.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.errors import WireError


@dataclass(frozen=True)
class Refusal:
    reason: str
    detail: str
    camera_id: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"

    @classmethod
    def of(cls, error: WireError, camera_id: str | None = None, seq: int | None = None):
        return cls(error.reason, str(error), camera_id, seq)
