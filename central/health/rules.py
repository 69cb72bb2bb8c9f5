"""How a camera's state follows from its latest heartbeat: pure functions, tested alone.

OFFLINE: no heartbeat for `offline_after_s`. DEGRADED: the unit reports a problem (camera
source down, frames dropped, records backing up in its spool), its clock is off by more
than the limit (heartbeat time against the central's receipt time), its reads in the last
hour were of low confidence, or it delivered far fewer passages than usual for that hour of
the week. Otherwise OK.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime

from central.health.records import Traffic
from wire.fields import TIMESTAMP


class State(enum.IntEnum):
    """Ordered worst last, so that sorting by state descending puts trouble first."""

    OK = 0
    DEGRADED = 1
    OFFLINE = 2


@dataclass(frozen=True)
class Limits:
    """The defaults here are the config's defaults too (`[health]` in central.toml)."""

    offline_after_s: float = 120.0
    clock_offset_s: float = 1.0
    spool_age_s: int = 300
    drop_rate: float = 0.05
    min_mean_confidence: float = 0.80
    traffic_floor: float = 0.25
    traffic_min_usual: int = 20
    disk_free_mb: int = 500
    cpu_temp_c: float = 85.0


@dataclass(frozen=True)
class Assessment:
    state: State
    reasons: tuple[str, ...]
    figures: dict


def _parse(text: str) -> datetime:
    if not TIMESTAMP.fullmatch(text):
        raise ValueError(f"not a wire time: {text!r}")
    return datetime.fromisoformat(text)


def assess(
    heartbeat: dict | None,
    now: datetime,
    limits: Limits = Limits(),
    traffic: Traffic | None = None,
) -> Assessment:
    """`heartbeat` is the latest recorded: {"sent_at", "received_at", "record"}."""
    if heartbeat is None:
        return Assessment(State.OFFLINE, ("no heartbeat ever received",), {})
    received = _parse(heartbeat["received_at"])
    record = json.loads(heartbeat["record"])
    offset = (_parse(heartbeat["sent_at"]) - received).total_seconds()
    silence = (now - received).total_seconds()
    figures = {
        "last_heartbeat_s_ago": round(silence, 1),
        "clock_offset_s": round(offset, 3),
        "spool_depth": record.get("spool_depth", 0),
        "spool_oldest_age_s": record.get("spool_oldest_age_s", 0),
        "frames_captured": record.get("frames_captured", 0),
        "frames_dropped": record.get("frames_dropped", 0),
        "source_ok": record.get("source_ok", False),
        "agent_version": record.get("agent_version", ""),
        "fps": record.get("fps_milli", 0) / 1000,
        "reads_per_min": record.get("reads_per_min", 0),
        "layout_match": record.get("layout_match_pm", -1) / 1000
        if record.get("layout_match_pm", -1) >= 0
        else None,
        "disk_free_mb": record.get("disk_free_mb", -1),
        "cpu_temp_c": record.get("cpu_temp_mc", -1) / 1000
        if record.get("cpu_temp_mc", -1) >= 0
        else None,
        "clock_sync": record.get("clock_sync", "unknown"),
    }
    if silence > limits.offline_after_s:
        return Assessment(State.OFFLINE, (f"no heartbeat for {silence:.0f} s",), figures)
    reasons = []
    if not figures["source_ok"]:
        reasons.append("camera source not delivering frames")
    if abs(offset) > limits.clock_offset_s:
        reasons.append(f"clock off by {offset:+.1f} s")
    if figures["spool_oldest_age_s"] > limits.spool_age_s:
        reasons.append(
            f"spool backing up: {figures['spool_depth']} records, oldest "
            f"{figures['spool_oldest_age_s']} s"
        )
    if figures["clock_sync"] == "unsynced":
        reasons.append("clock not synchronised (NTP)")
    if 0 <= figures["disk_free_mb"] < limits.disk_free_mb:
        reasons.append(f"disk nearly full: {figures['disk_free_mb']} MB free")
    if figures["cpu_temp_c"] is not None and figures["cpu_temp_c"] > limits.cpu_temp_c:
        reasons.append(f"CPU at {figures['cpu_temp_c']:.0f} °C")
    captured = figures["frames_captured"]
    if captured and figures["frames_dropped"] / captured > limits.drop_rate:
        reasons.append(f"{figures['frames_dropped']} of {captured} frames dropped")
    if traffic is not None:
        reasons += _traffic_reasons(traffic, limits, figures)
    return Assessment(State.DEGRADED if reasons else State.OK, tuple(reasons), figures)


def _traffic_reasons(traffic: Traffic, limits: Limits, figures: dict) -> list[str]:
    figures["passages_last_hour"] = traffic.passages
    figures["usual_passages"] = traffic.usual
    reasons = []
    if traffic.mean_confidence is not None and traffic.mean_confidence < limits.min_mean_confidence:
        reasons.append(f"read quality down: mean confidence {traffic.mean_confidence:.2f}")
    usual = traffic.usual
    if usual is not None and usual >= limits.traffic_min_usual:
        if traffic.passages < limits.traffic_floor * usual:
            reasons.append(
                f"{traffic.passages} passages last hour, usually {usual:.0f} at this hour"
            )
    return reasons
