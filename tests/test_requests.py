"""Requests on a prosecutor's order: scope, who executes, states, withheld results, the trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit import AuditTrail
from central.cameras import CameraRegistry
from central.databases import DatabaseError
from central.requests.consultation import Query, consult
from central.requests.orders import Foreign, Order, RequestError, Scope, Window
from central.requests.overview import team_overview
from central.requests.review import unusual_use
from central.requests.store import Requests
from central.requests.workflow import Workflow
from central.store import open_store
from tests.conftest import confirm_order, verified_passage, write_central_config
from wire import SigningKey

NOW = datetime.now(UTC).replace(microsecond=0)
PASSWORD = "correct horse battery staple"


def order(**changes) -> Order:
    values = dict(
        reference="OM-2026-0001", prosecutor="mr. J. de Vries", order_time=NOW,
        order_form="written", legal_basis="detention_crime", investigation="Zwaluw",
        case_number="PL0900-2026-1", crime="armed robbery", crime_type="robbery",
        description="dark Volvo, plate GBL12X", necessity="the getaway car's route",
        scope=Scope(windows=(Window(NOW - timedelta(days=3), NOW - timedelta(days=1)),),
                    plates=("GBL12X", "GB?12*"), cameras=("test-cam-01",)),
        team=("o.team",),
    )  # fmt: skip
    values.update(changes)
    return Order(**values)


class Case:
    """Accounts (requester, two officers, one on the team), a store with passages, a trail.

    `store_location` (the fixture) puts the accounts and requests on the test's backend; the
    passages, cameras and the audit trail stay in their SQLite files under the config."""

    def __init__(self, tmp_path, store_location=None) -> None:
        setup = write_central_config(tmp_path, broker_port=1883)
        self.config, self.config_path = setup.config, setup.config_path
        store_location = store_location or self.configured_location
        self.accounts = Accounts(store_location("accounts"))
        for name, unit, roles in (
            ("r.requester", "unit-midden", ["requester"]), ("o.team", "unit-midden", ["officer"]),
            ("o.north", "unit-noord", ["officer"]), ("a.auditor", "unit-midden", ["auditor"]),
        ):  # fmt: skip
            self.accounts.add(name, name, unit, roles, PASSWORD, NOW)
        self.register = Register(self.accounts)
        for name, unit in (("o.team", "unit-midden"), ("o.north", "unit-noord")):
            self.register.authorise(name, unit, "chief", date.today() + timedelta(days=90), NOW)
        self.requests = Requests(store_location("requests"))
        self.trail = AuditTrail(self.config.audit_path)
        self.flow = Workflow(self.requests, self.register, self.trail)
        self.store = open_store(self.config)
        key = SigningKey.generate()
        self.register_cameras(key, "test-cam-01")
        self.store.insert_batch(
            [verified_passage(key, seq=1, captured_at=NOW - timedelta(days=2)),
             verified_passage(key, seq=2, captured_at=NOW - timedelta(days=2, hours=1),
                              plate="XY123Z")],
            NOW,
        )  # fmt: skip

    def configured_location(self, name: str):
        """Where the config puts a store (its SQLite file, as write_central_config says)."""
        return getattr(self.config, f"{name}_path")

    def register_cameras(self, key: SigningKey, *cameras: str) -> None:
        """Served rows are checked against their camera's key: the cameras must be known."""
        registry = CameraRegistry(self.config.cameras_path)
        for camera_id in cameras:
            registry.add(camera_id, key.verify_key, NOW)
        registry.close()

    def close(self) -> None:
        for part in (self.store, self.trail, self.requests, self.accounts):
            part.close()

    def accepted(self, **changes) -> int:
        request_id = self.flow.submit(order(**changes), "r.requester", "unit-midden", NOW)
        confirm_order(self.flow, request_id, NOW)
        self.flow.accept(request_id, "o.north", True, NOW)
        return request_id

    def search(self, request_id: int, when: datetime = NOW, **query):
        values = dict(start=NOW - timedelta(days=3), end=NOW - timedelta(days=1), plate="GBL12X")
        values.update(query)
        return consult(self.requests, request_id, "o.north", Query(**values), self.store,
                       self.trail, when)  # fmt: skip


