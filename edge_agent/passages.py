"""Turn a read in a frame into a passage record: crop, encode, number, sign.

The sequence number is allocated by the spool in the same transaction that stores the
signed payload, so a number is never used twice, even across power cuts.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from edge_agent.capture import Frame
from edge_agent.config import CameraConfig
from recognition.recognizer import Read
from wire import Passage, SigningKey, encode_passage
from wire.fields import truncate_to_millis
from wire.sealing import seal

CROP_MARGIN = 0.15
CROP_QUALITY = 92
OVERVIEW_QUALITY = 80


def encode_jpeg(bgr: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).save(
        buffer, format="JPEG", quality=quality, optimize=True
    )
    return buffer.getvalue()


def crop_with_margin(bgr: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The plate with a little context, so that a verifying officer sees the whole plate."""
    x, y, w, h = box
    height, width = bgr.shape[:2]
    dx, dy = int(w * CROP_MARGIN), int(h * CROP_MARGIN)
    return bgr[max(0, y - dy) : min(height, y + h + dy), max(0, x - dx) : min(width, x + w + dx)]


class PassageFactory:
    def __init__(
        self,
        camera: CameraConfig,
        key: SigningKey,
        detector_version: str,
        reader_version: str,
        seal_to: bytes | None = None,
    ) -> None:
        self.camera = camera
        self.key = key
        self.seal_to = seal_to
        self.detector_version = detector_version
        self.reader_version = reader_version

    def payload_builder(self, frame: Frame, read: Read, overview_jpeg: bytes):
        """A function of the sequence number returning the signed payload for this read."""
        crop_jpeg = encode_jpeg(crop_with_margin(frame.image, read.box), CROP_QUALITY)

        def build(seq: int) -> bytes:
            passage = Passage(
                camera_id=self.camera.id,
                key_id=self.key.key_id,
                seq=seq,
                captured_at=truncate_to_millis(frame.captured_at),
                lat_e7=round(self.camera.lat * 1e7),
                lon_e7=round(self.camera.lon * 1e7),
                direction=self.camera.direction,
                lane=self.camera.lane,
                plate=read.plate,
                country=read.country,
                confidence_pm=_per_mille(read.confidence),
                char_confidence_pm=tuple(_per_mille(c) for c in read.char_confidences),
                plate_box=read.box,
                detector_version=self.detector_version,
                reader_version=self.reader_version,
                crop_jpeg=crop_jpeg,
                overview_jpeg=overview_jpeg,
            )
            payload = encode_passage(passage, self.key)
            if self.seal_to is not None:
                # Sealed before it touches the disk: a stolen unit cannot read its backlog.
                payload = seal(payload, self.seal_to, self.camera.id)
            return payload

        return build


def _per_mille(value: float) -> int:
    return max(0, min(1000, round(value * 1000)))
