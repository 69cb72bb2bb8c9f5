"""Charts drawn by the central (#23): a camera's history, the fleet, alert volume and the
yearly report, each an SVG whose figures are the stores' figures, with no script and no
reference outside the central; the health table filtered and grouped for ~1,300 cameras.

The data goes in through the stores (health records, the hotlist desk, the audit trail by
the request workflow); the figures are read back from pygal's `<desc class="value">`.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from central.cameras import CameraRegistry
from central.health.records import HealthRecords, hour_key
from central.hotlists.lists import Hotlists
from central.plan.registry import CameraPlan
from central.requests.forms import ZONE
from tests.conftest import logged_in
from tests.test_alert_desk import passes_by
from tests.test_health import _hb
from tests.test_plan import entry
from wire import SigningKey
from wire.canonical import canonical_bytes

SVG = "{http://www.w3.org/2000/svg}"
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
NOW = datetime.now(UTC)
THIS_HOUR = NOW.replace(minute=0, second=0, microsecond=0)
BUSY = THIS_HOUR - timedelta(hours=30)  # an hour of yesterday or the day before
QUIET = THIS_HOUR - timedelta(hours=54)


def figures(svg: str) -> list[dict[str, str]]:
    """Per series, in order: {x label: value as drawn} from pygal's descriptions."""
    root = ElementTree.fromstring(svg)
    found: dict[int, dict[str, str]] = {}
    for group in root.iter(f"{SVG}g"):
        serie = re.search(r"\bserie-(\d+)\b", group.get("class", ""))
        if not serie or int(serie.group(1)) in found:
            continue
        points: dict[str, str] = {}
        for point in group.iter(f"{SVG}g"):
            descs = {d.get("class"): d.text for d in point.findall(f"{SVG}desc")}
            if "value" in descs:
                points[descs.get("x_label") or str(len(points))] = descs["value"]
        if points:
            found[int(serie.group(1))] = points
    return [found[i] for i in sorted(found)]


def marker_labels(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)
    return [d.text for d in root.iter(f"{SVG}desc") if d.get("class") == "label"]


def assert_self_contained(response) -> str:
    """An SVG with no script and nothing fetched from outside the central."""
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert "<script" not in svg.lower() and "javascript:" not in svg.lower()
    outside = set(re.findall(r"https?://[^\s\"'<>)]+", svg)) - NAMESPACES
    assert not outside, outside
    assert "Content-Security-Policy" in response.headers
    ElementTree.fromstring(svg)  # well formed
    return svg


def hour_label(hour: datetime) -> str:
    return hour.astimezone(ZONE).strftime("%d-%m %H:00")


@pytest.fixture(autouse=True)
def _times_now():
    """The times this file's tests build on, taken as each test starts, not at import:
    under `make test` (pytest-xdist) a file may run many minutes after it was imported,
    and "a fresh heartbeat" and "this hour" must be fresh then (found by a CI run)."""
    global NOW, THIS_HOUR, BUSY, QUIET
    NOW = datetime.now(UTC)
    THIS_HOUR = NOW.replace(minute=0, second=0, microsecond=0)
    BUSY = THIS_HOUR - timedelta(hours=30)
    QUIET = THIS_HOUR - timedelta(hours=54)


