"""Cameras through OpenCV: a video file replays; a camera that cannot be opened is retried
with back-off and reported unhealthy."""

import threading

import cv2
import pytest

from edge_agent.capture.folder import load_bgr
from edge_agent.capture.opencv import OpenCVSource
from edge_agent.config import ConfigError, load_config
from tests.conftest import SAMPLES
from tests.test_config import AGENT, write


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (1280, 720))
    for image in sorted(SAMPLES.glob("*.jpg"))[:5]:
        writer.write(load_bgr(image))
    writer.release()
    return path


def test_video_file_is_replayed_to_its_end(clip):
    source = OpenCVSource(str(clip), live=False)
    frames = list(source.frames())
    assert len(frames) == 5
    assert frames[0].image.shape == (720, 1280, 3)
    assert not source.healthy, "a finished file is no longer delivering"


def test_camera_that_cannot_be_opened_is_retried_and_unhealthy(tmp_path):
    stop = threading.Event()
    source = OpenCVSource(str(tmp_path / "no-camera.avi"), live=True, stop=stop)
    frames = []
    reader = threading.Thread(target=lambda: frames.extend(source.frames()))
    reader.start()
    threading.Timer(2.5, stop.set).start()
    reader.join(timeout=10)
    assert frames == [] and not source.healthy
    assert source.reconnects >= 2, "retried with back-off (1 s, 2 s, ...)"


def test_camera_source_config(tmp_path):
    text = AGENT.replace(
        '[source]\npath = "replay"', '[source]\nkind = "opencv"\nuri = "rtsp://10.0.0.5/stream"'
    )
    config = load_config(write(tmp_path, text))
    assert config.source.uri == "rtsp://10.0.0.5/stream" and config.source.live
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, text.replace("uri =", "url =")))
