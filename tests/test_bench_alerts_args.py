"""The alert benchmark refuses a list too small to sample its near hits, before any work."""

import sys

import pytest

from benchmarks import alerts


def test_too_few_entries_is_refused_with_the_reason(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["alerts", "--entries", "1000"])
    with pytest.raises(SystemExit) as stop:
        alerts.main()
    assert stop.value.code == 2
    assert "--entries must be at least 4,000" in capsys.readouterr().err