@pytest.fixture
def fleet(web_setup):
    """Four cameras: cam-a busy and reading well with a fresh heartbeat (OK), cam-b thin
    and reading poorly with a failing source (DEGRADED), cam-c and cam-d silent (OFFLINE);
    cam-a and cam-b at Lunetten, cam-c on the N201 in another region, cam-d not planned."""
    config = web_setup.config
    registry = CameraRegistry(config.cameras_path)
    for camera_id in ("cam-a", "cam-b", "cam-c", "cam-d"):
        registry.add(camera_id, SigningKey.generate().verify_key, NOW - timedelta(days=40))
    plan = CameraPlan(config.plan_path, registry)
    plan.draft(NOW.year, "u.plan-admin", NOW)
    plan.add_location("lunetten", "Knooppunt Lunetten", "A12", 52.06, 5.14, "u.plan-admin", NOW)
    plan.add_section("lunetten-e", "lunetten", "A12 east", "E", "u.plan-admin", NOW)
    for camera_id in ("cam-a", "cam-b"):
        plan.add_entry(entry(camera_id, year=NOW.year, section_id="lunetten-e"), "u.p", NOW)
    plan.add_entry(entry("cam-c", year=NOW.year, road="N201", direction="W",
                         owner="Politie Amsterdam"), "u.p", NOW)  # fmt: skip
    plan.close()
    registry.close()
    records = HealthRecords(config.health_path)
    records.count_passages([
        ("cam-a", hour_key(BUSY), 40, 40 * 900), ("cam-a", hour_key(QUIET), 30, 30 * 900),
        ("cam-b", hour_key(BUSY), 14, 14 * 600),
    ])  # fmt: skip
    for hours_ago in (29, 28, 27):
        moment = THIS_HOUR - timedelta(hours=hours_ago)
        beat = _hb("cam-a", moment)
        records.record_heartbeat(beat, canonical_bytes(beat.signed_fields()), moment)
    for camera_id, changes in (("cam-a", {}), ("cam-b", {"source_ok": False})):
        beat = _hb(camera_id, NOW, **changes)
        records.record_heartbeat(beat, canonical_bytes(beat.signed_fields()), NOW)
    records.health_change("cam-a", NOW - timedelta(days=3), "OK", "all figures within limits")
    records.health_change("cam-b", NOW - timedelta(days=3), "OK", "all figures within limits")
    records.health_change("cam-b", BUSY + timedelta(minutes=20), "OFFLINE",
                          "no heartbeat for 125 s")  # fmt: skip
    records.close()
    return config


def test_a_cameras_history_is_drawn_from_its_hourly_figures(fleet, app):
    client = logged_in(app.test_client(), fleet)
    page = client.get("/health/cameras/cam-b")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for chart in ("passages", "confidence", "coverage"):
        assert f'src="/health/cameras/cam-b/{chart}.svg?days=7"' in text
    assert "no heartbeat for 125 s" in text, "the change of state is listed"

    svg = assert_self_contained(client.get("/health/cameras/cam-a/passages.svg"))
    passages = figures(svg)[0]
    assert len(passages) == 7 * 24
    assert passages[hour_label(BUSY)] == "40" and passages[hour_label(QUIET)] == "30"
    assert sum(int(v) for v in passages.values()) == 70

    svg = assert_self_contained(client.get("/health/cameras/cam-a/confidence.svg"))
    confidence = figures(svg)[0]
    assert confidence == {hour_label(BUSY): "0.90", hour_label(QUIET): "0.90"}

    svg = assert_self_contained(client.get("/health/cameras/cam-a/coverage.svg"))
    coverage = figures(svg)[0]
    per_day: dict[str, int] = {}
    for hours_ago in (29, 28, 27, 0):  # three hours of beats, and this hour's fresh one
        local_day = (THIS_HOUR - timedelta(hours=hours_ago)).astimezone(ZONE).strftime("%d-%m")
        per_day[local_day] = per_day.get(local_day, 0) + 1
    assert {d: int(n) for d, n in coverage.items() if n != "0"} == per_day
    assert len(coverage) in (7, 8), "the Dutch days the last 7 x 24 hours touch"

    svg = assert_self_contained(client.get("/health/cameras/cam-b/passages.svg?days=28"))
    series = figures(svg)
    assert len(series[0]) == 28 * 24 and series[0][hour_label(BUSY)] == "14"
    ok_at, offline_at = hour_label(THIS_HOUR - timedelta(days=3)), hour_label(BUSY)
    assert [list(s) for s in series[1:]] == [[ok_at], [offline_at]], "changes, in their hour"
    assert marker_labels(svg) == ["all figures within limits", "no heartbeat for 125 s"]

    assert client.get("/health/cameras/cam-a/passages.svg?days=5").status_code == 400
    assert client.get("/health/cameras/nobody/passages.svg").status_code == 404
    assert client.get("/health/cameras/cam-a/secrets.svg").status_code == 404


