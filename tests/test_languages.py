"""Dutch and English pages (#23): Dutch by default for a Dutch deployment, English a click
away, the choice remembered and CSRF-checked, the JSON API English whatever is chosen, and
the committed translations complete and compiled from their source."""

from __future__ import annotations

import io
import re
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from central import create_app
from central.accounts.register import Register
from central.accounts.users import Accounts
from central.config import ConfigError, parse_config
from tests.conftest import logged_in

TRANSLATIONS = Path(__file__).resolve().parent.parent / "central" / "web" / "translations"
PO = TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.mo"
POT = TRANSLATIONS / "messages.pot"
# Each role's main page and a few of its words, in Dutch and in English.
MAIN_PAGES = {
    "requester": ("/requests", ["Aanvragen", "Aanvraag registreren", "Afgerond"],
                  ["Requests", "Register a request", "Finished"]),
    "officer": ("/requests", ["Openstaand, meest urgente eerst", "Vordering"],
                ["Open, most urgent first", "Order"]),
    "operator": ("/alerts", ["Meldkamer: meldingen", "Geen openstaande meldingen.", "Kenteken"],
                 ["Control room: alerts", "No open alerts.", "Plate"]),
    "maintainer": ("/health", ["Camerastatus", "Geen camera's geregistreerd."],
                   ["Camera health", "No cameras registered."]),
    "plan_admin": ("/plan/admin", ["Cameraplan: beheer", "Nieuw plan opstellen"],
                   ["Camera plan: administration", "Draft a new plan"]),
    "prosecutor": ("/prosecutor", ["Bureau officier van justitie", "Te bevestigen vorderingen",
                                   "Goed te keuren signaleringslijsten"],
                   ["Prosecutor's desk", "Orders to confirm", "Hotlists to approve"]),
    "auditor": ("/audit", ["Autorisatieregister", "Ongebruikelijk gebruik"],
                ["Authorisation register", "Unusual use"]),
    "calamity_coordinator": ("/calamity", ["Calamiteitenbuffer", "Calamiteit afkondigen"],
                             ["Calamity buffer", "Declare a calamity"]),
}  # fmt: skip


def config_text(web_setup, language: str | None) -> str:
    """The test central's config, with `language` under [web] or (None) no language at all:
    the shipped default."""
    text = web_setup.config_path.read_text()
    text = re.sub(r'(?m)^language = "en"\n', "", text)
    if language is not None:
        text = text.replace("[web]\n", f'[web]\nlanguage = "{language}"\n', 1)
    return text


@pytest.fixture
def dutch_app(web_setup, tmp_path):
    """The web application with the deployment's default language: no web.language set."""
    config = parse_config(tomllib.loads(config_text(web_setup, None)), base=tmp_path)
    assert config.web.language == "nl"
    return create_app(config)


def authorise(config, username: str) -> None:
    accounts = Accounts(config.accounts_path)
    Register(accounts).authorise(username, "unit-midden", "chief",
                                 date.today() + timedelta(days=90), datetime.now(UTC))  # fmt: skip
    accounts.close()


def csrf_of(page: str) -> str:
    found = re.search(r'id="language-switch".*?name="csrf" value="([^"]+)"', page, re.S)
    assert found, "no language switch on the page"
    return found.group(1)


def switch(client, language: str, back: str = "/requests"):
    token = csrf_of(client.get(back).get_data(as_text=True))
    return client.post("/language", data={"csrf": token, "language": language, "next": back})


def test_a_page_renders_in_dutch_with_the_default_config(dutch_app, web_setup):
    for role, (path, dutch, english) in MAIN_PAGES.items():
        client = logged_in(
            dutch_app.test_client(), web_setup.config, (role,), f"u.{role.replace('_', '-')}"
        )
        if role == "officer":  # an officer's pages open only with a current authorisation
            authorise(web_setup.config, f"u.{role.replace('_', '-')}")
        page = client.get(path).get_data(as_text=True)
        assert '<html lang="nl">' in page, role
        for text in dutch:
            assert text in page, f"{path} ({role}) lacks {text!r}"
        for text in english:
            assert f">{text}<" not in page, f"{path} ({role}) still shows {text!r}"
        assert ">Uitloggen</button>" in page and ">Start</a>" in page
    login = dutch_app.test_client().get("/login").get_data(as_text=True)
    assert "<h1>Inloggen</h1>" in login and "Gebruikersnaam" in login


