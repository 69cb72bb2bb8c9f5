"""The agent's configuration: one TOML file, validated once at start-up.

Every field has a default, bounds and a description; unknown keys are refused so that a
technician's typo ("fsp = 5") fails loudly instead of being ignored on the roadside.
Private keys are never inside the file: it names where they are (a systemd credential).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from edge_agent.purposes import PurposesConfig, TrafficResearchConfig
from node.config_file import ConfigError as ConfigError  # callers catch it from here
from node.config_file import Section as _Section
from node.config_file import path_resolver, read_toml, validate
from node.tls import MqttTransport
from wire.fields import CAMERA_ID, DIRECTIONS


class CameraConfig(_Section):
    id: str = Field(description="Camera id as registered in the camera plan, e.g. 'a12-hm34-n-1'")
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude of the camera, degrees")
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude of the camera, degrees")
    direction: str = Field(description="Travel direction of the watched lane: N, NE, ... NW")
    lane: int = Field(default=0, ge=0, le=16, description="Lane number, 0 when unknown")

    @field_validator("id")
    @classmethod
    def _camera_id(cls, value: str) -> str:
        if not CAMERA_ID.fullmatch(value):
            raise ValueError("lower-case letters, digits and '-', 3 to 64 characters")
        return value

    @field_validator("direction")
    @classmethod
    def _direction(cls, value: str) -> str:
        if value not in DIRECTIONS:
            raise ValueError(f"must be one of {', '.join(DIRECTIONS)}")
        return value


class KeysConfig(_Section):
    signing_key: Path = Field(description="PEM Ed25519 private key of this camera")
    central_public_key: Path = Field(description="Base64 public key that signs the central's acks")
    release_public_key: Path | None = Field(
        default=None, description="Base64 public key that signs change bundles"
    )
    central_seal_public_key: Path | None = Field(
        default=None,
        description="Base64 X25519 key of the central: records are sealed to it in the spool",
    )
    research_key: Path | None = Field(
        default=None,
        description="PEM X25519 private key of this unit (anpr-provision research-key): opens "
        "the research day keys sealed to it",
    )
    research_service_public_key: Path | None = Field(
        default=None, description="Base64 Ed25519 key of the research service: signs day keys"
    )


class FolderSourceConfig(_Section):
    kind: Literal["folder"] = "folder"
    path: Path = Field(description="Folder of JPEG/PNG images replayed in name order")
    fps: float = Field(default=2.0, gt=0, le=120, description="Replay rate, frames per second")
    loop: bool = Field(default=False, description="Start again after the last image")


class CameraSourceConfig(_Section):
    kind: Literal["opencv"] = "opencv"
    uri: str = Field(
        description="Device index ('0'), rtsp://..., a video file, or 'gst:' + a GStreamer "
        "pipeline (Jetson CSI)"
    )
    live: bool = Field(
        default=True, description="A camera (drops frames when busy); false for a video file"
    )
    reconnect_max_s: float = Field(
        default=30.0, gt=0, le=3600, description="Longest wait between reopening attempts"
    )
    fps: float = Field(
        default=25.0, gt=0, le=240, description="Frame rate the camera is set to deliver"
    )


class PiCameraSourceConfig(_Section):
    kind: Literal["picamera"] = "picamera"
    width: int = Field(default=1280, ge=160, le=4608, description="Frame width, pixels")
    height: int = Field(default=720, ge=120, le=3496, description="Frame height, pixels")
    fps: float = Field(default=25.0, gt=0, le=120, description="Frame rate")


def _source_kind(value) -> str:
    if isinstance(value, dict):
        return value.get("kind", "folder")
    return getattr(value, "kind", "folder")


SourceConfig = Annotated[
    Annotated[FolderSourceConfig, Tag("folder")]
    | Annotated[CameraSourceConfig, Tag("opencv")]
    | Annotated[PiCameraSourceConfig, Tag("picamera")],
    Discriminator(_source_kind),
]


class RecognizerConfig(_Section):
    kind: Literal["onnx", "annotations"] = Field(
        default="onnx",
        description="'onnx': the shipped plate detector and reader; 'annotations': the plate "
        "boxes and texts from the sidecar .txt file beside each replayed image (ground-truth "
        "replay, for demos and pipeline tests)",
    )
    threads: int = Field(default=1, ge=1, le=16, description="CPU threads per model")
    min_confidence: float = Field(
        default=0.15, ge=0, le=1, description="Reads below this confidence are not reported"
    )
    close_up_retry: bool = Field(
        default=True,
        description="A frame without any read is searched again drawn at half size, for "
        "plates too large for the detector (close-ups); costs one more detector run on "
        "such frames",
    )
    tile_large_frames: bool = Field(
        default=False,
        description="A frame wider than about 2,100 px (4K cameras) without any read is "
        "searched again in overlapping tiles at twice the detail, for plates too small at "
        "the detector's input; 1280x720 and 1920x1080 frames are never tiled. Off by "
        "default: an empty 4K frame then costs about 190 ms on one core of the development "
        "machine (0.6 s on a Pi 5), too slow for live 25 fps",
    )
    weak_boxes: bool = Field(
        default=False,
        description="Boxes the detector scores between 0.2 and its threshold are read too "
        "and kept where the read is at least 0.97 sure: plates of layouts the detector was "
        "not taught (on photos +1.6 points of exact reads, +0.016 false reads each); costs "
        "about a fifth more per frame with a vehicle, and on live traffic the vote across "
        "frames already finds those plates, so off by default",
    )
    countries: tuple[str, ...] = Field(
        default=(),
        description="Countries whose plates this camera expects (ISO codes); reads fitting "
        "none of their layouts are kept only when the reader is very sure. Empty: all",
    )


class PipelineConfig(_Section):
    frame_queue: int = Field(
        default=4, ge=1, le=256, description="Frames waiting for recognition; beyond, drop"
    )


class MotionConfig(_Section):
    gate: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Skip the detector on frames where nothing moved beyond noise "
        "(edge_agent/motion.py). 'auto': on for cameras and video files (opencv, picamera: "
        "consecutive frames of one view), off for folder replays (often unrelated still "
        "images, where a frame difference means nothing)",
    )
    threshold: float = Field(
        default=12.0,
        gt=0,
        le=255,
        description="Grey levels a thumbnail cell must change by (above the frame's median "
        "change) to count as moved",
    )
    noise_factor: float = Field(
        default=5.0,
        ge=0,
        le=50,
        description="... and at least this many times the frame's own noise (the spread of "
        "its cells' changes): a night infrared camera's noise does not wake the gate",
    )
    min_cells: int = Field(
        default=6,
        ge=1,
        le=10_000,
        description="Changed cells (of about 160 x 90) that make a frame worth searching",
    )
    full_frame_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="A frame is searched at least this often, moved or not (a stopped or "
        "creeping vehicle); must be shorter than tracking.track_timeout_s",
    )
    close_up_extent: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="On a moved frame without a read, the close-up retry (recognizer."
        "close_up_retry) runs only when the moved area spans at least this share of the "
        "frame's width (a close-up plate is a third of the frame wide; 0: always)",
    )


class TrackingConfig(_Section):
    track_timeout_s: float = Field(
        default=1.5, gt=0, le=60, description="A vehicle unseen this long has left the view"
    )
    repeat_gap_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="The same plate again within this gap is the same vehicle, not a new passage",
    )


class PrivacyConfig(_Section):
    masks: tuple[tuple[tuple[int, int], ...], ...] = Field(
        default=(),
        description="Polygons over non-public places, in image pixels: [[[x, y], ...], ...]; "
        "burnt into every frame before anything leaves the unit",
    )

    blur_cabins: bool = Field(
        default=False,
        description="Blur the region above each plate (the cabin) in the overview, where the "
        "camera's owner demands it; the central blurs persons at hand-out anyway",
    )

    @field_validator("masks")
    @classmethod
    def _polygons(cls, masks):
        for index, polygon in enumerate(masks):
            if len(polygon) < 3:
                raise ValueError(f"mask {index} needs at least 3 points")
            if any(x < 0 or y < 0 for x, y in polygon):
                raise ValueError(f"mask {index} has negative coordinates")
        return masks


class MqttConfig(MqttTransport):
    reconnect_max_s: int = Field(default=60, ge=1, le=3600, description="Longest reconnect wait")


class SpoolConfig(_Section):
    path: Path = Field(description="SQLite file holding records until the central acknowledges")
    max_inflight: int = Field(
        default=256, ge=1, le=1000, description="Records sent but not yet acknowledged"
    )
    ack_timeout_s: float = Field(
        default=20.0, gt=0, le=3600, description="Resend a record not acknowledged in this time"
    )
    max_backoff_s: float = Field(
        default=300.0, gt=0, le=86400, description="Longest wait between resends of one record"
    )
    max_records: int = Field(
        default=2_000_000,
        ge=100,
        le=100_000_000,
        description="When full, the oldest record is destroyed (counted, reported)",
    )


class HeartbeatConfig(_Section):
    interval_s: float = Field(default=30.0, gt=0, le=3600, description="Seconds between heartbeats")


class HotlistConfig(_Section):
    path: Path | None = Field(
        default=None,
        description="The central's hotlist for this unit as keyed hashes (hotlist-unit-export); "
        "reread when replaced. None: no matching on the unit",
    )
    key_file: Path | None = Field(
        default=None, description="This unit's hashing key (hotlist-unit-key), mode 0600"
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> HotlistConfig:
        if (self.path is None) != (self.key_file is None):
            raise ValueError("hotlist.path and hotlist.key_file go together")
        return self


class MetricsConfig(_Section):
    textfile: Path | None = Field(
        default=None,
        description="Write the agent's figures here for node_exporter's textfile collector "
        "(a *.prom file in its --collector.textfile.directory), every heartbeat.interval_s; "
        "off by default: no file, no port",
    )


class AgentConfig(_Section):
    camera: CameraConfig
    keys: KeysConfig
    source: SourceConfig
    recognizer: RecognizerConfig = RecognizerConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    tracking: TrackingConfig = TrackingConfig()
    motion: MotionConfig = MotionConfig()
    pipeline: PipelineConfig = PipelineConfig()
    mqtt: MqttConfig = MqttConfig()
    spool: SpoolConfig
    heartbeat: HeartbeatConfig = HeartbeatConfig()
    hotlist: HotlistConfig = HotlistConfig()
    purposes: PurposesConfig = PurposesConfig()
    metrics: MetricsConfig = MetricsConfig()

    @model_validator(mode="after")
    def _purposes_fit(self) -> AgentConfig:
        if self.hotlist.path is not None and not self.purposes.hotlist:
            raise ValueError("hotlist.path is set but purposes.hotlist is false: remove one")
        keys = (self.keys.research_key, self.keys.research_service_public_key)
        if self.purposes.traffic_research is not None and None in keys:
            raise ValueError(
                "purposes.traffic_research needs keys.research_key and "
                "keys.research_service_public_key"
            )
        if self.motion_gated and self.motion.full_frame_s >= self.tracking.track_timeout_s:
            raise ValueError(
                "motion.full_frame_s must be shorter than tracking.track_timeout_s: a stopped "
                "vehicle's track would end between two full frames"
            )
        return self

    @property
    def motion_gated(self) -> bool:
        """Whether the motion gate runs: 'auto' means for camera sources, not folder replays."""
        if self.motion.gate == "auto":
            return self.source.kind != "folder"
        return self.motion.gate == "on"

    @property
    def research_dir(self) -> Path:
        """Where the unit keeps its day keys and research queue."""
        research = self.purposes.traffic_research
        if research is not None and research.state_dir is not None:
            return research.state_dir
        return self.spool.path.parent / "research"


def load_config(path: Path) -> AgentConfig:
    """Read and validate the agent's TOML; relative paths are taken from the file's folder."""
    config = validate(AgentConfig, read_toml(path, "agent config"), str(path))
    return _resolve_paths(config, path.parent)


def _resolve_paths(config: AgentConfig, base: Path) -> AgentConfig:
    resolve = path_resolver(base)
    return config.model_copy(
        update={
            "keys": config.keys.model_copy(
                update={
                    "signing_key": resolve(config.keys.signing_key),
                    "central_public_key": resolve(config.keys.central_public_key),
                    "release_public_key": (
                        resolve(config.keys.release_public_key)
                        if config.keys.release_public_key
                        else None
                    ),
                    "central_seal_public_key": _maybe(resolve, config.keys.central_seal_public_key),
                    "research_key": _maybe(resolve, config.keys.research_key),
                    "research_service_public_key": _maybe(
                        resolve, config.keys.research_service_public_key
                    ),
                }
            ),
            "source": (
                config.source.model_copy(update={"path": resolve(config.source.path)})
                if config.source.kind == "folder"
                else config.source
            ),
            "spool": config.spool.model_copy(update={"path": resolve(config.spool.path)}),
            "mqtt": config.mqtt.with_resolved_files(resolve),
            "hotlist": HotlistConfig(
                path=resolve(config.hotlist.path) if config.hotlist.path else None,
                key_file=resolve(config.hotlist.key_file) if config.hotlist.key_file else None,
            ),
            "purposes": _resolve_research(config.purposes, resolve),
            "metrics": MetricsConfig(textfile=_maybe(resolve, config.metrics.textfile)),
        }
    )


def _maybe(resolve, value: Path | None) -> Path | None:
    return resolve(value) if value is not None else None


def _resolve_research(purposes: PurposesConfig, resolve) -> PurposesConfig:
    research = purposes.traffic_research
    if research is None or research.state_dir is None:
        return purposes
    resolved: TrafficResearchConfig = research.model_copy(
        update={"state_dir": resolve(research.state_dir)}
    )
    return purposes.model_copy(update={"traffic_research": resolved})
