"""`anpr-provision selftest`: commission a unit on site, in a table readable in the sun.

The checks run on the live view (#22): for a few seconds the configured camera's frames are
timed and read (`provisioning/commissioning.py`), and focus, exposure (day or night), the
plates read with their width in pixels and angle, and the frame rate reached are judged,
each PASS, WARN or FAIL with its figure and what to do. Then: recognition loads and reads
the bundled test image correctly (the models themselves); the broker accepts the unit's
certificate; a signed test passage makes the round trip to the central and comes back
acknowledged under the central's key (the central never stores it); the unit's clock is
within 100 ms of the central's (from the acknowledgement's time). Last, all of it goes to
the central as a commissioning report signed with the unit's key, with a small masked aim
snapshot (`wire/commissioning.py`); the central keeps it with the camera's plan entry,
shows it to the maintainer, and answers it under its own key.
"""

from __future__ import annotations

import io
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from PIL import Image

from edge_agent.capture import Frame
from edge_agent.capture.folder import FolderSource, SourceError, load_bgr
from edge_agent.capture.opencv import OpenCVSource
from edge_agent.config import AgentConfig
from edge_agent.passages import OVERVIEW_QUALITY, PassageFactory, encode_jpeg
from node import wallclock
from node.keyfiles import load_seal_public_key, load_signing_key, load_verify_key
from node.tls import configure_tls
from provisioning.commissioning import WINDOW_S, Judged, Sample, judge, sample_live
from recognition.recognizer import AnnotationRecognizer, FrameReader
from wire import WireError, decode_ack
from wire.commissioning import CommissioningReport, Judgement, encode_commissioning
from wire.fields import truncate_to_millis
from wire.topics import commissioning_topic, selftest_ack_topic, selftest_topic

# samples/replay/scene-000.jpg, shipped as package data (links in the checkout, files in an
# installed unit, where there is no samples/ folder).
TEST_IMAGE = Path(__file__).resolve().parent / "selftest_image" / "scene-000.jpg"
CLOCK_LIMIT_S = 0.100
FRAME_SAMPLE = 10
CLOCK_CHECK = "clock within 100 ms of the central"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    warn: bool = False  # passed, but the technician should act on the advice
    advice: str = ""
    key: str = ""  # the check's name in the commissioning report

    @property
    def result(self) -> str:
        return "FAIL" if not self.passed else "WARN" if self.warn else "PASS"

    @classmethod
    def of(cls, judged: Judged) -> Check:
        return cls(judged.title, judged.result != "fail", judged.figure, judged.result == "warn",
                   judged.advice, judged.key)  # fmt: skip


def check_source(config: AgentConfig) -> Check:
    try:
        if config.source.kind == "folder":
            source = FolderSource(config.source.path, config.source.fps, loop=True)
        elif config.source.kind == "picamera":
            from edge_agent.capture.picamera import PiCameraSource

            source = PiCameraSource((config.source.width, config.source.height), config.source.fps)
        else:
            source = OpenCVSource(config.source.uri, live=True, reconnect_max_s=1.0)
    except SourceError as exc:
        return Check("camera delivers frames", False, str(exc))
    started = time.monotonic()
    frames = 0
    deadline = started + 10
    for _ in source.frames():
        frames += 1
        if frames >= FRAME_SAMPLE or time.monotonic() > deadline:
            break
    if hasattr(source, "stop"):
        source.stop.set()
    if frames < 2:
        return Check("camera delivers frames", False, f"{frames} frame(s) in 10 s")
    rate = (frames - 1) / max(time.monotonic() - started, 1e-6)
    ok = rate >= 0.8 * config.source.fps
    return Check("camera delivers frames", ok, f"{rate:.1f} fps (configured {config.source.fps})")


def check_recognition(reader: FrameReader, image: Path = TEST_IMAGE) -> Check:
    expected = image.with_suffix(".txt").read_text().split("\t")[-1].strip()
    frame = Frame(load_bgr(image), wallclock.now(), image)
    try:
        reads = reader.read_frame(frame)
    except Exception as exc:  # any failure to load or run the models is a FAIL, not a crash
        return Check(
            "recognition reads the test image",
            False,
            f"{type(exc).__name__}: {exc}",
            key="recognition",
        )
    plates = [read.plate for read in reads]
    ok = expected in plates
    return Check("recognition reads the test image", ok, f"read {plates or 'nothing'}, "
                 f"expected {expected}", key="recognition")  # fmt: skip


def _client(config: AgentConfig) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"anpr-selftest-{config.camera.id}"
    )
    configure_tls(client, config.mqtt)
    return client


