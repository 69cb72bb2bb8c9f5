"""Mosquitto configurations: a loopback development broker, and the production broker.

The development broker (tests, `make demo`) listens on one loopback port without TLS; it
never listens beyond 127.0.0.1. The production broker (deploy/mosquitto/) requires TLS
client certificates and confines each camera to its own topics with an ACL.
"""

from __future__ import annotations

import getpass
from pathlib import Path

# Large enough for a passage (two JPEGs, base64) with room to spare; see wire.envelope.
MAX_PACKET_BYTES = 4 * 1024 * 1024


def render_dev_config(port: int, data_dir: Path) -> str:
    """A loopback-only broker for tests and the demo, running as the invoking user."""
    return "\n".join(
        [
            f"# generated for a loopback development broker on port {port}",
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {data_dir}/",
            "autosave_interval 1",
            f"max_packet_size {MAX_PACKET_BYTES}",
            "max_inflight_messages 100",
            "max_queued_messages 100000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "",
        ]
    )
