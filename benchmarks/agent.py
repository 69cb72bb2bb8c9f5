"""`make bench-agent`: the agent in real time, and a spool emptied after a long outage.

    python -m benchmarks.agent [--seconds 10] [--spool-records 100000] [--onnx]

1. Real time: a rendered 1280x720 clip with moving vehicles is delivered *live* at 25 fps
   (frames the pipeline cannot take are dropped and counted) through the real agent
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


def render_clip(folder: Path, seconds: float, fps: int = 25) -> int:
    """Vehicles crossing the view, each for 0.6 s, with empty road between; returns count."""
    folder.mkdir(parents=True)
    scenes = sorted(SAMPLES.glob("*.jpg"))
    road = np.full((720, 1280, 3), 90, dtype=np.uint8)
    frames, vehicles, index = int(seconds * fps), 0, 0
    while index < frames:
        scene = scenes[vehicles % len(scenes)]
        image = load_bgr(scene)
        ((_, (x, y, w, h), plate),) = parse_annotations(scene.with_suffix(".txt"))
        for i in range(15):
            _write(folder, index, np.roll(image, 10 * i, axis=1), [(x + 10 * i, y, w, h, plate)])
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


def bench_realtime(root: Path, seconds: float, onnx: bool) -> None:
    from tests.conftest import free_port

    folder = root / "clip"
    vehicles = render_clip(folder, seconds)
    _, _, config = setup(root / "rt", folder, free_port())
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
    print(f"\nReal time: {total} frames 1280x720 live at 25 fps, "
          f"{'ONNX models' if onnx else 'annotation reads'}")  # fmt: skip
    print(
        f"  frames processed / dropped        {agent.stats.frames} / {agent.stats.frames_dropped}"
    )
    print(f"  wall time for {total / 25:.1f} s of video    {elapsed:.1f} s")
    print(f"  passages / vehicles               {agent.stats.passages} / {vehicles}")
    print(f"  peak RSS of the process           {rss:.0f} MB")


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
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    try:
        bench_realtime(root, args.seconds, args.onnx)
        if args.spool_records:
            bench_spool(root, args.spool_records)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
