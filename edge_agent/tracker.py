"""From reads in frames to one passage per vehicle: tracking and voting.

A track links reads that are near each other in the image and in time and spell nearly the
same plate. When a track has not been seen for `track_timeout_s`, it ends: the plate with
the most confidence-weighted votes wins, and the sharpest observation of that plate gives
the crop and the overview. The same plate ending again within `repeat_gap_s` of its last
passage is the same vehicle (stopped in traffic, briefly hidden) and is merged, counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

from edge_agent.capture import Frame
from recognition.recognizer import Read


@dataclass(frozen=True)
class Observation:
    read: Read
    frame: Frame


@dataclass(frozen=True)
class Vehicle:
    """A finished track: what becomes one passage."""

    plate: str
    country: str
    confidence: float
    char_confidences: tuple[float, ...]
    best: Observation
    observations: int
    first_seen: datetime
    last_seen: datetime


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@dataclass
class Track:
    track_id: int
    last_box: tuple[int, int, int, int]
    first_seen: datetime
    last_seen: datetime
    votes: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    best: dict[tuple[str, str], Observation] = field(default_factory=dict)
    char_sums: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    seen: int = 0

    def add(self, observation: Observation) -> None:
        read = observation.read
        key = (read.plate, read.country)
        self.votes[key] += read.confidence
        self.seen += 1
        self.last_box = read.box
        self.last_seen = observation.frame.captured_at
        sums = self.char_sums.setdefault(key, [0.0] * len(read.plate) + [0])
        for index, value in enumerate(read.char_confidences):
            sums[index] += value
        sums[-1] += 1
        held = self.best.get(key)
        if held is None or read.confidence > held.read.confidence:
            self.best[key] = observation

    def leading_plate(self) -> str:
        return max(self.votes, key=self.votes.get)[0]

    def finish(self) -> Vehicle:
        (plate, country), weight = max(self.votes.items(), key=lambda item: item[1])
        total = sum(self.votes.values())
        sums = self.char_sums[(plate, country)]
        n = sums[-1]
        chars = tuple(value / n for value in sums[:-1])
        # Agreement between frames scales the confidence: a plate read the same way in every
        # frame keeps its read confidence, a contested one loses.
        confidence = (weight / total) * (sum(chars) / len(chars) if chars else 0.0)
        return Vehicle(
            plate=plate,
            country=country,
            confidence=confidence,
            char_confidences=chars,
            best=self.best[(plate, country)],
            observations=self.seen,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
        )


class Tracker:
    def __init__(
        self,
        track_timeout_s: float = 1.5,
        repeat_gap_s: float = 60.0,
        min_iou: float = 0.05,
        max_edit: int = 2,
    ) -> None:
        self.track_timeout = timedelta(seconds=track_timeout_s)
        self.repeat_gap = timedelta(seconds=repeat_gap_s)
        self.min_iou = min_iou
        self.max_edit = max_edit
        self.active: list[Track] = []
        self.recent: dict[str, datetime] = {}  # plate -> last_seen of its last passage
        self.merged_repeats = 0
        self._ids = count(1)

    def update(self, frame: Frame, reads: list[Read]) -> list[Vehicle]:
        """Add a frame's reads; return the vehicles whose tracks ended before this frame."""
        finished = self._expire(frame.captured_at)
        for read in sorted(reads, key=lambda r: -r.confidence):
            track = self._match(read, frame.captured_at)
            if track is None:
                track = Track(next(self._ids), read.box, frame.captured_at, frame.captured_at)
                self.active.append(track)
            track.add(Observation(read, frame))
        return finished

    def flush(self) -> list[Vehicle]:
        """End every track (the source has ended)."""
        tracks, self.active = self.active, []
        return self._emit(tracks)

    def _match(self, read: Read, now: datetime) -> Track | None:
        best, best_score = None, 0.0
        for track in self.active:
            if now - track.last_seen > self.track_timeout:
                continue
            same_text = edit_distance(read.plate, track.leading_plate()) <= self.max_edit
            overlap = iou(read.box, track.last_box)
            if same_text and overlap >= self.min_iou and overlap + 1e-9 > best_score:
                best, best_score = track, overlap
        return best

    def _expire(self, now: datetime) -> list[Vehicle]:
        done = [t for t in self.active if now - t.last_seen > self.track_timeout]
        self.active = [t for t in self.active if t not in done]
        return self._emit(done)

    def _emit(self, tracks: list[Track]) -> list[Vehicle]:
        vehicles = []
        for track in sorted(tracks, key=lambda t: t.first_seen):
            vehicle = track.finish()
            previous = self.recent.get(vehicle.plate)
            self.recent[vehicle.plate] = vehicle.last_seen
            if previous is not None and vehicle.first_seen - previous < self.repeat_gap:
                self.merged_repeats += 1
                continue
            vehicles.append(vehicle)
        horizon = max((v.last_seen for v in vehicles), default=None)
        if horizon is not None:
            self.recent = {p: t for p, t in self.recent.items() if horizon - t < self.repeat_gap}
        return vehicles
