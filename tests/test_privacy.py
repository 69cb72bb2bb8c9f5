"""Non-public places are gone from everything that leaves the unit."""

import io
import shutil
import sqlite3
import threading

import numpy as np
from PIL import Image

from edge_agent.agent import Agent
from edge_agent.config import load_config
from edge_agent.privacy import box_is_masked, burn_masks, preview
from node.keyfiles import load_sealing_key
from tests.conftest import SAMPLES, free_port, wait_until
from wire import decode_passage

SKY = ((0, 0), (1279, 0), (1279, 150), (0, 150))


def test_burnt_pixels_are_black_and_the_rest_untouched():
    frame = np.full((100, 200, 3), 200, dtype=np.uint8)
    masked = burn_masks(frame, [((10, 10), (60, 10), (60, 60), (10, 60))])
    assert masked[30, 30].tolist() == [0, 0, 0]
    assert masked[80, 150].tolist() == [200, 200, 200]
    assert frame[30, 30].tolist() == [200, 200, 200], "the original frame is not modified"


def test_plate_centre_inside_a_mask_is_masked():
    garden = ((0, 0), (100, 0), (100, 100), (0, 100))
    assert box_is_masked((40, 40, 20, 10), [garden])
    assert not box_is_masked((140, 40, 20, 10), [garden])


def test_preview_shows_the_mask(tmp_path):
    still = Image.open(SAMPLES / "scene-000.jpg")
    image = preview(still, [SKY])
    assert image.size == still.size
    red, green, _ = image.getpixel((640, 60))
    assert red > green + 60


def agent_with_masks(tmp_path, camera, central_setup, masks: str):
    folder = tmp_path / "replay"
    folder.mkdir()
    for name in ("scene-000", "scene-001"):
        shutil.copy(SAMPLES / f"{name}.jpg", folder)
        shutil.copy(SAMPLES / f"{name}.txt", folder)
    from tests.conftest import write_agent_config

    path = write_agent_config(tmp_path, camera, central_setup, free_port(), folder)
    path.write_text(path.read_text() + f"\n[privacy]\nmasks = {masks}\n")
    return load_config(path)


def spooled_overviews(config, central_setup) -> list[np.ndarray]:
    """The overviews as the central would receive them: unsealed with its key."""
    opener = load_sealing_key(central_setup.config.secrets.seal_key_file)
    db = sqlite3.connect(config.spool.path)
    payloads = [row[0] for row in db.execute("SELECT payload FROM records ORDER BY seq")]
    db.close()
    passages = [decode_passage(opener.unseal(p, config.camera.id))._record for p in payloads]
    return [np.asarray(Image.open(io.BytesIO(p.overview_jpeg)).convert("L")) for p in passages]


def run_until_frames(agent: Agent, frames: int) -> None:
    runner = threading.Thread(target=agent.run)
    runner.start()
    wait_until(lambda: agent.stats.frames >= frames, what="frames processed")
    agent.stop_event.set()
    runner.join(timeout=10)


def test_masked_region_is_black_in_what_the_unit_would_send(tmp_path, central_setup, camera):
    config = agent_with_masks(
        tmp_path, camera, central_setup, "[[[0, 0], [1279, 0], [1279, 150], [0, 150]]]"
    )
    agent = Agent(config)
    run_until_frames(agent, 2)
    overviews = spooled_overviews(config, central_setup)
    assert len(overviews) == 2
    for overview in overviews:
        assert overview[:140].max() < 12, "sky (masked) must be black"
        assert overview[200:].mean() > 40, "the road is still there"


def test_read_inside_a_mask_is_dropped_and_counted(tmp_path, central_setup, camera):
    everything = "[[[0, 0], [1279, 0], [1279, 719], [0, 719]]]"
    config = agent_with_masks(tmp_path, camera, central_setup, everything)
    agent = Agent(config)
    run_until_frames(agent, 2)
    assert agent.stats.reads_masked == 2
    assert spooled_overviews(config, central_setup) == []


def test_cabin_blur_softens_the_cabin_and_keeps_the_plate_sharp():
    from edge_agent.privacy import blur_cabins, cabin_region

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    plate = (600, 500, 120, 26)
    blurred = blur_cabins(frame, [plate])
    left, top, right, bottom = cabin_region(plate, 1280, 720)
    before = frame[top:bottom, left:right].astype(float).std()
    after = blurred[top:bottom, left:right].astype(float).std()
    assert after < before / 4, "the cabin is no longer recognisable"
    x, y, w, h = plate
    assert (blurred[y : y + h, x : x + w] == frame[y : y + h, x : x + w]).all()