def test_the_fleet_shows_busiest_and_quietest_with_the_rest_summarised(fleet, app):
    client = logged_in(app.test_client(), fleet)
    assert client.get("/health/fleet?n=1").status_code == 200
    svg = assert_self_contained(client.get("/health/fleet/passages.svg?n=1"))
    (per_day,) = figures(svg)
    # Mean per day over 7 days: cam-a 70 / 7, cam-b 14 / 7; cam-c and cam-d none.
    assert per_day == {"cam-a": "10.00", "2 other cameras (mean)": "1.00", "cam-d": "0.00"}
    svg = assert_self_contained(client.get("/health/fleet/passages.svg?n=2"))
    assert list(figures(svg)[0].items())[::-1] == [
        ("cam-a", "10.00"), ("cam-b", "2.00"), ("cam-c", "0.00"), ("cam-d", "0.00")
    ], "busiest at the top"  # fmt: skip

    svg = assert_self_contained(client.get("/health/fleet/quality.svg"))
    (quality,) = figures(svg)
    assert quality["0.90-0.95"] == "1" and quality["0.50-0.70"] == "1"
    assert quality["no passages"] == "2" and sum(int(v) for v in quality.values()) == 4

    svg = assert_self_contained(client.get("/health/fleet/states.svg"))
    ok, degraded, offline, unknown = figures(svg)
    last = list(ok)[-1]
    assert (ok[last], degraded[last], offline[last], unknown[last]) == ("1", "0", "1", "2")
    four_days_ago = list(ok)[-5]
    assert (ok[four_days_ago], unknown[four_days_ago]) == ("0", "4")
    assert client.get("/health/fleet/passages.svg?n=0").status_code == 400


def test_the_health_table_filters_and_groups_worst_first(fleet, app):
    client = logged_in(app.test_client(), fleet)

    def shown(query: str) -> tuple[list[str], str]:
        page = client.get(f"/health{query}")
        assert page.status_code == 200, page.data[:300]
        text = page.get_data(as_text=True)
        count = re.search(r'<p id="camera-count"[^>]*>([^<]+)</p>', text).group(1)
        return re.findall(r'<tr data-camera="([^"]+)"', text), count

    assert shown("") == (["cam-c", "cam-d", "cam-b", "cam-a"], "4 of 4 cameras shown")
    assert shown("?state=OFFLINE") == (["cam-c", "cam-d"], "2 of 4 cameras shown")
    assert shown("?state=OK") == (["cam-a"], "1 of 4 cameras shown")
    assert shown("?q=lunetten") == (["cam-b", "cam-a"], "2 of 4 cameras shown")
    assert shown("?q=AMSTERDAM") == (["cam-c"], "1 of 4 cameras shown")
    assert shown("?q=cam-d&state=OK") == ([], "0 of 4 cameras shown")
    page = client.get("/health?group=location").get_data(as_text=True)
    groups = re.findall(r'<tbody class="group" data-group="([^"]*)"', page)
    assert groups == ["N201 W", "", "Knooppunt Lunetten"], "the worst group first"
    assert re.findall(r'<tr data-camera="([^"]+)"', page) == ["cam-c", "cam-d", "cam-b", "cam-a"]
    page = client.get("/health?group=region&state=OFFLINE").get_data(as_text=True)
    assert re.findall(r'<tbody class="group" data-group="([^"]*)"', page) == [
        "Politie Amsterdam", ""]  # fmt: skip
    assert 'href="/health/cameras/cam-a"' in page or "cam-a" not in page
    assert client.get("/health?state=BROKEN").status_code == 400
    assert client.get("/health?group=owner").status_code == 400
    assert client.get("/health?q=" + "x" * 101).status_code == 400


