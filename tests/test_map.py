"""The camera map (#23): Leaflet and MarkerCluster served by the central from their PyPI
packages (no CDN: it runs offline), a basemap of the Netherlands as GeoJSON from our own
coordinates, and the map in a real headless Chromium: cameras clustered, split when zoomed
in, drawn with their direction and health, each linking to its health page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import xstatic.pkg.leaflet as leaflet
import xstatic.pkg.leaflet_markercluster as markercluster

from central import create_app
from central.plan.basemap import BOUNDS
from tests.browser import ARTEFACTS, Logins, browser_page, serve, wait_for_true
from tests.conftest import logged_in, make_user
from tests.test_plan_publication import CAMERAS, YEAR, published  # noqa: F401

LEAFLET = f"/assets/leaflet/{leaflet.VERSION}"
CLUSTER = f"/assets/leaflet-markercluster/{markercluster.VERSION}"
EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)=\"(?:https?:)?//", re.I)


def positions(value) -> list[tuple[float, float]]:
    """Every (lon, lat) in a GeoJSON geometry's coordinates, however deep."""
    if isinstance(value[0], int | float):
        return [(value[0], value[1])]
    return [p for part in value for p in positions(part)]


def inside_the_netherlands(collection: dict) -> None:
    assert collection["type"] == "FeatureCollection" and collection["features"]
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        geometry = feature["geometry"]
        assert geometry["type"] in ("Point", "LineString", "Polygon")
        for lon, lat in positions(geometry["coordinates"]):
            assert BOUNDS["west"] <= lon <= BOUNDS["east"], feature["properties"]
            assert BOUNDS["south"] <= lat <= BOUNDS["north"], feature["properties"]
        if geometry["type"] == "Polygon":
            for ring in geometry["coordinates"]:
                assert ring[0] == ring[-1] and len(ring) >= 4, "a closed ring"


