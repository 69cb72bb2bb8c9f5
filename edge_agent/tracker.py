"""From reads in frames to one passage per vehicle: tracking and voting.

A track links reads that are near each other in the image and in time and spell nearly the
same plate. When a track has not been seen for `track_timeout_s`, it ends: the plate with
the most confidence-weighted votes wins, and the sharpest observation of that plate gives
the crop and the overview. The same plate ending again within `repeat_gap_s` of its last
passage is the same vehicle (stopped in traffic, briefly hidden) and is merged, counted.

"Near" is measured against where the track's plate should be now, not where it last was:
a vehicle at motorway speed moves its plate more than a plate height between two frames,
so its boxes never overlap, and matching on overlap alone split one vehicle into a
passage per frame (54 false passages for 24 vehicles on the rendered traffic clip). Each
track keeps its plate's velocity; a read joins the track whose predicted position it lies
nearest, if it is within a fraction of the plate's width of it. Blurred frames misread
more than two characters, so a read that sits right where the plate was predicted may
differ more from the track's text (up to half its characters) and still join it; a read
that only overlaps loosely must spell nearly the same plate.

A vehicle's first read is often its best (far away, small, sharp) and its next one, a few
frames on, already a plate width further and blurred into other characters: no velocity is
known yet, so the two start separate tracks, and the vehicle became two passages, the sharp
read alone beside the voted misread (rendered night traffic: 4 of 24 vehicles); a stray
read of other characters on a plate already tracked did the same. So a short track that
ends is first held against the longer tracks: when one of them was where the short track's
plate was, when it was there (run backwards at its first speed, if it began just after),
the two are one vehicle and the short track's votes join it (`stitched`). Reads no
country's layout admits vote less (`UNFIT_VOTE`): among a vehicle's reads, the blurred ones
that read Q for G or 6 for 5 are mostly not plates at all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

from edge_agent.capture import Frame
from recognition.plate_formats import countries_matching
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


Box = tuple[int, int, int, int]  # x, y, width, height
CUT_VOTE = 0.01  # a cut read's vote, against a whole read's: decides only among cut reads
EDGE_PX = 2  # a box this close to the frame's border is a plate cut by it
UNFIT_VOTE = 0.3  # a read no country's layout admits, against one that fits
STITCH_READS = 3  # a track of at most this many reads may be the start of a later one
STITCH_GAP = timedelta(milliseconds=300)  # ... that began at most this long after it ended
STITCH_NEAR_IN_TIME = timedelta(milliseconds=100)  # ... or had a read this close in time


def evidence(confidence: float) -> float:
    """A read's vote: -log(1 - confidence), so one sure read (0.999) outweighs several
    unsure ones (0.5 each counts 0.69, 0.999 counts 6.9). Under motion blur the reader
    repeats the same look-alike misread at middling confidence frame after frame, and a
    plain sum of confidences let those outvote the one sharp frame (rendered traffic
    clips: 20 of 24 vehicles right with this vote, 17 with the sum)."""
    return -math.log(1.0 - min(confidence, 0.999))


def cut_by_edge(box: Box, frame: Frame) -> bool:
    """Whether the plate reaches the frame's border, so part of it may lie outside."""
    height, width = frame.image.shape[:2]
    x, y, w, h = box
    return x <= EDGE_PX or y <= EDGE_PX or x + w >= width - EDGE_PX or y + h >= height - EDGE_PX


def centre(box: Box) -> tuple[float, float]:
    x, y, w, h = box
    return x + w / 2, y + h / 2


def widths_apart(a: Box, b: Box) -> float:
    """How far apart two plates' centres are, in plate widths (of the wider)."""
    (ax, ay), (bx, by) = centre(a), centre(b)
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 / max(a[2], b[2], 1)


def moved(box: Box, velocity: tuple[float, float], seconds: float) -> Box:
    """The box carried `seconds` along at `velocity` (pixels per second; back when negative)."""
    x, y, w, h = box
    return round(x + velocity[0] * seconds), round(y + velocity[1] * seconds), w, h


