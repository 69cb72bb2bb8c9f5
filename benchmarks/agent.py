"""`make bench-agent`: the motion gate, the agent in real time, a spool emptied after an outage.

    python -m benchmarks.agent [--seconds 10] [--spool-records 100000] [--onnx]
                               [--motion-vehicles 24] [--only-motion] [--heights 720,1080]
                               [--light day,night]

0. Motion gate: rendered live traffic (`models/train/traffic_clip.py`: a fixed road camera,
   vehicles with motion blur, sensor noise, JPEG) read by the shipped models with and
   without the gate (`edge_agent/motion.py`). Prints ms per frame by kind (empty road,
   vehicle without a whole plate, plate), ms per vehicle, reads voted per passage and
   vehicles read exactly after the tracker's vote; by day, then the same traffic as an
   infrared camera sees it at night (`--light`).

1. Real time: a rendered 1280x720 clip (and the same at 1920x1080) with moving vehicles is
   delivered *live* at 25 fps (frames the pipeline cannot take are dropped and counted)
   through the real agent
   pipeline (mask, recognise, track, sign, seal, spool). Prints frames dropped, passages
   against vehicles, and the process's peak RSS. `--onnx` uses the shipped ONNX models;
   the default reads the clip's annotations, measuring the pipeline around recognition.
2. Spool: records queued while the central was away are delivered, in order, once it
   returns (real Mosquitto, real central ingest). Prints the delivery rate.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from edge_agent.agent import Agent
from edge_agent.capture.folder import FolderSource, load_bgr
from edge_agent.config import load_config
from node.keyfiles import load_signing_key
from recognition.recognizer import parse_annotations

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "replay"


class LiveReplay(FolderSource):
    """A folder replayed as if it were a camera: it does not wait for the pipeline."""

    live = True


def frame_width(height: int) -> int:
    """The 16:9 width of a clip `height` frames tall (the sample scenes are 1280x720)."""
    return round(1280 * height / 720)


def render_clip(folder: Path, seconds: float, fps: int = 25, height: int = 720) -> int:
    """Vehicles crossing the view, each for 0.6 s, with empty road between; returns count.
    The 1280x720 sample scenes are scaled to `height` (1080: a 1080p camera's frames)."""
    folder.mkdir(parents=True)
    scenes = sorted(SAMPLES.glob("*.jpg"))
    scale = height / 720
    road = np.full((height, frame_width(height), 3), 90, dtype=np.uint8)
    frames, vehicles, index = int(seconds * fps), 0, 0
    while index < frames:
        scene = scenes[vehicles % len(scenes)]
        image = load_bgr(scene)
        if scale != 1:
            size = (road.shape[1], road.shape[0])
            image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
        ((_, box, plate),) = parse_annotations(scene.with_suffix(".txt"))
        x, y, w, h = (round(v * scale) for v in box)
        step = round(10 * scale)
        for i in range(15):
            moved = np.roll(image, step * i, axis=1)
            _write(folder, index, moved, [(x + step * i, y, w, h, plate)])
            index += 1
        for _ in range(10):
            _write(folder, index, road, [])
            index += 1
        vehicles += 1
    return vehicles


def _write(folder: Path, index: int, image: np.ndarray, annotations) -> None:
    name = f"f{index:05d}.jpg"
    Image.fromarray(image[:, :, ::-1]).save(folder / name, quality=85)
    text = "".join(f"{name}\t{x}\t{y}\t{w}\t{h}\t{p}\n" for x, y, w, h, p in annotations)
    (folder / f"f{index:05d}.txt").write_text(text)


def setup(root: Path, folder: Path, port: int, repeat_gap: float = 0.5):
    from tests.conftest import register_camera, write_agent_config, write_central_config

    central = write_central_config(root / "central", port)
    camera = register_camera(central, "bench-cam-01", root)
    path = write_agent_config(root, camera, central, port, folder, fps=25)
    text = path.read_text().replace("track_timeout_s = 0.01", "track_timeout_s = 0.2")
    path.write_text(text.replace("repeat_gap_s = 0", f"repeat_gap_s = {repeat_gap}"))
    return central, camera, load_config(path)


def bench_realtime(root: Path, seconds: float, onnx: bool, height: int = 720) -> None:
    from tests.conftest import free_port

    folder = root / f"clip-{height}"
    vehicles = render_clip(folder, seconds, height=height)
    _, _, config = setup(root / f"rt-{height}", folder, free_port())
    recognizer = None
    if onnx:
        from recognition.recognizer import Recognizer

        recognizer = Recognizer.default()
    stop = threading.Event()
    source = LiveReplay(folder, fps=25, stop=stop)
    agent = Agent(config, recognizer=recognizer, source=source, stop=stop)
    began = time.perf_counter()
    runner = threading.Thread(target=agent.run)
    runner.start()
    total = len(source.images)
    while agent.stats.frames + agent.stats.frames_dropped < total:
        time.sleep(0.1)
    elapsed = time.perf_counter() - began
    time.sleep(0.5)
    stop.set()
    runner.join(timeout=30)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nReal time: {total} frames {frame_width(height)}x{height} live at 25 fps, "
          f"{'ONNX models' if onnx else 'annotation reads'}")  # fmt: skip
    print(
        f"  frames processed / dropped        {agent.stats.frames} / {agent.stats.frames_dropped}"
    )
    print(f"  wall time for {total / 25:.1f} s of video    {elapsed:.1f} s")
    print(f"  passages / vehicles               {agent.stats.passages} / {vehicles}")
    print(f"  peak RSS of the process           {rss:.0f} MB")


