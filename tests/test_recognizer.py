"""The recognition API the agent and evaluations use, on the shipped sample scenes and the
committed ONNX models (no mocks)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from edge_agent.capture import Frame
from recognition.model_config import load_detector_config, load_reader_config
from recognition.recognizer import (
    ImageError,
    Read,
    Recognizer,
    RecognizerSettings,
    parse_annotations,
)
from tests.conftest import SAMPLES

SCENES = sorted(SAMPLES.glob("*.jpg"))


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.default()


def bgr(path) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1])


def test_default_loads_the_shipped_models_and_names_their_versions(recognizer):
    assert recognizer.detector_version == load_detector_config().version
    assert recognizer.reader_version == load_reader_config().version


@pytest.mark.parametrize("scene", SCENES, ids=lambda p: p.stem)
def test_reads_keep_the_contract(recognizer, scene):
    image = bgr(scene)
    reads = recognizer.read_image(image)
    height, width = image.shape[:2]
    for read in reads:
        assert isinstance(read, Read)
        assert re.fullmatch(r"[A-Z0-9]{1,12}", read.plate)
        assert 0.0 <= read.confidence <= 1.0
        assert len(read.char_confidences) == len(read.plate)
        assert all(0.0 <= c <= 1.0 for c in read.char_confidences)
        x, y, w, h = read.box
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= width and y + h <= height
        assert read.country in load_reader_config().countries
    assert [r.confidence for r in reads] == sorted((r.confidence for r in reads), reverse=True)


def test_sample_scenes_are_read_correctly(recognizer):
    right = 0
    for scene in SCENES:
        (_, box, plate), *_ = parse_annotations(scene.with_suffix(".txt"))
        reads = recognizer.read_image(bgr(scene))
        right += bool(reads) and reads[0].plate == plate
    assert right >= len(SCENES) - 1


def test_read_frame_is_read_image(recognizer):
    image = bgr(SCENES[0])
    frame = Frame(image=image, captured_at=datetime.now(UTC), origin=None)
    assert recognizer.read_frame(frame) == recognizer.read_image(image)


def test_an_empty_road_gives_no_reads(recognizer):
    grey = np.full((720, 1280, 3), 110, dtype=np.uint8)
    assert recognizer.read_image(grey) == []


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((720, 1280, 3), dtype=np.float32),
        np.zeros((720, 1280), dtype=np.uint8),
        np.zeros((720, 1280, 4), dtype=np.uint8),
        np.zeros((4, 4, 3), dtype=np.uint8),
        "not an image",
    ],
    ids=["float", "grey", "bgra", "tiny", "str"],
)
def test_bad_images_are_refused_clearly(recognizer, image):
    with pytest.raises(ImageError, match="H x W x 3"):
        recognizer.read_image(image)


def test_a_missing_model_file_is_refused_with_its_name():

    from recognition.model_config import ModelConfigError
    from recognition.reader import PlateReader

    config = replace(load_reader_config(), onnx="absent.onnx")
    with pytest.raises(ModelConfigError, match="absent.onnx: model file not found"):
        PlateReader(config)


def test_explicit_cpu_provider_gives_the_same_reads(recognizer):
    cpu = Recognizer.default(providers=["CPUExecutionProvider"])
    image = bgr(SCENES[1])
    assert cpu.read_image(image) == recognizer.read_image(image)


def test_a_weak_box_is_kept_only_where_its_read_is_sure(recognizer):
    """A plate the detector scores under its threshold (a layout it was never taught) is
    reported when the reader is sure of it, and only then (issue 19)."""
    from recognition.recognizer import RecognizerSettings

    image, box, plate = scene_with_box(3, lambda x, y, w, h: (x, y, x + w, y + h))
    weak = FixedBoxDetector(recognizer.detector.config, box, score=0.3)
    off = Recognizer(weak, recognizer.reader, plain_settings())
    assert off.read_image(image) == []
    on = replace(plain_settings(), weak_box_score=0.2)
    assert [r.plate for r in Recognizer(weak, recognizer.reader, on).read_image(image)] == [plate]
    noise = np.random.default_rng(3).integers(0, 256, image.shape, dtype=np.uint8)
    assert Recognizer(weak, recognizer.reader, on).read_image(noise) == []
    too_weak = FixedBoxDetector(recognizer.detector.config, box, score=0.1)
    assert Recognizer(too_weak, recognizer.reader, on).read_image(image) == []
    image, box, plate = scene_with_box(6, lambda x, y, w, h: (x, y, x + w, y + h))
    unsure = FixedBoxDetector(recognizer.detector.config, box, score=0.3)  # read at 0.40
    assert Recognizer(unsure, recognizer.reader, on).read_image(image) == []
    trusting = replace(on, weak_box_confidence=0.3)
    read = Recognizer(unsure, recognizer.reader, trusting).read_image(image)
    assert [r.plate for r in read] == [plate]
    assert RecognizerSettings().weak_box_score == 0.0  # off unless configured


class Doubting:
    """The shipped detector, but unsure (score 0.3) of every box inside `region`."""

    def __init__(self, detector, region) -> None:
        self.detector, self.region, self.config = detector, region, detector.config

    def detect(self, image, threshold=None, bgr=False, zoom=1.0, region=None):
        from recognition.detector import Detection, overlap

        limit = self.config.score_threshold if threshold is None else threshold
        found = self.detector.detect(image, min(limit, 0.3), bgr, zoom, region)
        doubted = [Detection(d.box, 0.3) if overlap(d.box, self.region) > 0.3 else d for d in found]
        return [d for d in doubted if d.score >= limit]

    def detect_tiles(self, image, bgr=False, detail=2.0):
        return []


def test_a_weak_box_read_does_not_stop_the_close_up_search(recognizer):
    """A sure read in a weak box (a small plate in the corner) must not count as the frame's
    read that makes the close-up search needless: the close-up plate is read as well."""
    from models.train.synthetic_scenes import render_plate

    rgb = Image.fromarray(close_up("39-09-TD", 560)[:, :, ::-1].copy())
    small = render_plate("GJ-715-X", 150)
    rgb.paste(small, (20, 20))
    image = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
    doubting = Doubting(recognizer.detector, (20, 20, 170, 20 + small.height))
    settings = replace(plain_settings(), close_up_zoom=0.5)
    off = Recognizer(doubting, recognizer.reader, settings).read_image(image)
    assert [r.plate for r in off] == ["3909TD"]
    weak = replace(settings, weak_box_score=0.2)
    both = Recognizer(doubting, recognizer.reader, weak).read_image(image)
    assert sorted(r.plate for r in both) == ["3909TD", "GJ715X"]


# Second looks (issue 4): plates the detector boxes badly or not at all. The scenes come from
# the project's own generator; each case fails with the second looks turned off.


def plain_settings():
    from recognition.recognizer import RecognizerSettings

    return RecognizerSettings(second_look=False, close_up_zoom=0.0, tile_detail=0.0)


def close_up(printed: str, width: int) -> np.ndarray:
    from models.train.synthetic_scenes import render_plate

    frame = Image.new("RGB", (640, 480), (90, 90, 95))
    plate = render_plate(printed, width)
    frame.paste(plate, ((640 - plate.width) // 2, (480 - plate.height) // 2))
    return np.ascontiguousarray(np.asarray(frame)[:, :, ::-1])


@pytest.mark.parametrize(("printed", "width"), [("39-09-TD", 560), ("P-821-KS", 600)])
def test_a_close_up_too_large_for_the_detector_is_found_zoomed_out(recognizer, printed, width):
    image = close_up(printed, width)
    plate = printed.replace("-", "")
    plain = Recognizer(recognizer.detector, recognizer.reader, plain_settings())
    assert plain.read_image(image) == []
    assert [r.plate for r in recognizer.read_image(image)] == [plate]


def test_the_close_up_search_runs_on_a_canvas_a_third_the_size_and_finds_the_same(
    recognizer, monkeypatch
):
    """The zoomed-out frame fills a quarter of the full canvas; the grey rest cost two
    thirds of the close-up's time on every plate-less frame with motion (issue 19)."""
    import random

    from models.train.synthetic_scenes import render_scene
    from recognition import detector as detector_module
    from recognition.detector import overlap

    detector = recognizer.detector
    fed = []
    run = detector.session.run

    def recording_run(names, feeds):
        fed.append(next(iter(feeds.values())).shape)
        return run(names, feeds)

    monkeypatch.setattr(detector.session, "run", recording_run)
    frames = [close_up("39-09-TD", 560), close_up("P-821-KS", 600)]
    for seed in (3, 4, 5):
        scene, (x, y, w, h), _ = render_scene(random.Random(seed))
        big = scene.crop((x - 2 * w, y - 3 * h, x + 3 * w, y + 2 * h)).resize((1280, 720))
        frames.append(np.ascontiguousarray(np.asarray(big)[:, :, ::-1]))
    zoomed = [detector.detect(Image.fromarray(f), bgr=True, zoom=0.5) for f in frames]
    assert fed[0][2:] == (224, 288)  # 640x480 drawn at 256x192, 32 px of grey beyond
    assert fed[2][2:] == (224, 352)  # 1280x720 drawn at 320x180
    assert all(h * w * 3 <= 384 * 640 for *_, h, w in fed)
    monkeypatch.setattr(detector_module, "fitted_canvas", lambda drawn, full: full)
    full = [detector.detect(Image.fromarray(f), bgr=True, zoom=0.5) for f in frames]
    assert fed[-1][2:] == (384, 640)
    assert sum(map(len, zoomed)) >= len(frames)  # every frame holds a plate to find
    for small, whole in zip(zoomed, full, strict=True):
        assert len(small) == len(whole)
        for a, b in zip(small, whole, strict=True):
            assert overlap(a.box, b.box) > 0.95


