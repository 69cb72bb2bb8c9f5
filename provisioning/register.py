"""Register a unit's keys at the central with a one-time enrollment token."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from node.keyfiles import load_verify_key
from provisioning.enroll import certificate_fingerprint
from provisioning.keys import ProvisioningError


def register_unit(
    central_url: str, token: str, camera_id: str, credentials: Path, ca: Path | None = None
) -> str:
    """POST the unit's public key and certificate fingerprint; returns the key id. The
    central's certificate is checked against the project's CA (`ca`, by default the
    credentials folder's ca.crt, which enrollment put there), not the system's store."""
    context = None
    if central_url.startswith("https:"):
        ca = ca or credentials / "ca.crt"
        if not ca.exists():
            raise ProvisioningError(f"no CA certificate {ca}: copy the project's ca.crt "
                                    "there (enrollment does), or name it with --ca")  # fmt: skip
        context = ssl.create_default_context(cafile=str(ca))
    key = load_verify_key(credentials / f"{camera_id}.pub")
    body = json.dumps(
        {
            "camera_id": camera_id,
            "token": token,
            "public_key": key.b64,
            "tls_fingerprint": certificate_fingerprint(credentials / "tls.crt"),
        }
    ).encode()
    request = urllib.request.Request(
        central_url.rstrip("/") + "/api/v1/enroll",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:
            return json.load(response)["key_id"]
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
        raise ProvisioningError(f"the central refused the enrollment: {detail}") from None
    except urllib.error.URLError as exc:
        raise ProvisioningError(
            f"cannot reach the central at {central_url}: {exc.reason}"
        ) from None
