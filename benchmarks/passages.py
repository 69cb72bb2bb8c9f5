"""Realistic signed passages for benchmarks: real-sized JPEGs, many cameras, plausible plates."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from recognition.recognizer import parse_annotations
from wire import Passage, SigningKey, encode_passage

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "replay"
LETTERS = "BDFGHJKLNPRSTVXZ"


def random_plate(rng: random.Random) -> str:
    pick = lambda pool, n: "".join(rng.choice(pool) for _ in range(n))  # noqa: E731
    return pick(LETTERS, 2) + pick("0123456789", 3) + pick(LETTERS, 1)


def sample_images() -> list[tuple[bytes, bytes]]:
    """(overview, crop) pairs from the shipped sample scenes: ~40 KB and ~3 KB JPEGs."""
    pairs = []
    for image_path in sorted(SAMPLES.glob("*.jpg")):
        overview = image_path.read_bytes()
        (_, (x, y, w, h), _), *_ = parse_annotations(image_path.with_suffix(".txt"))
        with Image.open(image_path) as image:
            crop = image.crop((x - w // 8, y - h // 4, x + w + w // 8, y + h + h // 4))
            buffer = io.BytesIO()
            crop.save(buffer, format="JPEG", quality=85)
        pairs.append((overview, buffer.getvalue()))
    return pairs


@dataclass
class Fleet:
    """Cameras with keys, and a generator of their signed passages."""

    keys: dict[str, SigningKey]
    images: list[tuple[bytes, bytes]]
    rng: random.Random

    @classmethod
    def make(cls, cameras: int, seed: int = 7) -> Fleet:
        keys = {f"bench-cam-{i:04d}": SigningKey.generate() for i in range(cameras)}
        return cls(keys, sample_images(), random.Random(seed))

    def payloads(
        self, count: int, captured_at: datetime, first_seq: int = 1
    ) -> list[tuple[str, bytes]]:
        out = []
        cameras = list(self.keys)
        for index in range(count):
            camera_id = cameras[index % len(cameras)]
            key = self.keys[camera_id]
            overview, crop = self.images[index % len(self.images)]
            plate = random_plate(self.rng)
            passage = Passage(
                camera_id=camera_id, key_id=key.key_id, seq=first_seq + index // len(cameras),
                captured_at=captured_at, lat_e7=520000000 + index % 1000, lon_e7=51000000,
                direction="N", lane=1, plate=plate, country="NL", confidence_pm=950,
                char_confidence_pm=(950,) * len(plate), plate_box=(600, 500, 240, 52),
                detector_version="bench", reader_version="bench",
                crop_jpeg=crop, overview_jpeg=overview,
            )  # fmt: skip
            out.append((camera_id, encode_passage(passage, key)))
        return out
