"""Login, logout and the role check every protected page and endpoint goes through.

The session cookie holds a random token (only its hash is stored), is HttpOnly and
SameSite=Strict; every form carries the session's CSRF token and every POST is checked.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from flask import Blueprint, abort, g, redirect, render_template, request
from flask_babel import gettext

from central.accounts.register import Register
from central.accounts.users import LoginRefused, Session
from central.web.stores import accounts
from node import wallclock

bp = Blueprint("accounts", __name__)
COOKIE = "anpr_session"
# Who looks after the cameras: health pages, the camera API, the plan's live map.
MAINTAINERS = ("maintainer", "technician", "plan_admin", "auditor")


def current_session() -> Session | None:
    if "session" not in g:
        token = request.cookies.get(COOKIE)
        g.session = accounts().session(token, wallclock.now()) if token else None
    return g.session


def check_csrf(session: Session | None) -> None:
    """Forms send the token as a field, API clients as the X-CSRF-Token header."""
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
    if session is None or sent != session.csrf:
        abort(403, description=gettext("the form is stale or forged (CSRF check failed)"))


def requires(*roles: str):
    """Only a logged-in person holding one of `roles` passes; others are refused, logged."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            session = current_session()
            if session is None:
                if request.path.startswith("/api/"):
                    abort(401, description=gettext("log in first"))
                return redirect(f"/login?next={quote(request.path, safe='/')}")
            allowed = session.roles & set(roles)
            if allowed == {"officer"} and not Register(accounts()).authorised(
                session.username, wallclock.now()
            ):
                # The officer role opens nothing without a current authorisation.
                accounts().role_violation(session.username, request.path, wallclock.now())
                lapsed = gettext("your authorisation as officer has lapsed or is missing")
                abort(403, description=lapsed)
            if not allowed:
                accounts().role_violation(session.username, request.path, wallclock.now())
                abort(403, description=gettext("your role does not allow this"))
            if request.method == "POST":
                check_csrf(session)
            return view(*args, **kwargs)

        guarded.roles = roles  # the navigation bar offers the page to these roles only
        return guarded

    return decorate


@bp.get("/login")
def login_form():
    return render_template("login.html", error=None, next=request.args.get("next", "/"))


def local_path(target: str) -> str:
    """Where to go after logging in: a path on this site, or "/". Browsers read "//host" and
    "/\\host" alike as another site, and a control character would break the header."""
    foreign = target.startswith("//") or "\\" in target
    control = any(ord(c) < 0x20 or c == "\x7f" for c in target)
    return target if target.startswith("/") and not foreign and not control else "/"


@bp.post("/login")
def login():
    target = local_path(request.form.get("next", "/"))
    try:
        session = accounts().login(
            request.form.get("username", ""),
            request.form.get("password", ""),
            request.form.get("code", ""),
            wallclock.now(),
            request.remote_addr or "",
        )
    except LoginRefused as exc:
        return render_template("login.html", error=str(exc), next=target), 401
    response = redirect(target)
    response.set_cookie(
        COOKIE, session.token, httponly=True, samesite="Strict",
        secure=not request.host.startswith(("127.0.0.1", "localhost")),
    )  # fmt: skip
    return response


@bp.post("/logout")
def logout():
    session = current_session()
    check_csrf(session)
    accounts().logout(session.token)
    response = redirect("/login")
    response.delete_cookie(COOKIE)
    return response
