"""Accounts: passwords, second factor, lock-out, sessions, roles and CSRF, tried the way an
attacker would try to get around them."""

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import totp
from central.accounts.users import MAX_ADDRESS_FAILURES, AccountError, Accounts, LoginRefused
from tests.conftest import current_code, make_user

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_totp_matches_the_rfc_6238_vector():
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, 59 // 30) == "287082"
    assert totp.code_at(secret, 1111111109 // 30) == "081804"


@pytest.fixture
def accounts(store_location):
    accounts = Accounts(store_location("accounts"))
    secret = accounts.add("j.jansen", "J. Jansen", "unit-1", ["officer"], "a long passphrase!", NOW)
    yield accounts, secret
    accounts.close()


def code(secret, when):
    return totp.code_at(secret, int(when.timestamp() // 30))


def test_login_needs_password_and_a_fresh_code(accounts):
    store, secret = accounts
    session = store.login("j.jansen", "a long passphrase!", code(secret, NOW), NOW)
    assert session.roles == {"officer"}
    with pytest.raises(LoginRefused):
        store.login("j.jansen", "a long passphrase!", code(secret, NOW), NOW)  # replayed code
    with pytest.raises(LoginRefused):
        store.login("j.jansen", "a long passphrase!", "000000", NOW + timedelta(minutes=1))


def test_five_failures_lock_the_account_even_for_the_right_password(accounts):
    store, secret = accounts
    for i in range(5):
        with pytest.raises(LoginRefused):
            store.login("j.jansen", "guess", code(secret, NOW), NOW + timedelta(seconds=i))
    later = NOW + timedelta(minutes=2)
    with pytest.raises(LoginRefused, match="locked"):
        store.login("j.jansen", "a long passphrase!", code(secret, later), later)
    assert "locked_out" in [e["event"] for e in store.events()]
    after = NOW + timedelta(minutes=16)
    assert store.login("j.jansen", "a long passphrase!", code(secret, after), after)


def test_sessions_expire_when_idle_and_after_eight_hours(accounts):
    store, secret = accounts
    session = store.login("j.jansen", "a long passphrase!", code(secret, NOW), NOW)
    assert store.session(session.token, NOW + timedelta(minutes=14))
    assert store.session(session.token, NOW + timedelta(minutes=30)) is None
    later = NOW + timedelta(hours=1)
    session = store.login("j.jansen", "a long passphrase!", code(secret, later), later)
    t = later
    for _ in range(40):  # active every 14 minutes for more than 8 hours
        t += timedelta(minutes=14)
        if store.session(session.token, t) is None:
            break
    assert t - later <= timedelta(hours=8, minutes=14)


def test_weak_passwords_and_unknown_roles_are_refused(accounts):
    store, _ = accounts
    with pytest.raises(AccountError, match="12 characters"):
        store.add("x.y", "X", "u", ["officer"], "short", NOW)
    with pytest.raises(AccountError, match="roles"):
        store.add("x.y", "X", "u", ["superuser"], "a long passphrase!", NOW)


@pytest.fixture
def client(web_setup, app):
    return web_setup, app.test_client()


def log_in(client, username, password, secret):
    form = {"username": username, "password": password, "code": current_code(secret)}
    return client.post("/login", data={**form, "next": "/health"})


def test_health_needs_a_login_with_the_right_role(client):
    setup, web = client
    assert web.get("/health").status_code == 302
    assert web.get("/api/v1/health").status_code == 401
    officer = make_user(setup.config, "o.officer", roles=("officer",))
    assert log_in(web, *officer).status_code == 302
    assert web.get("/health").status_code == 403
    store = Accounts(setup.config.accounts_path)
    assert "role_violation" in [e["event"] for e in store.events()]
    store.close()


def test_login_page_and_csrf_on_logout(client):
    setup, web = client
    maintainer = make_user(setup.config)
    bad = web.post("/login", data={"username": maintainer[0], "password": "wrong", "code": "1"})
    assert bad.status_code == 401 and b"wrong user name" in bad.data
    assert log_in(web, *maintainer).headers["Location"] == "/health"
    page = web.get("/health")
    assert page.status_code == 200 and b"m.maintainer" in page.data
    assert web.post("/logout", data={"csrf": "forged"}).status_code == 403
    import re

    csrf = re.search(rb'name="csrf" value="([^"]+)"', page.data).group(1).decode()
    assert web.post("/logout", data={"csrf": csrf}).status_code == 302
    assert web.get("/health").status_code == 302, "logged out"


def test_open_redirects_are_refused(client):
    setup, web = client
    user = make_user(setup.config)
    form = {"username": user[0], "password": user[1], "code": current_code(user[2])}
    response = web.post("/login", data={**form, "next": "//evil.example"})
    assert response.headers["Location"] == "/"


def test_parallel_wrong_passwords_lock_the_account_after_five(tmp_path):
    """Each attempt is counted before its (slow) password check, in one statement: 40 guesses
    in parallel, each through its own connection as web requests are, cannot all be checked."""
    first = Accounts(tmp_path / "accounts.sqlite")
    secret = first.add("j.jansen", "J. Jansen", "unit-1", ["officer"], "a long passphrase!", NOW)
    first.close()
    checked = []

    def guess(i: int) -> None:
        store = Accounts(tmp_path / "accounts.sqlite")
        try:
            store.login("j.jansen", f"guess {i}", code(secret, NOW), NOW)
        except LoginRefused as refused:
            checked.append("locked" not in str(refused))
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(guess, range(40)))
    assert checked.count(True) <= 5, f"{checked.count(True)} guesses were checked"
    store = Accounts(tmp_path / "accounts.sqlite")
    with pytest.raises(LoginRefused, match="locked"):
        store.login("j.jansen", "a long passphrase!", code(secret, NOW), NOW)
    store.close()


def test_one_address_failing_across_many_accounts_is_blocked(accounts):
    store, secret = accounts
    for i in range(MAX_ADDRESS_FAILURES):
        with pytest.raises(LoginRefused, match="wrong user name"):
            store.login(f"nobody{i}", "guess", "000000", NOW, address="192.0.2.7")
    with pytest.raises(LoginRefused, match="from this address"):
        store.login("j.jansen", "a long passphrase!", code(secret, NOW), NOW, address="192.0.2.7")
    other = store.login("j.jansen", "a long passphrase!", code(secret, NOW), NOW, "192.0.2.8")
    assert other.username == "j.jansen", "another workstation is not blocked"
    later = NOW + timedelta(minutes=16)
    assert store.login("j.jansen", "a long passphrase!", code(secret, later), later, "192.0.2.7")
    assert "login_refused_address" in [e["event"] for e in store.events()]


# --- confirming one act outside a web session (#20) -----------------------------------------


@pytest.fixture
def prosecutor(tmp_path):
    store = Accounts(tmp_path / "accounts.sqlite")
    secret = store.add("p.visser", "mr. P. Visser", "OM", ["prosecutor"], "a long passphrase!",
                       NOW)  # fmt: skip
    yield store, secret
    store.close()


def confirm(store, secret, when=NOW, password="a long passphrase!", role="prosecutor", **kw):
    return store.confirm("p.visser", password, kw.get("code") or code(secret, when), when, role,
                         "sign plan 2027 a12-fixed-1")  # fmt: skip


def test_a_confirmation_checks_password_code_and_role_and_opens_no_session(prosecutor):
    store, secret = prosecutor
    identity = confirm(store, secret)
    assert (identity.username, identity.full_name) == ("p.visser", "mr. P. Visser")
    assert store.db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    (event,) = store.events(kind="confirmed")
    assert event["detail"] == "sign plan 2027 a12-fixed-1 as prosecutor"


def test_a_confirmation_refuses_a_wrong_password_a_wrong_or_replayed_code(prosecutor):
    store, secret = prosecutor
    with pytest.raises(LoginRefused, match="wrong user name, password or code"):
        confirm(store, secret, password="a wrong passphrase")
    with pytest.raises(LoginRefused, match="wrong user name, password or code"):
        confirm(store, secret, code="000000" if code(secret, NOW) != "000000" else "111111")
    confirm(store, secret)
    with pytest.raises(LoginRefused, match="wrong user name, password or code"):
        confirm(store, secret)  # the same code again: its time step is spent
    login_after = NOW + timedelta(seconds=1)
    with pytest.raises(LoginRefused):  # a login cannot reuse the step a confirmation spent
        store.login("p.visser", "a long passphrase!", code(secret, NOW), login_after)
    assert [e["event"] for e in store.events(kind="login_failed")] == ["login_failed"] * 4


def test_a_confirmation_needs_the_role_the_act_asks_for(prosecutor):
    store, secret = prosecutor
    with pytest.raises(LoginRefused, match="does not hold the role maintainer"):
        confirm(store, secret, role="maintainer")
    assert store.events(kind="confirm_refused_role")[0]["username"] == "p.visser"
    with pytest.raises(AccountError, match="no role 'chief'"):
        confirm(store, secret, role="chief")


def test_confirmations_count_towards_the_lock_out_and_an_unknown_name_costs_the_same(prosecutor):
    store, secret = prosecutor
    for i in range(5):
        with pytest.raises(LoginRefused):
            confirm(store, secret, when=NOW + timedelta(seconds=i), password="guess")
    later = NOW + timedelta(minutes=2)
    with pytest.raises(LoginRefused, match="locked"):
        confirm(store, secret, when=later)
    with pytest.raises(LoginRefused, match="locked"):
        store.login("p.visser", "a long passphrase!", code(secret, later), later)
    with pytest.raises(LoginRefused, match="wrong user name, password or code"):
        store.confirm("nobody", "a long passphrase!", "123456", NOW, "prosecutor", "sign")
    after = NOW + timedelta(minutes=16)
    assert confirm(store, secret, when=after).username == "p.visser"
