"""The yearly report on the use of the 28-day store, computed from the audit trail alone.

The passages are gone after 28 days; the trail is not. Every figure here is counted from
trail entries (requests registered, orders attached, consultations, rejections, photo
approvals, the prosecutors' confirmations and scope exceptions, retention's deletions), so
the report can be made for any past year and checked by anyone holding the trail. The
tables follow the national evaluation's: requests per unit and month, written versus oral
orders, late written orders, rejections, crime types, search kinds, window lengths, how far
back, rows supplied, foreign requests, photos, cameras used, deletions; and the
prosecutors' confirmations and scope exceptions.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from central.audit import AuditTrail

WINDOW_BUCKETS = ((1, "up to 1 hour"), (6, "1 to 6 hours"), (24, "6 to 24 hours"),
                  (24 * 7, "1 to 7 days"), (float("inf"), "over 7 days"))  # fmt: skip
DAYS_BACK_BUCKETS = ((1, "0-1 days"), (7, "2-7 days"), (14, "8-14 days"), (28, "15-28 days"),
                     (float("inf"), "over 28 days"))  # fmt: skip


def _bucket(value: float, buckets) -> str:
    return next(label for limit, label in buckets if value <= limit)


@dataclass
class YearlyReport:
    year: int
    requests_per_unit_month: Counter = field(default_factory=Counter)
    order_forms: Counter = field(default_factory=Counter)
    late_written_orders: int = 0
    rejections: Counter = field(default_factory=Counter)
    closed_without_delivery: int = 0
    crime_types: Counter = field(default_factory=Counter)
    legal_bases: Counter = field(default_factory=Counter)
    search_kinds: Counter = field(default_factory=Counter)
    searches_per_month: Counter = field(default_factory=Counter)  # "YYYY-MM" (#23)
    searches_refused: int = 0
    window_lengths: Counter = field(default_factory=Counter)
    days_back: Counter = field(default_factory=Counter)
    rows_supplied: int = 0
    nothing_found: int = 0
    withheld: int = 0
    foreign_requests: Counter = field(default_factory=Counter)
    photos_approved: int = 0
    cameras_used: Counter = field(default_factory=Counter)  # by camera kind
    days_destroyed: int = 0
    rows_destroyed: int = 0
    # The prosecutors' own acts (#20): orders confirmed or refused, oral orders whose
    # confirmation came late or not at all, scope exceptions requested and decided.
    confirmations: Counter = field(default_factory=Counter)
    scope_exceptions: Counter = field(default_factory=Counter)

    def sections(self) -> list[tuple[str, list[tuple[str, int]]]]:
        """(title, [(label, count)]) in the report's order, for HTML and CSV alike."""

        def rows(counter: Counter) -> list[tuple[str, int]]:
            return sorted(counter.items())

        per_unit_month = [
            (f"{unit} {month}", n)
            for (unit, month), n in sorted(self.requests_per_unit_month.items())
        ]
        return [
            ("Requests per unit and month", per_unit_month),
            ("Orders: written or oral", rows(self.order_forms)),
            ("Late written orders", [("late", self.late_written_orders)]),
            ("Rejections by reason", rows(self.rejections)),
            ("Closed without delivery", [("closed", self.closed_without_delivery)]),
            ("Crime types", rows(self.crime_types)),
            ("Legal basis", rows(self.legal_bases)),
            ("Searches by kind", rows(self.search_kinds)),
            ("Searches per month", rows(self.searches_per_month)),
            ("Searches refused (outside the order)", [("refused", self.searches_refused)]),
            ("Search window length", rows(self.window_lengths)),
            ("How far back", rows(self.days_back)),
            (
                "Results",
                [
                    ("rows supplied", self.rows_supplied),
                    ("nothing found", self.nothing_found),
                    ("withheld (written order late)", self.withheld),
                ],
            ),  # fmt: skip
            ("Foreign requests by country", rows(self.foreign_requests)),
            ("Photos approved (blurred)", [("photos", self.photos_approved)]),
            ("Cameras used by kind", rows(self.cameras_used)),
            (
                "Orders confirmed by a prosecutor",
                [
                    (label, self.confirmations[label])
                    for label in ("confirmed", "refused", "confirmation late or missing")
                ],
            ),  # fmt: skip
            (
                "Scope exceptions",
                [
                    (label, self.scope_exceptions[label])
                    for label in ("requested", "approved", "refused")
                ],
            ),  # fmt: skip
            (
                "Deletions by retention",
                [("days destroyed", self.days_destroyed), ("rows destroyed", self.rows_destroyed)],
            ),  # fmt: skip
        ]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", "item", "count"])
        for title, items in self.sections():
            for label, count in items:
                writer.writerow([title, label, count])
        return out.getvalue()


