"""Register a unit's keys at the central with a one-time enrollment token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from node.keyfiles import load_verify_key
from provisioning.enroll import certificate_fingerprint
from provisioning.keys import ProvisioningError


def register_unit(central_url: str, token: str, camera_id: str, credentials: Path) -> str:
    """POST the unit's public key and certificate fingerprint; returns the key id."""
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
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.load(response)["key_id"]
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
        raise ProvisioningError(f"the central refused the enrollment: {detail}") from None
    except urllib.error.URLError as exc:
        raise ProvisioningError(
            f"cannot reach the central at {central_url}: {exc.reason}"
        ) from None
