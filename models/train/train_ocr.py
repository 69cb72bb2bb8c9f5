"""Train the plate reader and export it to `models/plate_reader.onnx` + `.toml`.

    python -m models.train.train_ocr            # what `make train-ocr` runs (2.1)
    python -m models.train.train_ocr --export-only
    python -m models.train.train_ocr --spec 3.0 --work var/train/ocr-3.0-cpu \
        --out-dir var/train/ocr-3.0-cpu     # the 3.0 candidate (#19; model card)

Checkpoints go to `var/train/ocr/last.pt` every few hundred steps; a rerun resumes from it.
Data: seeded synthetic plates (models/train/plates.py) and teacher-labelled real crops
(models/train/ocr_data.py); the synthetic held-out set uses a seed training never sees.
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from models.train import checkpoints, sources
from models.train.ocr_data import real_set, real_validation_set, synthetic_set
from models.train.ocr_model import ExportedReader, PlateReaderNet
from models.train.specs import READER, READERS
from recognition.model_config import MODELS_DIR, ReaderConfig, dump_toml

log = logging.getLogger(__name__)

HELD_OUT_SEED = 999_001  # synthetic evaluation only; training seeds are small integers
# Bumped when the generator or the labels change, so stale sample caches are not reused.
DATA_VERSION = "v3"  # v3: openalpr crops labelled by eye
# 3.0 (#19): every country's series, random strings in every layout, night IR (`--spec 3.0`)
DATA_VERSION_3 = "v4"


def encode(texts: list[str], alphabet: str) -> tuple[torch.Tensor, torch.Tensor]:
    targets = [alphabet.index(c) + 1 for t in texts for c in t]
    return torch.tensor(targets, dtype=torch.long), torch.tensor([len(t) for t in texts])


def greedy_decode(probs: np.ndarray, alphabet: str) -> list[str]:
    """Best path: argmax per column, merge repeats, drop blanks."""
    out = []
    for row in probs.argmax(-1):
        chars, previous = [], 0
        for index in row:
            if index != previous and index != 0:
                chars.append(alphabet[index - 1])
            previous = index
        out.append("".join(chars))
    return out


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Cheap per-batch photometric changes on top of the rendered damage."""
    n = batch.shape[0]
    gain = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=generator)
    bias = 0.15 * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    batch = batch * gain + bias
    gray = torch.rand(n, generator=generator) < 0.1
    batch[gray] = batch[gray].mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    return batch.clamp_(0, 1)


def evaluate(net: PlateReaderNet, images: np.ndarray, texts: list[str]) -> float:
    net.eval()
    right = 0
    device = next(net.parameters()).device
    with torch.no_grad():
        for start in range(0, len(images), 256):
            logits, _ = net(to_tensor(images[start : start + 256]).to(device))
            decoded = greedy_decode(logits.softmax(-1).cpu().numpy(), READER.alphabet)
            right += sum(d == t for d, t in zip(decoded, texts[start : start + 256], strict=True))
    net.train()
    return right / len(images)


