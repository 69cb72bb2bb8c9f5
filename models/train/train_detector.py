"""Train the plate detector and export it to `models/plate_detector.onnx` + `.toml`.

    python -m models.train.train_detector            # what `make train-detector` runs
    python -m models.train.train_detector --export-only

Checkpoints go to `var/train/detector/last.pt`; a rerun resumes from it. Monitoring uses a
synthetic held-out set (its own seed); real held-out frames are only scored after training.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.train import checkpoints, sources
from models.train.detector_data import detector_set
from models.train.detector_model import ExportedDetector, PlateDetectorNet
from models.train.specs import DETECTOR
from recognition.detector import overlap
from recognition.model_config import MODELS_DIR, DetectorConfig, dump_toml

log = logging.getLogger(__name__)

HELD_OUT_SEED = 999_002
# Bump when the frames change: a cached set of an older generator must not be reused.
DATA_VERSION = "v4"  # v4: composite car bodies never paint over an earlier plate


def targets(
    boxes_per_image, config: DetectorConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian centre heat maps (N x 1 x h x w), box targets (N x 4 x h x w) and their mask."""
    h, w = config.input_height // config.stride, config.input_width // config.stride
    n = len(boxes_per_image)
    heat = np.zeros((n, 1, h, w), np.float32)
    box = np.zeros((n, 4, h, w), np.float32)
    mask = np.zeros((n, 1, h, w), np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for i, boxes in enumerate(boxes_per_image):
        for x0, y0, x1, y1 in boxes:
            bw, bh = max(2.0, x1 - x0), max(2.0, y1 - y0)
            cx, cy = (x0 + x1) / 2 / config.stride, (y0 + y1) / 2 / config.stride
            ix, iy = min(w - 1, int(cx)), min(h - 1, int(cy))
            sx = max(0.7, bw / config.stride / 6)
            sy = max(0.7, bh / config.stride / 6)
            g = np.exp(-((xs - ix) ** 2) / (2 * sx**2) - ((ys - iy) ** 2) / (2 * sy**2))
            heat[i, 0] = np.maximum(heat[i, 0], g)
            box[i, :, iy, ix] = (
                math.log(bw / config.box_scale),
                math.log(bh / config.box_scale),
                cx - ix,
                cy - iy,
            )
            mask[i, 0, iy, ix] = 1.0
    return torch.from_numpy(heat), torch.from_numpy(box), torch.from_numpy(mask)


def random_window(image: np.ndarray, boxes, rng: random.Random, size: tuple[int, int]):
    """A training window (the net is fully convolutional), usually around a plate."""
    h, w = size
    if boxes and rng.random() < 0.85:
        x0, y0, x1, y1 = rng.choice(boxes)
        left = rng.uniform(x1 - w, x0) if x1 - x0 < w else x0
        top = rng.uniform(y1 - h, y0) if y1 - y0 < h else y0
    else:
        left, top = rng.uniform(0, image.shape[1] - w), rng.uniform(0, image.shape[0] - h)
    left = int(min(max(0, left), image.shape[1] - w))
    top = int(min(max(0, top), image.shape[0] - h))
    kept = []
    for x0, y0, x1, y1 in boxes:
        cx, cy = (x0 + x1) / 2 - left, (y0 + y1) / 2 - top
        if 0 <= cx < w and 0 <= cy < h:
            kept.append((x0 - left, y0 - top, x1 - left, y1 - top))
    return image[top : top + h, left : left + w], kept


def focal_loss(logits: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the centre heat map."""
    p = logits.sigmoid().clamp(1e-4, 1 - 1e-4)
    positive = heat.eq(1).float()
    pos = -torch.log(p) * (1 - p) ** 2 * positive
    neg = -torch.log(1 - p) * p**2 * (1 - heat) ** 4 * (1 - positive)
    return (pos.sum() + neg.sum()) / positive.sum().clamp(min=1)


def decode(output: np.ndarray, config: DetectorConfig, threshold: float) -> list[tuple[float, ...]]:
    """Exported output (1 x 5 x h x w) -> boxes (x0, y0, x1, y1, score) in input pixels."""
    peaks, logw, logh, dx, dy = output[0]
    found = []
    for iy, ix in zip(*np.nonzero(peaks >= threshold), strict=True):
        bw = math.exp(logw[iy, ix]) * config.box_scale
        bh = math.exp(logh[iy, ix]) * config.box_scale
        cx = (ix + dx[iy, ix]) * config.stride
        cy = (iy + dy[iy, ix]) * config.stride
        found.append((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, float(peaks[iy, ix])))
    return sorted(found, key=lambda b: -b[4])


def recall(
    net: PlateDetectorNet, images: np.ndarray, boxes, config: DetectorConfig
) -> tuple[float, float]:
    """(recall at IoU 0.5, false boxes per image) with the exported decoding."""
    exported = ExportedDetector(net).eval()
    hits = total = false = 0
    with torch.no_grad():
        for image, truth in zip(images, boxes, strict=True):
            out = exported(to_tensor(image[None])).numpy()
            found = decode(out, config, config.score_threshold)
            matched = [any(overlap(f, t) >= 0.5 for t in truth) for f in found]
            false += matched.count(False)
            hits += sum(any(overlap(f, t) >= 0.5 for f in found) for t in truth)
            total += len(truth)
    net.train()
    return hits / max(1, total), false / len(images)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


def export(net: PlateDetectorNet, out_dir: Path = MODELS_DIR) -> Path:
    net.eval()
    path = out_dir / DETECTOR.onnx
    dummy = torch.zeros(1, DETECTOR.channels, DETECTOR.input_height, DETECTOR.input_width)
    # Height and width stay free (the net is fully convolutional): inference turns the
    # canvas upright for portrait frames (`PlateDetector.canvas_size`).
    torch.onnx.export(
        ExportedDetector(net), (dummy,), str(path), input_names=["image"], output_names=["maps"],
        opset_version=17, dynamo=False,
        dynamic_axes={"image": {2: "height", 3: "width"}, "maps": {2: "rows", 3: "columns"}},
    )  # fmt: skip
    (out_dir / "plate_detector.toml").write_text(dump_toml(DETECTOR), encoding="utf-8")
    log.info("exported %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    work = Path(args.work)
    cache = sources.data_dir() / "cache"
    counts = {"real": args.real, "composite": args.composite, "scene": args.scenes}
    name = "_".join(f"{k}{v}" for k, v in counts.items())
    if args.yaw_share:
        name += f"_yaw{round(args.yaw_share * 100)}"
    if args.every_country_share:
        name += f"_every{round(args.every_country_share * 100)}"
    images, boxes = detector_set(
        DETECTOR,
        counts,
        args.seed,
        cache / f"det_{DATA_VERSION}_{name}_{args.seed}.npz",
        yaw_share=args.yaw_share,
        every_country_share=args.every_country_share,
    )
    held_images, held_boxes = detector_set(
        DETECTOR,
        {"composite": 200, "scene": 50},
        HELD_OUT_SEED,
        cache / f"det_{DATA_VERSION}_heldout.npz",
    )
    log.info("training frames %d, synthetic held-out %d", len(images), len(held_images))
    net = PlateDetectorNet(DETECTOR.channels)
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, args.lr, total_steps=args.steps, pct_start=0.05
    )
    step = checkpoints.resume(work, net, optimiser, schedule)
    rng = random.Random(args.seed + step)
    started = time.monotonic()
    net.train()
    while step < args.steps:
        index = [rng.randrange(len(images)) for _ in range(args.batch)]
        crops = [random_window(images[i], boxes[i], rng, args.crop) for i in index]
        batch = to_tensor(np.stack([c[0] for c in crops]))
        gain = 0.75 + 0.5 * torch.rand(len(index), 1, 1, 1)
        batch = (batch * gain).clamp_(0, 1)
        window = replace(DETECTOR, input_height=args.crop[0], input_width=args.crop[1])
        heat, box, mask = targets([c[1] for c in crops], window)
        out = net(batch)
        loss_heat = focal_loss(out[:, :1], heat)
        loss_box = (
            nn.functional.smooth_l1_loss(out[:, 1:], box, reduction="none") * mask
        ).sum() / mask.sum().clamp(min=1)
        loss = loss_heat + loss_box
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        optimiser.step()
        schedule.step()
        step += 1
        if step % 50 == 0:
            rate = (time.monotonic() - started) / 50
            started = time.monotonic()
            log.info(
                "step %d heat %.3f box %.3f %.2fs/step",
                step,
                loss_heat.item(),
                loss_box.item(),
                rate,
            )
        if step % args.checkpoint_every == 0 or step == args.steps:
            checkpoints.save(work, net, optimiser, schedule, step)
            found, false = recall(net, held_images, held_boxes, DETECTOR)
            log.info("step %d synthetic held-out recall %.4f false/image %.3f", step, found, false)
    torch.save(net.state_dict(), work / "final.pt")
    export(net, Path(args.out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--real", type=int, default=1700)
    parser.add_argument("--composite", type=int, default=2600)
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--crop", type=int, nargs=2, default=(224, 320), help="window h w")
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument(
        "--yaw-share", type=float, default=0.35, help="share of composite plates seen from the side"
    )
    parser.add_argument(
        "--every-country-share",
        type=float,
        default=0.0,
        help="share of synthetic composite plates drawn by the 3.0 renderer (every layout)",
    )
    parser.add_argument("--work", default="var/train/detector")
    parser.add_argument(
        "--out", default=str(MODELS_DIR), help="ONNX + TOML folder (a candidate: elsewhere)"
    )
    parser.add_argument("--export-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.export_only:
        net = PlateDetectorNet(DETECTOR.channels)
        net.load_state_dict(torch.load(Path(args.work) / "final.pt"))
        export(net, Path(args.out))
        return
    train(args)


if __name__ == "__main__":
    main()