@pytest.fixture
def case(tmp_path, store_location):
    found = Case(tmp_path, store_location)
    yield found
    found.close()


# Tests of an order's rules or of the audit trail, not of the requests store: run on SQLite
# only (each `case` on PostgreSQL costs a database of its own).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


def test_an_order_without_plates_or_cameras_or_window_is_refused():
    with pytest.raises(RequestError, match="plates or cameras"):
        order(scope=Scope(windows=(Window(NOW - timedelta(hours=1), NOW),)))
    with pytest.raises(RequestError, match="time window"):
        Scope(windows=(), plates=("GBL12X",))
    with pytest.raises(RequestError, match="legal basis"):
        order(legal_basis="curiosity")
    with pytest.raises(RequestError, match="legal-assistance"):
        order(foreign=Foreign("CW", " "))
    assert order(order_form="oral").written_due == NOW + timedelta(days=3)
    assert order().written_due is None


def test_an_officer_on_the_investigation_is_refused_and_the_request_handed_over(case):
    request_id = case.flow.submit(order(), "r.requester", "unit-midden", NOW)
    confirm_order(case.flow, request_id, NOW)
    with pytest.raises(RequestError, match="registered on this investigation"):
        case.flow.accept(request_id, "o.team", True, NOW)
    with pytest.raises(RequestError, match="involved"):
        case.flow.hand_over(request_id, "o.team", "o.team", "on the team", NOW)
    case.flow.hand_over(request_id, "o.team", "o.north", "o.team works on Zwaluw", NOW)
    state = case.requests.get(request_id).state
    assert (state.state, state.assignee) == ("received", "o.north")
    with pytest.raises(RequestError, match="declare"):
        case.flow.accept(request_id, "o.north", False, NOW)
    case.flow.accept(request_id, "o.north", True, NOW)
    assert case.requests.get(request_id).state.executor == "o.north"
    handed = [e for e in case.trail.records({"request_handed_over"})]
    assert handed[0]["details"]["to_unit"] == "unit-noord"
    assert [e["action"] for e in case.trail.records({"execution_refused"})]


def test_consultation_is_logged_with_every_field_of_the_decree(case):
    request_id = case.accepted()
    result = case.search(request_id)
    assert [p.plate for p in result.rows] == ["GBL12X"] and not result.withheld
    (entry,) = case.trail.records({"consultation"})
    d = entry["details"]
    assert d["executing_officer"] == "o.north"  # (a)
    assert d["requesting_officer"] == "r.requester"  # (b)
    assert d["order_reference"] == "OM-2026-0001"  # (c)
    assert d["investigation"] == "Zwaluw (PL0900-2026-1)"  # (d)
    assert d["request_time"] and d["consultation_time"]  # (e), (f)
    assert d["query"]["plate"] == "GBL12X" and d["request"]["scope"]["plates"]  # (g)
    assert d["supplied"]["rows"] == 1 and d["supplied"]["passages"] == ["test-cam-01/1"]  # (h)
    assert d["supply_time"]  # (i)
    nothing = case.search(request_id, end=NOW - timedelta(days=2, hours=2))
    assert nothing.rows == []
    supplied, empty = case.requests.results.for_request(request_id)
    assert (supplied.row_count, empty.row_count) == (1, 0)
    assert [p.plate for p in case.requests.results.rows(supplied.audit_seq, 0, 1)] == ["GBL12X"]
    assert case.requests.results.rows(supplied.audit_seq, 1, 1) == []
    last = case.trail.records({"consultation"})[-1]["details"]["supplied"]
    assert last["nothing_found"] and last["rows"] == 0 and not last["withheld"]


