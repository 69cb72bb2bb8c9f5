"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits).

A code is accepted for the current step and one step either side (clock drift), and never
twice: the last step used is remembered per account, so a code seen over a shoulder is
worthless a moment later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote

STEP_S = 30
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def code_at(secret: str, step: int) -> str:
    key = base64.b32decode(secret)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def matching_step(secret: str, code: str, now_s: float, last_used_step: int) -> int | None:
    """The step the code belongs to, if valid and not used before; else None."""
    if not (len(code) == DIGITS and code.isdigit()):
        return None
    current = int(now_s // STEP_S)
    for step in (current - 1, current, current + 1):
        if step > last_used_step and hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, username: str, issuer: str = "ANPR central") -> str:
    """For the authenticator app's QR code."""
    return (
        f"otpauth://totp/{quote(issuer)}:{quote(username)}?secret={secret}"
        f"&issuer={quote(issuer)}&digits={DIGITS}&period={STEP_S}"
    )
