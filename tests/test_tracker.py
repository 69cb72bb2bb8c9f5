"""Tracking and voting: one passage per vehicle, the best-voted plate, the sharpest view."""

import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import numpy as np

from edge_agent.agent import Agent
from edge_agent.capture import Frame
from edge_agent.config import load_config
from edge_agent.tracker import Tracker, edit_distance, iou
from node.keyfiles import load_sealing_key
from recognition.recognizer import Read
from tests.conftest import SAMPLES, free_port, wait_until, write_agent_config
from wire import decode_passage

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
IMAGE = np.zeros((720, 1280, 3), dtype=np.uint8)  # a 720p frame: boxes well inside it


def frame(i: int, fps: float = 25.0) -> Frame:
    return Frame(IMAGE, T0 + timedelta(seconds=i / fps))


def read(plate: str, x: int, confidence: float = 0.9, y: int = 400, width: int = 120) -> Read:
    return Read(plate, confidence, (confidence,) * len(plate), (x, y, width, 26), "NL")


def run(tracker: Tracker, frames: list[list[Read]], start: int = 0) -> list:
    vehicles = []
    for i, reads in enumerate(frames, start):
        vehicles += tracker.update(frame(i), reads)
    return vehicles


def test_helpers():
    assert edit_distance("GBL12X", "GBL12X") == 0
    assert edit_distance("GBL12X", "G8L12X") == 1
    assert edit_distance("GBL12X", "GBL12") == 1
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == 5 / 15


def test_one_vehicle_over_many_frames_is_one_passage_with_the_voted_plate():
    tracker = Tracker()
    frames = [[read("GBL12X", 100 + 8 * i, 0.9)] for i in range(10)]
    frames[3] = [read("G8L12X", 124, 0.6)]  # a misread on the way
    frames[6] = [read("GBL12X", 148, 0.99)]  # the sharpest view
    assert run(tracker, frames) == []
    (vehicle,) = tracker.flush()
    assert vehicle.plate == "GBL12X" and vehicle.observations == 10
    assert vehicle.best.read.confidence == 0.99
    assert 0.8 < vehicle.confidence < 0.95, "the misread lowers the confidence a little"


def test_one_sure_read_outweighs_a_repeated_unsure_misread():
    """Blur makes the reader repeat one look-alike misread at middling confidence; the one
    sharp frame's sure read must still win the vote."""
    tracker = Tracker()
    misreads = [[read("G8L12X", 100 + 8 * i, 0.55)] for i in range(5)]
    frames = [[read("GBL12X", 100, 0.999)], *misreads]
    run(tracker, frames)
    (vehicle,) = tracker.flush()
    assert vehicle.plate == "GBL12X" and vehicle.observations == 6


def test_two_vehicles_side_by_side_are_two_passages():
    tracker = Tracker()
    frames = [[read("GBL12X", 100 + 5 * i), read("ZZ999Z", 900 - 5 * i)] for i in range(6)]
    run(tracker, frames)
    assert sorted(v.plate for v in tracker.flush()) == ["GBL12X", "ZZ999Z"]


def test_a_different_plate_at_the_same_spot_is_another_vehicle():
    tracker = Tracker()
    run(tracker, [[read("GBL12X", 100)], [read("XT456B", 100)]])
    assert len(tracker.flush()) == 2


def test_a_fast_vehicle_whose_boxes_never_overlap_is_one_passage():
    """At motorway speed the plate moves more than its height between frames (here 36 px
    down a frame, 26 px high): its boxes never overlap, yet it is one vehicle."""
    tracker = Tracker()
    run(tracker, [[read("GBL12X", 500, y=150 + 36 * i)] for i in range(14)])
    (vehicle,) = tracker.flush()
    assert vehicle.plate == "GBL12X" and vehicle.observations == 14


def test_blurred_misreads_where_the_plate_should_be_stay_with_its_vehicle():
    """Motion blur misreads three characters; the reads lie where the plate was predicted,
    so they join its track instead of becoming passages of their own."""
    tracker = Tracker()
    frames = [[read("GBL12X", 500, 0.95, y=150 + 36 * i)] for i in range(10)]
    frames[4] = [read("G8L72K", 500, 0.5, y=150 + 36 * 4)]
    frames[7] = [read("C8L1ZK", 500, 0.4, y=150 + 36 * 7)]
    run(tracker, frames)
    (vehicle,) = tracker.flush()
    assert vehicle.plate == "GBL12X" and vehicle.observations == 10


