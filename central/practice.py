"""Training mode: a separate instance filled with generated passages for officers to practise.

An officer practising searches must never touch real passages, and must never mistake the
training instance for the real one. So training is a flag in the instance's own config
(`[web] training = true`, with its own data directory); every HTML page then carries a
banner and every response an `X-ANPR-Training` header, and the seed command refuses to
write generated passages into an instance that is not marked for training.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
from datetime import datetime, timedelta

from PIL import Image, ImageDraw

from central.cameras import CameraRegistry
from central.config import CentralConfig
from central.store import open_store
from wire import Passage, SigningKey, decode_passage, encode_passage

log = logging.getLogger("central.practice")
LETTERS = "BDFGHJKLNPRSTVXZ"


class TrainingError(Exception):
    """Training data asked of an instance that is not marked for training."""


def _plate(rng: random.Random) -> str:
    pick = lambda pool, n: "".join(rng.choice(pool) for _ in range(n))  # noqa: E731
    return pick(LETTERS, 2) + pick("0123456789", 3) + pick(LETTERS, 1)


def _jpeg(text: str, size: tuple[int, int]) -> bytes:
    image = Image.new("RGB", size, (247, 196, 0))
    ImageDraw.Draw(image).text((8, size[1] // 3), text, fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def _register(config: CentralConfig, keys: dict[str, SigningKey], now: datetime) -> None:
    """The training cameras are registered with their keys like real ones, so that searches
    serve their passages: a row whose camera key is unknown is withheld as unverifiable."""
    registry = CameraRegistry(config.cameras_path)
    try:
        for camera_id, key in keys.items():
            camera = registry.get(camera_id)
            if camera is None:
                registry.add(camera_id, key.verify_key, now, "training camera")
            elif key.verify_key not in camera.keys:
                registry.add_key(camera_id, key.verify_key, now)
    finally:
        registry.close()


def seed(
    config: CentralConfig, days: int, per_day: int, now: datetime, cameras: int = 6, seed: int = 1
) -> int:
    """Generate signed passages for the last `days` days; returns how many were stored."""
    if not config.web.training:
        raise TrainingError(
            "this instance is not a training instance: set [web] training = true in its own "
            "config, with its own data directory"
        )
    rng = random.Random(seed)
    keys = {
        camera_id: SigningKey.from_seed(hashlib.sha256(f"{camera_id}/{seed}".encode()).digest())
        for camera_id in (f"training-cam-{i:02d}" for i in range(1, cameras + 1))
    }
    _register(config, keys, now)
    fleet = [_plate(rng) for _ in range(max(10, per_day // 4))]  # plates that come back
    store = open_store(config)
    stored = 0
    try:
        for day in range(days, 0, -1):
            batch = []
            for index in range(per_day):
                camera_id = rng.choice(list(keys))
                plate = rng.choice(fleet) if rng.random() < 0.5 else _plate(rng)
                captured = now - timedelta(days=day - 1, seconds=rng.uniform(0, 86_000))
                passage = Passage(
                    camera_id=camera_id, key_id=keys[camera_id].key_id,
                    seq=(days - day) * per_day + index + 1, captured_at=captured,
                    lat_e7=520_900_000 + rng.randrange(10_000), lon_e7=51_200_000,
                    direction=rng.choice("NESW"), lane=1, plate=plate, country="NL",
                    confidence_pm=rng.randrange(850, 1000), char_confidence_pm=(950,) * 6,
                    plate_box=(600, 500, 240, 52), detector_version="training",
                    reader_version="training", crop_jpeg=_jpeg(plate, (160, 40)),
                    overview_jpeg=_jpeg(f"{camera_id} {plate}", (320, 180)),
                )  # fmt: skip
                key = keys[camera_id]
                batch.append(decode_passage(encode_passage(passage, key)).verify(key.verify_key))
            stored += len(batch)
            store.insert_batch(batch, now)
            log.info("training: %d generated passages for day -%d", len(batch), day)
    finally:
        store.close()
    return stored
