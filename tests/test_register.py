"""The authorisation register: named, authorised by someone else, reviewed, or lapsed."""

from datetime import UTC, date, datetime, timedelta

import pytest

from central.accounts.register import Register
from central.accounts.users import AccountError, Accounts
from central.web.access import requires
from tests.conftest import logged_in

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def register(tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite")
    for name in ("o.one", "chief"):
        accounts.add(name, name, "unit-1", ["officer"], "a long passphrase!", NOW)
    yield Register(accounts)
    accounts.close()


def test_authorisation_lapses_at_its_review_date(register):
    register.authorise("o.one", "unit-1", "chief", date(2027, 5, 1), NOW)
    assert register.authorised("o.one", NOW)
    assert not register.authorised("o.one", datetime(2027, 5, 1, 9, tzinfo=UTC))
    assert "lapsed" in register.warnings(datetime(2027, 5, 2, tzinfo=UTC))[0]


def test_a_lapsed_authorisation_opens_again_only_through_a_review_by_someone_else(register):
    register.authorise("o.one", "unit-1", "chief", date(2027, 5, 1), NOW)
    later = datetime(2027, 5, 2, 9, tzinfo=UTC)
    assert not register.authorised("o.one", later)
    with pytest.raises(AccountError, match="own authorisation"):
        register.review("o.one", "o.one", date(2027, 11, 1), later)
    with pytest.raises(AccountError, match="future"):
        register.review("o.one", "chief", date(2027, 5, 1), later)
    with pytest.raises(AccountError, match="no authorisation"):
        register.review("chief", "o.one", date(2027, 11, 1), later)
    register.review("o.one", "chief", date(2027, 11, 1), later)
    assert register.authorised("o.one", later)
    (entry,) = register.active(later)
    assert (entry.reviewed_by, entry.review_due, entry.since[:10]) == ("chief", "2027-11-01",
                                                                       "2026-11-22")  # fmt: skip
    assert "authorisation_reviewed" in [e["event"] for e in register.accounts.events()]


def test_nobody_authorises_themselves_and_reviews_lie_ahead(register):
    with pytest.raises(AccountError, match="themselves"):
        register.authorise("o.one", "unit-1", "o.one", date(2027, 5, 1), NOW)
    with pytest.raises(AccountError, match="future"):
        register.authorise("o.one", "unit-1", "chief", date(2026, 1, 1), NOW)


def test_a_unit_far_past_ten_officers_is_flagged(register):
    for i in range(16):
        register.accounts.add(f"o.x{i}", "x", "unit-2", ["officer"], "a long passphrase!", NOW)
        register.authorise(f"o.x{i}", "unit-2", "chief", date(2027, 5, 1), NOW)
    assert register.warnings(NOW) == [
        "unit unit-2 has 16 authorised officers (the law expects about 10)"
    ]


def test_officer_role_opens_nothing_without_a_current_authorisation(web_setup, app):
    app.add_url_rule("/officer-only", "officer_only", requires("officer")(lambda: "ok"))
    client = logged_in(app.test_client(), web_setup.config, roles=("officer",), username="o.two")
    response = client.get("/officer-only")
    assert response.status_code == 403 and b"lapsed or is missing" in response.data
    accounts = Accounts(web_setup.config.accounts_path)
    accounts.add("chief", "chief", "unit-1", ["officer"], "a long passphrase!", NOW)
    Register(accounts).authorise("o.two", "unit-1", "chief", date.today() + timedelta(days=90),
                                 datetime.now(UTC))  # fmt: skip
    accounts.close()
    assert client.get("/officer-only").data == b"ok"
