"""`anpr-eval` on a tiny folder of the shipped sample scenes, and its scoring rules."""

from __future__ import annotations

import json
import shutil

from models.evaluate import Sample, edit_distance, main, score
from tests.conftest import REPO, SAMPLES


def tiny_folder(tmp_path, count=3):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for image in sorted(SAMPLES.glob("*.jpg"))[:count]:
        shutil.copy(image, tmp_path / image.name)
        shutil.copy(image.with_suffix(".txt"), tmp_path / image.with_suffix(".txt").name)
    return tmp_path


def test_json_report_on_a_tiny_folder(tmp_path, capsys):
    assert main([str(tiny_folder(tmp_path)), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["ours"]
    assert report["images"] == 3 and report["plates"] == 3
    for key in ("exact_plate_accuracy", "character_accuracy", "detection_recall"):
        assert 0.0 <= report[key] <= 1.0
    assert report["false_reads_per_image"] >= 0 and report["ms_per_image"] > 0


def test_table_report_names_every_metric(tmp_path, capsys):
    assert main([str(tiny_folder(tmp_path, 1))]) == 0
    out = capsys.readouterr().out
    for metric in ("exact_plate_accuracy", "character_accuracy", "detection_recall",
                   "false_reads_per_image", "ms_per_image"):  # fmt: skip
        assert metric in out


def test_a_folder_without_annotations_is_refused(tmp_path, capsys):
    (tmp_path / "lonely.jpg").write_bytes(b"")
    assert main([str(tmp_path)]) == 2
    assert "no images with annotation files" in capsys.readouterr().err


def test_scoring_counts_exact_partial_missed_and_false_reads(tmp_path):
    image = sorted(SAMPLES.glob("*.jpg"))[0]
    samples = [
        Sample(image, (((10, 10, 100, 20), "AB12CD"),)),
        Sample(image, (((300, 300, 100, 20), "XY34ZZ"),)),
    ]
    answers = iter([
        ([(10, 10, 100, 20)], [((12, 10, 96, 20), "AB12CD"), ((600, 600, 50, 10), "JUNK")]),
        ([], [((300, 300, 100, 20), "XY34Z")]),
    ])  # fmt: skip
    scores = score(samples, lambda bgr: next(answers))
    assert scores.exact_plate_accuracy == 0.5
    assert scores.detection_recall == 0.5
    assert abs(scores.character_accuracy - (1 + 5 / 6) / 2) < 1e-9
    assert scores.false_reads_per_image == 1.0  # JUNK and the wrong XY34Z


def test_edit_distance():
    assert edit_distance("AB12CD", "AB12CD") == 0
    assert edit_distance("AB12CD", "A812CD") == 1
    assert edit_distance("", "ABC") == 3


def test_a_candidate_model_file_is_scored_in_place_of_the_shipped_one(tmp_path, capsys):
    from recognition.model_config import MODELS_DIR

    folder = tiny_folder(tmp_path / "images")
    shipped_copy = tmp_path / "candidate.onnx"
    shutil.copy(MODELS_DIR / "plate_reader.onnx", shipped_copy)
    assert main([str(folder), "--json"]) == 0
    shipped = json.loads(capsys.readouterr().out)["ours"]
    assert main([str(folder), "--json", "--reader-model", str(shipped_copy)]) == 0
    candidate = json.loads(capsys.readouterr().out)["ours"]
    assert candidate["exact_plate_accuracy"] == shipped["exact_plate_accuracy"]
    assert candidate["character_accuracy"] == shipped["character_accuracy"]


def test_a_missing_candidate_model_file_is_refused(tmp_path, capsys):
    folder = tiny_folder(tmp_path / "images", 1)
    assert main([str(folder), "--detector-model", str(tmp_path / "nope.onnx")]) == 2
    assert "no model file at" in capsys.readouterr().err


def test_a_candidate_that_does_not_fit_the_config_is_refused(tmp_path, capsys):
    from recognition.model_config import MODELS_DIR

    folder = tiny_folder(tmp_path / "images", 1)
    detector = MODELS_DIR / "plate_detector.onnx"
    assert main([str(folder), "--reader-model", str(detector)]) == 2
    assert "does not match config" in capsys.readouterr().err


def test_reader_only_and_size_breakdown(tmp_path, capsys):
    folder = tiny_folder(tmp_path / "images")
    assert main([str(folder), "--json", "--reader-only"]) == 0
    report = json.loads(capsys.readouterr().out)
    alone = report["ours, reader only"]
    assert alone["detection_recall"] == 1.0  # its boxes are the annotated ones
    assert alone["plates"] == report["ours"]["plates"] == 3
    for scores in report.values():
        counts = list(scores["by_width_at_input"].values())
        assert sum(c[0] for c in counts) == 3
        assert all(0 <= c[1] <= c[0] and 0 <= c[2] <= c[0] for c in counts)
    assert main([str(folder), "--reader-only", "--by-size"]) == 0
    out = capsys.readouterr().out
    assert "width at input" in out and "ours, reader only" in out


def test_width_bins_name_every_width():
    from models.evaluate import width_bin

    assert width_bin(12.0) == "0-30 px"
    assert width_bin(59.9) == "45-60 px"
    assert width_bin(150.0) == ">= 150 px"
    assert width_bin(5000.0) == ">= 150 px"


# Breakdown by country and kind of scene (issue 19, item 5).


def test_every_photo_heldout_writes_has_a_known_source_and_scene():
    """The file-name prefixes models/train/heldout.py gives (its tag rule) all map to the
    repository the label file names: a new source without a mapping fails here."""
    from models.breakdown import SCENES, source_of
    from models.train.heldout import FRESH_SETS, read_labels

    labels = REPO / "models" / "train"
    for number in FRESH_SETS:
        for repo, _ in read_labels(labels / f"heldout{number}_labels.tsv"):
            tag = repo.split("/")[0].split("-")[0].lower()[:10]
            source = source_of(f"{tag}-000.jpg")
            assert source is not None and source.repo == repo, (number, repo)
            assert source.scene in SCENES and source.countries
    assert source_of("nl-petrov-004.jpg").countries == ("NL",)
    assert source_of("ro-lucian-010.jpg").scene == "road"
    assert source_of("eu7.jpg") is None


def test_a_plate_of_a_mixed_source_gets_the_country_its_layout_fits():
    from models.breakdown import SOURCES, plate_country

    ria = SOURCES["ria"]
    assert plate_country("AA7564MX", ria) == "UA"
    assert plate_country("RP69881", ria) == "PL"
    assert plate_country("B8233XA", ria) == "BG"
    assert plate_country("JJF509", ria) == "LT"
    assert plate_country("00964GG", ria) == "?"
    assert plate_country("B748LK", SOURCES["nl-petrov"]) == "NL"  # one country: no guess
    assert plate_country("2SA8926", SOURCES["david00721"]) == "CZ"
    assert plate_country("RPS503", SOURCES["david00721"]) == "HU"  # also German: main first
    assert plate_country("0116GPD", None) == "ES"  # no source: the only layout it fits
    assert plate_country("GC8389CK", SOURCES["carlosfc02"]) == "ES"  # an old provincial plate
    assert plate_country("AB123CD", None) == "?"  # IT, PL and SK alike: no guess


def test_scores_split_by_country_and_scene_with_false_reads():
    from models.breakdown import Groups

    image = sorted(SAMPLES.glob("*.jpg"))[0]
    samples = [
        Sample(
            image,
            (((10, 10, 100, 20), "AB12CD"), ((300, 300, 100, 20), "XY34ZZ")),
            Groups("road", ("NL", "DE")),
        ),  # fmt: skip
        Sample(image, (((10, 10, 100, 20), "PQ56RS"),), Groups("night", ("NL",))),
    ]
    answers = iter([
        ([(10, 10, 100, 20), (300, 300, 100, 20)],
         [((12, 10, 96, 20), "AB12CD"), ((300, 300, 100, 20), "XY34Z"),
          ((600, 600, 50, 10), "JUNK")]),
        ([], []),
    ])  # fmt: skip
    scores = score(samples, lambda bgr: next(answers))
    # [plates, found, exact, false reads]
    assert scores.by_country == {"NL": [2, 1, 1, 0], "DE": [1, 1, 0, 1]}
    assert scores.by_scene == {"road": [2, 2, 1, 2], "night": [1, 0, 0, 0]}
    assert scores.images_by_scene == {"road": 1, "night": 1}


def named_folder(tmp_path, names):
    """Sample scenes copied under the given names, their annotations renamed with them."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for scene, name in zip(sorted(SAMPLES.glob("*.jpg")), names, strict=False):
        shutil.copy(scene, tmp_path / name)
        text = scene.with_suffix(".txt").read_text().replace(scene.name, name)
        (tmp_path / name).with_suffix(".txt").write_text(text)
    return tmp_path


def test_breakdown_tables_and_json_on_a_folder_the_test_makes(tmp_path, capsys):
    folder = named_folder(tmp_path / "set", ["ro-lucian-000.jpg", "nl-petrov-000.jpg",
                                             "scene-000.jpg", "own-000.jpg"])  # fmt: skip
    (folder / "groups.tsv").write_text("# image, country, scene\nown-000.jpg\tBE\tnight\n")
    assert main([str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["ours"]
    assert {k: v[0] for k, v in report["by_country"].items()} == {"BE": 1, "NL": 2, "RO": 1}
    assert {k: v[0] for k, v in report["by_scene"].items()} == {
        "night": 1, "phone": 1, "road": 1, "synthetic": 1
    }  # fmt: skip
    for split in ("by_country", "by_scene"):
        rows = report[split].values()
        assert sum(r[2] for r in rows) == round(report["exact_plate_accuracy"] * 4)
        assert sum(r[3] for r in report["by_scene"].values()) == round(
            report["false_reads_per_image"] * 4
        )
    assert main([str(folder), "--breakdown"]) == 0
    out = capsys.readouterr().out
    for heading in ("country", "scene", "width at input", "plates / found / exact / false"):
        assert heading in out
    assert "night" in out and "BE" in out


def test_a_bad_groups_file_is_refused_with_its_line(tmp_path, capsys):
    folder = named_folder(tmp_path / "set", ["scene-000.jpg"])
    (folder / "groups.tsv").write_text("scene-000.jpg\tNL\tunderwater\n")
    assert main([str(folder)]) == 2
    assert "groups.tsv:1" in capsys.readouterr().err


def test_a_candidate_with_its_own_config_beside_it_is_read_with_that_config(tmp_path, capsys):
    """A 3.0 candidate names 45 countries; the shipped 2.1 config would misread its outputs.
    Proof that the TOML beside the candidate is the one used: one that does not fit the
    network (a character too few) is refused, where the same file without it scores."""
    from recognition.model_config import MODELS_DIR

    folder = tiny_folder(tmp_path / "images", 1)
    model = tmp_path / "candidate.onnx"
    shutil.copy(MODELS_DIR / "plate_reader.onnx", model)
    shipped = (MODELS_DIR / "plate_reader.toml").read_text()
    lines = [line for line in shipped.splitlines() if line.startswith("alphabet")]
    assert lines, "the shipped reader config gives its alphabet"
    fewer = lines[0].replace("Z", "", 1)
    assert fewer != lines[0]
    (tmp_path / "candidate.toml").write_text(shipped.replace(lines[0], fewer))
    assert main([str(folder), "--reader-model", str(model)]) == 2
    assert "config alphabet needs 36" in capsys.readouterr().err
