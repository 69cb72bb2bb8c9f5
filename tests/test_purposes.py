"""Each camera's purposes, with owner, legal basis and validity, in the central's registry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from central.__main__ import main
from central.audit import AuditTrail
from central.cameras import CameraRegistry
from central.purposes import PurposeError
from tests.conftest import write_central_config
from wire import SigningKey


def test_purposes_are_recorded_with_owner_basis_and_validity(tmp_path, capsys):
    setup = write_central_config(tmp_path, broker_port=1883)
    registry = CameraRegistry(setup.config.cameras_path)
    registry.add("prov-cam-1", SigningKey.generate().verify_key, datetime.now(UTC))
    registry.close()
    config = ["--config", str(setup.config_path)]
    research = ["camera-purpose", "--camera-id", "prov-cam-1", "--purpose", "traffic_research",
                "--owner", "Provincie Utrecht", "--legal-basis", "Wegenwet art. 2; DPIA 2026-4",
                "--from", "2026-01-01T00:00Z", "--by", "t.technician"]  # fmt: skip
    assert main(config + research) == 0
    hotlist = ["camera-purpose", "--camera-id", "prov-cam-1", "--purpose", "hotlist",
               "--owner", "Politie Midden-Nederland", "--legal-basis", "art. 126jj Sv",
               "--from", "2026-01-01T00:00Z", "--until", "2026-02-01T00:00Z",
               "--by", "t.technician"]  # fmt: skip
    assert main(config + hotlist) == 0
    assert main(config + research[:2] + ["nobody"] + research[3:]) == 2
    assert "not registered" in capsys.readouterr().err
    backwards = hotlist[:-4] + ["--until", "2025-01-01T00:00Z", "--by", "x"]
    assert main(config + backwards) == 2
    assert "ends after it starts" in capsys.readouterr().err
    registry = CameraRegistry(setup.config.cameras_path)
    assert registry.purposes.serving("prov-cam-1", datetime(2026, 1, 15, tzinfo=UTC)) == {
        "traffic_research", "hotlist"}  # fmt: skip
    assert registry.purposes.serving("prov-cam-1", datetime(2026, 3, 1, tzinfo=UTC)) == {
        "traffic_research"}  # fmt: skip
    assert registry.purposes.serving("prov-cam-1", datetime(2025, 12, 1, tzinfo=UTC)) == set()
    registry.close()
    trail = AuditTrail(setup.config.audit_path)
    recorded = trail.records({"camera_purpose_recorded"})
    assert [e["details"]["purpose"] for e in recorded] == ["traffic_research", "hotlist"]
    trail.close()


def test_the_registry_keeps_each_purpose_apart(store_location):
    """The registry's purposes, on each backend of the central's stores (#21)."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    registry = CameraRegistry(store_location("cameras"))
    try:
        registry.add("prov-cam-1", SigningKey.generate().verify_key, now)
        purposes = registry.purposes
        purposes.record("prov-cam-1", "hotlist", "Politie Midden-Nederland", "art. 126jj Sv",
                        now, datetime(2026, 2, 1, tzinfo=UTC), "t.technician", now)  # fmt: skip
        purposes.record("prov-cam-1", "traffic_research", "Provincie Utrecht", "Wegenwet art. 2",
                        now, None, "t.technician", now)  # fmt: skip
        assert [p.purpose for p in purposes.of("prov-cam-1")] == ["hotlist", "traffic_research"]
        assert purposes.of("prov-cam-1")[0].valid_until == "2026-02-01T00:00:00.000Z"
        assert purposes.serving("prov-cam-1", datetime(2026, 3, 1, tzinfo=UTC)) == {
            "traffic_research"}  # fmt: skip
        with pytest.raises(PurposeError, match="not registered"):
            purposes.record("nobody-cam", "hotlist", "o", "b", now, None, "x", now)
        with pytest.raises(PurposeError, match="one of"):
            purposes.record("prov-cam-1", "marketing", "o", "b", now, None, "x", now)
    finally:
        registry.close()