def test_leaflet_is_served_from_its_package_with_long_cache_headers(client):
    for url, path, kind in (
        (f"{LEAFLET}/leaflet.js", Path(leaflet.BASE_DIR) / "leaflet.js", "text/javascript"),
        (f"{LEAFLET}/leaflet.css", Path(leaflet.BASE_DIR) / "leaflet.css", "text/css"),
        (f"{LEAFLET}/images/layers.png", Path(leaflet.BASE_DIR) / "images/layers.png",
         "image/png"),
        (f"{CLUSTER}/leaflet.markercluster.js",
         Path(markercluster.BASE_DIR) / "leaflet.markercluster.js", "text/javascript"),
        (f"{CLUSTER}/MarkerCluster.Default.css",
         Path(markercluster.BASE_DIR) / "MarkerCluster.Default.css", "text/css"),
    ):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == kind, url
        assert response.data == path.read_bytes(), "the package's own file"
        cache = response.headers["Cache-Control"]
        assert "max-age=31536000" in cache and "immutable" in cache, cache
        assert "script-src 'self' 'nonce-" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    for url in ("/assets/leaflet/1.0.0/leaflet.js", "/assets/jquery/1.9.3/leaflet.js",
                f"{LEAFLET}/../__init__.py", f"{LEAFLET}/%2e%2e/__init__.py",
                f"{LEAFLET}/leaflet-src.esm.js.tar", f"{LEAFLET}/no-such.js"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    script = client.get("/map/map.js")
    assert script.mimetype == "text/javascript" and b"markerClusterGroup" in script.data
    assert client.get("/map/map.css").mimetype == "text/css"


def test_the_basemap_is_geojson_inside_the_netherlands(client):
    response = client.get("/map/basemap.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert "max-age" in response.headers["Cache-Control"]
    basemap = response.get_json(force=True)
    inside_the_netherlands(basemap)
    layers = [f["properties"]["layer"] for f in basemap["features"]]
    assert layers.count("country") == 1 and layers.count("province") == 12
    assert layers.count("motorway") >= 8 and layers.count("city") >= 9
    names = {f["properties"]["name"] for f in basemap["features"]}
    assert {"Utrecht", "Limburg", "A2", "Amsterdam"} <= names


def test_the_plans_cameras_as_geojson_with_direction_and_live_health(published):  # noqa: F811
    client = create_app(published.config).test_client()
    response = client.get(f"/plan/{YEAR}/cameras.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    cameras = response.get_json(force=True)
    inside_the_netherlands(cameras)
    shown = {f["properties"]["camera_id"]: f for f in cameras["features"]}
    assert set(shown) == {c for c, v in CAMERAS.items() if v[0] != "mobile"}
    east = shown["a12-oudenrijn-e-1"]
    assert east["geometry"]["coordinates"] == [5.06, 52.07]
    assert east["properties"]["direction"] == "E" and east["properties"]["bearing"] == 90
    assert shown["a2-everdingen-s-1"]["properties"]["bearing"] == 180
    assert all("state" not in f["properties"] for f in cameras["features"]), "not public"
    assert client.get(f"/plan/{YEAR}/cameras.geojson?live=1").status_code == 401
    assert client.get(f"/plan/{YEAR + 1}/cameras.geojson").status_code == 404
    live = logged_in(client, published.config).get(f"/plan/{YEAR}/cameras.geojson?live=1")
    assert {f["properties"]["state"] for f in live.get_json(force=True)["features"]} == {
        "OFFLINE"}  # fmt: skip
    assert "private" in live.headers["Cache-Control"]


def test_no_page_loads_a_script_or_style_from_elsewhere(published):  # noqa: F811
    client = create_app(published.config).test_client()
    plan = client.get(f"/plan/{YEAR}").get_data(as_text=True)
    assert f'src="{LEAFLET}/leaflet.js"' in plan and 'id="plan-map"' in plan
    maintainer = logged_in(client, published.config)
    for path in (f"/plan/{YEAR}", "/health", "/", "/login", f"/plan/{YEAR}/map.svg"):
        page = maintainer.get(path).get_data(as_text=True)
        assert not EXTERNAL.findall(page), (path, EXTERNAL.findall(page))
    for url in (f"{LEAFLET}/leaflet.css", f"{CLUSTER}/MarkerCluster.css", "/map/map.css",
                "/map/map.js"):  # fmt: skip
        body = client.get(url).get_data(as_text=True)
        assert not re.search(r"url\(['\"]?(?:https?:)?//|@import", body), url
    assert "https://" not in client.get("/map/map.js").get_data(as_text=True)


def split_clusters(page, map_selector: str, cameras: int) -> None:
    """Click clusters (each click zooms to its cameras) until `cameras` are drawn apart."""
    wait_for_true(page, f"document.querySelector('{map_selector}').dataset.ready === '1'")
    for _ in range(6):
        if page.locator(f"{map_selector} circle.camera").count() == cameras:
            break
        page.locator(f"{map_selector} .marker-cluster").first.click()
        page.wait_for_timeout(600)  # the cluster's own zoom animation
    wait_for_true(page, f"document.querySelectorAll('{map_selector} circle.camera').length"
                        f" === {cameras}")  # fmt: skip


def add_cluster(config, now: datetime) -> dict[str, tuple[float, float]]:
    """Six cameras within a few kilometres of Utrecht in this year's plan (a draft: the
    health page places what this year's plan holds), pointing every way."""
    from central.cameras import CameraRegistry
    from central.plan.registry import CameraPlan
    from tests.test_plan import entry
    from wire import SigningKey

    registry = CameraRegistry(config.cameras_path)
    plan = CameraPlan(config.plan_path, registry)
    plan.draft(now.year, "p.admin", now)
    placed = {}
    for n, direction in enumerate(("N", "E", "S", "W", "NE", "SW")):
        camera_id = f"utrecht-{n}"
        lat, lon = 52.09 + 0.012 * (n % 3), 5.12 + 0.02 * (n // 3)
        registry.add(camera_id, SigningKey.generate().verify_key, now)
        place = {"lat_e7": round(lat * 1e7), "lon_e7": round(lon * 1e7)}
        placing = entry(camera_id, year=now.year, direction=direction, **place)
        plan.add_entry(placing, "p.admin", now)
        placed[camera_id] = (lat, lon)
    plan.close()
    registry.close()
    return placed


@pytest.mark.slow
def test_cameras_cluster_and_split_when_zoomed_in_chromium(web_setup, app, tmp_path):
    placed = add_cluster(web_setup.config, datetime.now(UTC))
    name, password, secret = make_user(web_setup.config)
    with serve(app) as url, browser_page(tmp_path) as page:
        Logins(page, url, {name: secret}, password)(name, "/health")
        wait_for_true(page, "document.querySelector('#health-map').dataset.ready === '1'")
        assert page.locator("#health-map.leaflet-container").count() == 1
        assert page.locator("#health-map path.leaflet-interactive, #health-map svg path").count()
        clusters = page.locator("#health-map .marker-cluster")
        assert clusters.count() >= 1, "six cameras close together are one cluster or a few"
        assert page.locator("#health-map circle.camera").count() < len(placed)
        assert clusters.first.get_attribute("class").count("cluster-OFFLINE"), "worst state"
        page.screenshot(path=str(ARTEFACTS / "health-map-clustered.png"))

        split_clusters(page, "#health-map", len(placed))
        east = page.locator('#health-map circle.camera[data-camera="utrecht-1"]')
        assert east.get_attribute("data-state") == "OFFLINE"
        assert east.get_attribute("fill") == "#b00020", "the colour of its health"
        wedge = page.locator('#health-map svg:has(circle[data-camera="utrecht-1"]) path.heading')
        assert wedge.get_attribute("transform") == "rotate(90)", "eastbound points east"
        page.screenshot(path=str(ARTEFACTS / "health-map-zoomed.png"))

        east.click()
        link = page.locator(".leaflet-popup-content a")
        assert link.get_attribute("href") == "/health/cameras/utrecht-1"
        assert "utrecht-1" in page.inner_text(".leaflet-popup-content")
    for name in ("health-map-clustered.png", "health-map-zoomed.png"):
        assert (ARTEFACTS / name).stat().st_size > 5000


STRICT = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")  # fmt: skip
BARE_MAP = """<!doctype html><html><head>
{% from "_map.html" import map_head, camera_map with context %}{{ map_head() }}</head>
<body>{{ camera_map("bare-map", cameras, "map") }}</body></html>"""


@pytest.mark.slow
def test_the_map_runs_without_inline_styles_or_scripts(web_setup, app, tmp_path):
    """Leaflet styles its elements from script (the CSSOM), which CSP does not govern; it
    writes no style attribute or <style> element: under a policy that allows neither inline
    styles nor scripts (not even with a nonce), the map loads, clusters and splits, and the
    browser reports no violation (the harness fails the test on any)."""
    from flask import render_template_string

    from central.web.map_assets import health_map

    placed = add_cluster(web_setup.config, datetime.now(UTC))

    def bare_map():
        cameras = [{"camera_id": c, "state": "OFFLINE"} for c in placed]
        return render_template_string(BARE_MAP, cameras=health_map(cameras))

    app.add_url_rule("/bare-map", view_func=bare_map)
    served = app.wsgi_app

    def strict_policy(environ, start_response):
        def start(status, headers, exc_info=None):
            headers = [(k, STRICT if k == "Content-Security-Policy" else v) for k, v in headers]
            return start_response(status, headers, exc_info)

        return served(environ, start)

    app.wsgi_app = strict_policy
    with serve(app) as url, browser_page(tmp_path) as page:
        response = page.goto(f"{url}/bare-map")
        assert response.headers["content-security-policy"] == STRICT
        split_clusters(page, "#bare-map", len(placed))