@dataclass
class Track:
    track_id: int
    last_box: Box
    first_seen: datetime
    last_seen: datetime
    velocity: tuple[float, float] | None = None  # the plate's centre, pixels per second
    whole: int = 0  # reads of the plate whole, not cut by the frame's edge
    votes: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    best: dict[tuple[str, str], Observation] = field(default_factory=dict)
    char_sums: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    seen: int = 0
    first_box: Box = field(init=False)
    first_velocity: tuple[float, float] | None = None  # the first speed measured
    path: list[tuple[datetime, Box]] = field(init=False)  # where its plate was, when

    def __post_init__(self) -> None:
        self.first_box = self.last_box
        self.path = [(self.first_seen, self.last_box)]

    def add(self, observation: Observation, cut: bool = False) -> None:
        """Count the read as a vote for its text. A read of a plate cut by the frame's edge
        follows the track but hardly votes: its text lacks the characters beyond the edge."""
        read = observation.read
        key = (read.plate, read.country)
        fits = UNFIT_VOTE if not countries_matching(read.plate) else 1.0
        self.votes[key] += evidence(read.confidence) * (CUT_VOTE if cut else 1.0) * fits
        self.seen += 1
        self.whole += not cut
        self._follow(read.box, observation.frame.captured_at)
        sums = self.char_sums.setdefault(key, [0.0] * len(read.plate) + [0])
        for index, value in enumerate(read.char_confidences):
            sums[index] += value
        sums[-1] += 1
        held = self.best.get(key)
        if held is None or read.confidence > held.read.confidence:
            self.best[key] = observation

    def _follow(self, box: Box, at: datetime) -> None:
        """Move the track to `box`, updating the velocity from the last position (smoothed:
        one jittery box should not throw the prediction)."""
        elapsed = (at - self.last_seen).total_seconds()
        if elapsed > 0:
            (x0, y0), (x1, y1) = centre(self.last_box), centre(box)
            measured = ((x1 - x0) / elapsed, (y1 - y0) / elapsed)
            if self.velocity is None:
                self.velocity = self.first_velocity = measured
            else:
                self.velocity = tuple(  # type: ignore[assignment]
                    (old + new) / 2 for old, new in zip(self.velocity, measured, strict=True)
                )
        self.last_box = box
        self.last_seen = at
        if self.path[-1][0] != at:
            self.path.append((at, box))

    def predicted_box(self, at: datetime) -> Box:
        """Where the plate should be at `at`, moving as it has been (standing still when the
        track has one position so far)."""
        if self.velocity is None:
            return self.last_box
        return moved(self.last_box, self.velocity, (at - self.last_seen).total_seconds())

    def box_at(self, at: datetime) -> Box | None:
        """Where the plate was at `at`: its read nearest in time while the track lived (within
        STITCH_NEAR_IN_TIME), or before the track began (within STITCH_GAP), where it would
        have been at its first speed; None when that cannot be said."""
        if at < self.first_seen:
            if self.first_velocity is None or self.first_seen - at > STITCH_GAP:
                return None
            before = (at - self.first_seen).total_seconds()  # negative: back in time
            return moved(self.first_box, self.first_velocity, before)
        when, box = min(self.path, key=lambda entry: abs(entry[0] - at))
        return box if abs(when - at) <= STITCH_NEAR_IN_TIME else None

    def absorb(self, start: Track) -> None:
        """Take the votes of a track that was this plate's start."""
        for key, weight in start.votes.items():
            self.votes[key] += weight
            sums = start.char_sums[key]
            mine = self.char_sums.get(key)
            self.char_sums[key] = (
                list(sums) if mine is None else [a + b for a, b in zip(mine, sums, strict=True)]
            )
            held = self.best.get(key)
            if held is None or start.best[key].read.confidence > held.read.confidence:
                self.best[key] = start.best[key]
        self.seen += start.seen
        self.whole += start.whole
        if start.first_seen < self.first_seen:
            self.first_seen, self.first_box = start.first_seen, start.first_box

    def leading_plate(self) -> str:
        return max(self.votes, key=self.votes.get)[0]

    def text_distance(self, plate: str, candidates: int = 3) -> int:
        """Edits from `plate` to the nearest of the track's most-voted texts: a track of a
        blurred plate holds several misreads, and a new read may resemble any of them."""
        ranked = sorted(self.votes, key=self.votes.get, reverse=True)[:candidates]
        return min(edit_distance(plate, text) for text, _ in ranked)

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
        near: float = 0.6,
        close: float = 0.3,
    ) -> None:
        self.track_timeout = timedelta(seconds=track_timeout_s)
        self.repeat_gap = timedelta(seconds=repeat_gap_s)
        self.min_iou = min_iou
        self.max_edit = max_edit
        self.near = near  # plate widths from the prediction: a read of nearly the same text
        self.close = close  # plate widths: a read differing in up to half its characters
        self.active: list[Track] = []
        self.recent: dict[str, datetime] = {}  # plate -> last_seen of its last passage
        self.merged_repeats = 0
        self.cut_dropped = 0  # tracks not emitted: their plate was only seen cut by the edge
        self.stitched = 0  # short tracks found to be the start of a later one, joined to it
        self._ids = count(1)

    def update(self, frame: Frame, reads: list[Read]) -> list[Vehicle]:
        """Add a frame's reads; return the vehicles whose tracks ended before this frame."""
        finished = self._expire(frame.captured_at)
        for read in sorted(reads, key=lambda r: -r.confidence):
            track = self._match(read, frame.captured_at)
            if track is None:
                track = Track(next(self._ids), read.box, frame.captured_at, frame.captured_at)
                self.active.append(track)
            track.add(Observation(read, frame), cut=cut_by_edge(read.box, frame))
        return finished

    def flush(self) -> list[Vehicle]:
        """End every track (the source has ended)."""
        tracks, self.active = self.active, []
        return self._emit(self._stitch(tracks))

    def _match(self, read: Read, now: datetime) -> Track | None:
        """The live track this read continues, or None: the nearest to its predicted position
        among those close enough in place and text."""
        best, best_distance = None, float("inf")
        for track in self.active:
            if now - track.last_seen > self.track_timeout:
                continue
            distance = self._distance(read, track, now)
            if distance is None or distance >= best_distance:
                continue
            best, best_distance = track, distance
        return best

    def _distance(self, read: Read, track: Track, now: datetime) -> float | None:
        """How far the read lies from where the track's plate should be, in plate widths;
        None when it cannot be the same plate."""
        predicted = track.predicted_box(now)
        distance = widths_apart(predicted, read.box)
        # A track seen once has no velocity yet: its plate may have moved up to about a
        # plate width since, so the first step is judged more loosely.
        slack = 1.0 if track.velocity is not None else 2.0
        edits = track.text_distance(read.plate)
        if edits <= self.max_edit and (
            distance <= self.near * slack or iou(read.box, predicted) >= self.min_iou
        ):
            return distance
        longest = max(len(read.plate), len(track.leading_plate()))
        if distance <= self.close * slack and edits <= longest // 2:
            return distance
        return None

    def _expire(self, now: datetime) -> list[Vehicle]:
        done = [t for t in self.active if now - t.last_seen > self.track_timeout]
        self.active = [t for t in self.active if t not in done]
        return self._emit(self._stitch(done))

    def _stitch(self, done: list[Track]) -> list[Track]:
        """The ended tracks less those that were the start of a later track (joined to it)."""
        kept = []
        for track in sorted(done, key=lambda t: t.first_seen):
            later = self._continuation(track, [t for t in self.active + done if t is not track])
            if later is None:
                kept.append(track)
                continue
            later.absorb(track)
            self.stitched += 1
            done = [t for t in done if t is not track]
        return kept

    def _continuation(self, start: Track, others: list[Track]) -> Track | None:
        """The longer track whose plate was where the short track's was, when it was there
        (it began just after, or was being read at the same time), if any: the nearest, in
        plate widths. Two plates are never in one place at one time."""
        if start.seen > STITCH_READS:
            return None
        best, best_distance = None, self.near
        for track in others:
            if track.seen <= start.seen:
                continue
            then = track.box_at(start.last_seen)
            if then is None:
                continue
            distance = widths_apart(then, start.last_box)
            if distance <= best_distance:
                best, best_distance = track, distance
        return best

    def _emit(self, tracks: list[Track]) -> list[Vehicle]:
        vehicles = []
        for track in sorted(tracks, key=lambda t: t.first_seen):
            if not track.whole:
                # Only ever seen cut by the frame's edge (a vehicle leaving the view whose
                # track began there): any text it has is missing characters.
                self.cut_dropped += 1
                continue
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
