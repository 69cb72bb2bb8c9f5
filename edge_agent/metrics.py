"""The unit's own figures as a Prometheus textfile, for node_exporter's textfile collector.

A file, not a listening socket: the unit opens no port for this, and node_exporter (already
the way a unit's host is watched) serves it with the host's figures. Written atomically
(a temporary file renamed over the old one) at every heartbeat tick, so a scrape never reads
half a file; a stale file shows as an old `anpr_agent_last_write_timestamp_seconds`.
Plate-free: counts and states only.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, write_to_textfile

from node import wallclock

log = logging.getLogger(__name__)

# AgentStats and PublisherStats fields -> (metric name without _total, help).
PIPELINE_COUNTERS = {
    "frames": ("anpr_agent_frames", "Frames captured."),
    "frames_dropped": (
        "anpr_agent_frames_dropped",
        "Frames dropped because the pipeline was behind.",
    ),
    "frames_failed": ("anpr_agent_frames_failed", "Frames the recogniser failed on."),
    "frames_still": (
        "anpr_agent_frames_still",
        "Frames the motion gate let pass without a detector run (nothing moved).",
    ),
    "reads": ("anpr_agent_reads", "Plate reads kept (inside the unit's plate layouts)."),
    "reads_masked": ("anpr_agent_reads_masked", "Reads inside a privacy mask, discarded."),
    "reads_off_format": (
        "anpr_agent_reads_off_format",
        "Reads fitting no plate layout, discarded.",
    ),
    "passages": ("anpr_agent_passages", "Passages signed and spooled (one per vehicle)."),
    "repeats_merged": (
        "anpr_agent_repeats_merged",
        "Tracks of a plate that passed within the repeat gap, merged into its passage.",
    ),
    "tracks_cut_only": (
        "anpr_agent_tracks_cut_only",
        "Tracks not sent: their plate was only ever seen cut by the frame's edge.",
    ),
    "tracks_stitched": (
        "anpr_agent_tracks_stitched",
        "Short tracks found to be the start or a stray read of a longer one, joined to it.",
    ),
    "records_expired": ("anpr_agent_records_expired", "Spooled records removed unsent by age."),
    "sightings": ("anpr_agent_research_sightings", "Pseudonymous traffic research sightings."),
}
PUBLISHER_COUNTERS = {
    "published": ("anpr_agent_published", "Passages published to the broker (resends included)."),
    "acknowledged": ("anpr_agent_acknowledged", "Passages the central acknowledged (signed)."),
    "rejected_by_central": ("anpr_agent_rejected_by_central", "Passages the central refused."),
    "bad_acks": ("anpr_agent_bad_acks", "Acks that failed verification or named another camera."),
    "connects": ("anpr_agent_broker_connects", "Connections made to the broker."),
}


def write_textfile(path: Path, agent) -> None:
    """Write the agent's figures to `path` (atomically); a failure is logged, never raised:
    figures must not stop the unit from delivering."""
    registry = CollectorRegistry()
    labels = {"camera": agent.config.camera.id}
    pipeline, publisher = asdict(agent.stats), asdict(agent.publisher.stats)
    for source, table in ((pipeline, PIPELINE_COUNTERS), (publisher, PUBLISHER_COUNTERS)):
        for key, (name, help_text) in table.items():
            counter = Counter(name, help_text, ["camera"], registry=registry)
            counter.labels(**labels).inc(source.get(key, 0))
    spool = agent.spool
    for name, help_text, value in (
        ("anpr_agent_spool_depth", "Records waiting for the central's ack.", spool.depth()),
        ("anpr_agent_spool_oldest_age_seconds", "Age of the oldest waiting record.",
         spool.oldest_age_s()),
        ("anpr_agent_spool_dropped_full", "Records dropped because the spool was full.",
         spool.dropped_full),
        ("anpr_agent_last_seq", "Last sequence number allocated.", spool.last_seq()),
        ("anpr_agent_broker_connected", "1 while connected to the broker.",
         int(agent.publisher.connected)),
        ("anpr_agent_source_ok", "1 while the camera source delivers frames.",
         int(getattr(agent.source, "healthy", True))),
        ("anpr_agent_last_write_timestamp_seconds", "When this file was written.",
         wallclock.timestamp()),
    ):  # fmt: skip
        Gauge(name, help_text, ["camera"], registry=registry).labels(**labels).set(value)
    release = Gauge("anpr_agent_release_info", "The software release running (1).",
                    ["camera", "release"], registry=registry)  # fmt: skip
    release.labels(release=getattr(agent, "release", "base"), **labels).set(1)
    failed = Gauge("anpr_agent_software_update_failed",
                   "1 when the last software update was rolled back.", ["camera"],
                   registry=registry)  # fmt: skip
    failed.labels(**labels).set(int(getattr(agent, "update_failed", False)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry)
    except OSError:
        log.exception("metrics: cannot write %s", path)