@given(
    size=st.tuples(st.integers(8, 300), st.integers(8, 300)),
    region=st.tuples(*[st.integers(-50, 350)] * 4),
    zoom=st.floats(0.1, 1.0),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_any_region_and_zoom_gives_boxes_inside_the_image_and_the_region(
    recognizer, size, region, zoom, seed
):
    """The gate's region comes from the frame's pixels: whatever it is (off the frame,
    inverted, a sliver), the search answers boxes inside the frame, centred in the region
    (never on the grey canvas around it, even at threshold 0)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    image = Image.fromarray(pixels)
    detector = recognizer.detector
    left, top = max(0, region[0]), max(0, region[1])
    right, bottom = min(size[0], region[2]), min(size[1], region[3])
    found = detector.detect(image, zoom=zoom, region=region, threshold=0.0)
    if right - left < 8 or bottom - top < 8:
        assert found == []
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]
        assert x0 <= right and x1 >= left and y0 <= bottom and y1 >= top  # holds its centre


class FixedBoxDetector:
    """The shipped detector's config, but one fixed box (a detector box cut short)."""

    def __init__(self, config, box, score: float = 0.9) -> None:
        self.config, self.box, self.score = config, box, score

    def detect(self, image, threshold=None, bgr=False, zoom=1.0, region=None):
        from recognition.detector import Detection

        limit = self.config.score_threshold if threshold is None else threshold
        return [Detection(self.box, self.score)] if zoom == 1.0 and self.score >= limit else []

    def detect_tiles(self, image, bgr=False, detail=2.0):
        return []


def scene_with_box(seed: int, cut):
    import random

    from models.train.synthetic_scenes import render_scene

    scene, (x, y, w, h), plate = render_scene(random.Random(seed))
    image = np.ascontiguousarray(np.asarray(scene)[:, :, ::-1])
    return image, cut(x, y, w, h), plate


@pytest.mark.parametrize(
    "cut",
    [
        lambda x, y, w, h: (x + 0.3 * w, y, x + w, y + h),  # first characters lost
        lambda x, y, w, h: (x, y, x + 0.7 * w, y + h),  # last characters lost
    ],
    ids=["left", "right"],
)
def test_a_box_cut_short_is_read_whole_on_a_second_look(recognizer, cut):
    image, box, plate = scene_with_box(3, cut)
    detector = FixedBoxDetector(recognizer.detector.config, box)
    plain = Recognizer(detector, recognizer.reader, plain_settings()).read_image(image)
    assert [r.plate for r in plain] != [plate] and len(plain[0].plate) < len(plate)
    reads = Recognizer(detector, recognizer.reader).read_image(image)
    assert [r.plate for r in reads] == [plate]


def test_a_second_look_never_makes_a_read_where_there_was_none(recognizer):
    grey = np.full((480, 640, 3), 100, dtype=np.uint8)
    detector = FixedBoxDetector(recognizer.detector.config, (200.0, 200.0, 330.0, 230.0))
    assert Recognizer(detector, recognizer.reader).read_image(grey) == []


def test_a_sure_read_that_fits_its_layout_gets_no_second_look(recognizer):
    image, box, plate = scene_with_box(3, lambda x, y, w, h: (x, y, x + w, y + h))
    detector = FixedBoxDetector(recognizer.detector.config, box)
    calls = []
    reader = recognizer.reader

    class CountingReader:
        config = reader.config

        def read(self, image, boxes, bgr=False):
            calls.append(len(boxes))
            return reader.read(image, boxes, bgr)

    reads = Recognizer(detector, CountingReader()).read_image(image)
    assert [r.plate for r in reads] == [plate] and calls == [1]


def small_plate_in_a_large_photo(seed: int):
    """A rendered scene drawn at 60 % in a 4000x3000 photo: its plate ~15 px at the input."""
    import random

    from models.train.synthetic_scenes import render_scene

    scene, (x, y, w, h), plate = render_scene(random.Random(seed))
    scene = scene.resize((scene.width * 6 // 10, scene.height * 6 // 10), Image.BILINEAR)
    canvas = Image.new("RGB", (4000, 3000), (90, 95, 100))
    canvas.paste(scene, (1500, 1800))
    centre = (1500 + 0.6 * (x + w / 2), 1800 + 0.6 * (y + h / 2))
    return np.ascontiguousarray(np.asarray(canvas)[:, :, ::-1]), plate, centre


@pytest.mark.parametrize("seed", [1, 3, 5, 7])
def test_a_small_plate_in_a_large_photo_is_found_in_tiles(recognizer, seed):
    image, plate, (cx, cy) = small_plate_in_a_large_photo(seed)
    whole_frame_only = Recognizer(
        recognizer.detector, recognizer.reader, RecognizerSettings(tile_detail=0)
    )
    assert whole_frame_only.read_image(image) == []
    reads = recognizer.read_image(image)
    assert [r.plate for r in reads] == [plate]
    x, y, w, h = reads[0].box
    assert x <= cx <= x + w and y <= cy <= y + h


def a_portrait_phone_photo(seed: int):
    """A rendered scene drawn at half size low in a 1080x1920 portrait photo."""
    import random

    from models.train.synthetic_scenes import render_scene

    scene, (x, y, w, h), _ = render_scene(random.Random(seed))
    scene = scene.resize((scene.width // 2, scene.height // 2), Image.BILINEAR)
    photo = Image.new("RGB", (1080, 1920), (90, 95, 100))
    photo.paste(scene, (100, 900))
    return photo, (100 + x / 2, 900 + y / 2, 100 + (x + w) / 2, 900 + (y + h) / 2)


def test_the_shipped_detector_turns_its_canvas_upright_for_portrait_frames(recognizer):
    detector = recognizer.detector
    assert detector.turns_canvas
    assert detector.canvas_size(1080, 1920) == (384, 640)
    assert detector.canvas_size(1280, 720) == (640, 384)
    assert detector.canvas_size(640, 640) == (640, 384)


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_a_plate_in_a_portrait_photo_is_found_on_the_upright_canvas(seed):
    from recognition.detector import PlateDetector, overlap

    detector = PlateDetector.default()  # its own: the shared one must keep turning
    photo, plate = a_portrait_phone_photo(seed)
    upright = max(overlap(d.box, plate) for d in detector.detect(photo))
    detector.turns_canvas = False  # a fifth of the size instead of a third
    landscape = max((overlap(d.box, plate) for d in detector.detect(photo)), default=0.0)
    assert upright >= 0.5 > landscape


class CountingDetector:
    """The shipped detector, counting its runs."""

    def __init__(self, detector) -> None:
        self.inner, self.runs = detector, 0
        self.config = detector.config
        self.canvas_size = detector.canvas_size

    def detect(self, *args, **kwargs):
        self.runs += 1
        return self.inner.detect(*args, **kwargs)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (640, 480)])
def test_camera_sized_frames_are_never_tiled(recognizer, size):
    from recognition.detector import PlateDetector

    counting = CountingDetector(recognizer.detector)
    grey = Image.new("RGB", size, (120, 120, 120))
    assert PlateDetector.detect_tiles(counting, grey) == []
    assert counting.runs == 0


def test_tiles_cover_the_whole_side_with_overlap():
    from recognition.detector import _tile_starts

    for length, tile in [(4000, 2500), (3000, 1500), (1920, 1600), (1000, 1200), (5000, 640)]:
        starts = _tile_starts(length, min(tile, length))
        size = min(tile, length)
        assert starts[0] == 0 and starts[-1] + size == length
        assert all(b - a <= size * 0.75 + 1 for a, b in zip(starts, starts[1:], strict=False))
