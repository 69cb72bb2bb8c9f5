"""Per-camera plate rules: unexpected layouts need a sure read; countries from the layout."""

from recognition.plate_rules import apply_plate_rules
from recognition.recognizer import Read


def read(plate: str, confidence: float, country: str = "") -> Read:
    return Read(plate, confidence, (confidence,) * len(plate), (0, 0, 10, 10), country)


def test_off_format_reads_need_a_sure_reader():
    reads = [read("GB123X", 0.5), read("Q0Q0Q0", 0.5), read("Q0Q0Q1", 0.97)]
    kept, dropped = apply_plate_rules(reads, ("NL", "BE", "DE"))
    assert [r.plate for r in kept] == ["GB123X", "Q0Q0Q1"] and dropped == 1


def test_country_from_the_only_fitting_expected_layout():
    (kept,), _ = apply_plate_rules([read("GB123X", 0.9)], ("NL", "BE"))
    assert kept.country == "NL"
    (kept,), _ = apply_plate_rules([read("1ABC234", 0.9, country="")], ("NL", "BE"))
    assert kept.country == "BE"


def test_without_expected_countries_nothing_changes():
    reads = [read("Q0Q0Q0", 0.2)]
    assert apply_plate_rules(reads, ()) == (reads, 0)
