"""Commissioning on the live view (#22): the unit samples its configured source for a few
seconds with the real ONNX models and judges focus, exposure, the plates read (width,
angle) and the frame rate; the signed report reaches the central through a real Mosquitto,
is verified and kept with the plan entry, and a maintainer sees it in Chromium. Replays of
frames stand in for the Pi camera (the only fake); blur, darkness, glare and an empty sky
are made from the project's own sample frames."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from edge_agent.config import load_config
from provisioning.commissioning import judge, sample_live
from provisioning.live_view import aim_snapshot, plate_focus, sharpness
from recognition.recognizer import Recognizer
from tests.conftest import SAMPLES, write_agent_config

WINDOW_S = 2.0


@pytest.fixture(scope="module")
def reader():
    return Recognizer.default()


def replay(folder: Path, change) -> Path:
    """The sample frames, each changed by `change` (BGR in, BGR out), as a replay folder."""
    folder.mkdir()
    for path in sorted(SAMPLES.glob("*.jpg")):
        cv2.imwrite(str(folder / path.name), change(cv2.imread(str(path))))
    return folder


def sky(index: int) -> np.ndarray:
    """An empty sky: a blue gradient with soft clouds, no road, no plate."""
    rows = np.linspace(0, 1, 720)[:, None, None]
    image = (np.array([235, 190, 120]) * (1 - 0.3 * rows)).repeat(1280, axis=1)
    clouds = np.zeros((720, 1280), np.float32)
    rng = np.random.default_rng(index)
    for _ in range(6):
        cx, cy, r = rng.integers(0, 1280), rng.integers(0, 500), rng.integers(60, 160)
        cv2.circle(clouds, (int(cx), int(cy)), int(r), 1.0, -1)
    clouds = cv2.GaussianBlur(clouds, (0, 0), 40)[..., None]
    return np.clip(image * (1 - clouds) + 245 * clouds, 0, 255).astype(np.uint8)


def sky_replay(folder: Path) -> Path:
    folder.mkdir()
    for index in range(6):
        cv2.imwrite(str(folder / f"sky-{index:03d}.jpg"), sky(index))
    return folder


def commission(tmp_path, camera, central_setup, source: Path, reader, fps: float = 10.0):
    config = load_config(write_agent_config(tmp_path, camera, central_setup, 1, source, fps=fps))
    sample = sample_live(config, reader, WINDOW_S)
    return sample, {j.key: j for j in judge(sample, config.source.fps)}


@pytest.fixture
def setup(tmp_path):
    """A camera and a central's keys, without a broker: the live checks need none."""
    from tests.conftest import register_camera, write_central_config

    central = write_central_config(tmp_path, 1)
    return register_camera(central, "test-cam-01", tmp_path), central


def test_a_sharp_well_exposed_replay_passes(tmp_path, setup, reader):
    sample, checks = commission(tmp_path, *setup, SAMPLES, reader)
    for key in ("frame_rate", "focus", "exposure", "plates_read", "plate_width", "plate_angle"):
        assert checks[key].result == "pass", (key, checks[key])
    assert "plate(s))" in checks["focus"].figure  # judged on the plates, not the scene
    assert checks["exposure"].figure.startswith("day (colour)")
    assert sample.plates and sample.read_frames >= 5
    assert "px wide" in checks["plate_width"].figure


def test_a_blurred_replay_fails_focus(tmp_path, setup, reader):
    blurred = replay(tmp_path / "blurred", lambda bgr: cv2.GaussianBlur(bgr, (0, 0), 3))
    _, checks = commission(tmp_path, *setup, blurred, reader)
    assert checks["focus"].result == "fail", checks["focus"]
    assert "focus the lens" in checks["focus"].advice
    assert checks["exposure"].result == "pass"  # blur is not darkness


def test_a_dark_replay_fails_exposure(tmp_path, setup, reader):
    dark = replay(tmp_path / "dark", lambda bgr: (bgr * 0.12).astype(np.uint8))
    _, checks = commission(tmp_path, *setup, dark, reader)
    assert checks["exposure"].result == "fail", checks["exposure"]
    assert "too dark" in checks["exposure"].advice


def test_a_blown_out_replay_fails_exposure(tmp_path, setup, reader):
    glare = replay(tmp_path / "glare", lambda bgr: cv2.convertScaleAbs(bgr, alpha=2.5, beta=90))
    _, checks = commission(tmp_path, *setup, glare, reader)
    assert checks["exposure"].result == "fail", checks["exposure"]
    assert "blown out" in checks["exposure"].advice


