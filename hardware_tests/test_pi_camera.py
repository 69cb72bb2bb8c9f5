"""On a Raspberry Pi with a camera module: capture at the configured size and rate."""

import time

import pytest

picamera2 = pytest.importorskip("picamera2", reason="not a Raspberry Pi with picamera2")


def test_pi_camera_delivers_frames_at_size_and_rate():
    from edge_agent.capture.picamera import PiCameraSource

    source = PiCameraSource(size=(1280, 720), fps=25)
    started = time.monotonic()
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 50:
            source.stop.set()
    rate = (len(frames) - 1) / (time.monotonic() - started)
    assert frames[0].image.shape == (720, 1280, 3)
    assert rate >= 20, f"{rate:.1f} fps"
