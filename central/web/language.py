"""The pages' language (#23): Dutch or English, Dutch by default for a Dutch deployment.

The language is, in order: the person's own choice (the switch on every page, a CSRF-checked
POST remembered in the signed session cookie, kept across logging out), else the deployment's
`web.language`. The browser's Accept-Language is not consulted: a control-room PC set up in
English by its IT department would otherwise turn an operator's pages English unasked, and a
shared workstation would change language with its browser, not with the person. The JSON API
(/api/...) stays English whatever is chosen: its errors are read by programs, and so are the
logs and the audit trail, which never go through gettext.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, redirect, request, session
from flask_babel import Babel, get_locale, gettext

from central.web.access import current_session, local_path

LANGUAGES = {"nl": "Nederlands", "en": "English"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
CHOICE = "language"  # the session key holding the person's choice
ANONYMOUS_CSRF = "language_csrf"  # before logging in: a token in the signed session cookie

bp = Blueprint("language", __name__)


def chosen_language() -> str:
    if request.path.startswith("/api/"):
        return "en"
    chosen = session.get(CHOICE)
    if chosen in LANGUAGES:
        return chosen
    return current_app.config["ANPR"].web.language


def switch_csrf() -> str:
    """The token the switch's form carries: the login session's own, or (on the login page)
    one kept in the signed session cookie (SameSite=Strict, HttpOnly)."""
    logged_in = current_session()
    if logged_in is not None:
        return logged_in.csrf
    if ANONYMOUS_CSRF not in session:
        session[ANONYMOUS_CSRF] = secrets.token_urlsafe(24)
    return session[ANONYMOUS_CSRF]


def template_values() -> dict:
    return {
        "languages": LANGUAGES,
        "language": str(get_locale() or chosen_language()),
        "language_csrf": switch_csrf,
    }


@bp.post("/language")
def choose():
    sent = request.form.get("csrf", "")
    logged_in = current_session()
    expected = logged_in.csrf if logged_in is not None else session.get(ANONYMOUS_CSRF)
    if not expected or not secrets.compare_digest(sent, expected):
        abort(403, description=gettext("the form is stale or forged (CSRF check failed)"))
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        abort(400, description=gettext("unknown language: choose nl or en"))
    session[CHOICE] = language
    return redirect(local_path(request.form.get("next", "/")))


def init(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["ANPR"].web.language
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=chosen_language)
    app.register_blueprint(bp)
    app.context_processor(template_values)