def test_alert_volume_per_day_by_priority_counts_alerts_not_passes(web_setup, app):
    config = web_setup.config
    store = Hotlists(config.hotlists_path)
    start = NOW - timedelta(days=3)
    until = NOW + timedelta(days=30)
    urgent = store.create_list("Stolen", "desk-12", "report 1", "stolen_vehicle", 1, until, start)
    normal = store.create_list("Fines", "desk-12", "report 2", "unpaid_fine", 3, until, start)
    own = store.create_list("Merel", "r.other", "PL09-1", "investigation", 2, until, start)
    for list_id, plates in ((urgent, ("GBL12X", "XX99YY")), (normal, ("AB123C",)),
                            (own, ("ZZ11ZZ",))):  # fmt: skip
        for plate in plates:
            store.add_entry(list_id, plate, "", "why", "what", until, "desk-12", start)
        store.approve(list_id, "OvJ", start)
    two_days_ago, yesterday = NOW - timedelta(days=2), NOW - timedelta(days=1)
    passes_by(store, "GBL12X", two_days_ago, ("cam-1", 1, 0), ("cam-2", 2, 5))  # one alert
    passes_by(store, "AB123C", two_days_ago, ("cam-1", 3, 0))
    passes_by(store, "XX99YY", yesterday, ("cam-1", 4, 0))
    passes_by(store, "GBL12X", yesterday, ("cam-3", 5, 0))  # the same open alert
    passes_by(store, "ZZ11ZZ", yesterday, ("cam-1", 6, 0))  # the investigation's own
    store.close()
    day = lambda t: t.strftime("%d-%m")  # noqa: E731

    operator = logged_in(app.test_client(), config, ("operator",), "c.operator")
    assert operator.get("/alerts/volume").status_code == 200
    svg = assert_self_contained(operator.get("/alerts/volume.svg"))
    urgent_, high, normal_, low, routine = figures(svg)
    assert len(urgent_) == 7
    assert urgent_[day(two_days_ago)] == "1" and urgent_[day(yesterday)] == "1"
    assert normal_[day(two_days_ago)] == "1" and normal_[day(yesterday)] == "0"
    assert high[day(yesterday)] == "0", "another owner's investigation is not the desk's"
    assert sum(int(v) for s in (urgent_, high, normal_, low, routine) for v in s.values()) == 3

    owner = logged_in(app.test_client(), config, ("requester",), "r.other")
    _u, high, *_rest = figures(assert_self_contained(owner.get("/alerts/volume.svg?days=28")))
    assert high[day(yesterday)] == "1" and len(high) == 28
    auditor = logged_in(app.test_client(), config, ("auditor",), "a.auditor")
    counted = figures(assert_self_contained(auditor.get("/alerts/volume.svg")))
    assert sum(int(v) for s in counted for v in s.values()) == 3


def test_the_yearly_report_charts_its_figures(web_setup, app):
    from tests.test_yearly_report import YEAR, generate_year

    expected = generate_year(web_setup.config, random.Random(11))
    client = logged_in(app.test_client(), web_setup.config, ("auditor",), "a.auditor")
    page = client.get(f"/report/{YEAR}").get_data(as_text=True)
    for chart in ("crime_types", "legal_bases", "searches_per_month", "withheld_late"):
        assert f'src="/report/{YEAR}/charts/{chart}.svg"' in page
    assert "Searches per month" in page

    from central.web.labels import CRIME_TYPE_LABELS

    svg = assert_self_contained(client.get(f"/report/{YEAR}/charts/crime_types.svg"))
    (crimes,) = figures(svg)
    assert crimes == {str(CRIME_TYPE_LABELS[k]): str(n) for k, n in expected["crimes"].items()}
    svg = assert_self_contained(client.get(f"/report/{YEAR}/charts/legal_bases.svg"))
    assert sum(int(v) for v in figures(svg)[0].values()) == 120
    svg = assert_self_contained(client.get(f"/report/{YEAR}/charts/searches_per_month.svg"))
    (months,) = figures(svg)
    assert len(months) == 12 and sum(int(v) for v in months.values()) == sum(
        expected["kinds"].values()
    )
    svg = assert_self_contained(client.get(f"/report/{YEAR}/charts/withheld_late.svg"))
    assert figures(svg)[0]["Late written orders"] == str(expected["late"])
    assert client.get(f"/report/{YEAR}/charts/other.svg").status_code == 404


@pytest.mark.parametrize(
    ("roles", "path"),
    [
        (("operator",), "/health/cameras/cam-a"),
        (("operator",), "/health/cameras/cam-a/passages.svg"),
        (("requester",), "/health/fleet"),
        (("operator",), "/health/fleet/states.svg"),
        (("maintainer",), "/alerts/volume"),
        (("maintainer",), "/alerts/volume.svg"),
        (("operator",), "/report/2025/charts/crime_types.svg"),
        (("maintainer",), "/report/2025/charts/searches_per_month.svg"),
    ],
)
def test_charts_are_for_the_roles_of_their_data(fleet, app, roles, path):
    assert app.test_client().get(path).status_code == 302, "logged out: to the login page"
    assert app.test_client().get(path).headers["Location"].startswith("/login")
    client = logged_in(app.test_client(), fleet, roles, "u.someone")
    assert client.get(path).status_code == 403