def check_round_trip(
    config: AgentConfig,
    reader: FrameReader,
    timeout: float = 10.0,
    report: Callable[[list[Check]], CommissioningReport] | None = None,
) -> list[Check]:
    """Broker, round trip and clock, which all need the connection; then, when `report`
    makes one from the checks so far, the commissioning report is sent and its answer
    awaited."""
    key = load_signing_key(config.keys.signing_key)
    central_key = load_verify_key(config.keys.central_public_key)
    answers: queue.Queue = queue.Queue()
    client = _client(config)
    client.on_message = lambda c, u, message: answers.put((wallclock.timestamp(), message.payload))
    try:
        client.connect(config.mqtt.host, config.mqtt.port, keepalive=30)
    except (OSError, ssl.SSLError) as exc:
        client._reset_sockets()
        failed = f"{config.mqtt.host}:{config.mqtt.port}: {exc}"
        checks = [Check("broker accepts the unit's certificate", False, failed, key="broker"),
                  Check("test passage round trip", False, "no broker", key="round_trip"),
                  Check(CLOCK_CHECK, False, "no broker", key="clock")]  # fmt: skip
        if report is not None:
            report(checks)  # made and signed all the same: the technician sees what it holds
            checks.append(Check(REPORT_CHECK, False, "not sent: no broker"))
        return checks
    client.loop_start()
    try:
        # A busy broker may take a moment to answer; wait up to 5 s for its CONNACK.
        deadline = time.monotonic() + 5
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        subscribed = threading.Event()
        client.on_subscribe = lambda *args: subscribed.set()
        client.subscribe(selftest_ack_topic(config.camera.id), qos=1)
        subscribed.wait(5)  # the answer's subscription is in place before the passage goes out
        checks = [Check("broker accepts the unit's certificate", client.is_connected(),
                        f"{config.mqtt.host}:{config.mqtt.port}", key="broker")]  # fmt: skip
        checks += _round_trip(config, reader, key, central_key, client, answers, timeout)
        if report is not None:
            checks.append(_send_report(report(checks), key, central_key, client, answers, timeout))
        return checks
    finally:
        client.disconnect()
        client.loop_stop()
        client._reset_sockets()


def _round_trip(config, reader, key, central_key, client, answers, timeout) -> list[Check]:
    frame = Frame(load_bgr(TEST_IMAGE), wallclock.now(), TEST_IMAGE)
    read = AnnotationRecognizer().read_frame(frame)[0]
    seal_to = (
        load_seal_public_key(config.keys.central_seal_public_key)
        if config.keys.central_seal_public_key
        else None
    )
    factory = PassageFactory(
        config.camera, key, reader.detector_version, reader.reader_version, seal_to
    )
    payload = factory.payload_builder(frame, read, encode_jpeg(frame.image, OVERVIEW_QUALITY))(1)
    sent = wallclock.timestamp()
    client.publish(selftest_topic(config.camera.id), payload, qos=1)
    try:
        received, answer = answers.get(timeout=timeout)
    except queue.Empty:
        return [Check("test passage round trip", False,
                      f"no answer within {timeout:.0f} s: {no_answer_hint(config.camera.id)}",
                      key="round_trip"),
                Check(CLOCK_CHECK, False, "no answer", key="clock")]  # fmt: skip
    try:
        ack = decode_ack(answer).verify(central_key).record
    except WireError as exc:
        return [Check("test passage round trip", False, f"answer not from the central: {exc}",
                      key="round_trip"),
                Check(CLOCK_CHECK, False, "no valid answer", key="clock")]  # fmt: skip
    ok = ack.seqs == (1,) and not ack.rejected
    trip = Check("test passage round trip", ok, f"{(received - sent) * 1000:.0f} ms, "
                 f"acknowledged={ok}{_refusal_detail(ack.rejected)}", key="round_trip")  # fmt: skip
    offset = ack.issued_at.timestamp() - (sent + received) / 2
    # The ack's time is cut to milliseconds and taken somewhere between send and receipt.
    uncertainty = (received - sent) / 2
    clock = Check(
        CLOCK_CHECK,
        abs(offset) <= CLOCK_LIMIT_S + uncertainty,
        f"offset {offset * 1000:+.0f} ms (±{uncertainty * 1000:.0f} ms)",
        key="clock",
    )
    return [trip, clock]


REPORT_CHECK = "commissioning report kept by the central"


def _send_report(
    report: CommissioningReport, key, central_key, client, answers, timeout: float
) -> Check:
    """Send the signed report; the central's signed answer names its id once it is kept."""
    client.publish(commissioning_topic(report.camera_id), encode_commissioning(report, key), qos=1)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            _, answer = answers.get(timeout=left)
            ack = decode_ack(answer).verify(central_key).record
        except queue.Empty:
            break
        except WireError:
            continue  # not the central's word: keep waiting for it
        if report.report_id in ack.seqs:
            return Check(REPORT_CHECK, True, f"report {report.report_id}, verdict "
                         f"{report.verdict.upper()}, kept with the plan entry")  # fmt: skip
    return Check(REPORT_CHECK, False, f"no answer within {timeout:.0f} s: "
                 f"{no_answer_hint(report.camera_id)}")  # fmt: skip


