"""How the pages show times and keys (#23): Dutch local time with UTC a hover away, and
labels instead of internal keys. Registered on the app as Jinja filters; the JSON API
keeps UTC ISO times and the keys.

    {{ p.captured_at|local_time }}     22-11-2026 13:00:00 CET, in a <time> element whose
                                       datetime is the UTC ISO time and whose title says it
    {{ w.start|local_time("minutes") }}, {{ x|local_time("date") }}
    {{ o.legal_basis|label }}          "Crime allowing pre-trial detention"
    {{ l.category|label("category") }} the label among a group's, where a key means two things
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

from flask import Flask
from flask_babel import gettext, lazy_gettext
from markupsafe import Markup, escape

from central.requests.forms import ZONE
from central.web.labels import LABELS, label

ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
FORMATS = {"seconds": "%d-%m-%Y %H:%M:%S", "minutes": "%d-%m-%Y %H:%M", "date": "%d-%m-%Y"}


def as_utc(value: object) -> datetime | None:
    """A stored time (the store's ISO text with its Z, or a datetime; naive means UTC) as an
    aware UTC datetime; None for anything that is not a time."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def dutch(moment: datetime, precision: str = "seconds") -> str:
    """A UTC time as Dutch local time with its zone: 22-11-2026 13:00:00 CET."""
    local = moment.astimezone(ZONE)
    shown = local.strftime(FORMATS.get(precision, FORMATS["seconds"]))
    return shown if precision == "date" else f"{shown} {local.tzname()}"


def local_time(value: object, precision: str = "seconds") -> Markup:
    """A `<time>` element: Dutch local time shown, the UTC time as its machine-readable
    datetime and its title. A value that is not a time is shown as it is ("-" when empty)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return Markup('<time datetime="{0}">{1}</time>').format(
            value.isoformat(), value.strftime(FORMATS["date"])
        )
    moment = as_utc(value)
    if moment is None:
        return escape(value) if value not in (None, "") else Markup("-")
    iso = moment.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{moment.microsecond // 1000:03d}Z" if moment.microsecond else "Z"
    )
    return Markup('<time datetime="{0}" title="{1} UTC">{2}</time>').format(
        iso, moment.strftime("%Y-%m-%d %H:%M:%S"), dutch(moment, precision)
    )


def picker_value(value: object) -> str:
    """A time for a datetime-local field: Dutch local time, to the minute; text the user typed
    (not a time we stored) is returned as it was, so a refused form shows what was sent."""
    if isinstance(value, datetime):
        return value.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")
    return "" if value is None else str(value)


def details(value: object) -> str:
    """Step or audit details (a dict, or its JSON text) as "Label: value; ...", keys and
    key-like values labelled; anything else shown as it is."""
    found = value
    if isinstance(value, str):
        try:
            found = json.loads(value)
        except ValueError:
            return value
    if not isinstance(found, dict):
        return str(value)
    return "; ".join(f"{label(key, 'field')}: {_shown(item)}" for key, item in found.items())


def _shown(item: object) -> str:
    """One value of the details: times in Dutch time, keys labelled, nested values alike."""
    if isinstance(item, bool):
        return gettext("yes") if item else gettext("no")
    if isinstance(item, str):
        moment = as_utc(item) if ISO_TIME.match(item) else None
        return dutch(moment) if moment else str(key_label(item))
    if isinstance(item, dict):
        inner = ", ".join(f"{label(k, 'field')}: {_shown(v)}" for k, v in item.items())
        return f"({inner})"
    if isinstance(item, list | tuple):
        return ", ".join(_shown(v) for v in item)
    return "" if item is None else str(item)


def _key_like(text: str) -> bool:
    return text in LABELS or (text.isidentifier() and "_" in text and text.islower())


def key_label(value: object) -> object:
    """A label where the value is a key (known, or snake_case); free text (a unit's name,
    a reason) is left as it is."""
    return label(value) if isinstance(value, str) and _key_like(value) else value


SNAKE_KEY = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def keys_in_text(value: object) -> str:
    """Free text the code wrote with keys in it ("roles plan_admin"), the known keys labelled."""
    text = "" if value is None else str(value)
    return SNAKE_KEY.sub(lambda m: str(LABELS.get(m.group(0), m.group(0))), text)


def register(app: Flask) -> None:
    app.add_template_filter(local_time)
    app.add_template_filter(label)
    app.add_template_filter(details)
    app.add_template_filter(key_label)
    app.add_template_filter(keys_in_text)
    app.add_template_filter(picker_value)
    # central.requests.forms.ZONE_NOTE, in the page's language.
    app.jinja_env.globals["zone_note"] = lazy_gettext("Dutch time (CET/CEST)")