def test_an_infrared_night_view_is_named_night(tmp_path, setup, reader):
    """A monochrome frame is the camera on its infrared profile: judged as night."""

    def infrared(bgr):
        gray = cv2.cvtColor((bgr * 0.6).astype(np.uint8), cv2.COLOR_BGR2GRAY)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)

    night = replay(tmp_path / "night", infrared)
    sample, checks = commission(tmp_path, *setup, night, reader)
    assert sample.night
    assert checks["exposure"].figure.startswith("night (infrared)")
    assert checks["exposure"].result == "pass", checks["exposure"]


def test_a_camera_aimed_at_the_sky_reads_no_plates(tmp_path, setup, reader):
    _, checks = commission(tmp_path, *setup, sky_replay(tmp_path / "sky"), reader)
    assert checks["plates_read"].result == "fail"
    assert checks["plates_read"].figure.startswith("no plates read in")
    assert "aim the camera at the lane" in checks["plates_read"].advice
    assert checks["plate_width"].result == "warn" and "not measured" in checks["plate_width"].figure


def test_small_or_leaning_plates_are_judged(tmp_path, setup, reader):
    """Plates shrunk to 40 % (zoomed out) are too small; a camera rolled 12 degrees leans."""
    small = replay(tmp_path / "small", _zoomed_out)
    _, checks = commission(tmp_path, *setup, small, reader)
    assert checks["plates_read"].result == "pass", checks["plates_read"]
    assert checks["plate_width"].result == "fail", checks["plate_width"]
    assert "zoom in" in checks["plate_width"].advice
    rolled = replay(tmp_path / "rolled", lambda bgr: cv2.warpAffine(
        bgr, cv2.getRotationMatrix2D((640, 360), 12, 1), (1280, 720)))  # fmt: skip
    _, checks = commission(tmp_path, *setup, rolled, reader)
    assert checks["plate_angle"].result == "warn", checks["plate_angle"]
    assert "level the camera" in checks["plate_angle"].advice


def _zoomed_out(bgr: np.ndarray) -> np.ndarray:
    """The scene at 40 %, centred on a grey canvas: plates under 110 px."""
    small = cv2.resize(bgr, (512, 288), interpolation=cv2.INTER_AREA)
    canvas = np.full_like(bgr, 120)
    canvas[216:504, 384:896] = small
    return canvas


def test_the_aim_snapshot_is_small_masked_and_hides_the_plates(reader):
    frame = cv2.imread(str(SAMPLES / "scene-000.jpg"))
    boxes = [read.box for read in reader.read_image(frame)]
    assert boxes
    mask = ((0, 0), (400, 0), (400, 200), (0, 200))
    jpeg = aim_snapshot(frame, [mask], boxes)
    assert len(jpeg) < 40_000
    shown = cv2.cvtColor(np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")),
                         cv2.COLOR_RGB2GRAY)  # fmt: skip
    assert shown.shape == (180, 320)
    assert shown[5:45, 5:95].max() < 20  # the masked corner is black
    # the plate, scaled like the snapshot: sharp in the frame, no detail left in the snapshot
    scale = 320 / 1280
    scaled = [tuple(round(v * scale) for v in box) for box in boxes]
    plain = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (320, 180),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    assert min(plate_focus(plain, scaled)) > 5 * max(plate_focus(shown, scaled))
    assert sharpness(shown) > 0


# --- the report at the central ---------------------------------------------------------------


def _ingest(central_setup):
    from central.ingest.service import IngestWorker
    from node.keyfiles import load_signing_key

    return IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )


