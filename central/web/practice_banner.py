"""The practice and demo instances' mark on every response, so no officer mistakes either for
the real one."""

from __future__ import annotations

from flask import Response

BANNER = (
    '<div id="training-banner" role="alert" style="background:#ffd400;color:#000;'
    "font-weight:bold;padding:.5rem 1rem;margin:-1.5rem -1.5rem 1rem;border-bottom:4px solid "
    '#000">TRAINING INSTANCE: generated passages only; nothing here is real data and '
    "nothing done here has legal effect.</div>"
)


DEMO_BANNER = (
    '<div id="demo-banner" role="alert" style="background:#7fd4ff;color:#000;'
    "font-weight:bold;padding:.5rem 1rem;margin:-1.5rem -1.5rem 1rem;border-bottom:4px solid "
    '#000">DEMO INSTANCE (make demo): rendered traffic and demo accounts; nothing here is '
    "real data and nothing done here has legal effect.</div>"
)


def mark_every_page(response: Response) -> Response:
    response.headers["X-ANPR-Training"] = "1"
    return _with_banner(response, BANNER)


def mark_every_demo_page(response: Response) -> Response:
    response.headers["X-ANPR-Demo"] = "1"
    return _with_banner(response, DEMO_BANNER)


def _with_banner(response: Response, banner: str) -> Response:
    if response.mimetype == "text/html" and not response.direct_passthrough:
        html = response.get_data(as_text=True)
        at = html.find(">", html.find("<body")) + 1
        if at > 0:
            response.set_data(html[:at] + banner + html[at:])
        else:
            response.set_data(banner + html)
    return response
