"""The committed fresh held-out label files parse, and the sets never share a plate."""

import re
from pathlib import Path

import pytest

from models.train import heldout, sources

TRAIN = Path(heldout.__file__).parent
PLATE = re.compile(r"[A-Z0-9]{4,10}")


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def _check_rows(rows: list[list[str]], repos) -> None:
    for row in rows:
        assert len(row) == 7, row
        assert row[0] in repos, row[0]
        assert all(int(v) >= 0 for v in row[2:4]) and all(int(v) > 0 for v in row[4:6]), row
        assert PLATE.fullmatch(row[6]), row


def test_label_files_parse_and_are_disjoint():
    held = _rows(TRAIN / "heldout2_labels.tsv")
    assert len(held) >= 50
    _check_rows(held, sources.HELDOUT2_SOURCES)
    first = {
        line.split("\t")[2]
        for line in (TRAIN / "heldout_labels.tsv").read_text().splitlines()
        if line and not line.startswith("#")
    }
    held_plates = {row[6] for row in held}
    assert not held_plates & first
    photos = heldout.read_labels(TRAIN / "heldout2_labels.tsv")
    assert sum(len(p) for p in photos.values()) == len(held)


def test_heldout3_labels_parse_and_share_no_plate_with_other_sets():
    held3 = _rows(TRAIN / "heldout3_labels.tsv")
    assert len(held3) >= 31
    _check_rows(held3, sources.HELDOUT3_SOURCES)
    plates3 = [row[6] for row in held3]
    assert max(plates3.count(p) for p in plates3) <= 2  # at most two photos of one plate
    others = {row[6] for row in _rows(TRAIN / "heldout2_labels.tsv")}
    others |= {row[2] for row in _rows(TRAIN / "heldout_labels.tsv")}
    assert not set(plates3) & others
    photos = heldout.read_labels(TRAIN / "heldout3_labels.tsv")
    assert sum(len(p) for p in photos.values()) == len(held3)


def test_heldout4_labels_parse_and_share_no_plate_or_source_with_other_sets():
    held4 = _rows(TRAIN / "heldout4_labels.tsv")
    assert len({row[1] for row in held4}) >= 100  # the floor: 100 photos
    _check_rows(held4, sources.HELDOUT4_SOURCES)
    plates4 = [row[6] for row in held4]
    assert max(plates4.count(p) for p in plates4) <= 2
    others = {
        row[6] for name in ("heldout2", "heldout3") for row in _rows(TRAIN / f"{name}_labels.tsv")
    }
    others |= {row[2] for row in _rows(TRAIN / "heldout_labels.tsv")}
    assert not set(plates4) & others
    assert not set(sources.HELDOUT4_SOURCES) & (
        set(sources.HELDOUT2_SOURCES) | set(sources.HELDOUT3_SOURCES)
    )
    photos = heldout.read_labels(TRAIN / "heldout4_labels.tsv")
    assert sum(len(p) for p in photos.values()) == len(held4)


@pytest.mark.parametrize(("number", "photos_at_least"), [(5, 200), (6, 200), (7, 100)])
def test_a_fresh_sets_labels_parse_and_share_no_plate_or_source_with_earlier_sets(
    number, photos_at_least
):
    held = _rows(TRAIN / f"heldout{number}_labels.tsv")
    assert len({(row[0], row[1]) for row in held}) >= photos_at_least
    repos = getattr(sources, f"HELDOUT{number}_SOURCES")
    _check_rows(held, repos)
    plates = [row[6] for row in held]
    assert max(plates.count(p) for p in plates) <= 2
    earlier_sets = range(2, number)
    others = {row[6] for n in earlier_sets for row in _rows(TRAIN / f"heldout{n}_labels.tsv")}
    others |= {row[2] for row in _rows(TRAIN / "heldout_labels.tsv")}
    assert not set(plates) & others
    earlier = set().union(*(getattr(sources, f"HELDOUT{n}_SOURCES") for n in earlier_sets))
    assert not set(repos) & earlier
    photos = heldout.read_labels(TRAIN / f"heldout{number}_labels.tsv")
    assert sum(len(p) for p in photos.values()) == len(held)


def test_a_sets_committed_groups_file_goes_with_its_photos(tmp_path):
    """Set 6's Turkish source mixes web, road and night photos; the scene of each is in a
    committed groups file that `--fresh` writes beside the photos as `groups.tsv`."""
    groups = TRAIN / "heldout6_groups.tsv"
    lines = [ln.split("\t") for ln in groups.read_text().splitlines() if ln and ln[0] != "#"]
    assert {scene for _, _, scene in lines} == {"road", "night"}
    heldout.write_groups(6, tmp_path)
    assert (tmp_path / "groups.tsv").read_text() == groups.read_text()
    heldout.write_groups(5, tmp_path / "five")
    assert not (tmp_path / "five" / "groups.tsv").exists(), "a set without one gets none"
