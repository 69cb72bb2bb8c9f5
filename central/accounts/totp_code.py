"""`python -m central.accounts.totp_code SECRET`: the current 6-digit code of a TOTP secret,
for the demo accounts printed by `make demo` (an authenticator app shows the same code)."""

from __future__ import annotations

import sys
import time

from central.accounts import totp


def current(secret: str, now_s: float | None = None) -> str:
    return totp.code_at(secret, int((time.time() if now_s is None else now_s) // totp.STEP_S))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m central.accounts.totp_code SECRET", file=sys.stderr)
        return 2
    print(current(argv[0].strip().upper()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
