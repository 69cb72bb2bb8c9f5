"""Which searched cameras were down or degraded during a search's window.

"Nothing found" means something only if the cameras were working. Each result set states,
per searched camera, the stretches of the window in which the health monitor had it
OFFLINE or DEGRADED (or had never heard from it), so an officer can say "not seen" and
"not seen because camera X was offline from 10:05 to 10:40" apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from central.health.records import HealthRecords


@dataclass(frozen=True)
class Gap:
    camera_id: str
    state: str  # OFFLINE, DEGRADED or UNKNOWN (no health ever recorded)
    since: datetime
    until: datetime
    reasons: str

    def as_json(self) -> dict:
        return {"camera_id": self.camera_id, "state": self.state,
                "since": self.since.isoformat(), "until": self.until.isoformat(),
                "reasons": self.reasons}  # fmt: skip


def camera_gaps(
    health: HealthRecords, cameras: Sequence[str], start: datetime, end: datetime
) -> list[Gap]:
    gaps: list[Gap] = []
    for camera_id in sorted(set(cameras)):
        states = health.states_during(camera_id, start, end)
        if not states:
            gaps.append(Gap(camera_id, "UNKNOWN", start, end, "no health recorded"))
            continue
        for index, change in enumerate(states):
            if change["state"] == "OK":
                continue
            since = max(start, datetime.fromisoformat(change["at"]))
            following = states[index + 1]["at"] if index + 1 < len(states) else None
            until = min(end, datetime.fromisoformat(following)) if following else end
            if until > since:
                gaps.append(Gap(camera_id, change["state"], since, until, change["reasons"]))
    return gaps
