"""Rows are checked against their signed record when served and packaged (#20, finding 6):
a day file changed behind the code's back yields no row handed out as sound."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import timedelta

import pytest

from central.requests.package import verify_package
from node.keyfiles import load_signing_key
from tests.conftest import open_day_file
from tests.test_requests import NOW
from tests.test_searches import Scene, T

WINDOW = {"cameras": ("cam-a",), "start": T, "end": T + timedelta(minutes=10)}


@pytest.fixture
def scene(tmp_path):
    found = Scene(tmp_path)
    yield found
    found.close()


def day_file(scene: Scene):
    """Someone with the file, not the code: the triggers are dropped first."""
    db = open_day_file(scene.config, T.date())
    for table in ("passages", "records", "images", "verifications"):
        db.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    return db


def tamper(scene: Scene, statement: str) -> None:
    db = day_file(scene)
    db.execute(statement)
    db.commit()
    db.close()


def reinsert_record_edited(scene: Scene, seq: int, old: bytes, new: bytes) -> None:
    """No UPDATE at all: the signed record deleted and inserted again with a field changed."""
    db = open_day_file(scene.config, T.date())
    row = list(db.execute("SELECT * FROM records WHERE seq = ?", (seq,)).fetchone())
    db.execute("DELETE FROM records WHERE seq = ?", (seq,))
    row[2] = bytes(row[2]).replace(old, new)
    db.execute(f"INSERT INTO records VALUES ({', '.join('?' * len(row))})", row)
    db.commit()
    db.close()


def last_consultation(scene: Scene) -> dict:
    entry = next(e for e in scene.trail.entries() if e["action"] == "consultation")
    details = entry["details"]
    return json.loads(details) if isinstance(details, str) else details


def package(scene: Scene, request_id: int, tmp_path) -> zipfile.ZipFile:
    scene.flow.deliver(request_id, "o.north", NOW)
    key = load_signing_key(scene.config.secrets.audit_signing_key_file)
    path = tmp_path / "package.zip"
    path.write_bytes(scene.package(request_id, key))
    assert verify_package(path, key.verify_key) == []
    return zipfile.ZipFile(path)


def test_untampered_rows_are_served_and_packaged_as_before(scene, tmp_path):
    request_id = scene.scoped()
    result = scene.run(request_id, **WINDOW)
    assert [r.seq for r in result.rows] == [101, 103, 105]
    assert result.integrity_withheld == []
    assert last_consultation(scene)["supplied"]["integrity_withheld"] == []
    archive = package(scene, request_id, tmp_path)
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["rows"], manifest["integrity_withheld"]) == (3, [])
    assert "signed" not in archive.read("README.txt").decode().split("\n")[2]


def test_a_plate_edited_in_the_day_file_is_withheld_from_the_search_and_audited(scene, caplog):
    tamper(scene, "UPDATE passages SET plate = 'AB123C' WHERE seq = 103")
    request_id = scene.scoped()
    result = scene.run(request_id, **WINDOW)
    assert [r.seq for r in result.rows] == [101, 105], "the edited row is not served"
    assert [r.seq for r in scene.requests.results.rows(result.audit_seq)] == [101, 105]
    (withheld,) = result.integrity_withheld
    assert withheld["passage"] == "cam-a/103"
    assert "plate is 'AB123C', the signed record says 'KL123M'" in withheld["problems"]
    supplied = last_consultation(scene)["supplied"]
    assert supplied["rows"] == 2
    assert "cam-a/103" not in supplied["passages"]
    assert supplied["integrity_withheld"] == [withheld]
    assert "INTEGRITY ALERT" in caplog.text and "cam-a/103" in caplog.text


def test_a_record_reinserted_edited_after_the_search_is_left_out_of_the_package(
    scene, tmp_path, caplog
):
    request_id = scene.scoped()
    result = scene.run(request_id, **WINDOW)
    assert len(result.rows) == 3
    reinsert_record_edited(scene, 105, b"ZZ999Z", b"ZZ999A")  # behind the code's back
    archive = package(scene, request_id, tmp_path)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["rows"] == 2
    (withheld,) = manifest["integrity_withheld"]
    assert withheld["passage"] == "cam-a/105"
    assert "record_sha256 does not match the stored record" in withheld["problems"]
    assert "plate is 'ZZ999Z', the signed record says 'ZZ999A'" in withheld["problems"]
    table = json.loads(archive.read("passages.json"))
    assert [r["seq"] for r in table] == [101, 103]
    assert "cam-a_105" not in " ".join(archive.namelist())
    readme = archive.read("README.txt").decode()
    assert "1 rows were withheld because the stored passage no longer matches" in readme
    assert "INTEGRITY ALERT package" in caplog.text


def test_a_result_set_copy_edited_after_the_search_is_not_packaged(scene, tmp_path):
    request_id = scene.scoped()
    result = scene.run(request_id, **WINDOW)
    scene.requests.db.execute(
        "UPDATE result_rows SET plate = 'AB123C' WHERE audit_seq = ? AND seq = 101",
        (result.audit_seq,),
    )
    archive = package(scene, request_id, tmp_path)
    manifest = json.loads(archive.read("manifest.json"))
    assert [w["passage"] for w in manifest["integrity_withheld"]] == ["cam-a/101"]
    assert "AB123C" not in archive.read("passages.csv").decode()


def test_a_record_forged_with_its_digest_fails_the_cameras_signature(scene):
    db = day_file(scene)
    (record,) = db.execute("SELECT record FROM records WHERE seq = 101").fetchone()
    forged = bytes(record).replace(b"GBL12X", b"AB123C")
    db.execute("UPDATE records SET record = ? WHERE seq = 101", (forged,))
    db.execute("UPDATE passages SET plate = 'AB123C', record_sha256 = ? WHERE seq = 101",
               (hashlib.sha256(forged).hexdigest(),))  # fmt: skip
    db.commit()
    db.close()
    request_id = scene.scoped()
    result = scene.run(request_id, **WINDOW)
    assert [r.seq for r in result.rows] == [103, 105]
    (withheld,) = result.integrity_withheld
    assert any("signature does not verify" in p for p in withheld["problems"])


def test_the_results_page_tells_the_officer_how_many_rows_were_withheld(scene):
    """Not only the auditor: the officer reading the results sees that rows are missing."""
    from flask import render_template

    from central import create_app

    tamper(scene, "UPDATE passages SET plate = 'AB123C' WHERE seq = 103")
    result = scene.run(scene.scoped(), **WINDOW)
    result_set = scene.requests.results.get(result.audit_seq)
    assert result_set.integrity_withheld == 1 and result_set.row_count == 2
    app = create_app(scene.config)
    with app.test_request_context():
        page = render_template(
            "results.html", session=None, r=scene.requests.get(result_set.request_id),
            rs=result_set, rows=[], states={}, page=0, pages=1, rs_gaps=[],
        )  # fmt: skip
    assert 'id="integrity-withheld">1 ' in page, "the count, in the page's language"
