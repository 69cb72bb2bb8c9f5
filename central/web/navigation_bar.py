"""The navigation bar: the pages a person may open, decided by the guard that opens them.

Each page's view carries the roles its `requires` guard admits (`view.roles`), so the bar
never offers a page its guard would refuse, and a role added to a guard shows up here too.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from central.web.access import current_session

PAGES = (
    (_l("Requests"), "/requests"),
    (_l("Prosecutor's desk"), "/prosecutor"),
    (_l("Alerts"), "/alerts"),
    (_l("Calamity buffer"), "/calamity"),
    (_l("Camera health"), "/health"),
    (_l("Camera plan administration"), "/plan/admin"),
    (_l("Audit"), "/audit"),
    (_l("Security events"), "/security"),
)


def links(roles: set[str] | frozenset[str]) -> list[tuple[object, str]]:
    """(label, path) of the pages whose guard admits one of `roles`."""
    adapter = current_app.url_map.bind("localhost")
    shown = []
    for label, path in PAGES:
        endpoint, _ = adapter.match(path, method="GET")
        admitted = getattr(current_app.view_functions[endpoint], "roles", ())
        if set(roles) & set(admitted):
            shown.append((label, path))
    return shown


def navigation() -> dict:
    """Template context: the logged-in person (`session`, None before logging in: the
    account form and the pages' CSRF fields read it) and the pages they may open."""
    session = current_session()
    return {"session": session, "navigation": links(session.roles) if session else []}
