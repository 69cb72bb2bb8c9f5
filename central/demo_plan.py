"""The demo's cameras and their camera plan, for `make demo` (#23): four cameras at three
places in the Netherlands, in a plan drafted by the demo plan administrator, signed by the
demo prosecutor, ratified and published, so that they store passages and show on the map.

Everything here is demo data, and says so in its texts: a real instance refuses it (only
`web.demo_views` or `web.training` instances take it, as with the demo accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.accounts.users import Identity
from central.audit_trails import open_audit_trail
from central.cameras import CameraRegistry
from central.config import CentralConfig
from central.demo_accounts import is_demo
from central.plan.registry import CameraPlan, Entry, motivation_digest

ADMIN = "demo-plan-admin"
PROSECUTOR = Identity("demo-prosecutor", "Demo prosecutor", frozenset({"prosecutor"}))


@dataclass(frozen=True)
class DemoCamera:
    """One demo camera: where it stands, which way its lane runs, why it is in the plan."""

    camera_id: str
    location_id: str
    place: str
    road: str
    lat: float
    lon: float
    direction: str
    criterion: str
    motivation: str


DEMO_CAMERAS = (
    DemoCamera(
        "demo-maastunnel-n-1", "demo-maastunnel", "Demo: Rotterdam, Maastunnel", "Maastunnel",
        51.90530, 4.46630, "N", "b",
        "Demo data: the northbound tube of the Maastunnel, a main route into the city centre "
        "of Rotterdam with intensive traffic.",
    ),
    DemoCamera(
        "demo-maastunnel-s-1", "demo-maastunnel", "Demo: Rotterdam, Maastunnel", "Maastunnel",
        51.90510, 4.46660, "S", "b",
        "Demo data: the southbound tube of the Maastunnel, a main route out of the city centre "
        "of Rotterdam with intensive traffic.",
    ),
    DemoCamera(
        "demo-westplein-e-1", "demo-westplein", "Demo: Utrecht, Westplein", "Westplein",
        52.08950, 5.10790, "E", "a",
        "Demo data: the approach to Utrecht Centraal from the west, a risk location for "
        "vehicle crime around the station.",
    ),
    DemoCamera(
        "demo-ijtunnel-n-1", "demo-ijtunnel", "Demo: Amsterdam, IJtunnel", "IJtunnel",
        52.37590, 4.90600, "N", "c",
        "Demo data: the IJtunnel towards Amsterdam-Noord, a known route of ram raids on shops "
        "in the centre.",
    ),
)  # fmt: skip


def seed_plan(
    config: CentralConfig, cameras: tuple[DemoCamera, ...], year: int, now: datetime
) -> None:
    """Draft the `year` plan naming `cameras` (registered already), have the demo prosecutor
    sign each motivation, ratify and publish it: the same calls as the plan pages, so the
    cameras store from `now` on and the published plan's map shows them."""
    if not is_demo(config):
        raise ValueError("the demo plan only on a demo or practice instance")
    registry = CameraRegistry(config.cameras_path)
    plan = CameraPlan(config.plan_path, registry)
    trail = open_audit_trail(config)
    try:
        plan.draft(year, ADMIN, now)
        for camera in cameras:
            if camera.location_id not in {loc["location_id"] for loc in plan.locations()}:
                plan.add_location(camera.location_id, camera.place, camera.road, camera.lat,
                                  camera.lon, ADMIN, now)  # fmt: skip
            section = f"{camera.location_id}-{camera.direction.lower()}"
            plan.add_section(section, camera.location_id, f"{camera.place} {camera.direction}",
                             camera.direction, ADMIN, now)  # fmt: skip
            entry = Entry(
                year=year, camera_id=camera.camera_id, kind="fixed", owner="Demo police unit",
                controller="Demo chief of police", section_id=section,
                lat_e7=round(camera.lat * 1e7), lon_e7=round(camera.lon * 1e7), road=camera.road,
                direction=camera.direction, lane=1, criterion=camera.criterion,
                motivation=camera.motivation, signed_by=None, signed_at=None,
            )  # fmt: skip
            plan.add_entry(entry, ADMIN, now)
            digest = motivation_digest(camera.motivation)
            plan.sign(year, camera.camera_id, PROSECUTOR, digest, trail, now)
        plan.ratify(year, ADMIN, now)
        plan.publish(year, ADMIN, now)
    finally:
        trail.close()
        plan.close()
        registry.close()