def test_the_switch_changes_to_english_and_back_and_is_remembered(dutch_app, web_setup):
    client = logged_in(dutch_app.test_client(), web_setup.config, ("operator",), "u.operator")
    assert "Geen openstaande meldingen." in client.get("/alerts").get_data(as_text=True)
    answer = switch(client, "en", "/alerts?page=0")
    assert answer.status_code == 302 and answer.headers["Location"] == "/alerts?page=0"
    page = client.get("/alerts").get_data(as_text=True)
    assert '<html lang="en">' in page and "No open alerts." in page and "Meldkamer" not in page
    assert 'aria-pressed="true">English' in page
    assert "No open alerts." in client.get("/alerts").get_data(as_text=True), "remembered"
    assert switch(client, "nl", "/alerts").status_code == 302
    assert "Geen openstaande meldingen." in client.get("/alerts").get_data(as_text=True)


def test_the_choice_outlives_logging_out_and_works_before_logging_in(dutch_app):
    client = dutch_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "<h1>Inloggen</h1>" in page
    answer = client.post("/language", data={"csrf": csrf_of(page), "language": "en",
                                            "next": "/login"})  # fmt: skip
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert "<h1>Log in</h1>" in client.get("/login").get_data(as_text=True)


def test_an_unknown_language_or_a_forged_switch_is_refused(dutch_app, web_setup):
    client = logged_in(dutch_app.test_client(), web_setup.config, ("operator",), "u.operator")
    token = csrf_of(client.get("/alerts").get_data(as_text=True))
    for language in ("de", "", "nl_NL", "../en"):
        refused = client.post("/language", data={"csrf": token, "language": language})
        assert refused.status_code == 400, language
    forged = client.post("/language", data={"csrf": "x" * 32, "language": "en"})
    assert forged.status_code == 403
    assert dutch_app.test_client().post("/language", data={"language": "en"}).status_code == 403
    assert "Geen openstaande meldingen." in client.get("/alerts").get_data(as_text=True)
    away = client.post("/language", data={"csrf": token, "language": "en",
                                          "next": "//evil.example/"})  # fmt: skip
    assert away.headers["Location"] == "/", "only a path on this site"


def test_the_browser_language_is_not_guessed_and_the_api_stays_english(dutch_app, web_setup):
    client = logged_in(dutch_app.test_client(), web_setup.config, ("maintainer",))
    page = client.get("/health", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Camerastatus" in page.get_data(as_text=True)
    anonymous = dutch_app.test_client().get("/api/v1/security/events")
    assert anonymous.status_code == 401 and b"log in first" in anonymous.data


def test_the_language_setting_is_validated(web_setup, tmp_path):
    english = parse_config(tomllib.loads(config_text(web_setup, "en")), base=tmp_path)
    assert english.web.language == "en"
    for wrong in ("de", "NL", "dutch"):
        with pytest.raises((ConfigError, ValueError)):
            parse_config(tomllib.loads(config_text(web_setup, wrong)), base=tmp_path)


def catalog(path: Path):
    with path.open("rb") as source:
        return read_po(source, locale="nl" if path.suffix == ".po" else None)


def test_every_message_has_a_dutch_translation_and_none_is_stale():
    template = catalog(POT)
    dutch = catalog(PO)
    wanted = {m.id for m in template if m.id}
    assert wanted == {m.id for m in dutch if m.id}, "run the pybabel update (docs/operations.md)"
    for message in dutch:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"no Dutch for {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        names = set(re.findall(r"%\(\w+\)[sd]", str(message.id)))
        for text in strings:
            assert set(re.findall(r"%\(\w+\)[sd]", text)) <= names, message.id


def test_the_committed_mo_is_the_po_compiled():
    compiled = io.BytesIO()
    write_mo(compiled, catalog(PO))
    assert MO.read_bytes() == compiled.getvalue(), (
        "messages.mo differs from messages.po: run pybabel compile -d central/web/translations"
    )