def bench_motion(vehicles: int, night: bool = False) -> dict[str, dict[str, float]]:
    """The motion gate on rendered live traffic (`models/train/traffic_clip.py`): the shipped
    models read every frame with and without the gate, and with the gate and no close-up
    retry (a roadside camera whose plates never fill the frame), on the same frames one after
    the other, each into its own tracker (the agent's defaults: 1.5 s timeout, 60 s repeat gap).
    Prints the cost of a frame by kind, frames and cost per vehicle, and per-vehicle
    exactness after the tracker's vote."""
    from datetime import timedelta

    from edge_agent.capture import Frame
    from edge_agent.motion import MotionGatedReader
    from edge_agent.tracker import Tracker
    from models.train.traffic_clip import FPS, frames
    from recognition.recognizer import Recognizer, RecognizerSettings

    fleet, shots = frames(vehicles=vehicles, night=night)
    systems = {
        "without gate": Recognizer.default(),
        "with gate": MotionGatedReader(Recognizer.default()),
        # A roadside camera whose plates never fill the frame (recognizer.close_up_retry off)
        "gate, no close-up": MotionGatedReader(
            Recognizer.default(RecognizerSettings(close_up_zoom=0.0))
        ),
    }
    trackers = {name: Tracker() for name in systems}
    passages: dict[str, list] = {name: [] for name in systems}
    costs: dict[str, list[float]] = {name: [] for name in systems}
    kinds: list[str] = []
    start = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    warm = np.full((720, 1280, 3), 90, dtype=np.uint8)
    for reader in systems.values():
        reader.read_frame(Frame(warm, start - timedelta(seconds=10)))
    for shot in shots:
        frame = Frame(shot.image, start + timedelta(seconds=shot.index / FPS))
        kinds.append("plate" if shot.plates else "vehicle" if shot.vehicle_in_view else "road")
        for name, reader in systems.items():
            began = time.perf_counter()
            reads = reader.read_frame(frame)
            costs[name].append(time.perf_counter() - began)
            passages[name] += trackers[name].update(frame, reads)
    for name in systems:
        passages[name] += trackers[name].flush()
    plates = {v.plate for v in fleet}
    frames_total = len(kinds)
    results: dict[str, dict[str, float]] = {}
    for name, reader in systems.items():
        cost = np.array(costs[name]) * 1000
        kind = np.array(kinds)

        def mean(mask, cost=cost) -> float:
            return float(cost[mask].mean()) if mask.any() else float("nan")

        crossing = [cost[v.start : v.end].sum() for v in fleet]
        voted = [p.plate for p in passages[name]]
        owned = passages_by_vehicle(passages[name], fleet, start)
        results[name] = {
            "ms per frame, empty road": mean(kind == "road"),
            "ms per frame, vehicle but no whole plate": mean(kind == "vehicle"),
            "ms per frame without a plate (live traffic)": mean(kind != "plate"),
            "ms per frame with a plate": mean(kind == "plate"),
            "ms per frame, all": float(cost.mean()),
            "ms per vehicle, its crossing": float(np.mean(crossing)),
            "ms per vehicle, whole clip": float(cost.sum() / len(fleet)),
            "CPU share at 25 fps (one core)": float(cost.sum() / 1000 / (frames_total / FPS)),
            "reads voted per passage": float(np.mean([p.observations for p in passages[name]]))
            if passages[name]
            else 0.0,
            "vehicles read exactly after the vote": float(sum(p in voted for p in plates)),
            "vehicles with one passage, read exactly": float(
                sum(owned.get(v.plate) == [v.plate] for v in fleet)
            ),
            "passages not matching a vehicle": float(sum(p not in plates for p in voted)),
            "passages": float(len(voted)),
        }
        if isinstance(reader, MotionGatedReader):
            results[name]["frames skipped / refreshed / searched"] = (
                reader.skipped,
                reader.refreshed,
                reader.searched,
            )
    counts = {k: kinds.count(k) for k in ("road", "vehicle", "plate")}
    in_view = np.mean([len(v.frames_in_view) for v in fleet])
    print(
        f"\nMotion gate, {'night (infrared)' if night else 'day'}: {frames_total} rendered "
        f"1280x720 frames ({frames_total / FPS:.0f} s at "
        f"{FPS} fps; {counts['road']} empty road, {counts['vehicle']} with a vehicle but no "
        f"whole plate, {counts['plate']} with a plate), {len(fleet)} vehicles, each with its "
        f"plate wholly in view for {in_view:.1f} frames on average; shipped ONNX models, one "
        "thread"
    )
    names = list(results)
    print("  " + "figure".ljust(46) + "".join(n.rjust(20) for n in names))
    for figure in results[names[0]] | results[names[-1]]:
        cells = []
        for name in names:
            value = results[name].get(figure)
            if value is None:
                cells.append("-".rjust(20))
            elif isinstance(value, tuple):
                cells.append(" / ".join(str(v) for v in value).rjust(20))
            elif figure.startswith(("vehicles", "passages")):
                cells.append(f"{value:.0f}".rjust(20))
            else:
                cells.append(f"{value:20.2f}")
        print("  " + figure.ljust(46) + "".join(cells))
    print(f"  (vehicles: {len(fleet)})")
    for name in names:
        stray = sorted(p.plate for p in passages[name] if p.plate not in plates)
        print(f"  passages matching no vehicle, {name}: {' '.join(stray) or '-'}")
    return results


