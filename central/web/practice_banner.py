"""The practice instance's mark on every response, so no officer mistakes it for the real one."""

from __future__ import annotations

from flask import Response

BANNER = (
    '<div id="training-banner" role="alert" style="background:#ffd400;color:#000;'
    "font-weight:bold;padding:.5rem 1rem;margin:-1.5rem -1.5rem 1rem;border-bottom:4px solid "
    '#000">TRAINING INSTANCE: generated passages only; nothing here is real data and '
    "nothing done here has legal effect.</div>"
)


def mark_every_page(response: Response) -> Response:
    response.headers["X-ANPR-Training"] = "1"
    if response.mimetype == "text/html" and not response.direct_passthrough:
        html = response.get_data(as_text=True)
        at = html.find(">", html.find("<body")) + 1
        if at > 0:
            response.set_data(html[:at] + BANNER + html[at:])
        else:
            response.set_data(BANNER + html)
    return response
