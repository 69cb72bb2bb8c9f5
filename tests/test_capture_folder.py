"""The replay source: name order, pacing, unreadable files skipped and counted."""

import shutil

import pytest

from edge_agent.capture.folder import FolderSource, SourceError
from recognition.recognizer import AnnotationError, AnnotationRecognizer, parse_annotations
from tests.conftest import SAMPLES


def test_frames_come_in_name_order_as_bgr(tmp_path):
    for name in ("b.jpg", "a.jpg"):
        shutil.copy(SAMPLES / "scene-000.jpg", tmp_path / name)
    frames = list(FolderSource(tmp_path, fps=100).frames())
    assert [f.origin.name for f in frames] == ["a.jpg", "b.jpg"]
    image = frames[0].image
    assert image.shape == (720, 1280, 3) and image.dtype.name == "uint8"
    # The sky at the top is blue: in BGR order the first channel is the largest.
    assert image[5, 640, 0] > image[5, 640, 2]


def test_unreadable_image_is_skipped_and_counted(tmp_path):
    shutil.copy(SAMPLES / "scene-000.jpg", tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    source = FolderSource(tmp_path, fps=100)
    assert len(list(source.frames())) == 1
    assert source.unreadable == 1


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        FolderSource(tmp_path / "absent")
    with pytest.raises(SourceError, match="no .jpg"):
        FolderSource(tmp_path)


def test_annotations_give_the_sidecar_plates(tmp_path):
    source = FolderSource(SAMPLES, fps=100)
    frame = next(iter(source.frames()))
    reads = AnnotationRecognizer().read_frame(frame)
    assert [(r.plate, r.box) for r in reads] == [
        (plate, box) for _, box, plate in parse_annotations(SAMPLES / "scene-000.txt")
    ]


@pytest.mark.parametrize(
    "line",
    [
        "a.jpg\t1\t2\t3\tAB12CD",
        "a.jpg\tx\t2\t3\t4\tAB12CD",
        "a.jpg\t1\t2\t0\t4\tAB12CD",
        "a.jpg\t1\t2\t3\t4\tAB_12",
    ],  # fmt: skip
)
def test_bad_annotation_lines_name_file_and_line(tmp_path, line):
    path = tmp_path / "a.txt"
    path.write_text("# comment\n" + line + "\n")
    with pytest.raises(AnnotationError, match=r"a\.txt:2"):
        parse_annotations(path)