@pytest.mark.parametrize(
    "query, reason",
    [
        (dict(plate="XY123Z"), "not in the order's scope"),
        (dict(plate="GB*"), "not in the order's scope"),  # wider than the order's pattern
        (dict(start=NOW - timedelta(days=5)), "outside the order's time windows"),
        (dict(plate="", cameras=("test-cam-02",)), "cameras outside"),
        (dict(plate=""), "no open-ended searches"),
    ],
)
@sqlite_only
def test_searches_outside_the_order_are_refused_and_logged(case, query, reason):
    request_id = case.accepted()
    with pytest.raises(RequestError, match=reason):
        case.search(request_id, **query)
    (refused,) = case.trail.records({"consultation_refused"})
    assert reason in refused["details"]["refused"]
    assert unusual_use(case.trail)[0].kind == "outside the order"


def test_results_are_withheld_while_the_oral_orders_written_order_is_late(case):
    request_id = case.accepted(order_form="oral", order_time=NOW - timedelta(days=4))
    withheld = case.search(request_id)
    assert withheld.rows == [] and "written order is overdue" in withheld.withheld
    (entry,) = case.trail.records({"consultation"})
    assert entry["details"]["supplied"]["rows"] == 0 and entry["details"]["written_order_late"]
    case.flow.attach_written_order(request_id, "r.requester", "order.pdf", b"%PDF-1.4", NOW)
    attached = case.requests.get(request_id).steps[-1]
    assert attached.kind == "written_order" and attached.detail["late"] is True
    assert [p.plate for p in case.search(request_id).rows] == ["GBL12X"]


@sqlite_only
def test_an_oral_order_within_its_three_days_is_searchable(case):
    request_id = case.accepted(order_form="oral", order_time=NOW - timedelta(days=2))
    assert case.search(request_id).rows


def test_a_step_in_error_is_reversed_by_a_new_step_and_history_is_never_edited(case, backend):
    request_id = case.flow.submit(order(), "r.requester", "unit-midden", NOW)
    confirm_order(case.flow, request_id, NOW)
    case.flow.reject(request_id, "o.north", "no order attached", NOW)
    with pytest.raises(RequestError, match="rejected cannot be accepted"):
        case.flow.accept(request_id, "o.north", True, NOW)
    case.flow.reverse(request_id, "o.north", "rejected the wrong request", NOW)
    assert case.requests.get(request_id).state.state == "received"
    kinds = [s.kind for s in case.requests.get(request_id).steps]
    assert kinds == ["registered", "order_confirmed", "rejected", "reversed"]
    with pytest.raises(DatabaseError, match="append-only"):
        case.requests.db.execute("UPDATE steps SET kind = 'accepted'")
    with pytest.raises(DatabaseError, match="append-only"):
        case.requests.db.execute("DELETE FROM steps")
    if backend == "postgresql":  # SQLite has no TRUNCATE; PostgreSQL's skips row triggers
        with pytest.raises(DatabaseError, match="append-only"):
            case.requests.db.execute("TRUNCATE steps")
    assert [s.kind for s in case.requests.get(request_id).steps] == kinds


def test_a_request_can_be_closed_from_every_state(case):
    for state_steps in ([], ["reject"], ["accept"], ["accept", "deliver"]):
        request_id = case.flow.submit(
            order(reference=f"OM-{len(state_steps)}-{'-'.join(state_steps)}"), "r.requester",
            "unit-midden", NOW,
        )  # fmt: skip
        confirm_order(case.flow, request_id, NOW)
        for step in state_steps:
            case.flow.take(request_id, "o.north", step, {"declaration": "yes", "reason": "x"}, NOW)
        case.flow.close(request_id, "r.requester", "entered wrongly", NOW)
        assert case.requests.get(request_id).state.state == "closed"
    with pytest.raises(RequestError, match="closed cannot be closed"):
        case.flow.close(request_id, "r.requester", "again", NOW)