def yearly_report(
    trail: AuditTrail, year: int, now: datetime, camera_kinds: dict[str, str] | None = None
) -> YearlyReport:
    kinds = camera_kinds or {}
    report = YearlyReport(year)
    entries = trail.records(since=f"{year}-01-01", until=f"{year + 1}-01-01")
    attached = _first_written_orders(trail)
    decided = _first_confirmations(trail)
    delivered: set[int] = set()
    cameras: set[str] = set()
    for entry in entries:
        action, d = entry["action"], entry["details"]
        if action == "request_registered":
            report.requests_per_unit_month[(d["unit"], entry["at"][:7])] += 1
            report.order_forms[d["order_form"]] += 1
            report.crime_types[d["crime_type"]] += 1
            report.legal_bases[d["legal_basis"]] += 1
            if d["foreign"]:
                report.foreign_requests[d["foreign"]] += 1
            if d["written_due"] is not None:
                late = attached.get(d["request_id"])
                due_passed = datetime.fromisoformat(d["written_due"]) < now
                report.late_written_orders += late if late is not None else due_passed
            if d.get("confirmation_due") is not None:
                late = decided.get(d["request_id"])
                due_passed = datetime.fromisoformat(d["confirmation_due"]) < now
                missing = late if late is not None else due_passed
                report.confirmations["confirmation late or missing"] += missing
        elif action in ("order_confirmed", "order_refused"):
            report.confirmations[action.removeprefix("order_")] += 1
        elif action.startswith("scope_exception_"):
            report.scope_exceptions[action.removeprefix("scope_exception_")] += 1
        elif action == "request_rejected":
            report.rejections[d["reason"]] += 1
        elif action == "request_delivered":
            delivered.add(d["request_id"])
        elif action == "request_closed" and d["request_id"] not in delivered:
            report.closed_without_delivery += 1
        elif action == "consultation":
            report.searches_per_month[entry["at"][:7]] += 1
            _count_consultation(report, d, cameras)
        elif action == "consultation_refused":
            report.searches_refused += 1
        elif action == "photo_approved":
            report.photos_approved += 1
        elif action == "retention_destroyed":
            report.days_destroyed += len(d["days"])
            report.rows_destroyed += d["rows"]
    report.cameras_used.update(kinds.get(c, "unknown") for c in cameras)
    return report


def _first_written_orders(trail: AuditTrail) -> dict[int, bool]:
    """Per request: was its first written order late? (absent: none attached yet)."""
    found: dict[int, bool] = {}
    for entry in trail.records({"written_order_attached"}):
        found.setdefault(entry["details"]["request_id"], entry["details"]["late"])
    return found


def _first_confirmations(trail: AuditTrail) -> dict[int, bool]:
    """Per request: was the prosecutor's decision on its order late? (absent: none yet)."""
    found: dict[int, bool] = {}
    for entry in trail.records({"order_confirmed", "order_refused"}):
        found.setdefault(entry["details"]["request_id"], entry["details"]["late"])
    return found


def _count_consultation(report: YearlyReport, d: dict, cameras: set[str]) -> None:
    report.search_kinds[d["search_kind"]] += 1
    report.window_lengths[_bucket(d["window_hours"], WINDOW_BUCKETS)] += 1
    report.days_back[_bucket(d["days_back"], DAYS_BACK_BUCKETS)] += 1
    supplied = d["supplied"]
    report.rows_supplied += supplied["rows"]
    report.nothing_found += supplied["nothing_found"]
    report.withheld += bool(supplied["withheld"])
    cameras.update(d["query"]["cameras"])
    cameras.update(p.rsplit("/", 1)[0] for p in supplied["passages"])
