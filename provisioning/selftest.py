"""`anpr-provision selftest`: prove on site that the unit works, in a table readable in the sun.

Checks, each PASS or FAIL with its figure: the camera delivers frames at the configured
rate; recognition loads and reads the bundled test image correctly; the broker accepts the
unit's certificate; a signed test passage makes the round trip to the central and comes
back acknowledged under the central's key (the central never stores it); the unit's clock
is within 100 ms of the central's (from the acknowledgement's time).
"""

from __future__ import annotations

import queue
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from edge_agent.capture import Frame
from edge_agent.capture.folder import FolderSource, SourceError, load_bgr
from edge_agent.capture.opencv import OpenCVSource
from edge_agent.config import AgentConfig
from edge_agent.passages import OVERVIEW_QUALITY, PassageFactory, encode_jpeg
from node import wallclock
from node.keyfiles import load_seal_public_key, load_signing_key, load_verify_key
from node.tls import configure_tls
from recognition.recognizer import AnnotationRecognizer, FrameReader
from wire import WireError, decode_ack
from wire.topics import selftest_ack_topic, selftest_topic

# samples/replay/scene-000.jpg, shipped as package data (links in the checkout, files in an
# installed unit, where there is no samples/ folder).
TEST_IMAGE = Path(__file__).resolve().parent / "selftest_image" / "scene-000.jpg"
CLOCK_LIMIT_S = 0.100
FRAME_SAMPLE = 10


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


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
        return Check("recognition reads the test image", False, f"{type(exc).__name__}: {exc}")
    plates = [read.plate for read in reads]
    ok = expected in plates
    return Check("recognition reads the test image", ok, f"read {plates or 'nothing'}, "
                 f"expected {expected}")  # fmt: skip


def _client(config: AgentConfig) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"anpr-selftest-{config.camera.id}"
    )
    configure_tls(client, config.mqtt)
    return client


def check_round_trip(
    config: AgentConfig, reader: FrameReader, timeout: float = 10.0
) -> list[Check]:
    """Broker, round trip and clock, which all need the connection."""
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
        return [Check("broker accepts the unit's certificate", False, failed),
                Check("test passage round trip", False, "no broker"),
                Check("clock within 100 ms of the central", False, "no broker")]  # fmt: skip
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
                        f"{config.mqtt.host}:{config.mqtt.port}")]  # fmt: skip
        checks += _round_trip(config, reader, key, central_key, client, answers, timeout)
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
                      f"no answer within {timeout:.0f} s: {no_answer_hint(config.camera.id)}"),
                Check("clock within 100 ms of the central", False, "no answer")]  # fmt: skip
    try:
        ack = decode_ack(answer).verify(central_key).record
    except WireError as exc:
        return [Check("test passage round trip", False, f"answer not from the central: {exc}"),
                Check("clock within 100 ms of the central", False, "no valid answer")]  # fmt: skip
    ok = ack.seqs == (1,) and not ack.rejected
    trip = Check("test passage round trip", ok, f"{(received - sent) * 1000:.0f} ms, "
                 f"acknowledged={ok}{_refusal_detail(ack.rejected)}")  # fmt: skip
    offset = ack.issued_at.timestamp() - (sent + received) / 2
    # The ack's time is cut to milliseconds and taken somewhere between send and receipt.
    uncertainty = (received - sent) / 2
    clock = Check(
        "clock within 100 ms of the central",
        abs(offset) <= CLOCK_LIMIT_S + uncertainty,
        f"offset {offset * 1000:+.0f} ms (±{uncertainty * 1000:.0f} ms)",
    )
    return [trip, clock]


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


def run_selftest(
    config: AgentConfig, reader: FrameReader | None = None, timeout: float = 10.0
) -> list[Check]:
    if reader is None:
        from edge_agent.agent import make_recognizer

        reader = make_recognizer(config)
    return [
        check_source(config),
        check_recognition(reader),
        *check_round_trip(config, reader, timeout),
    ]


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'CHECK':<{width}}  RESULT  DETAIL"]
    lines += [f"{c.name:<{width}}  {'PASS' if c.passed else 'FAIL':<6}  {c.detail}" for c in checks]
    verdict = "ALL PASS" if all(c.passed for c in checks) else "FAILED: do not leave the unit"
    return "\n".join([*lines, "", verdict])