def test_overview_counts_down_to_destruction_most_urgent_first(case):
    soon = Scope(windows=(Window(NOW - timedelta(days=26), NOW - timedelta(days=25)),),
                 plates=("GBL12X",))  # fmt: skip
    later = Scope(windows=(Window(NOW - timedelta(days=2), NOW - timedelta(days=1)),),
                  plates=("GBL12X",))  # fmt: skip
    ids = [case.flow.submit(order(reference=ref, scope=scope), "r.requester", "unit-midden", NOW)
           for ref, scope in (("later", later), ("soon", soon))]  # fmt: skip
    case.flow.close(ids[0], "r.requester", "done", NOW)
    case.flow.submit(order(reference="later-2", scope=later), "r.requester", "unit-midden", NOW)
    open_lines, finished = team_overview(case.requests.all(), NOW)
    assert [x.request.order.reference for x in open_lines] == ["soon", "later-2"]
    assert open_lines[0].first_loss_days == pytest.approx(2.0, abs=0.01)
    assert [x.request.order.reference for x in finished] == ["later"]


def test_shielded_requests_are_seen_only_by_those_inside(case):
    request_id = case.flow.submit(order(shielded=True), "r.requester", "unit-midden", NOW)
    found = case.requests.get(request_id)
    assert found.visible_to("r.requester", frozenset({"requester"}))
    assert found.visible_to("o.team", frozenset({"officer"}))
    assert found.visible_to("a.auditor", frozenset({"auditor"}))
    assert not found.visible_to("o.north", frozenset({"officer"}))
    assert case.requests.get(case.flow.submit(order(reference="open"), "r.requester", "u", NOW)) \
        .visible_to("o.north", frozenset({"officer"}))  # fmt: skip


def test_an_urgent_request_notifies_the_authorised_officers_on_call(case):
    case.requests.rota.add("o.north", NOW - timedelta(hours=1), NOW + timedelta(hours=7))
    case.requests.rota.add("o.team", NOW - timedelta(hours=1), NOW + timedelta(hours=7))
    case.requests.rota.add("o.later", NOW + timedelta(hours=8), NOW + timedelta(hours=16))
    request_id = case.flow.submit(order(urgent=True), "r.requester", "unit-midden", NOW)
    assert [n["request_id"] for n in case.requests.notifications.of("o.north")] == [request_id]
    assert case.requests.notifications.of("o.team") == [], "on the team: not asked"
    assert case.requests.notifications.of("o.later") == []


@sqlite_only
def test_the_same_plate_across_investigations_and_greedy_windows_are_surfaced(case):
    first = case.accepted()
    case.search(first)  # the whole window: "at the edge"
    second = case.accepted(reference="OM-2", investigation="Merel", case_number="PL-2")
    case.search(second, start=NOW - timedelta(days=2, hours=3), end=NOW - timedelta(days=2))
    kinds = {f.kind for f in unusual_use(case.trail)}
    assert kinds == {"at the edge of the order", "plate searched across investigations"}


@sqlite_only
def test_a_lapsed_authorisation_cannot_execute(case):
    request_id = case.flow.submit(order(), "r.requester", "unit-midden", NOW)
    later = NOW + timedelta(days=91)
    with pytest.raises(RequestError, match="authorised officer"):
        case.flow.accept(request_id, "o.north", True, later)


# --- no fishing expeditions (#20, finding 3) -------------------------------------------------


def wide(**scope) -> Scope:
    values = dict(windows=(Window(NOW - timedelta(days=3), NOW - timedelta(days=1)),))
    values.update(scope)
    return Scope(**values)


EVERY_CAMERA = tuple(f"cam-{i:04d}" for i in range(1324))


