"""The yearly report from a generated year of requests, against counts kept by the test."""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from central.__main__ import main
from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit import AuditTrail
from central.requests.consultation import Query, consult
from central.requests.orders import CRIME_TYPES, Foreign, Scope, Window
from central.requests.report import yearly_report
from central.requests.store import Requests
from central.requests.workflow import Workflow
from central.store import open_store
from tests.conftest import confirm_order, current_code, write_central_config
from tests.test_requests import order

YEAR = 2025
UNITS = ("unit-midden", "unit-noord", "unit-oost")
REASONS = ("no pre-trial detention offence", "scope too wide", "duplicate")


def generate_year(config, rng: random.Random) -> dict:
    """120 requests through the real workflow; returns what the test counted itself."""
    accounts = Accounts(config.accounts_path)
    now = datetime.now(UTC)
    for unit in UNITS:
        accounts.add(f"r.{unit}", "R", unit, ["requester"], "correct horse battery staple", now)
    accounts.add("o.exec", "O", "unit-west", ["officer"], "correct horse battery staple", now)
    register = Register(accounts)
    register.authorise("o.exec", "unit-west", "chief", date(YEAR + 5, 1, 1), now)
    requests, trail = Requests(config.requests_path), AuditTrail(config.audit_path)
    flow, store = Workflow(requests, register, trail), open_store(config)
    expected: dict = {k: Counter() for k in ("unit_month", "forms", "rejections", "crimes",
                                             "kinds", "foreign", "back")}  # fmt: skip
    expected["late"] = 0
    for index in range(121):
        offset = timedelta(days=rng.randrange(364), hours=rng.randrange(10))
        registered = datetime(YEAR, 1, 1, 8, tzinfo=UTC) + offset
        if index == 120:  # registered the evening before: belongs to the year before
            registered = datetime(YEAR - 1, 12, 31, 22, tzinfo=UTC)
        unit, form = rng.choice(UNITS), rng.choice(("written", "oral"))
        crime = rng.choice(CRIME_TYPES)
        days_back = rng.randrange(1, 27)
        # Only orders searched by time and place name a camera, and those for at most 10
        # days: the scope limits (240 camera-hours) refuse a camera for weeks (#20).
        cameras = ("cam-1",) if index % 3 == 2 else ()
        if cameras:
            days_back = min(days_back, 10)
        window = Window(registered - timedelta(days=days_back), registered)
        foreign = (
            Foreign(rng.choice(("BE", "DE", "CW")), f"MLA-{index}") if index % 9 == 0 else None
        )
        request_id = flow.submit(
            order(reference=f"OM-{index}", order_form=form, order_time=registered,
                  crime_type=crime, foreign=foreign, team=(),
                  scope=Scope(windows=(window,), plates=("GBL12X", "GBL1*"), cameras=cameras)),
            f"r.{unit}", unit, registered,
        )  # fmt: skip
        if index == 120:
            continue
        expected["unit_month"][(unit, registered.strftime("%Y-%m"))] += 1
        expected["forms"][form] += 1
        expected["crimes"][crime] += 1
        if foreign:
            expected["foreign"][foreign.country] += 1
        if form == "oral":
            delay = rng.choice((None, 1, 5))  # never, on time, late (days)
            if delay is not None:
                flow.attach_written_order(request_id, f"r.{unit}", "o.pdf", b"%PDF",
                                          registered + timedelta(days=delay))  # fmt: skip
            expected["late"] += delay != 1
        if index % 7 == 0:
            reason = rng.choice(REASONS)
            flow.reject(request_id, "o.exec", reason, registered + timedelta(hours=1))
            expected["rejections"][reason] += 1
            continue
        confirm_order(flow, request_id, registered + timedelta(minutes=30))
        flow.accept(request_id, "o.exec", True, registered + timedelta(hours=1))
        for plate, cameras, kind in (("GBL12X", (), "full_plate"), ("GBL1*", (), "partial_plate"),
                                     ("", ("cam-1",), "time_place"))[: 1 + index % 3]:  # fmt: skip
            consulted = registered + timedelta(hours=2)
            consult(requests, request_id, "o.exec",
                    Query(window.start, window.end, plate=plate, cameras=cameras), store, trail,
                    consulted)  # fmt: skip
            expected["kinds"][kind] += 1
            days = (consulted - window.start).days
            expected["back"]["0-1 days" if days <= 1 else "2-7 days" if days <= 7
                             else "8-14 days" if days <= 14 else "15-28 days"] += 1  # fmt: skip
        flow.deliver(request_id, "o.exec", registered + timedelta(hours=3))
        flow.close(request_id, "o.exec", "delivered", registered + timedelta(hours=4))
    for part in (store, trail, requests, accounts):
        part.close()
    return expected


def test_the_yearly_report_matches_counts_kept_independently(tmp_path, capsys):
    setup = write_central_config(tmp_path, broker_port=1883)
    expected = generate_year(setup.config, random.Random(2025))
    trail = AuditTrail(setup.config.audit_path)
    report = yearly_report(trail, YEAR, datetime.now(UTC))
    trail.close()
    assert report.requests_per_unit_month == expected["unit_month"]
    assert sum(report.requests_per_unit_month.values()) == 120
    assert report.order_forms == expected["forms"]
    assert report.late_written_orders == expected["late"]
    assert report.rejections == expected["rejections"]
    assert report.crime_types == expected["crimes"]
    assert report.search_kinds == expected["kinds"]
    assert report.days_back == expected["back"]
    assert report.foreign_requests == expected["foreign"]
    assert sum(report.window_lengths.values()) == sum(expected["kinds"].values())

    assert main(["--config", str(setup.config_path), "report", "--year", str(YEAR)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    oral = next(
        r for r in rows if r["section"] == "Orders: written or oral" and r["item"] == "oral"
    )
    assert int(oral["count"]) == expected["forms"]["oral"]
    late = next(r for r in rows if r["section"] == "Late written orders")
    assert int(late["count"]) == expected["late"]


def test_the_report_page_and_csv_for_the_auditor(web_setup, app):
    generate_year(web_setup.config, random.Random(7))
    accounts = Accounts(web_setup.config.accounts_path)
    secret = accounts.add("a.auditor", "A", "unit-midden", ["auditor"],
                          "correct horse battery staple", datetime.now(UTC))  # fmt: skip
    accounts.close()
    client = app.test_client()
    client.post("/login", data={"username": "a.auditor", "password": "correct horse battery staple",
                                "code": current_code(secret)})  # fmt: skip
    page = client.get(f"/report/{YEAR}").data.decode()
    assert "Requests per unit and month" in page and "Late written orders" in page
    total = sum(int(n) for n in re.findall(r'<td>unit-[a-z]+ 2025-\d\d</td><td class="count">(\d+)',
                                           page))  # fmt: skip
    assert total == 120
    exported = client.get(f"/report/{YEAR}/csv")
    assert exported.mimetype == "text/csv" and exported.data.startswith(b"section,item,count")
    api = client.get(f"/api/v1/reports/{YEAR}").get_json()
    assert api["sections"][0]["title"] == "Requests per unit and month"
