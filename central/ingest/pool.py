"""Decoding and verifying passages in worker processes, so that both cores admit.

One Python process shares one interpreter lock between paho's network thread and both
ingest stages; decoding and verifying a 50 KB passage then costs about twice its time
alone. With `ingest.verify_workers` > 0 that work runs in a small pool of processes
(started with `spawn`: the ingest process has threads). Results come back in order, each a
verified passage or a `Refusal`, which crosses the process boundary as the data it is.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from central.cameras import Camera
from central.ingest.admission import verify_passage
from central.ingest.refusal import Refusal
from node.keyfiles import load_sealing_key
from wire import Passage, Verified
from wire.errors import WireError
from wire.sealing import SealingKey, Unsealable, is_sealed

_seal_key: SealingKey | None = None
_accept_unsealed = False
NOT_SEALED = (
    "passages must be sealed to the central's key: set keys.central_seal_public_key on the "
    "unit to the central's seal.pub"
)


def _initialise(seal_key_file: Path | None, accept_unsealed: bool) -> None:
    global _seal_key, _accept_unsealed
    _seal_key = load_sealing_key(seal_key_file) if seal_key_file else None
    _accept_unsealed = accept_unsealed


def open_and_verify(
    payload: bytes,
    camera_id: str,
    camera: Camera | None,
    seal_key: SealingKey | None,
    accept_unsealed: bool = False,
) -> Verified[Passage] | Refusal:
    """Unseal, decode and verify. An unsealed passage is refused unless the config allows it
    (tests of admission only): a unit that stopped sealing exposes its spool if stolen."""
    if not is_sealed(payload):
        if not accept_unsealed:
            return Refusal("not_sealed", NOT_SEALED, camera_id)
        return verify_passage(payload, camera_id, camera)
    if seal_key is None:
        return Refusal(
            Unsealable.reason,
            "a sealed record arrived but secrets.seal_key_file is not set",
            camera_id,
        )
    try:
        payload = seal_key.unseal(payload, camera_id)
    except WireError as exc:
        return Refusal.of(exc, camera_id)
    return verify_passage(payload, camera_id, camera)


def _job(job: tuple[bytes, str, Camera | None]) -> Verified[Passage] | Refusal:
    return open_and_verify(*job, _seal_key, _accept_unsealed)


class VerifyPool:
    def __init__(self, workers: int, seal_key_file: Path | None, accept_unsealed: bool) -> None:
        self.executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_initialise,
            initargs=(seal_key_file, accept_unsealed),
        )

    def verify(self, jobs: list[tuple[bytes, str, Camera | None]]) -> list:
        return list(self.executor.map(_job, jobs, chunksize=8))

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