def passages_by_vehicle(passages, fleet, start: datetime) -> dict[str | None, list[str]]:
    """Each passage's plate under the vehicle it was made of: the vehicle in view at its
    best frame whose plate lies nearest its box. "Read exactly" alone counts a vehicle whose
    right read is a passage of its own beside a wrong one; one passage, right, does not."""
    from models.train.traffic_clip import FPS

    owned: dict[str | None, list[str]] = {}
    for passage in passages:
        index = round((passage.best.frame.captured_at - start).total_seconds() * FPS)
        x, y, w, h = passage.best.read.box
        in_view = [v for v in fleet if v.start <= index < v.end]

        def apart(vehicle, index=index, x=x, y=y, w=w, h=h) -> float:
            x_centre, y_bottom, _ = vehicle.path[index - vehicle.start]
            return abs(x_centre - (x + w / 2)) + 0.3 * abs(y_bottom - (y + h))

        owner = min(in_view, key=apart).plate if in_view else None
        owned.setdefault(owner, []).append(passage.plate)
    return owned


def bench_spool(root: Path, records: int) -> None:
    from central.ingest.service import IngestWorker
    from central.store import open_store
    from provisioning.broker_config import render_dev_config
    from tests.conftest import free_port, mosquitto_binary, wait_for_port

    port = free_port()
    folder = root / "one"
    folder.mkdir()
    shutil.copy(SAMPLES / "scene-000.jpg", folder)
    central, camera, config = setup(root / "spool", folder, port)
    # Fill the spool as a unit would during an outage: many small signed, sealed records.
    agent = Agent(config)
    build = agent.factory.payload_builder
    from edge_agent.capture import Frame
    from edge_agent.passages import encode_jpeg
    from recognition.recognizer import Read

    tiny = np.full((72, 128, 3), 120, dtype=np.uint8)
    frame = Frame(tiny, datetime.now(UTC).replace(microsecond=0))
    overview = encode_jpeg(tiny, 60)
    read = Read("GBL12X", 0.95, (0.95,) * 6, (10, 10, 40, 10), "NL")
    began = time.perf_counter()
    for _ in range(records):
        agent.spool.append(build(frame, read, overview))
    queued = time.perf_counter() - began
    agent.spool.close()
    broker_dir = root / "broker"
    broker_dir.mkdir()
    (broker_dir / "mosquitto.conf").write_text(render_dev_config(port, broker_dir))
    broker = subprocess.Popen([mosquitto_binary(), "-c", str(broker_dir / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for_port(port)
    worker = IngestWorker(
        central.config, load_signing_key(central.config.secrets.ack_signing_key_file)
    )
    worker.start()
    delivering = Agent(config)
    stop = delivering.stop_event
    runner = threading.Thread(target=delivering.run, kwargs={"exit_when_drained": True})
    began = time.perf_counter()
    runner.start()
    runner.join()
    elapsed = time.perf_counter() - began
    store = open_store(central.config)
    seqs = store.seqs(camera.camera_id)
    store.close()
    worker.stop()
    broker.terminate()
    broker.wait()
    stop.set()
    in_order = seqs == list(range(1, records + 1))
    print(f"\nSpool: {records:,} records queued during an outage ({queued:.0f} s to queue)")
    print(f"  delivered after the central returned   {len(seqs):,} in {elapsed:.0f} s "
          f"({len(seqs) / elapsed:,.0f}/s), all present and in order: {in_order}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--spool-records", type=int, default=100_000)
    parser.add_argument("--onnx", action="store_true", help="use the shipped ONNX models")
    parser.add_argument(
        "--motion-vehicles",
        type=int,
        default=24,
        help="vehicles in the rendered traffic clip of the motion-gate figures (0: skip them)",
    )
    parser.add_argument("--only-motion", action="store_true", help="only the motion gate")
    parser.add_argument(
        "--heights",
        default="720,1080",
        help="frame heights of the real-time runs, comma-separated (1080: 1920x1080)",
    )
    parser.add_argument(
        "--light",
        default="day,night",
        help="the motion-gate clip by day, at night (infrared), or both, comma-separated",
    )
    args = parser.parse_args()
    lights = [part.strip() for part in args.light.split(",") if part.strip()]
    if unknown := set(lights) - {"day", "night"}:
        parser.error(f"--light: {', '.join(sorted(unknown))} is not day or night")
    for light in lights if args.motion_vehicles else ():
        bench_motion(args.motion_vehicles, night=light == "night")
    if args.only_motion:
        return
    root = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    try:
        for height in (int(h) for h in args.heights.split(",")):
            bench_realtime(root, args.seconds, args.onnx, height)
        if args.spool_records:
            bench_spool(root, args.spool_records)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
