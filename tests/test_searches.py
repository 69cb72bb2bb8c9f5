"""Searches inside the order (intersections, convoys, camera gaps), verification against
crops, blurred photos and the signed result package."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image

from central.__main__ import main
from central.health.records import HealthRecords
from central.requests.consultation import Leg, Query, consult
from central.requests.downloads import LINK_VALID
from central.requests.orders import Foreign, RequestError, Scope, Window
from central.requests.package import PackageError, build_package, verify_package
from central.requests.photos import Box, render, vehicle_outline
from central.requests.verification import give_verdict, row_states
from node.keyfiles import load_signing_key
from tests.conftest import verified_passage
from tests.test_requests import NOW, Case
from wire import SigningKey

T = (NOW - timedelta(days=2)).replace(minute=0, second=0)


def noise_jpeg(width: int = 640, height: int = 360, seed: int = 1) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=95)
    return out.getvalue()


class Scene(Case):
    """Three cameras; GBL12X passes A then B, KL123M follows it, others do not."""

    def __init__(self, tmp_path, store_location=None) -> None:
        super().__init__(tmp_path, store_location)
        self.key = SigningKey.generate()
        self.register_cameras(self.key, "cam-a", "cam-b", "cam-c")
        self.seq = 100
        for plate, camera, minutes in (
            ("GBL12X", "cam-a", 0), ("GBL12X", "cam-b", 30), ("KL123M", "cam-a", 2),
            ("KL123M", "cam-b", 31), ("ZZ999Z", "cam-a", 3), ("XX111X", "cam-a", 20),
            ("GBL12X", "cam-c", 60),
        ):  # fmt: skip
            self.add(plate, camera, T + timedelta(minutes=minutes))

    def add(self, plate: str, camera: str, at, **changes) -> int:
        self.seq += 1
        passage = verified_passage(
            self.key, seq=self.seq, camera_id=camera, plate=plate, captured_at=at,
            char_confidence_pm=(950,) * len(plate), plate_box=(280, 250, 80, 20),
            overview_jpeg=noise_jpeg(seed=self.seq), **changes,
        )  # fmt: skip
        self.store.insert_batch([passage], NOW)
        return self.seq

    def scoped(self, **changes) -> int:
        scope = Scope(windows=(Window(T - timedelta(hours=1), T + timedelta(hours=2)),),
                      plates=("GBL12X", "GBL1*"), cameras=("cam-a", "cam-b"))  # fmt: skip
        return self.accepted(scope=scope, **changes)

    def run(self, request_id: int, **query):
        values = dict(start=T - timedelta(hours=1), end=T + timedelta(hours=2))
        values.update(query)
        return consult(self.requests, request_id, "o.north", Query(**values), self.store,
                       self.trail, NOW, all_cameras=("cam-a", "cam-b", "cam-c"),
                       health=HealthRecords(self.config.health_path))  # fmt: skip

    def show_and_judge(self, request_id: int, audit_seq: int, verdicts: dict[str, str]) -> None:
        for row in self.requests.results.rows(audit_seq):
            self.requests.results.crop_shown(audit_seq, row.camera_id, row.seq, "o.north", NOW)
            give_verdict(self.requests, self.store, self.trail, request_id, audit_seq, "o.north",
                         row.camera_id, row.seq, verdicts[row.camera_id], NOW)  # fmt: skip

    def package(self, request_id: int, key: SigningKey) -> bytes:
        from central.requests.downloads import Issue

        return build_package(self.requests.get(request_id), self.requests, self.store, key,
                             Issue(1, "r.requester", NOW)).data  # fmt: skip


@pytest.fixture
def scene(tmp_path, store_location):
    found = Scene(tmp_path, store_location)
    yield found
    found.close()


# Searches of the passages (SQLite day files whatever the backend), not of the requests
# store: run on SQLite only (each `scene` on PostgreSQL costs a database of its own).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


def plates(rows) -> list[str]:
    return sorted(f"{r.plate}@{r.camera_id}" for r in rows)


@sqlite_only
def test_an_intersection_finds_the_vehicles_seen_in_every_window(scene):
    request_id = scene.scoped()
    legs = (Leg(("cam-a",), T - timedelta(minutes=5), T + timedelta(minutes=10)),
            Leg(("cam-b",), T + timedelta(minutes=25), T + timedelta(minutes=40)))  # fmt: skip
    result = scene.run(request_id, legs=legs, start=legs[0].start, end=legs[1].end)
    assert plates(result.rows) == ["GBL12X@cam-a", "GBL12X@cam-b", "KL123M@cam-a",
                                   "KL123M@cam-b"]  # fmt: skip
    assert not result.needs_verification, "delivered unverified, marked so"
    with pytest.raises(RequestError, match="outside the order's scope: cam-c"):
        scene.run(request_id, legs=(legs[0], Leg(("cam-c",), legs[1].start, legs[1].end)))
    with pytest.raises(RequestError, match="at least two"):
        scene.run(request_id, legs=legs[:1])
    late = Leg(("cam-b",), T + timedelta(hours=3), T + timedelta(hours=4))
    with pytest.raises(RequestError, match="window 2 lies outside"):
        scene.run(request_id, legs=(legs[0], late))


@sqlite_only
def test_a_convoy_search_finds_who_travels_with_the_plate(scene):
    request_id = scene.scoped()
    result = scene.run(request_id, plate="GBL12X", convoy_minutes=5)
    assert plates(result.rows) == ["GBL12X@cam-a", "GBL12X@cam-b", "KL123M@cam-a",
                                   "KL123M@cam-b"], "once is chance, twice is a convoy"  # fmt: skip
    assert "GBL12X@cam-c" not in plates(result.rows), "cam-c is outside the order"
    with pytest.raises(RequestError, match="one full plate"):
        scene.run(request_id, plate="GBL1*", convoy_minutes=5)
    with pytest.raises(RequestError, match="1 to 30 minutes"):
        scene.run(request_id, plate="GBL12X", convoy_minutes=90)


@sqlite_only
def test_results_name_the_searched_cameras_that_were_down(scene):
    health = HealthRecords(scene.config.health_path)
    health.health_change("cam-b", T - timedelta(days=1), "OK", "")
    health.health_change("cam-b", T + timedelta(minutes=20), "OFFLINE", "no heartbeat for 130 s")
    health.health_change("cam-b", T + timedelta(minutes=50), "OK", "")
    health.close()
    request_id = scene.scoped()
    result = scene.run(request_id, cameras=("cam-a", "cam-b"), start=T,
                       end=T + timedelta(hours=1))  # fmt: skip
    gaps = {(g["camera_id"], g["state"], g["since"][11:16], g["until"][11:16])
            for g in result.gaps}  # fmt: skip
    assert gaps == {("cam-a", "UNKNOWN", T.strftime("%H:%M"),
                     (T + timedelta(hours=1)).strftime("%H:%M")),
                    ("cam-b", "OFFLINE", (T + timedelta(minutes=20)).strftime("%H:%M"),
                     (T + timedelta(minutes=50)).strftime("%H:%M"))}  # fmt: skip
    (entry,) = scene.trail.records({"consultation"})
    assert entry["details"]["supplied"]["camera_gaps"] == result.gaps


def test_a_verdict_needs_the_crop_shown_and_a_wrong_row_is_withheld(scene):
    request_id = scene.scoped()
    result = scene.run(request_id, plate="GBL12X", cameras=())
    assert result.needs_verification
    everywhere = ["GBL12X@cam-a", "GBL12X@cam-b", "GBL12X@cam-c", "GBL12X@test-cam-01"]
    assert plates(result.rows) == everywhere, "a plate is searched at every camera"
    row = result.rows[0]
    with pytest.raises(RequestError, match="look at the crop"):
        give_verdict(scene.requests, scene.store, scene.trail, request_id, result.audit_seq,
                     "o.north", row.camera_id, row.seq, "correct", NOW)  # fmt: skip
    key = SigningKey.generate()
    with pytest.raises(PackageError, match="4 plate-search rows still wait"):
        scene.package(request_id, key)
    with pytest.raises(RequestError, match="verify the 2 plate-search rows"):
        scene.flow.pending_verifications = lambda _: 2
        scene.flow.deliver(request_id, "o.north", NOW)
    verdicts = {"cam-a": "correct", "cam-b": "wrong", "cam-c": "correct", "test-cam-01": "correct"}
    scene.show_and_judge(request_id, result.audit_seq, verdicts)
    package = zipfile.ZipFile(io.BytesIO(scene.package(request_id, key)))
    rows = json.loads(package.read("passages.json"))
    assert [(r["camera_id"], r["verification"]) for r in rows] == [
        ("cam-a", "correct"), ("cam-c", "correct"), ("test-cam-01", "correct")]  # fmt: skip
    assert json.loads(package.read("manifest.json"))["withheld"] == 1
    later = scene.run(request_id, plate="GBL12X")
    states = row_states(scene.store, scene.requests.results.get(later.audit_seq), later.rows)
    assert sorted(states.values()) == ["correct"] * 3 + ["wrong"], "verdicts outlive the set"
    logged = scene.trail.records({"verification"})
    assert sorted(v["details"]["withheld"] for v in logged) == [False, False, False, True]


def test_photos_leave_only_the_vehicle_body_sharp_and_the_officers_boxes_blurred():
    original = noise_jpeg(seed=5)
    plate_box = (280, 250, 80, 20)
    officer = Box(300, 100, 40, 40)
    blurred = np.asarray(Image.open(io.BytesIO(render(original, plate_box, [officer]))), float)
    source = np.asarray(Image.open(io.BytesIO(original)), float)
    vehicle, windows = vehicle_outline(plate_box)

    def change(x: int, y: int, w: int, h: int) -> float:
        return float(np.abs(blurred[y : y + h, x : x + w] - source[y : y + h, x : x + w]).mean())

    assert change(0, 0, 100, 100) > 40, "outside the vehicle: blurred"
    assert change(250, 250, 140, 40) < 15, "the vehicle's front and plate: sharp"
    assert change(windows.x + 5, windows.y + 5, 30, 30) > 40, "the windscreen: blurred"
    assert change(officer.x, officer.y, officer.w, officer.h) > 40, "the officer's box"
    everything = np.asarray(Image.open(io.BytesIO(render(original, None, []))), float)
    assert float(np.abs(everything - source).mean()) > 40, "no plate box: all blurred"


def test_the_package_is_signed_complete_and_tampering_is_found(scene, tmp_path, capsys):
    request_id = scene.scoped(photos_wanted=True, foreign=Foreign("CW", "IRH-2026-77"))
    result = scene.run(request_id, cameras=("cam-a",), start=T, end=T + timedelta(minutes=10))
    row = result.rows[0]
    jpeg = render(scene.store.image(row.camera_id, row.seq, "overview"), (280, 250, 80, 20), [])
    scene.requests.photos.approve(request_id, row.camera_id, row.seq, [], jpeg, "o.north", NOW)
    key = load_signing_key(scene.config.secrets.audit_signing_key_file)
    path = tmp_path / "package.zip"
    path.write_bytes(scene.package(request_id, key))
    archive = zipfile.ZipFile(path)
    names = set(archive.namelist())
    assert {"passages.csv", "passages.json", "order.json", "README.txt", "manifest.json",
            "manifest.sig", f"photos/{row.camera_id}_{row.seq}.jpg"} <= names  # fmt: skip
    assert len([n for n in names if n.startswith("crops/")]) == 3
    assert archive.read(f"photos/{row.camera_id}_{row.seq}.jpg") == jpeg, "approved, not raw"
    order = json.loads(archive.read("order.json"))
    assert "no onward transfer" in " ".join(order["foreign_request"]["conditions"])
    assert "not verified" in archive.read("passages.csv").decode()
    assert verify_package(path, key.verify_key) == []
    config = ["--config", str(scene.config_path)]
    assert main(config + ["package", "verify", str(path)]) == 0
    assert "intact" in capsys.readouterr().out
    assert verify_package(path, SigningKey.generate().verify_key)[0].startswith("signed by key")

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tampered, "w") as out:
        for name in source.namelist():
            data = source.read(name)
            out.writestr(name, data.replace(b"cam-a", b"cam-x") if name == "passages.csv" else data)
        out.writestr("extra.txt", b"added later")
    assert verify_package(tampered, key.verify_key) == [
        "passages.csv was altered", "extra.txt was added after signing"]  # fmt: skip
    assert main(config + ["package", "verify", str(tampered)]) == 1


def test_download_links_expire_and_serve_only_the_requester(scene):
    request_id = scene.scoped()
    downloads = scene.requests.downloads
    token, first = downloads.issue(request_id, "r.requester", NOW)
    _, second = downloads.issue(request_id, "r.requester", NOW)
    assert (first.number, second.number) == (1, 2)
    assert downloads.redeem(token, "r.requester", NOW)[0] == request_id
    with pytest.raises(RequestError, match="no such download"):
        downloads.redeem(token, "o.north", NOW)
    with pytest.raises(RequestError, match="expired"):
        downloads.redeem(token, "r.requester", NOW + LINK_VALID)


def test_closing_destroys_the_supplied_rows_and_photos(scene):
    request_id = scene.scoped()
    result = scene.run(request_id, cameras=("cam-a",))
    row = result.rows[0]
    photos = scene.requests.photos
    photos.approve(request_id, row.camera_id, row.seq, [], b"first", "o", NOW)
    photos.approve(request_id, row.camera_id, row.seq, [Box(1, 2, 3, 4)], b"jpeg", "o.north", NOW)
    assert photos.jpeg(request_id, row.camera_id, row.seq) == b"jpeg", "approved again: replaced"
    assert photos.approved(request_id)[(row.camera_id, row.seq)]["boxes"] == [[1, 2, 3, 4]]
    scene.flow.close(request_id, "o.north", "case closed", NOW)
    assert scene.requests.results.rows(result.audit_seq) == []
    assert scene.requests.photos.approved(request_id) == {}
    (closed,) = scene.trail.records({"request_closed"})
    assert closed["details"]["rows_destroyed"] == len(result.rows) > 0


def test_the_search_form_reads_intersections_and_convoys():
    from central.requests.forms import query_from_form

    legs = "cam-a 2026-11-20T10:00 2026-11-20T10:20\ncam-b,cam-c 2026-11-20T10:30 2026-11-20T11:00"
    query = query_from_form({"legs": legs})
    assert query.kind == "intersection" and query.legs[1].cameras == ("cam-b", "cam-c")
    assert (query.start.hour, query.end.hour) == (10, 11)
    convoy = query_from_form({"start": "2026-11-20T10:00", "end": "2026-11-20T12:00",
                              "plate": "gb-l12x", "convoy_minutes": "5"})  # fmt: skip
    assert (convoy.kind, convoy.plate, convoy.convoy_minutes) == ("convoy", "GBL12X", 5)
    with pytest.raises(RequestError, match="cameras start end"):
        query_from_form({"legs": "cam-a 2026-11-20T10:00"})
    with pytest.raises(RequestError, match="whole number"):
        query_from_form({"start": "2026-11-20T10:00", "end": "2026-11-20T12:00",
                         "plate": "GBL12X", "convoy_minutes": "five"})  # fmt: skip