def test_a_sharp_first_read_and_the_track_that_follows_it_are_one_vehicle():
    """Far away the plate is small and sharp and read right; two frames on it is a plate
    width further and blurred into other characters, before any speed is known. One vehicle,
    one passage, and the sure first read wins the vote (rendered night traffic)."""
    tracker = Tracker()
    frames = [[read("GBL12X", 500, 0.995, y=150, width=80)], []]
    frames += [[read("C8L1ZK", 500, 0.6, y=150 + 40 * i, width=80 + 6 * i)] for i in range(2, 12)]
    run(tracker, frames)
    (vehicle,) = tracker.flush()
    assert vehicle.plate == "GBL12X" and vehicle.observations == 11
    assert tracker.stitched == 1


def test_a_stray_read_on_a_tracked_plate_joins_it():
    """A second box on the plate, read as other characters, is no second vehicle: two
    plates are never in one place at one time."""
    tracker = Tracker()
    frames = [[read("GBL12X", 500, 0.9, y=150 + 36 * i)] for i in range(10)]
    frames[5].append(read("KHJ31N", 505, 0.5, y=150 + 36 * 5 + 4))
    run(tracker, frames)
    (vehicle,) = tracker.flush()
    assert vehicle.plate == "GBL12X" and vehicle.observations == 11


def test_a_vehicle_before_another_in_the_same_lane_stays_its_own_passage():
    tracker = Tracker()
    frames = [[read("ZZ999Z", 500, 0.9, y=150)]] + [[] for _ in range(19)]
    frames += [[read("GBL12X", 500, 0.9, y=150 + 36 * i)] for i in range(8)]  # 0.8 s later
    run(tracker, frames)
    assert sorted(v.plate for v in tracker.flush()) == ["GBL12X", "ZZ999Z"]
    assert tracker.stitched == 0


def test_reads_no_layout_admits_vote_less_than_one_that_fits():
    """Glare reads Q for G frame after frame: 66JXRQ fits no country's layout, 55JXRG is a
    Dutch plate; three unsure misreads no longer outvote the one read that is a plate."""
    tracker = Tracker()
    frames = [[read("55JXRG", 500, 0.9, y=150)]]
    frames += [[read("66JXRQ", 500, 0.8, y=150 + 36 * i)] for i in range(1, 4)]
    run(tracker, frames)
    (vehicle,) = tracker.flush()
    assert vehicle.plate == "55JXRG"


def test_two_fast_vehicles_passing_each_other_stay_two_passages():
    tracker = Tracker()
    frames = [
        [read("GBL12X", 300, y=100 + 40 * i), read("ZZ999Z", 700, y=600 - 40 * i)]
        for i in range(12)
    ]
    run(tracker, frames)
    assert sorted(v.plate for v in tracker.flush()) == ["GBL12X", "ZZ999Z"]


def test_a_plate_cut_by_the_frame_edge_follows_its_track_but_does_not_outvote_it():
    """Leaving the view, the plate is cut by the bottom edge and read short with
    confidence; those reads must not become the vehicle's plate or a passage of their own."""
    tracker = Tracker()
    frames = [[read("GBL12X", 500, 0.7, y=520 + 40 * i)] for i in range(4)]
    frames += [[read("GBL12", 500, 0.99, y=694)] for _ in range(5)]  # 694 + 26 = 720: cut
    run(tracker, frames)
    (vehicle,) = tracker.flush()
    assert vehicle.plate == "GBL12X" and vehicle.observations == 9


def test_a_plate_only_ever_seen_cut_by_the_edge_is_not_a_passage_and_is_counted():
    tracker = Tracker()
    run(tracker, [[read("BL12X", 0, 0.99, y=300 + 10 * i)] for i in range(5)])  # x = 0
    assert tracker.flush() == []
    assert tracker.cut_dropped == 1


