"""Plate text read by eye for real training crops: parsed strictly, '-' means unreadable."""

from __future__ import annotations

import pytest

from models.train.ocr_data import EYE_LABELS, eye_labels


def test_eye_labels_keep_text_and_mark_unreadable_crops(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("# read by eye\neu/eu-1.png\t8524BEQ\neu2/x.jpg\t-\n\n", encoding="utf-8")
    assert eye_labels(path) == {"eu/eu-1.png": "8524BEQ", "eu2/x.jpg": ""}


@pytest.mark.parametrize("text", ["85-24-BEQ", "abc123", "A B", "", "ABCDEFGHIJK"])
def test_eye_labels_refuse_what_is_not_a_plate(tmp_path, text):
    path = tmp_path / "labels.tsv"
    path.write_text(f"eu/eu-1.png\t{text}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        eye_labels(path)


def test_missing_file_means_no_eye_labels(tmp_path):
    assert eye_labels(tmp_path / "absent.tsv") == {}


def test_shipped_eye_labels_parse():
    labels = eye_labels(EYE_LABELS)
    assert all(name.startswith(("eu/", "eu2/")) for name in labels)