def make_report(
    config: AgentConfig, reader: FrameReader, sample: Sample, checks: list[Check]
) -> CommissioningReport:
    """The commissioning report of these checks, signed later with the unit's key."""
    key = load_signing_key(config.keys.signing_key)
    light = "unknown" if not sample.exposures else "night" if sample.night else "day"
    judgements = tuple(
        Judgement(c.key, c.result.lower(), wire_text(c.detail, 200), wire_text(c.advice, 400))
        for c in checks
        if c.key
    )
    return CommissioningReport(
        camera_id=config.camera.id,
        key_id=key.key_id,
        report_id=int(wallclock.timestamp() * 1000),
        made_at=truncate_to_millis(wallclock.now()),
        light=light,
        frames=min(sample.frames, 100_000),
        judgements=judgements,
        detector_version=reader.detector_version,
        reader_version=reader.reader_version,
        snapshot_jpeg=sample.snapshot or _no_picture(),
    )


# What the technician (or the maintainer they call) does about each refusal the central
# can answer with; the reasons are the central's stable rejection labels.
REFUSAL_HINTS = {
    "bad_signature": "the unit's signing key is not the one registered for this camera: "
    "register this unit's key (`anpr-central camera-add-key`) or restore the right key file",
    "bad_key": "the central holds no such key for this camera: register this unit's key "
    "(`anpr-central camera-add-key`), or the key was retired",
    "not_sealed": "set keys.central_seal_public_key to the central's seal.pub",
    "clock_skew": "the unit's clock is off: check time sync (chrony) before going live",
    "image_digest_mismatch": "the images do not match their digests: reinstall the agent",
    "malformed": "the agent and the central do not speak the same format: update the agent",
    "unknown_version": "the agent is newer or older than the central accepts: update it",
    "oversized": "the record is larger than the central accepts: lower image quality",
}


def no_answer_hint(camera_id: str) -> str:
    """The central answers only records it can verify (a refusal names a sequence number
    only once the camera's signature holds), so silence is the usual sign of a camera that
    is not registered, a unit whose key is not the registered one, or a stopped central."""
    return (
        f"is camera {camera_id} registered at the central with this unit's key? (the "
        f"maintainer runs `anpr-central camera-list`; a replaced unit's key is added with "
        f"`anpr-central camera-add-key`; each refused record is in the central's log as "
        f"`ingest: rejected ... camera={camera_id} reason=...`); otherwise the central's "
        "ingest is not running"
    )


def _refusal_detail(rejected) -> str:
    return "".join(
        f"; refused: {r.reason}: {REFUSAL_HINTS.get(r.reason, 'see the central log')}"
        for r in rejected
    )


def wire_text(text: str, limit: int) -> str:
    """Text as a wire string allows it: printable ASCII without quotes or backslashes."""
    text = text.replace("±", "+/-").replace('"', "'").replace("\\", "/")
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _no_picture() -> bytes:
    """The snapshot of a report whose camera gave no frame: a small grey picture."""
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (128, 128, 128)).save(out, format="JPEG")
    return out.getvalue()


def run_selftest(
    config: AgentConfig,
    reader: FrameReader | None = None,
    timeout: float = 10.0,
    window_s: float = WINDOW_S,
) -> list[Check]:
    if reader is None:
        from edge_agent.agent import make_recognizer

        reader = make_recognizer(config)
    sample = sample_live(config, reader, window_s)
    live = [Check.of(judged) for judged in judge(sample, config.source.fps)]
    checks = [*live, check_recognition(reader)]

    def report(connected: list[Check]) -> CommissioningReport:
        return make_report(config, reader, sample, [*checks, *connected])

    return [*checks, *check_round_trip(config, reader, timeout, report)]


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'CHECK':<{width}}  RESULT  DETAIL"]
    for c in checks:
        lines.append(f"{c.name:<{width}}  {c.result:<6}  {c.detail}")
        if c.advice and c.result != "PASS":
            lines.append(f"{'':<{width}}  {'':<6}  -> {c.advice}")
    if not all(c.passed for c in checks):
        verdict = "FAILED: do not leave the unit"
    elif any(c.warn for c in checks):
        verdict = "PASS WITH WARNINGS: follow the advice above, then test again"
    else:
        verdict = "ALL PASS"
    return "\n".join([*lines, "", verdict])
