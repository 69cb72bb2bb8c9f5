"""The camera plan: versions, signatures, ratification, status, mobile deployments, and the
storage periods they give each camera; on each backend of the central's stores (#21)."""

import json
from datetime import UTC, datetime

import pytest

from central.accounts.users import Identity
from central.audit import AuditTrail
from central.cameras import CameraRegistry
from central.databases import IntegrityError
from central.periods import active_periods, merge, storage_periods
from central.plan.registry import CameraPlan, Entry, PlanError, motivation_digest
from wire import SigningKey

T = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
PROSECUTOR = Identity("p.visser", "mr. P. Visser", frozenset({"prosecutor"}))


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=UTC)


def entry(camera_id: str, kind: str = "fixed", **changes) -> Entry:
    values = dict(
        year=2027, camera_id=camera_id, kind=kind, owner="Politie Midden-Nederland",
        controller="korpschef", section_id=None, lat_e7=520907000, lon_e7=51214000,
        road="A12", direction="E", lane=1, criterion="b",
        motivation="Intensive traffic on the A12 junction; main route for transport of goods.",
        signed_by=None, signed_at=None,
    )  # fmt: skip
    values.update(changes)
    return Entry(**values)


@pytest.fixture
def plan(store_location):
    cameras = CameraRegistry(store_location("cameras"))
    for camera_id in ("a12-fixed-1", "mobile-07", "traffic-prov-3"):
        cameras.add(camera_id, SigningKey.generate().verify_key, T)
    plan = CameraPlan(store_location("plan"), cameras)
    yield plan
    plan.close()
    cameras.close()


@pytest.fixture
def audit(tmp_path):
    trail = AuditTrail(tmp_path / "audit.sqlite")
    yield trail
    trail.close()


def sign(plan, audit, camera_id, signer=PROSECUTOR, shown=None):
    """The prosecutor signs the motivation as the plan holds it now (or the text `shown`)."""
    text = shown if shown is not None else plan.entry(2027, camera_id).motivation
    plan.sign(2027, camera_id, signer, motivation_digest(text), audit, T)


def test_fixed_camera_stores_only_after_ratification_of_signed_motivations(plan, audit):
    plan.draft(2027, "plan-admin", T)
    plan.add_entry(entry("a12-fixed-1"), "plan-admin", T)
    assert not plan.cameras.designated("a12-fixed-1", at(2, 1)), "a draft grants nothing"
    with pytest.raises(PlanError, match="not signed by a prosecutor: a12-fixed-1"):
        plan.ratify(2027, "hoofdofficier", T)
    sign(plan, audit, "a12-fixed-1")
    plan.ratify(2027, "hoofdofficier", at(1, 15))
    assert not plan.cameras.designated("a12-fixed-1", at(1, 14))
    assert plan.cameras.designated("a12-fixed-1", at(6, 1))
    assert not plan.cameras.designated("a12-fixed-1", datetime(2028, 1, 1, 0, 1, tzinfo=UTC))
    with pytest.raises(PlanError, match="ratified, not draft"):
        plan.add_entry(entry("traffic-prov-3", kind="third_party"), "plan-admin", T)


def test_suspension_for_works_cuts_the_storage_period(plan, audit):
    plan.draft(2027, "plan-admin", T)
    plan.add_entry(entry("a12-fixed-1"), "plan-admin", T)
    sign(plan, audit, "a12-fixed-1")
    plan.ratify(2027, "hoofdofficier", T)
    plan.set_status("a12-fixed-1", "suspended", at(3, 1), "road works", "maintainer", T)
    plan.set_status("a12-fixed-1", "active", at(3, 20), "works done", "maintainer", T)
    assert plan.cameras.designated("a12-fixed-1", at(2, 28))
    assert not plan.cameras.designated("a12-fixed-1", at(3, 10))
    assert plan.cameras.designated("a12-fixed-1", at(3, 21))


