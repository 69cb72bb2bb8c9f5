"""Request bodies read strictly: a malformed body is the client's mistake and gets a 400 that
says what is wrong, never a 500. Bodies are capped by the app (`MAX_CONTENT_LENGTH`).
"""

from __future__ import annotations

import json

from flask import abort, request


def json_object() -> dict:
    """The body as a JSON object; 400 for another media type, bad JSON, deep nesting or a
    value that is not an object."""
    if not request.is_json:
        abort(400, description="send a JSON object (Content-Type: application/json)")
    try:
        data = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        abort(400, description="the body is not valid JSON (or is nested too deeply)")
    if not isinstance(data, dict):
        abort(400, description="send a JSON object")
    return data


def text_field(body: dict, name: str, default: str = "") -> str:
    """A field that must be a string when present (numbers are taken as their text)."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, str | int):
        abort(400, description=f"{name}: a string")
    return str(value)


def text_list(body: dict, name: str) -> list[str]:
    """A field that is a string or a list of strings."""
    value = body.get(name, [])
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        abort(400, description=f"{name}: a string or a list of strings")
    return value
