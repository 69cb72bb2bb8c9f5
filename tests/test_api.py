"""The JSON API answers bad input with a clear 4xx, and serves what ingest stored."""

from datetime import UTC, datetime, timedelta

import pytest

from central import create_app
from central.cameras import CameraRegistry
from central.store import open_store
from tests.conftest import make_passage, write_central_config
from wire import SigningKey, decode_passage, encode_passage


@pytest.fixture
def setup(web_setup, app):
    key = SigningKey.generate()
    registry = CameraRegistry(web_setup.config.cameras_path)
    registry.add("test-cam-01", key.verify_key, datetime.now(UTC))
    registry.close()
    store = open_store(web_setup.config)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    verified = [
        decode_passage(
            encode_passage(
                make_passage(
                    key,
                    seq=seq,
                    plate=f"AB{seq:02d}CD",
                    captured_at=start + timedelta(minutes=seq),
                ),
                key,
            )
        ).verify(key.verify_key)
        for seq in (1, 2, 3)
    ]
    store.insert_batch(verified, datetime.now(UTC))
    store.close()
    return app.test_client()


def test_passages_of_a_camera(setup):
    body = setup.get("/api/v1/cameras/test-cam-01/passages?limit=2").get_json()
    assert [p["seq"] for p in body["passages"]] == [3, 2]
    assert body["passages"][0]["plate"] == "AB03CD"
    assert body["passages"][0]["lat"] == pytest.approx(52.0907)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "501"])
def test_bad_limit_is_a_400_with_a_reason(setup, limit):
    response = setup.get(f"/api/v1/cameras/test-cam-01/passages?limit={limit}")
    assert response.status_code == 400
    assert "limit" in response.get_json()["detail"]


def test_unregistered_camera_is_a_404(setup):
    response = setup.get("/api/v1/cameras/no-such-cam/passages")
    assert response.status_code == 404
    assert "not registered" in response.get_json()["detail"]


def test_invalid_camera_id_is_a_400(setup):
    assert setup.get("/api/v1/cameras/BAD_ID/passages").status_code == 400


def test_images_are_served_decrypted_and_not_cached(setup):
    response = setup.get("/api/v1/passages/test-cam-01/2/overview.jpg")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.data.startswith(b"\xff\xd8\xff")
    assert response.headers["Cache-Control"] == "no-store"
    assert setup.get("/api/v1/passages/test-cam-01/9/crop.jpg").status_code == 404
    assert setup.get("/api/v1/passages/test-cam-01/2/other.jpg").status_code == 404


def test_page_lists_latest_passages(setup):
    page = setup.get("/").get_data(as_text=True)
    assert "AB03CD" in page and "AB01CD" in page


def test_without_demo_views_passages_cannot_be_browsed(tmp_path):
    central = write_central_config(tmp_path, broker_port=1883)
    config = central.config.model_copy(
        update={"web": central.config.web.model_copy(update={"demo_views": False})}
    )
    client = create_app(config).test_client()
    response = client.get("/api/v1/passages")
    assert response.status_code == 404 and "order-bound searches" in response.get_json()["detail"]
    assert client.get("/api/v1/passages/test-cam-01/1/crop.jpg").status_code == 404
    home = client.get("/").get_data(as_text=True)
    assert "order-bound searches" in home
    for page in ("/requests", "/alerts", "/calamity", "/health", "/audit"):
        assert f'href="{page}"' in home, page


def test_camera_listing_and_rejections_need_a_maintainer(web_setup, app):
    from tests.conftest import logged_in

    client = app.test_client()
    for path in ("/api/v1/cameras", "/api/v1/ingest/rejections"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["detail"] == "log in first"
    logged_in(client, web_setup.config)
    assert client.get("/api/v1/cameras").status_code == 200
    assert client.get("/api/v1/ingest/rejections").get_json()["counts"] == {}