@pytest.mark.slow
def test_the_signed_report_is_kept_with_the_plan_entry_and_shown_to_a_maintainer(
    tmp_path, mosquitto, central_setup, camera, reader
):
    from central import create_app
    from central.cameras import CameraRegistry
    from central.plan.commissioning import CommissioningReports
    from provisioning.selftest import REPORT_CHECK, render, run_selftest
    from tests.browser import ARTEFACTS, Logins, browser_page, serve, wait_for_true
    from tests.conftest import make_user

    config = load_config(write_agent_config(tmp_path, camera, central_setup, mosquitto.port,
                                            fps=10))  # fmt: skip
    worker = _ingest(central_setup)
    worker.start()
    try:
        assert worker.subscribed.wait(10)
        checks = run_selftest(config, reader, window_s=WINDOW_S)
    finally:
        worker.stop()
    table = render(checks)
    assert all(check.passed for check in checks), table
    kept_check = next(c for c in checks if c.name == REPORT_CHECK)
    assert "kept with the plan entry" in kept_check.detail
    assert worker.counters["commissioning_reports"] == 1

    registry = CameraRegistry(central_setup.config.cameras_path)
    reports = CommissioningReports(central_setup.config.plan_path)
    try:
        kept = reports.latest(camera.camera_id, registry)
    finally:
        reports.close()
        registry.close()
    assert kept is not None and kept.signature_holds is True
    names = [j.name for j in kept.report.judgements]
    assert names[:6] == ["frame_rate", "focus", "exposure", "plates_read", "plate_width",
                         "plate_angle"]  # fmt: skip
    assert {"broker", "round_trip", "clock", "recognition"} <= set(names)
    assert kept.report.light == "day" and kept.report.frames > 10

    place_in_this_years_plan(central_setup.config, camera.camera_id)
    user, password, secret = make_user(central_setup.config)
    app = create_app(central_setup.config)
    with serve(app) as url, browser_page(tmp_path) as page:
        page_path = f"/health/cameras/{camera.camera_id}"
        Logins(page, url, {user: secret}, password)(user, page_path)
        section = page.locator("#commissioning")
        assert "Commissioning on site" in section.inner_text()
        assert "the signature holds" in section.inner_text()
        rows = page.locator("#commissioning-checks tbody tr")
        assert rows.count() == len(names)
        assert "Plate width" in rows.nth(4).inner_text() and "px wide" in rows.nth(4).inner_text()
        width = page.evaluate("document.querySelector('#aim-snapshot').naturalWidth")
        assert width == 320, "the aim snapshot loads"
        page.screenshot(path=str(ARTEFACTS / "commissioning-report.png"), full_page=True)
        # the same snapshot in the camera's popup on the health map
        page.goto(f"{url}/health")
        wait_for_true(page, "document.querySelector('#health-map').dataset.ready === '1'")
        page.locator(f'#health-map circle.camera[data-camera="{camera.camera_id}"]').click()
        wait_for_true(page, "(document.querySelector('.leaflet-popup-content img.aim') || {})"
                      ".naturalWidth === 320")  # fmt: skip
    with app.test_client() as anonymous:
        assert anonymous.get(f"{page_path}/aim.jpg").status_code in (302, 401, 403)


def place_in_this_years_plan(config, camera_id: str) -> None:
    from datetime import UTC, datetime

    from central.cameras import CameraRegistry
    from central.plan.registry import CameraPlan
    from tests.test_plan import entry

    now = datetime.now(UTC)
    registry = CameraRegistry(config.cameras_path)
    plan = CameraPlan(config.plan_path, registry)
    try:
        plan.draft(now.year, "p.admin", now)
        plan.add_entry(entry(camera_id, year=now.year), "p.admin", now)
    finally:
        plan.close()
        registry.close()


@pytest.mark.slow
def test_a_tampered_report_is_refused_and_not_kept(tmp_path, mosquitto, central_setup, camera):
    import paho.mqtt.client as mqtt

    from central.plan.commissioning import CommissioningReports
    from provisioning.commissioning import Sample
    from provisioning.selftest import Check, _no_picture
    from provisioning.selftest import make_report as build
    from tests.conftest import wait_until
    from wire.commissioning import encode_commissioning
    from wire.topics import commissioning_topic

    config = load_config(write_agent_config(tmp_path, camera, central_setup, mosquitto.port))
    failing = [Check("focus", False, "3 (Laplacian variance)", key="focus")]

    class Models:
        detector_version, reader_version = "det-1", "ocr-1"

    report = build(config, Models(), Sample(snapshot=_no_picture()), failing)
    honest = encode_commissioning(report, camera.key)
    envelope = json.loads(honest)
    envelope["record"]["checks"][0]["result"] = "pass"  # a failed focus made to pass
    envelope["record"]["verdict"] = "pass"
    tampered = json.dumps(envelope).encode()

    worker = _ingest(central_setup)
    worker.start()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="tamper")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        assert worker.subscribed.wait(10)
        client.publish(commissioning_topic(camera.camera_id), tampered, qos=1).wait_for_publish(5)
        wait_until(lambda: worker.counters["rejected_bad_signature"] == 1, what="the refusal")
        client.publish(commissioning_topic(camera.camera_id), honest, qos=1).wait_for_publish(5)
        wait_until(lambda: worker.counters["commissioning_reports"] == 1, what="the honest one")
    finally:
        client.loop_stop()
        client.disconnect()
        worker.stop()
    reports = CommissioningReports(central_setup.config.plan_path)
    try:
        kept = reports.history(camera.camera_id)
    finally:
        reports.close()
    assert [k.verdict for k in kept] == ["fail"], "only the honest report, failing, is kept"


# --- the record and its documentation ---------------------------------------------------------


def _report(key, **changes):
    from datetime import UTC, datetime

    from provisioning.selftest import _no_picture
    from wire.commissioning import CommissioningReport, Judgement

    values = dict(
        camera_id="test-cam-01", key_id=key.key_id, report_id=1_765_000_000_000,
        made_at=datetime(2026, 12, 6, 7, 0, tzinfo=UTC), light="day", frames=40,
        judgements=(Judgement("focus", "pass", "1314 (Laplacian variance on 16 plate(s))"),
                    Judgement("plates_read", "warn", "2 read(s)", "test while traffic passes")),
        detector_version="plate-detector-1.2", reader_version="plate-reader-2.1",
        snapshot_jpeg=_no_picture(),
    )  # fmt: skip
    values.update(changes)
    return CommissioningReport(**values)


