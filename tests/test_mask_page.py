"""`anpr-provision masks` (#22): the technician draws privacy masks on a live frame in a page
(real Chromium, the unit's own small server, a replay standing in for the camera) and they
land in the agent config, every other line kept; bad masks and tokenless requests are
refused and change nothing."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from edge_agent.config import load_config
from provisioning.agent_config import UnitSettings, render
from provisioning.keys import ProvisioningError
from provisioning.mask_page import MaskPage, parse_masks, save_masks, with_masks
from tests.conftest import SAMPLES, register_camera, write_agent_config, write_central_config


@pytest.fixture
def agent_toml(tmp_path):
    central = write_central_config(tmp_path, 1)
    camera = register_camera(central, "test-cam-01", tmp_path)
    return write_agent_config(tmp_path, camera, central, 1, SAMPLES, fps=25)


def test_masks_replace_those_in_the_file_and_keep_every_other_line(tmp_path):
    settings = UnitSettings("a12-hm34-n-1", 52.09, 5.12, "N", 1, tmp_path, "central.example",
                            8883, tmp_path / "replay", tmp_path / "spool.sqlite",
                            tmp_path / "central-seal.pub")  # fmt: skip
    text = render(settings, [((0, 0), (10, 0), (10, 10))]) + "\n[tracking]\nrepeat_gap_s = 2\n"
    new = with_masks(text, [((5, 5), (50, 5), (50, 40), (5, 40))])
    assert "[[5, 5], [50, 5], [50, 40], [5, 40]]" in new and "[10, 10]" not in new
    kept = [line for line in text.splitlines() if "[0, 0]" not in line]
    assert all(line in new.splitlines() for line in kept if not line.startswith("    ["))
    assert with_masks(new, []).count("masks = [") == 1


def test_saving_writes_only_the_masks_and_keeps_the_previous_file(agent_toml):
    before = agent_toml.read_text()
    assert "[privacy]" not in before
    config = save_masks(agent_toml, [((0, 0), (400, 0), (400, 200))])
    assert config.privacy.masks == (((0, 0), (400, 0), (400, 200)),)
    assert agent_toml.with_name("agent.toml.previous").read_text() == before
    assert agent_toml.read_text().startswith(before)
    assert load_config(agent_toml).source.fps == 25


@pytest.mark.parametrize(
    "body, why",
    [
        ({"masks": [[[0, 0], [10, 0]]]}, "3 to 64 points"),
        ({"masks": [[[0, 0], [10, 0], [1300, 5]]]}, "outside the 1280x720 frame"),
        ({"masks": [[[0, 0], [10, 0], [5.5, 5]]]}, "[x, y] in pixels"),
        ({"masks": "all"}, "list of at most"),
        ([], "list of at most"),
    ],
)
def test_bad_masks_are_refused_with_a_reason(body, why):
    with pytest.raises(ProvisioningError, match=__import__("re").escape(why)):
        parse_masks(body, 1280, 720)


@pytest.fixture
def served(agent_toml):
    page = MaskPage(agent_toml)
    server = page.serve("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield page, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _status(request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_without_the_token_nothing_is_shown_or_saved(served, agent_toml):
    page, url = served
    before = agent_toml.read_text()
    assert _status(f"{url}/") == 403
    assert _status(f"{url}/frame.jpg?token=wrong") == 403
    body = json.dumps({"masks": [[[0, 0], [10, 0], [10, 10]]]}).encode()
    assert _status(urllib.request.Request(f"{url}/masks", body, method="POST")) == 403
    assert _status(f"{url}/frame.jpg?token={page.token}") == 200
    bad = json.dumps({"masks": [[[0, 0], [10, 0], [9999, 10]]]}).encode()
    post = urllib.request.Request(f"{url}/masks", bad, {"X-Mask-Token": page.token}, method="POST")
    assert _status(post) == 400
    assert agent_toml.read_text() == before


@pytest.mark.slow
def test_a_technician_draws_a_mask_on_the_live_frame_in_chromium(served, agent_toml, tmp_path):
    from tests.browser import ARTEFACTS, browser_page, wait_for_true

    page_state, url = served
    with browser_page(tmp_path) as page:
        page.goto(f"{url}/?token={page_state.token}")
        wait_for_true(page, "document.querySelector('#view').dataset.ready === '1'", 30)
        assert "test-cam-01" in page.inner_text("h1")
        canvas = page.locator("#view")
        box = canvas.bounding_box()
        scale = box["width"] / 1280
        corners = [(100, 80), (500, 80), (500, 300), (100, 300)]  # frame pixels
        for x, y in corners:
            canvas.click(position={"x": x * scale, "y": y * scale})
        page.click("#close")
        assert canvas.get_attribute("data-masks") == "1"
        page.click("#save")
        wait_for_true(page, "document.querySelector('#status').className === 'saved'")
        page.screenshot(path=str(ARTEFACTS / "mask-page.png"))
    (mask,) = load_config(agent_toml).privacy.masks
    assert len(mask) == 4
    for (x, y), (want_x, want_y) in zip(mask, corners, strict=True):
        assert abs(x - want_x) <= 2 and abs(y - want_y) <= 2, mask
