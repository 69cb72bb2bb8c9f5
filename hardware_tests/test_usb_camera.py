"""On a unit with a USB camera (/dev/video0): OpenCV capture delivers frames."""

import threading
from pathlib import Path

import pytest

if not Path("/dev/video0").exists():
    pytest.skip("no camera at /dev/video0", allow_module_level=True)


def test_usb_camera_delivers_frames():
    from edge_agent.capture.opencv import OpenCVSource

    stop = threading.Event()
    source = OpenCVSource("0", live=True, stop=stop)
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 20:
            stop.set()
    assert source.reconnects == 0 and frames[0].image.ndim == 3
