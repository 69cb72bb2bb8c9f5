"""The system carried past day 30 in simulated time (the short form of `make soak`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.soak import Soak, SoakFailure

# A month of timers through real processes: 60-90 s here, more beside another test worker.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def start_date() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(hour=6, minute=0, second=0,
                                                           microsecond=0)  # fmt: skip


def test_a_month_and_more_with_timers_running(tmp_path):
    """Past the 28 days (retention, day keys, backups) and the CRL's first 30 days, with the
    broker restarted so the units shake hands again against the renewed CRL."""
    soak = Soak(tmp_path, start_date(), say=lambda line: None)
    try:
        steps = soak.forward(days=33, step=timedelta(days=3, hours=8))
    finally:
        soak.stop()
    assert len(steps) == 10 and all(all(s.passages.values()) for s in steps)
    assert steps[-1].day_files <= 29, "the first days' files were destroyed"


def test_without_crl_renewal_every_unit_is_locked_out_after_day_30(tmp_path, monkeypatch):
    """The finding the soak exists for: the harness sees the lock-out when the timer is off."""
    monkeypatch.setattr(Soak, "daily_timers", lambda self: None)
    soak = Soak(tmp_path, start_date(), say=lambda line: None)
    try:
        with pytest.raises(SoakFailure, match="locked out"):
            soak.forward(days=40, step=timedelta(days=31), deliver_within=15)
    finally:
        soak.stop()