@pytest.mark.parametrize(
    "scope, reason",
    [
        (
            wide(plates=("A*",)),
            "plate pattern A\\* fixes 1 letters or digits: a partial plate needs at least 4",
        ),  # fmt: skip
        (wide(plates=("GB?1*",)), "fixes 3 letters or digits"),
        (
            wide(windows=(Window(NOW - timedelta(days=27), NOW),), cameras=EVERY_CAMERA),
            "names 1324 cameras: at most 24",
        ),
        (
            wide(windows=(Window(NOW - timedelta(days=27), NOW),), cameras=("test-cam-01",)),
            "covers 648 camera-hours \\(1 camera\\(s\\) x 648.0 h\\): at most 240",
        ),
        (
            wide(
                windows=(Window(NOW - timedelta(days=1), NOW),),
                cameras=tuple(f"cam-{i}" for i in range(11)),
            ),
            "264 camera-hours",
        ),
        (
            wide(windows=(Window(NOW - timedelta(days=36500), NOW),), plates=("GBL12X",)),
            "spans 36500 days: the store keeps 28",
        ),
        (
            wide(
                windows=(Window(NOW - timedelta(days=30), NOW - timedelta(days=20)),),
                plates=("GBL12X",),
            ),
            "before the store's horizon",
        ),
        (
            wide(
                windows=(Window(NOW - timedelta(days=1), NOW + timedelta(days=7)),),
                plates=("GBL12X",),
            ),
            "after the order is registered .* a hotlist's work",
        ),
    ],
)
@sqlite_only
def test_fishing_orders_are_refused_at_registration_with_a_reason(case, scope, reason):
    with pytest.raises(RequestError, match=reason):
        case.flow.submit(order(scope=scope), "r.requester", "unit-midden", NOW)
    assert case.requests.all() == [] and case.trail.records() == [], "nothing registered"


def test_an_order_within_the_limits_is_registered(case):
    """A day at ten cameras, a partial plate with four known characters, 28 days back."""
    scope = wide(windows=(Window(NOW - timedelta(days=1), NOW),),
                 cameras=tuple(f"cam-{i}" for i in range(10)))  # fmt: skip
    assert case.flow.submit(order(scope=scope), "r.requester", "unit-midden", NOW)
    scope = wide(windows=(Window(NOW - timedelta(days=28), NOW),), plates=("GB?12X", "GBL1*"))
    assert case.flow.submit(order(reference="OM-2", scope=scope), "r.requester", "u", NOW)
    with pytest.raises(RequestError, match="OM-2 is registered already"):
        case.requests.register(order(reference="OM-2", scope=scope), "r.requester", "u", NOW)
    assert [r.order.reference for r in case.requests.all()] == ["OM-2026-0001", "OM-2"]


def test_searches_on_an_order_registered_before_the_limits_are_held_to_them(case):
    """An `A*` order over 27 days at one camera, stored before the limits existed."""
    old = order(scope=wide(windows=(Window(NOW - timedelta(days=27), NOW),), plates=("A*",),
                           cameras=("test-cam-01",)))  # fmt: skip
    request_id = case.requests.register(old, "r.requester", "unit-midden", NOW)
    confirm_order(case.flow, request_id, NOW)
    case.flow.accept(request_id, "o.north", True, NOW)
    window = dict(start=NOW - timedelta(days=27), end=NOW)
    with pytest.raises(RequestError, match="plate pattern A\\* fixes 1"):
        case.search(request_id, plate="A*", **window)
    with pytest.raises(RequestError, match="the search covers 648 camera-hours"):
        case.search(request_id, plate="", cameras=("test-cam-01",), **window)
    assert len(case.trail.records({"consultation_refused"})) == 2
    narrow = dict(start=NOW - timedelta(days=2, hours=2), end=NOW - timedelta(days=2) +
                  timedelta(hours=1))  # fmt: skip
    found = case.search(request_id, plate="", cameras=("test-cam-01",), **narrow)
    assert sorted(p.plate for p in found.rows) == ["GBL12X", "XY123Z"]