def export(net: PlateReaderNet, out_dir: Path = MODELS_DIR, config: ReaderConfig = READER) -> Path:
    """Write the ONNX file and its TOML config side by side."""
    net = net.cpu().eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / config.onnx
    dummy = torch.zeros(1, config.channels, config.input_height, config.input_width)
    torch.onnx.export(
        ExportedReader(net),
        (dummy,),
        str(path),
        input_names=["image"],
        output_names=["characters", "country"],
        dynamic_axes={"image": {0: "n"}, "characters": {0: "n"}, "country": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    (out_dir / "plate_reader.toml").write_text(dump_toml(config), encoding="utf-8")
    log.info("exported %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


def reader_config(args: argparse.Namespace) -> ReaderConfig:
    """The spec's config (2.1: the shipped one), with the crop padding this run trains with."""
    return replace(READERS[args.spec], crop_pad_x=args.pad_x)


def new_net(args: argparse.Namespace) -> PlateReaderNet:
    config = READERS[args.spec]
    return PlateReaderNet(
        len(config.alphabet) + 1,
        len(config.countries),
        width=args.width,
        context=args.context,
        fold=args.spec != "2.1",
    )


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    work = Path(args.work)
    cache = sources.data_dir() / "cache"
    config = reader_config(args)
    data_seed = args.data_seed  # the samples' seed; args.seed drives weights and batches
    v3 = args.spec != "2.1"
    generator = "v3" if v3 else "v2"
    tag = f"{DATA_VERSION_3 if v3 else DATA_VERSION}_pad{config.crop_pad_x}_{data_seed}"
    synth_x, synth_t, synth_c = synthetic_set(
        config,
        args.synthetic,
        data_seed,
        cache / f"ocr_synth_{args.synthetic}_{tag}.npz",
        generator=generator,
    )
    eye = "_eye" if args.eye_labels_only else ""
    real_x, real_t, _ = real_set(
        config,
        args.real_variants,
        data_seed,
        cache / f"ocr_real_{args.real_variants}_{args.brazil_variants}{eye}_{tag}.npz",
        brazil_variants=args.brazil_variants,
        eye_only=args.eye_labels_only,
    )
    if args.glyph_synthetic:
        glyph_x, glyph_t, glyph_c = synthetic_set(
            config,
            args.glyph_synthetic,
            data_seed + 1000,
            cache / f"ocr_glyphs_{args.glyph_synthetic}_{tag}.npz",
            glyphs=True,
            generator=generator,
        )
        synth_x = np.concatenate([synth_x, glyph_x])
        synth_t, synth_c = synth_t + glyph_t, synth_c + glyph_c
    held_x, held_t, _ = synthetic_set(
        config,
        2000,
        HELD_OUT_SEED,
        cache / f"ocr_synth_heldout_{tag.rsplit('_', 1)[0]}.npz",
        generator=generator,
    )
    val_x, val_t = real_validation_set(config, data_seed, args.eye_labels_only)
    log.info(
        "synthetic %d, real %d, held-out %d, real validation %d",
        len(synth_x),
        len(real_x),
        len(held_x),
        len(val_x),
    )

    if args.prepare_only:
        return
    net = new_net(args).to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, args.lr, total_steps=args.steps, pct_start=0.1
    )
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    country_loss = nn.CrossEntropyLoss(ignore_index=-1)
    if args.init_from and not checkpoints.checkpoint_path(work).exists():
        net.load_state_dict(torch.load(args.init_from, map_location=device))
        log.info("starting from the weights in %s", args.init_from)
    # The exported weights are an exponential moving average of the trained ones (2.1). At
    # the end of the one-cycle schedule it differs little from the last weights (model card),
    # but it keeps a run cut short, or a longer flat schedule, from shipping a noisy step.
    average = (
        AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(args.ema), use_buffers=True)
        if args.ema
        else None
    )
    step = checkpoints.resume(work, net, optimiser, schedule, average)
    rng = random.Random(args.seed + step)
    generator = torch.Generator().manual_seed(args.seed + step)
    started = time.monotonic()
    net.train()
    while step < args.steps:
        n_real = round(args.batch * args.real_fraction) if len(real_x) else 0
        synth_idx = [rng.randrange(len(synth_x)) for _ in range(args.batch - n_real)]
        real_idx = [rng.randrange(len(real_x)) for _ in range(n_real)]
        images = (
            np.concatenate([synth_x[synth_idx], real_x[real_idx]]) if n_real else synth_x[synth_idx]
        )
        texts = [synth_t[i] for i in synth_idx] + [real_t[i] for i in real_idx]
        countries = torch.tensor([synth_c[i] for i in synth_idx] + [-1] * n_real)
        batch = augment(to_tensor(images), generator).to(device)
        countries = countries.to(device)
        logits, country = net(batch)
        log_probs = logits.log_softmax(-1).permute(1, 0, 2)
        targets, lengths = encode(texts, READER.alphabet)
        targets = targets.to(device)
        inputs = torch.full((len(texts),), log_probs.shape[0], dtype=torch.long)
        loss = ctc(log_probs, targets, inputs, lengths) + 0.2 * country_loss(country, countries)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimiser.step()
        schedule.step()
        if average is not None:
            average.update_parameters(net)
        step += 1
        if step % 100 == 0:
            rate = (time.monotonic() - started) / 100
            started = time.monotonic()
            log.info(
                "step %d loss %.3f lr %.5f %.2fs/step",
                step,
                loss.item(),
                schedule.get_last_lr()[0],
                rate,
            )
        if step % args.checkpoint_every == 0 or step == args.steps:
            checkpoints.save(work, net, optimiser, schedule, step, average)
            for label, model in (("", net), ("average ", average and average.module)):
                if model is not None:
                    log.info(
                        "step %d %ssynthetic held-out exact %.4f, real validation exact %.4f",
                        step,
                        label,
                        evaluate(model, held_x, held_t),
                        evaluate(model, val_x, val_t),
                    )
    shipped = average.module if average is not None else net
    torch.save(shipped.state_dict(), work / "final.pt")
    export(shipped, Path(args.out_dir), config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Defaults are the recipe of the shipped reader (2.1): seed 4 of four, chosen by the rule
    # in models/plate_reader.md on the validation sets, on the samples of seed 1.
    parser.add_argument("--steps", type=int, default=12_000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=4, help="weights' and batches' seed")
    parser.add_argument("--data-seed", type=int, default=1, help="seed of the generated samples")
    parser.add_argument("--synthetic", type=int, default=60_000)
    parser.add_argument("--real-variants", type=int, default=10)
    parser.add_argument("--real-fraction", type=float, default=0.6)
    parser.add_argument("--brazil-variants", type=int, default=0)
    parser.add_argument("--glyph-synthetic", type=int, default=15_000, help="real-glyph NL plates")
    parser.add_argument("--pad-x", type=float, default=READER.crop_pad_x, help="crop padding")
    parser.add_argument("--width", type=float, default=1.25, help="channel multiplier")
    parser.add_argument("--context", type=int, default=2, help="dilated 1-D context layers")
    parser.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    parser.add_argument("--init-from", help="weights (final.pt) to fine-tune from")
    parser.add_argument(
        "--ema", type=float, default=0.999, help="weight-average decay (0: ship the last weights)"
    )
    parser.add_argument(
        "--spec",
        choices=sorted(READERS),
        default="2.1",
        help="2.1: the shipped reader's recipe; 3.0: every country, two rows, night (#19)",
    )
    parser.add_argument(
        "--eye-labels-only",
        action="store_true",
        help="real crops: only those read by eye (no teacher; RapidOCR not installed)",
    )
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--work", default="var/train/ocr")
    parser.add_argument("--export-only", action="store_true")
    parser.add_argument("--prepare-only", action="store_true", help="build the sample caches")
    parser.add_argument("--out-dir", default=str(MODELS_DIR), help="where the ONNX file goes")
    args = parser.parse_args()
    if args.spec != "2.1" and Path(args.out_dir).resolve() == MODELS_DIR.resolve():
        parser.error(f"--spec {args.spec} is a candidate: give --out-dir (not {MODELS_DIR})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.export_only:
        net = new_net(args)
        net.load_state_dict(torch.load(Path(args.work) / "final.pt", map_location="cpu"))
        export(net, Path(args.out_dir), reader_config(args))
        return
    train(args)


if __name__ == "__main__":
    main()
