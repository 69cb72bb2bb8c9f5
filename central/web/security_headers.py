"""Headers every response carries so a browser refuses what our pages never do: run a script
we did not send (a nonce per response), be framed, guess a content type, leak the URL.

Inline scripts carry `nonce="{{ csp_nonce }}"`; an injected script without it does not run.
HSTS is sent only over HTTPS (behind the TLS proxy), where it cannot lock out plain loopback.
"""

from __future__ import annotations

import secrets

from flask import Response, g, request

HSTS = "max-age=31536000; includeSubDomains"


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def template_values() -> dict:
    return {"csp_nonce": csp_nonce()}


def add_security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' 'nonce-{csp_nonce()}'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response