def test_the_report_round_trips_and_binds_its_snapshot():
    from wire import SigningKey
    from wire.commissioning import decode_commissioning, encode_commissioning
    from wire.errors import BadSignature, ImageDigestMismatch, MalformedRecord

    key = SigningKey.generate()
    report = _report(key)
    assert report.verdict == "warn"
    payload = encode_commissioning(report, key)
    assert decode_commissioning(payload).verify(key.verify_key).record == report
    other = SigningKey.generate()
    with pytest.raises(BadSignature):
        decode_commissioning(encode_commissioning(_report(other), other)).verify(key.verify_key)
    envelope = json.loads(payload)
    envelope["snapshot_jpeg"] = envelope["snapshot_jpeg"][:-8] + "AAAAAAA="
    with pytest.raises(ImageDigestMismatch):
        decode_commissioning(json.dumps(envelope).encode())
    envelope = json.loads(payload)
    envelope["record"]["verdict"] = "pass"  # a verdict better than its checks
    with pytest.raises(MalformedRecord, match="worst result"):
        decode_commissioning(json.dumps(envelope).encode())
    with pytest.raises(MalformedRecord):
        _report(key, judgements=())


def test_the_topic_is_granted_and_documented():
    from provisioning.broker_config import render_acl
    from wire.topics import commissioning_topic

    assert commissioning_topic("cam-x") == "anpr/v1/cam-x/commissioning"
    acl = render_acl("anpr-central-ingest", ["cam-x"])
    assert "topic read anpr/v1/+/commissioning" in acl
    assert "topic write anpr/v1/cam-x/commissioning" in acl
    docs = Path(__file__).resolve().parent.parent / "docs"
    wire = (docs / "wire-format.md").read_text()
    assert "`anpr/v1/<camera_id>/commissioning`" in wire and "`snapshot_sha256`" in wire
    assert "### Commissioning on site" in (docs / "operations.md").read_text()


def test_damaged_reports_are_refused_never_crash():
    """Bad input at the boundary: every damaged payload is a WireError (a counted refusal at
    the central), never another exception."""
    import random

    from central.ingest.commissioning import admit_report
    from central.ingest.refusal import Refusal
    from wire import SigningKey
    from wire.commissioning import decode_commissioning, encode_commissioning
    from wire.errors import WireError

    key = SigningKey.generate()
    payload = encode_commissioning(_report(key), key)
    rng = random.Random(22)
    for _ in range(400):
        damaged = bytearray(payload)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            decode_commissioning(bytes(damaged)).verify(key.verify_key)
        except WireError:
            pass
        assert isinstance(admit_report(bytes(damaged), "test-cam-01", None), Refusal)


def test_reports_are_kept_as_signed_on_each_backend(store_location):
    """The plan's store keeps each report once, as signed, and checks it again on reading;
    on each backend of the central's stores (#21)."""
    from datetime import UTC, datetime, timedelta

    from central.cameras import CameraRegistry
    from central.plan.commissioning import CommissioningReports
    from wire import SigningKey
    from wire.commissioning import Judgement, decode_commissioning, encode_commissioning

    key = SigningKey.generate()
    first = _report(key)
    fail = Judgement("focus", "fail", "3 (Laplacian variance)")
    second = _report(key, report_id=first.report_id + 1, judgements=(fail,),
                     made_at=first.made_at + timedelta(hours=1))  # fmt: skip
    received = datetime(2026, 12, 6, 8, tzinfo=UTC)
    registry = CameraRegistry(store_location("cameras"))
    reports = CommissioningReports(store_location("plan"))
    try:
        registry.add("test-cam-01", key.verify_key, received)
        verified = [
            decode_commissioning(encode_commissioning(r, key)).verify(key.verify_key)
            for r in (first, second)
        ]
        assert reports.keep(verified[0], received) is True
        assert reports.keep(verified[0], received) is False, "a resent report is kept once"
        assert reports.keep(verified[1], received) is True
        kept = reports.history("test-cam-01", registry)
        assert [(k.verdict, k.signature_holds) for k in kept] == [("fail", True), ("warn", True)]
        assert kept[1].report == first and kept[0].received_at == "2026-12-06T08:00:00.000Z"
        assert reports.latest("test-cam-01").signature_holds is None, "no key to check it with"
        assert reports.snapshot("test-cam-01") == second.snapshot_jpeg
        assert reports.verdicts() == {"test-cam-01": "fail"}
        assert reports.history("other-cam-02") == [] and reports.snapshot("other-cam-02") is None
    finally:
        reports.close()
        registry.close()
