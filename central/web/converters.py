"""URL converters that keep what the databases cannot hold out of the views.

Flask's `<int:...>` takes any number of digits; SQLite's integers stop at 2**63 - 1 and a
larger id raised OverflowError (a 500) in every view that looked it up. Ids beyond it name
nothing, so they answer 404 before any view runs.
"""

from __future__ import annotations

from werkzeug.routing import BaseConverter, IntegerConverter

from wire.fields import CAMERA_ID

LARGEST_ID = 2**63 - 1


class DatabaseInteger(IntegerConverter):
    """`<int:...>` as SQLite can store it: 0 to 2**63 - 1."""

    def __init__(self, map, fixed_digits=0, min=0, max=LARGEST_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class CameraId(BaseConverter):
    """`<camera:...>`: a camera id as the wire defines it (lower-case letters, digits, '-').
    Without it `/health/cameras/<id>` also matched `0.svg`, and werkzeug answered a path
    with an empty segment (`/health/cameras//0.svg`) with a redirect before any role check."""

    regex = CAMERA_ID.pattern