def test_mobile_camera_stores_only_during_recorded_deployments(plan, audit):
    plan.draft(2027, "plan-admin", T)
    plan.add_entry(entry("mobile-07", kind="mobile", criterion="c"), "plan-admin", T)
    sign(plan, audit, "mobile-07")
    with pytest.raises(PlanError, match="ratified"):
        plan.deploy(2027, "mobile-07", "N201", "known crime location", 52.2, 4.8,
                    at(4, 1), at(4, 8), "ram raids on jewellers", "officer", T)  # fmt: skip
    plan.ratify(2027, "hoofdofficier", T)
    assert not plan.cameras.designated("mobile-07", at(4, 2))
    plan.deploy(2027, "mobile-07", "N201 Uithoorn", "known crime location", 52.2, 4.8,
                at(4, 1), at(4, 8), "series of ram raids on jewellers", "officer", T)  # fmt: skip
    assert plan.cameras.designated("mobile-07", at(4, 2))
    assert not plan.cameras.designated("mobile-07", at(4, 9))
    with pytest.raises(PlanError, match="not a mobile camera"):
        plan.deploy(
            2027, "a12-fixed-1", "x", "y", 52, 5, at(5, 1), at(5, 2), "no reason given", "o", T
        )


def test_acceptance_test_against_the_90_percent_floor(plan):
    assert not plan.record_acceptance("a12-fixed-1", 100, 89, "technician", T)
    assert plan.record_acceptance("a12-fixed-1", 100, 90, "technician", T)
    assert plan.acceptance("a12-fixed-1")["passed"] is True


def test_every_change_is_logged_with_who(plan):
    plan.draft(2027, "plan-admin", T)
    plan.add_location("a12-ut", "A12 knooppunt Oudenrijn", "A12", 52.07, 5.06, "plan-admin", T)
    plan.add_section("a12-ut-e", "a12-ut", "eastbound exit 17", "E", "plan-admin", T)
    actors = {c["actor"] for c in plan.changes()}
    assert actors == {"plan-admin"}
    assert any("eastbound exit 17" in c["what"] for c in plan.changes())
    with pytest.raises(PlanError, match="names who"):
        plan.draft(2028, " ", T)


def test_cameras_in_no_plan_are_listed_as_hotlist_only(plan):
    plan.draft(2027, "plan-admin", T)
    plan.add_entry(entry("a12-fixed-1"), "plan-admin", T)
    assert plan.hotlist_only() == ["mobile-07", "traffic-prov-3"]


def test_entries_need_a_real_motivation_and_criterion(plan):
    plan.draft(2027, "plan-admin", T)
    with pytest.raises(PlanError, match="motivation"):
        plan.add_entry(entry("a12-fixed-1", motivation="busy"), "plan-admin", T)
    with pytest.raises(PlanError, match="criterion"):
        plan.add_entry(entry("a12-fixed-1", criterion="d"), "plan-admin", T)


def test_period_arithmetic():
    d = lambda day: datetime(2027, 1, day, tzinfo=UTC)  # noqa: E731
    assert merge([(d(1), d(5)), (d(4), d(8)), (d(10), d(12))]) == [(d(1), d(8)), (d(10), d(12))]
    assert active_periods([(d(3), "suspended"), (d(1), "planned")]) == [
        (datetime.min.replace(tzinfo=UTC), d(1))
    ]
    assert active_periods([(d(1), "planned"), (d(2), "active"), (d(3), "suspended")]) == [
        (datetime.min.replace(tzinfo=UTC), d(1)),
        (d(2), d(3)),
    ]
    assert storage_periods([(d(1), d(20))], [], [(d(5), "retired")]) == [(d(1), d(5))]
    assert storage_periods([(d(1), d(20))], [], [(d(1), "planned"), (d(5), "active")]) == [
        (d(5), d(20))
    ]
    assert storage_periods([], [(d(2), d(3))], []) == [(d(2), d(3))]


# --- signatures by accounts (#20) ------------------------------------------------------------


def drafted(plan, *camera_ids):
    plan.draft(2027, "p.admin", T)
    for camera_id in camera_ids:
        plan.add_entry(entry(camera_id), "p.admin", T)


def test_a_signature_names_the_account_covers_the_text_and_is_in_the_audit_trail(plan, audit):
    drafted(plan, "a12-fixed-1")
    sign(plan, audit, "a12-fixed-1")
    signed = plan.entry(2027, "a12-fixed-1")
    assert (signed.signed_by, signed.signer_name, signed.signed) == (
        "p.visser", "mr. P. Visser", True,
    )  # fmt: skip
    (record,) = [e for e in audit.entries() if e["action"] == "plan_motivation_signed"]
    assert record["actor"] == "p.visser" and record["at"] == "2027-01-10T09:00:00.000Z"
    assert json.loads(record["details"]) == {
        "year": 2027, "camera_id": "a12-fixed-1", "criterion": "b",
        "motivation_sha256": motivation_digest(signed.motivation), "signer_name": "mr. P. Visser",
    }  # fmt: skip
    with pytest.raises(PlanError, match="is signed by mr. P. Visser"):
        sign(plan, audit, "a12-fixed-1")