def test_vehicle_is_emitted_once_it_has_left_the_view():
    tracker = Tracker(track_timeout_s=1.0)
    run(tracker, [[read("GBL12X", 100 + 5 * i)] for i in range(5)])
    assert tracker.update(frame(100), []) != [], "2.5 s later the track has ended"


def test_same_plate_within_the_repeat_gap_is_merged_after_it_is_a_new_passage():
    tracker = Tracker(track_timeout_s=1.0, repeat_gap_s=60)
    run(tracker, [[read("GBL12X", 100)]])
    first = tracker.update(frame(50), [read("GBL12X", 600)])  # 2 s later, elsewhere
    assert len(first) == 1
    assert tracker.update(frame(100), []) == [], "seen again within 60 s: merged"
    assert tracker.merged_repeats == 1
    later = tracker.update(frame(25 * 120), [read("GBL12X", 100)])  # 2 minutes later
    assert later == []
    assert len(tracker.flush()) == 1, "after the gap it is a new passage"


def test_agent_emits_one_passage_per_vehicle_in_a_rendered_clip(tmp_path, central_setup, camera):
    """Six frames of one car moving, then six of another: two passages, not twelve."""
    folder = tmp_path / "clip"
    folder.mkdir()
    lines = (SAMPLES / "scene-000.txt").read_text().split("\t")
    x, y, w, h, plate = int(lines[1]), int(lines[2]), int(lines[3]), int(lines[4]), lines[5].strip()
    for i in range(12):
        name = f"f{i:03d}.jpg"
        shutil.copy(SAMPLES / ("scene-000.jpg" if i < 6 else "scene-001.jpg"), folder / name)
        if i < 6:
            text = f"{name}\t{x + 6 * i}\t{y}\t{w}\t{h}\t{plate}\n"
        else:
            other = (SAMPLES / "scene-001.txt").read_text().split("\t")
            text = f"{name}\t" + "\t".join(other[1:])
        (folder / f"f{i:03d}.txt").write_text(text)
    path = write_agent_config(tmp_path, camera, central_setup, free_port(), folder, fps=25)
    path.write_text(path.read_text().replace("track_timeout_s = 0.01", "track_timeout_s = 1.0"))
    agent = Agent(load_config(path))
    runner = threading.Thread(target=agent.run)
    runner.start()
    wait_until(lambda: agent.stats.frames == 12, what="clip replayed")
    wait_until(lambda: agent.stats.passages == 2, what="two passages")
    agent.stop_event.set()
    runner.join(timeout=10)
    db = sqlite3.connect(agent.config.spool.path)
    payloads = [row[0] for row in db.execute("SELECT payload FROM records ORDER BY seq")]
    db.close()
    opener = load_sealing_key(central_setup.config.secrets.seal_key_file)
    plates = [decode_passage(opener.unseal(p, camera.camera_id))._record.plate for p in payloads]
    assert plates[0] == plate and len(plates) == 2


class LiveBurst:
    """A live source that delivers frames faster than anyone can read them."""

    live = True
    healthy = True

    def __init__(self, count: int) -> None:
        self.count = count

    def frames(self):
        for i in range(self.count):
            yield Frame(np.zeros((720, 1280, 3), dtype=np.uint8), T0 + timedelta(milliseconds=i))


class SlowReader:
    detector_version = reader_version = "slow-1"

    def read_frame(self, frame):
        import time

        time.sleep(0.02)
        return []


def test_a_slow_pipeline_drops_live_frames_and_counts_them(tmp_path, central_setup, camera):
    path = write_agent_config(tmp_path, camera, central_setup, free_port())
    agent = Agent(load_config(path), recognizer=SlowReader(), source=LiveBurst(200))
    runner = threading.Thread(target=agent.run)
    runner.start()
    wait_until(lambda: agent.stats.frames + agent.stats.frames_dropped == 200, timeout=30,
               what="every frame processed or dropped")  # fmt: skip
    agent.stop_event.set()
    runner.join(timeout=10)
    assert agent.stats.frames_dropped > 100, "memory stays bounded: frames were dropped"
    assert agent.stats.frames >= 4
