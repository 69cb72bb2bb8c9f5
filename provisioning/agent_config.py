"""Write a unit's agent configuration, privacy masks included, and a preview of the masks.

The technician draws the masks on a still frame from the camera (as polygon coordinates in
image pixels), checks the preview PNG, and the same polygons go into the agent's TOML.
The written file is validated by the agent's own loader before this returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from edge_agent.config import ConfigError, load_config
from edge_agent.privacy import Polygon, preview
from provisioning.keys import ProvisioningError


def parse_polygon(text: str) -> Polygon:
    """'x,y x,y x,y ...' in image pixels."""
    try:
        points = tuple((int(x), int(y)) for x, y in (pair.split(",") for pair in text.split()))
    except ValueError:
        raise ProvisioningError(f"mask {text!r}: write points as 'x,y x,y x,y'") from None
    if len(points) < 3:
        raise ProvisioningError(f"mask {text!r} needs at least 3 points")
    return points


@dataclass(frozen=True)
class UnitSettings:
    camera_id: str
    lat: float
    lon: float
    direction: str
    lane: int
    credentials: Path
    broker_host: str
    broker_port: int
    source_path: Path
    spool_path: Path
    # The central's seal.pub: without it the unit sends unsealed records, which a real
    # central refuses (found by the network install test).
    seal_key: Path


# Private keys reach the agent as systemd credentials (systemd/anpr-agent@.service loads
# <camera-id>.key and tls.key from /etc/anpr/credentials); public files are read in place.
# Outside systemd (selftest, `anpr-agent check`), set CREDENTIALS_DIRECTORY to that folder.
CREDENTIALS = "${CREDENTIALS_DIRECTORY}"


def render(settings: UnitSettings, masks: list[Polygon]) -> str:
    c = settings.credentials
    mask_lines = ",\n".join(
        "    [" + ", ".join(f"[{x}, {y}]" for x, y in polygon) + "]" for polygon in masks
    )
    return f"""# agent configuration for {settings.camera_id}, by anpr-provision agent-config
[camera]
id = "{settings.camera_id}"
lat = {settings.lat}
lon = {settings.lon}
direction = "{settings.direction}"
lane = {settings.lane}

[keys]
signing_key = "{CREDENTIALS}/{settings.camera_id}.key"
central_public_key = "{c / "central-ack.pub"}"
central_seal_public_key = "{settings.seal_key}"

[source]
path = "{settings.source_path}"

[mqtt]
host = "{settings.broker_host}"
port = {settings.broker_port}
tls_ca_file = "{c / "ca.crt"}"
tls_cert_file = "{c / "tls.crt"}"
tls_key_file = "{CREDENTIALS}/tls.key"

[spool]
path = "{settings.spool_path}"

[privacy]
masks = [
{mask_lines}
]
"""


def write_agent_config(
    settings: UnitSettings,
    masks: list[Polygon],
    out: Path,
    still: Path | None = None,
    preview_out: Path | None = None,
) -> None:
    if out.exists():
        raise ProvisioningError(f"{out} exists; refusing to overwrite a unit's configuration")
    text = render(settings, masks)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text)
    try:
        load_config(partial)
    except ConfigError as exc:
        partial.unlink()
        raise ProvisioningError(f"the configuration would not load: {exc}") from None
    if still is not None:
        with Image.open(still) as frame:
            width, height = frame.size
            outside = [p for p in masks if any(x >= width or y >= height for x, y in p)]
            if outside:
                partial.unlink()
                raise ProvisioningError(f"a mask lies outside the {width}x{height} still frame")
            if preview_out is not None:
                preview(frame, masks).save(preview_out, format="PNG")
    partial.replace(out)