def test_only_a_prosecutor_who_does_not_administer_the_plan_signs(plan, audit):
    drafted(plan, "a12-fixed-1")
    admin = Identity("p.admin", "P. Admin", frozenset({"plan_admin"}))
    both = Identity("p.both", "P. Both", frozenset({"plan_admin", "prosecutor"}))
    writer = Identity("p.admin", "P. Admin", frozenset({"prosecutor"}))
    with pytest.raises(PlanError, match="p.admin is not a prosecutor"):
        sign(plan, audit, "a12-fixed-1", signer=admin)
    for signer in (both, writer):
        with pytest.raises(PlanError, match="did not write it"):
            sign(plan, audit, "a12-fixed-1", signer=signer)
    assert not plan.entry(2027, "a12-fixed-1").signed_by and audit.entries() == []


def test_a_motivation_changed_since_it_was_shown_is_not_signed(plan, audit):
    drafted(plan, "a12-fixed-1")
    with pytest.raises(PlanError, match="changed since it was shown to you"):
        sign(plan, audit, "a12-fixed-1", shown="An older text the prosecutor read and agreed.")
    assert plan.entry(2027, "a12-fixed-1").signed_by is None


def test_revising_a_signed_motivation_voids_its_signature(plan, audit):
    drafted(plan, "a12-fixed-1")
    sign(plan, audit, "a12-fixed-1")
    plan.revise(2027, "a12-fixed-1", "Rewritten: a route for drug transports, per 2026 cases.",
                "p.admin", audit, T)  # fmt: skip
    assert plan.entry(2027, "a12-fixed-1").signed_by is None
    with pytest.raises(PlanError, match="not signed by a prosecutor: a12-fixed-1"):
        plan.ratify(2027, "hoofdofficier", T)
    revision = audit.entries()[0]
    assert (revision["action"], json.loads(revision["details"])["voided_signature_of"]) == (
        "plan_motivation_revised", "p.visser",
    )  # fmt: skip
    sign(plan, audit, "a12-fixed-1")
    plan.ratify(2027, "hoofdofficier", T)


def test_a_signed_motivation_cannot_be_edited_behind_the_plans_back(plan, audit, backend):
    drafted(plan, "a12-fixed-1", "mobile-07")
    sign(plan, audit, "a12-fixed-1")
    sign(plan, audit, "mobile-07")
    with pytest.raises(IntegrityError, match="a signed motivation cannot change"):
        plan.db.execute("UPDATE entries SET motivation = 'Another text, never signed by anyone.'"
                        " WHERE camera_id = 'a12-fixed-1'")  # fmt: skip
    # With the trigger dropped, the digest still tells: ratification refuses the entry.
    on = " ON entries" if backend == "postgresql" else ""
    plan.db.execute(f"DROP TRIGGER entries_signed_motivation_stays{on}")
    plan.db.execute("UPDATE entries SET motivation = 'Another text, never signed by anyone.' "
                    "WHERE camera_id = 'a12-fixed-1'")  # fmt: skip
    assert not plan.entry(2027, "a12-fixed-1").signed
    with pytest.raises(PlanError, match="not signed by a prosecutor: a12-fixed-1"):
        plan.ratify(2027, "hoofdofficier", T)


def test_a_ratified_plans_entries_cannot_change(plan, audit, backend):
    drafted(plan, "a12-fixed-1")
    sign(plan, audit, "a12-fixed-1")
    plan.ratify(2027, "hoofdofficier", T)
    with pytest.raises(IntegrityError, match="ratified plan cannot change"):
        plan.db.execute("UPDATE entries SET signer_name = 'Someone Else'")
    with pytest.raises(IntegrityError, match="ratified plan cannot change"):
        plan.db.execute("DELETE FROM entries")
    if backend == "postgresql":  # TRUNCATE skips row triggers; SQLite has no TRUNCATE
        with pytest.raises(IntegrityError, match="ratified plan cannot change"):
            plan.db.execute("TRUNCATE entries")
    assert [e.camera_id for e in plan.entries(2027)] == ["a12-fixed-1"]
    with pytest.raises(PlanError, match="ratified, not draft"):
        plan.revise(2027, "a12-fixed-1", "A new text after ratification, too late now.",
                    "p.admin", audit, T)  # fmt: skip
