"""Decoding and verifying passages in worker processes, so that both cores admit.

One Python process shares one interpreter lock between paho's network thread and both
ingest stages; decoding and verifying a 50 KB passage then costs about twice its time
alone. With `ingest.verify_workers` > 0 that work runs in a small pool of processes
(started with `spawn`: the ingest process has threads). Results come back in order; a
refusal comes back as a plain tuple (exceptions with fields do not cross processes).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from central.admission import Refused, verify_passage
from central.cameras import Camera
from wire import WireError
from wire.sealing import SealingKey, Unsealable, is_sealed

_seal_key: SealingKey | None = None


def _initialise(seal_key_file: Path | None) -> None:
    global _seal_key
    _seal_key = SealingKey.load(seal_key_file) if seal_key_file else None


def open_and_verify(payload: bytes, camera_id: str, camera: Camera | None, seal_key):
    """Unseal (if sealed), decode and verify. Returns the Verified passage or Refused."""
    try:
        if is_sealed(payload):
            if seal_key is None:
                raise Unsealable("a sealed record arrived but secrets.seal_key_file is not set")
            payload = seal_key.unseal(payload, camera_id)
        return verify_passage(payload, camera_id, camera)
    except WireError as exc:
        return Refused(exc.reason, str(exc), camera_id)
    except Refused as refused:
        return refused


def _job(job: tuple[bytes, str, Camera | None]):
    result = open_and_verify(*job, _seal_key)
    if isinstance(result, Refused):
        return ("refused", result.reason, result.detail, result.camera_id, result.seq)
    return result


class VerifyPool:
    def __init__(self, workers: int, seal_key_file: Path | None) -> None:
        self.executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_initialise,
            initargs=(seal_key_file,),
        )

    def verify(self, jobs: list[tuple[bytes, str, Camera | None]]) -> list:
        results = []
        for result in self.executor.map(_job, jobs, chunksize=8):
            if isinstance(result, tuple):
                _, reason, detail, camera_id, seq = result
                result = Refused(reason, detail, camera_id, seq)
            results.append(result)
        return results

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
