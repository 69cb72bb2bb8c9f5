"""`make bench-models`: latency of the shipped models beside the RapidOCR peer, same images.

Prints detector ms per 1280x720 frame and reader ms per plate on one CPU thread, and
end-to-end frames per second with two worker threads (each with its own one-thread
sessions), for ours and for RapidOCR run in this process on the same frames. For ours also
the whole recognizer's ms per frame on one thread, on the frames and on the same frames with
their plates painted grey (no read: the close-up retry's extra detector run, its worst
case). Frames come from a folder of annotated images (default: the shipped
`samples/replay/` scenes); the plate boxes for the per-plate timing come from their
annotations.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from models.evaluate import load_bgr, load_folder
from recognition.detector import PlateDetector
from recognition.reader import PlateReader
from recognition.recognizer import Recognizer, RecognizerSettings

REPO = Path(__file__).resolve().parent.parent


def median_ms(function, items, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        for item in items:
            started = time.perf_counter()
            function(item)
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def fps(make_worker, frames: list[np.ndarray], seconds: float, threads: int = 2) -> float:
    """Frames per second with `threads` workers, each taking frames in turn."""
    workers = [make_worker() for _ in range(threads)]
    count = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(index: int) -> None:
        work = workers[index]
        while time.perf_counter() < stop:
            work(frames[count[index] % len(frames)])
            count[index] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(count) / (time.perf_counter() - started)


def resized(bgr: np.ndarray, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    image = Image.fromarray(bgr[:, :, ::-1]).resize(size, Image.BILINEAR)
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def bench_ours(frames, plates, repeats: int, seconds: float, empty) -> dict[str, float]:
    detector = PlateDetector.default(threads=1)
    reader = PlateReader.default(threads=1)
    recognizer = Recognizer.default(RecognizerSettings(threads=1))
    rgbs = [Image.fromarray(np.ascontiguousarray(f[:, :, ::-1])) for f in frames]
    detector.detect(rgbs[0])
    reader.read(plates[0][0], [plates[0][1]])
    recognizer.read_image(frames[0])
    return {
        "detector_ms_per_frame": median_ms(detector.detect, rgbs, repeats),
        "reader_ms_per_plate": median_ms(lambda p: reader.read(p[0], [p[1]]), plates, repeats),
        "recognizer_ms_per_frame": median_ms(recognizer.read_image, frames, repeats),
        "recognizer_ms_per_plateless_frame": median_ms(recognizer.read_image, empty, repeats),
        # The worst case of the large-frame tiles: a 4K frame without a plate is searched whole,
        # at half size, then in tiles.
        "recognizer_ms_per_plateless_4k_frame": median_ms(
            recognizer.read_image, [resized(e, (3840, 2160)) for e in empty[:3]], 1
        ),
        "end_to_end_fps_2_threads": fps(
            lambda: Recognizer.default(RecognizerSettings(threads=1)).read_image, frames, seconds
        ),
    }


def bench_rapidocr(frames, plates, repeats: int, seconds: float) -> dict[str, float]:
    from models.peer import RapidOcrPeer

    peer = RapidOcrPeer()
    engine = peer.engine
    crops = [
        np.ascontiguousarray(np.asarray(rgb.crop(tuple(map(round, box))))[:, :, ::-1])
        for rgb, box in plates
    ]
    peer.read_image(frames[0])
    return {
        "detector_ms_per_frame": median_ms(
            lambda f: engine(f, use_cls=False, use_rec=False), frames, repeats
        ),
        "reader_ms_per_plate": median_ms(
            lambda c: engine(c, use_det=False, use_cls=False), crops, repeats
        ),
        "end_to_end_fps_2_threads": fps(lambda: RapidOcrPeer().read_image, frames, seconds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO / "samples" / "replay")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    samples = load_folder(args.images)
    frames = [resized(load_bgr(s.image)) for s in samples]
    empty = []
    for sample in samples:
        bgr = load_bgr(sample.image).copy()
        for (x, y, w, h), _ in sample.plates:
            bgr[y : y + h, x : x + w] = 114
        empty.append(resized(bgr))
    plates = []
    for sample in samples:
        rgb = Image.open(sample.image).convert("RGB")
        for (x, y, w, h), _ in sample.plates:
            plates.append((rgb, (x, y, x + w, y + h)))
    results = {"ours": bench_ours(frames, plates, args.repeats, args.seconds, empty)}
    if not args.no_peer:
        results["rapidocr"] = bench_rapidocr(frames, plates, args.repeats, args.seconds)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{len(frames)} frames (1280x720), {len(plates)} plates from {args.images}")
    names = list(results)
    print("metric".ljust(34) + "".join(n.rjust(12) for n in names))
    for metric in results["ours"]:
        values = (results[n].get(metric) for n in names)
        print(
            metric.ljust(34) + "".join("-".rjust(12) if v is None else f"{v:12.2f}" for v in values)
        )
    if "rapidocr" in results:
        ours, peer = results["ours"], results["rapidocr"]
        ratio = ours["end_to_end_fps_2_threads"] / max(1e-9, peer["end_to_end_fps_2_threads"])
        print(f"ours is {ratio:.1f}x the peer's end-to-end frame rate")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
