"""`make bench-search`: the largest case, a 30,000-row time/place result, end to end.

    python -m benchmarks.search [--rows 30000] [--cameras 8]

Loads `--rows` signed passages with real-sized images (overview ~40 KB, crop ~3 KB) at
`--cameras` cameras within two hours, then runs an order-bound time/place search through
the same code as the pages: count, open (search, audit entry, result set), paging 500 rows
at a time (first, middle, last page, with verification states), the signed package with
every crop and signed record, and its verification. Targets: pages without delay; the
package in under 30 s on the development machine.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.passages import Fleet
from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit import AuditTrail
from central.cameras import CameraRegistry
from central.requests.consultation import Query, consult, count
from central.requests.downloads import Issue
from central.requests.orders import Order, Scope, Window
from central.requests.package import build_package, verify_package
from central.requests.store import Requests
from central.requests.verification import row_states
from central.requests.workflow import Workflow
from central.store.partitioned import DayPartitionedStore
from wire import SigningKey, decode_passage

PAGE = 500
PASSWORD = "correct horse battery staple"


def line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}", flush=True)


def load(store: DayPartitionedStore, fleet: Fleet, rows: int, start: datetime) -> None:
    began = time.perf_counter()
    step = timedelta(hours=2) / rows
    for first in range(0, rows, 500):
        chunk = min(500, rows - first)
        payloads = fleet.payloads(chunk, start + step * first, first_seq=1 + first)
        verified = [
            decode_passage(payload).verify(fleet.keys[camera].verify_key)
            for camera, payload in payloads
        ]
        store.insert_batch(verified, datetime.now(UTC))
    line("passages loaded (signed, images encrypted)",
         f"{rows:,} in {time.perf_counter() - began:.1f} s")  # fmt: skip


def timed(what):
    began = time.perf_counter()
    result = what()
    return result, time.perf_counter() - began


def run(root: Path, rows: int, cameras: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(days=1)).replace(minute=0, second=0)
    store = DayPartitionedStore(root / "data", root / "keys", cameras_path=root / "cameras.db")
    fleet = Fleet.make(cameras=cameras)
    registry = CameraRegistry(root / "cameras.db")  # served rows are checked under these keys
    for camera_id, camera_key in fleet.keys.items():
        registry.add(camera_id, camera_key.verify_key, now)
    registry.close()
    print(f"\nA {rows:,}-row time/place result at {cameras} cameras", flush=True)
    load(store, fleet, rows, start)

    accounts = Accounts(root / "accounts.sqlite")
    for name, role in (("r.requester", "requester"), ("o.officer", "officer"),
                       ("p.prosecutor", "prosecutor")):  # fmt: skip
        accounts.add(name, name, "unit-bench", [role], PASSWORD, now)
    register = Register(accounts)
    register.authorise("o.officer", "unit-bench", "chief", date.today() + timedelta(30), now)
    requests, trail = Requests(root / "requests.sqlite"), AuditTrail(root / "audit.sqlite")
    flow = Workflow(requests, register, trail)
    window = Window(start - timedelta(hours=1), start + timedelta(hours=3))
    order = Order(
        reference="OM-BENCH-1", prosecutor="mr. Bench", order_time=now, order_form="written",
        legal_basis="detention_crime", investigation="Bench", case_number="PL-1",
        crime="robbery", crime_type="robbery", description="all passing vehicles",
        necessity="benchmark", scope=Scope(windows=(window,), cameras=tuple(fleet.keys)),
    )  # fmt: skip
    request_id = flow.submit(order, "r.requester", "unit-bench", now)
    flow.confirm_order(request_id, "p.prosecutor", True, "", now)  # a written order waits for it
    flow.accept(request_id, "o.officer", True, now)
    query = Query(start=start, end=start + timedelta(hours=2), cameras=tuple(fleet.keys))
    args = (requests, request_id, "o.officer", query, store, trail)

    (number, _), took = timed(lambda: count(*args, now=now))
    line("count before opening", f"{number:,} rows in {took * 1000:,.0f} ms")
    result, took = timed(lambda: consult(*args, now=now))
    line("open: search, rows checked as signed, audit entry, result set saved",
         f"{took:.2f} s, {len(result.integrity_withheld)} withheld")  # fmt: skip
    rows = requests.results.rows(result.audit_seq)
    _, took = timed(lambda: store.check_served(rows))
    line("  of which: rows held against their signed record",
         f"{took:.2f} s ({took / max(1, len(rows)) * 1e6:.0f} µs per row)")  # fmt: skip
    result_set = requests.results.get(result.audit_seq)
    for label, page in (
        ("first", 0),
        ("middle", number // PAGE // 2),
        ("last", max(0, number - 1) // PAGE),
    ):
        page_rows, took = timed(lambda p=page: requests.results.rows(result.audit_seq,
                                                                     p * PAGE, PAGE))  # fmt: skip
        _, states_took = timed(lambda r=page_rows: row_states(store, result_set, r))
        line(f"page of {PAGE} rows ({label}) + verification states",
             f"{(took + states_took) * 1000:,.1f} ms")  # fmt: skip
    flow.deliver(request_id, "o.officer", now)
    key = SigningKey.generate()
    supplied, took = timed(lambda: build_package(requests.get(request_id), requests, store, key,
                                                 Issue(1, "r.requester", now)))  # fmt: skip
    package = supplied.data
    line(f"package: {number:,} rows, crops and signed records", f"{took:.1f} s (target < 30 s)")
    line("package size", f"{len(package) / 2**20:,.1f} MiB")
    path = root / "package.zip"
    path.write_bytes(package)
    problems, took = timed(lambda: verify_package(path, key.verify_key))
    line("package verify", f"{took:.1f} s, {'intact' if not problems else problems[:3]}")
    for part in (store, requests, trail, accounts):
        part.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--cameras", type=int, default=8)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        run(root, args.rows, args.cameras)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
