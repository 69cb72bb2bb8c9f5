"""The agent's main loop: frames in, signed passages into the spool, spool out over MQTT.

Frames are masked (privacy), read, and tracked; each vehicle whose track ends becomes one
signed passage in the spool, if the camera serves a police purpose (hotlist, 28-day store),
and one pseudonymised research sighting, if it serves traffic research (`research.py`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace

from edge_agent.capture import Frame, FrameSource
from edge_agent.capture.folder import FolderSource
from edge_agent.capture.opencv import OpenCVSource
from edge_agent.config import AgentConfig
from edge_agent.heartbeat import HeartbeatBuilder, HeartbeatFigures
from edge_agent.metrics import write_textfile
from edge_agent.motion import MotionGatedReader, MotionSettings
from edge_agent.passages import OVERVIEW_QUALITY, PassageFactory, encode_jpeg
from edge_agent.privacy import blur_cabins, box_is_masked, burn_masks
from edge_agent.publisher import Publisher
from edge_agent.releases import (
    health_mark_path,
    last_update_failed,
    running_release,
    write_health_mark,
)
from edge_agent.research import ResearchEmitter
from edge_agent.research_keys import DayKeyRing
from edge_agent.research_queue import ResearchQueue
from edge_agent.spool import Spool
from edge_agent.tracker import Tracker, Vehicle
from edge_agent.watchdog import Watchdog
from node import wallclock
from node.keyfiles import load_seal_public_key, load_sealing_key, load_signing_key, load_verify_key
from recognition.plate_formats import countries_matching
from recognition.plate_rules import apply_plate_rules
from recognition.recognizer import AnnotationRecognizer, FrameReader, Read
from wire import SigningKey

log = logging.getLogger(__name__)
_END = object()  # the source has no more frames
SPOOL_MAX_AGE_S = 28 * 86400  # art. 126jj Sv: nothing is kept longer, on the unit either


@dataclass
class AgentStats:
    frames: int = 0
    reads: int = 0
    passages: int = 0
    frames_failed: int = 0
    frames_dropped: int = 0
    reads_masked: int = 0
    reads_off_format: int = 0
    records_expired: int = 0
    confidence_sum: float = 0.0
    reads_fitting_layout: int = 0
    sightings: int = 0
    frames_still: int = 0  # skipped by the motion gate: nothing moved
    repeats_merged: int = 0  # tracks of a plate already passed within the repeat gap
    tracks_cut_only: int = 0  # tracks whose plate was only seen cut by the frame's edge
    tracks_stitched: int = 0  # short tracks joined to the longer track of the same plate


def make_recognizer(config: AgentConfig) -> FrameReader:
    if config.recognizer.kind == "annotations":
        return AnnotationRecognizer()
    from recognition.recognizer import Recognizer, RecognizerSettings

    settings = RecognizerSettings(
        threads=config.recognizer.threads,
        min_confidence=config.recognizer.min_confidence,
        close_up_zoom=0.5 if config.recognizer.close_up_retry else 0.0,
        tile_detail=2.0 if config.recognizer.tile_large_frames else 0.0,
        weak_box_score=0.2 if config.recognizer.weak_boxes else 0.0,
    )
    return Recognizer.default(settings)


def gated(reader: FrameReader, config: AgentConfig) -> FrameReader:
    """The reader behind the motion gate, where the config turns it on (`motion.gate`)."""
    if not config.motion_gated:
        return reader
    motion = config.motion
    settings = MotionSettings(
        threshold=motion.threshold,
        noise_factor=motion.noise_factor,
        min_cells=motion.min_cells,
        full_frame_s=motion.full_frame_s,
        close_up_extent=motion.close_up_extent,
    )
    return MotionGatedReader(reader, settings)


def make_source(config: AgentConfig, stop: threading.Event) -> FrameSource:
    source = config.source
    if source.kind == "folder":
        return FolderSource(source.path, source.fps, source.loop, stop=stop)
    if source.kind == "picamera":
        from edge_agent.capture.picamera import PiCameraSource

        return PiCameraSource((source.width, source.height), source.fps, stop=stop)
    return OpenCVSource(source.uri, source.live, source.reconnect_max_s, stop=stop)


def make_research(
    config: AgentConfig, key: SigningKey, publisher: Publisher
) -> ResearchEmitter | None:
    """Traffic research, where configured: the day-key ring, the durable batch queue and the
    emitter, wired to the publisher (batches out, day keys in)."""
    research = config.purposes.traffic_research
    if research is None:
        return None
    assert config.keys.research_key and config.keys.research_service_public_key  # config checks
    ring = DayKeyRing(
        config.research_dir,
        config.camera.id,
        research.area,
        load_sealing_key(config.keys.research_key),
        load_verify_key(config.keys.research_service_public_key),
    )
    queue = ResearchQueue(config.research_dir / "queue.sqlite", research.max_queued_batches)
    publisher.research = queue
    publisher.on_research_keys = ring.receive
    return ResearchEmitter(config.camera.id, config.camera.direction, research, ring, queue, key)


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        recognizer: FrameReader | None = None,
        source: FrameSource | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.stop_event = stop or threading.Event()
        self.key = load_signing_key(config.keys.signing_key)
        central_key = load_verify_key(config.keys.central_public_key)
        self.recognizer = gated(recognizer or make_recognizer(config), config)
        self.source = source or make_source(config, self.stop_event)
        self.spool = Spool(
            config.spool.path,
            config.spool.ack_timeout_s,
            config.spool.max_backoff_s,
            max_records=config.spool.max_records,
        )
        self.publisher = Publisher(
            config.camera.id, self.spool, central_key, config.mqtt, config.spool.max_inflight
        )
        self.factory = PassageFactory(
            config.camera,
            self.key,
            self.recognizer.detector_version,
            self.recognizer.reader_version,
            load_seal_public_key(config.keys.central_seal_public_key)
            if config.keys.central_seal_public_key
            else None,
        )
        self.heartbeats = HeartbeatBuilder(config.camera.id, self.key, self.spool)
        self.tracker = Tracker(config.tracking.track_timeout_s, config.tracking.repeat_gap_s)
        self.stats = AgentStats()
        self._next_heartbeat = 0.0
        self._next_expiry = 0.0
        self._next_metrics = 0.0
        self.release = running_release()
        self.update_failed = last_update_failed()  # a rollback restarts the agent: read once
        self._health_marked = False  # the first heartbeat through the broker confirms a release
        self.watchdog = Watchdog()
        self.research = make_research(config, self.key, self.publisher)
        self.local_hotlist = None
        if config.hotlist.path is not None and config.hotlist.key_file is not None:
            from edge_agent.unit_hotlist import LocalHotlist

            self.local_hotlist = LocalHotlist(
                config.hotlist.path, config.hotlist.key_file, config.camera.id, central_key
            )
            self.publisher.on_hotlist = self.local_hotlist.receive

    def run(self, exit_when_drained: bool = False) -> None:
        """Capture until the source ends or stop is set; then keep delivering the spool."""
        purposes = self.config.purposes
        log.info(
            "agent: release %s camera=%s key_id=%s spool=%s (%d waiting); purposes: hotlist=%s "
            "store=%s traffic_research=%s",
            self.release,
            self.config.camera.id,
            self.key.key_id,
            self.config.spool.path,
            self.spool.depth(),
            purposes.hotlist,
            purposes.store,
            purposes.traffic_research.area if purposes.traffic_research else "off",
        )
        self.publisher.start()
        self.watchdog.ready()
        frames: queue.Queue = queue.Queue(maxsize=self.config.pipeline.frame_queue)
        capture = threading.Thread(target=self._capture, args=(frames,), name="capture")
        capture.start()
        try:
            while not self.stop_event.is_set():
                try:
                    frame = frames.get(timeout=0.2)
                except queue.Empty:
                    self._maybe_heartbeat()
                    continue
                if frame is _END:
                    break
                self._process(frame)
                self._maybe_heartbeat()
            self._record(self.tracker.flush())
            if self.research is not None:
                self.research.flush()
                self.publisher.wake()
            log.info(
                "agent: source finished after %d frame(s), %d dropped",
                self.stats.frames,
                self.stats.frames_dropped,
            )
            while not self.stop_event.is_set():
                self._maybe_heartbeat()
                if exit_when_drained and self._drained():
                    log.info("agent: spool drained, exiting")
                    break
                self.stop_event.wait(0.2)
        finally:
            self.watchdog.stopping()
            self.stop_event.set()
            capture.join(timeout=5)
            if self.research is not None:
                self.research.flush()  # queued, so a restart sends it
            self._write_metrics(force=True)  # the last figures, not those of a minute ago
            self.publisher.stop()
            self.spool.close()
            if self.research is not None:
                self.research.queue.close()

    def _drained(self) -> bool:
        research = self.research
        return self.spool.depth() == 0 and (research is None or research.queue.depth() == 0)

    def _capture(self, frames: queue.Queue) -> None:
        """Feed frames to the pipeline. A live camera never waits: when the pipeline is
        behind, the frame is dropped and counted. A replay waits, so that none is lost."""
        live = getattr(self.source, "live", True)
        try:
            for frame in self.source.frames():
                if live:
                    try:
                        frames.put_nowait(frame)
                    except queue.Full:
                        self.stats.frames_dropped += 1
                    continue
                while not self.stop_event.is_set():
                    try:
                        frames.put(frame, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self.stop_event.is_set():
                    return
        finally:
            self._put_end(frames)

    def _put_end(self, frames: queue.Queue) -> None:
        while not self.stop_event.is_set():
            try:
                frames.put(_END, timeout=0.2)
                break
            except queue.Full:
                continue

    def _process(self, frame: Frame) -> None:
        self.stats.frames += 1
        masks = self.config.privacy.masks
        # Masks are burnt in first: nothing downstream ever sees a non-public place.
        frame = replace(frame, image=burn_masks(frame.image, masks))
        try:
            reads = self.recognizer.read_frame(frame)
        except ValueError as exc:
            self.stats.frames_failed += 1
            log.error("agent: frame %s not recognised: %s", frame.origin, exc)
            return
        if isinstance(self.recognizer, MotionGatedReader):
            self.stats.frames_still = self.recognizer.skipped
        kept = [read for read in reads if not box_is_masked(read.box, masks)]
        self.stats.reads_masked += len(reads) - len(kept)
        kept, off_format = apply_plate_rules(kept, self.config.recognizer.countries)
        self.stats.reads_off_format += off_format
        self.stats.reads += len(kept)
        self.stats.confidence_sum += sum(read.confidence for read in kept)
        self.stats.reads_fitting_layout += sum(bool(countries_matching(r.plate)) for r in kept)
        self._record(self.tracker.update(frame, kept))

    def _record(self, vehicles: list[Vehicle]) -> None:
        """Per vehicle: one passage (police purposes) and one research sighting (research)."""
        self.stats.repeats_merged = self.tracker.merged_repeats
        self.stats.tracks_cut_only = self.tracker.cut_dropped
        self.stats.tracks_stitched = self.tracker.stitched
        for vehicle in vehicles:
            if self.research is not None and self.research.sight(
                vehicle.plate, vehicle.best.frame.captured_at
            ):
                self.stats.sightings += 1
            if self.config.purposes.emits_passages:
                self._passage(vehicle)
        if vehicles:
            self.publisher.wake()

    def _passage(self, vehicle: Vehicle) -> None:
        """The voted plate with its sharpest observation, signed into the spool."""
        best = vehicle.best
        read = Read(
            vehicle.plate,
            vehicle.confidence,
            vehicle.char_confidences,
            best.read.box,
            vehicle.country,
        )
        image = best.frame.image
        if self.config.privacy.blur_cabins:
            image = blur_cabins(image, [best.read.box])
        overview = encode_jpeg(image, OVERVIEW_QUALITY)
        seq = self.spool.append(self.factory.payload_builder(best.frame, read, overview))
        self.stats.passages += 1
        if self.local_hotlist is not None:  # alerts even while the link is down
            self.local_hotlist.check(seq, read.plate, read.country, wallclock.now())
        # No plate in the log: logs outlive the 28 days that plates may be kept. DEBUG, not
        # INFO: a line per passage wears a unit's SD card; the counters say how many.
        log.debug(
            "passage: seq=%d spooled (%d chars, %d observations)",
            seq, len(vehicle.plate), vehicle.observations,
        )  # fmt: skip

    def _tick(self) -> None:
        self.watchdog.pet()
        self._expire_spool()
        self._write_metrics()
        if self.research is not None and self.research.tick():
            self.publisher.wake()

    def _write_metrics(self, force: bool = False) -> None:
        """The unit's figures for node_exporter, every heartbeat interval, online or not."""
        path = self.config.metrics.textfile
        now = time.monotonic()
        if path is None or (now < self._next_metrics and not force):
            return
        self._next_metrics = now + self.config.heartbeat.interval_s
        write_textfile(path, self)

    def _expire_spool(self) -> None:
        now = time.monotonic()
        if now < self._next_expiry:
            return
        self._next_expiry = now + 60
        self.stats.records_expired += self.spool.expire(SPOOL_MAX_AGE_S)

    def _maybe_heartbeat(self) -> None:
        """Send a heartbeat when one is due; while offline, the first one after connecting."""
        self._tick()
        now = time.monotonic()
        if now < self._next_heartbeat or not self.publisher.connected:
            return
        payload = self.heartbeats.build(
            source_ok=getattr(self.source, "healthy", True),
            frames_captured=self.stats.frames,
            frames_dropped=self.stats.frames_dropped + self.stats.frames_failed,
            figures=HeartbeatFigures(
                reads=self.stats.reads,
                confidence_sum=self.stats.confidence_sum,
                reads_fitting_layout=self.stats.reads_fitting_layout,
                reads_masked=self.stats.reads_masked,
                records_expired=self.stats.records_expired,
                detector_version=self.recognizer.detector_version,
                reader_version=self.recognizer.reader_version,
                research=self.research.status() if self.research is not None else None,
            ),
        )
        if self.publisher.publish_heartbeat(payload):
            self._next_heartbeat = now + self.config.heartbeat.interval_s
            if not self._health_marked:  # config, keys, models loaded and the broker reached
                self._health_marked = True
                mark = health_mark_path(self.config.spool.path, self.config.camera.id)
                write_health_mark(mark, self.config.camera.id, self.release)
