"""The example broker ACL in deploy/ is what broker-config writes, not a hand-kept copy."""

from __future__ import annotations

import re

from provisioning.broker_config import render_acl
from tests.conftest import REPO


def test_the_example_acl_is_the_generated_one():
    example = (REPO / "deploy" / "mosquitto" / "anpr.acl").read_text()
    grants = [line for line in example.splitlines() if line and not line.startswith("#")]
    units = sorted(set(re.findall(r"^user ([a-z0-9-]+)$", example, re.M)) - {
        "anpr-central-ingest", "anpr-control-room", "anpr-research"})  # fmt: skip
    generated = render_acl("anpr-central-ingest", units)
    assert grants == [line for line in generated.splitlines() if line and not line.startswith("#")]
