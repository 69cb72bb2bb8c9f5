"""Key material for cameras and the central, written with owner-only permissions.

Private keys never leave the machine they are made on except inside a device bundle;
the public halves are what the central's registry and the agents' configs hold.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from node.keyfiles import save_sealing_key, save_signing_key
from wire import SigningKey
from wire.sealing import SealingKey


class ProvisioningError(Exception):
    """A provisioning step cannot be completed; the message says what to do."""


def _write_public(path: Path, key: SigningKey) -> None:
    path.write_text(key.verify_key.b64 + "\n", encoding="ascii")


def _refuse_existing(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            raise ProvisioningError(f"{path} exists; refusing to overwrite key material")


def make_camera_key(camera_id: str, out: Path) -> tuple[Path, Path]:
    """Create `<camera_id>.key` (private, 0600) and `<camera_id>.pub` in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / f"{camera_id}.key", out / f"{camera_id}.pub"
    _refuse_existing(private, public)
    key = SigningKey.generate()
    save_signing_key(key, private)
    _write_public(public, key)
    return private, public


def make_research_key(camera_id: str, out: Path) -> tuple[Path, Path]:
    """The unit's research key pair: `<camera_id>-research.key` (X25519, private, 0600, stays
    on the unit; `keys.research_key`) and `<camera_id>-research.pub` (for the research
    service, which seals each day key to it)."""
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / f"{camera_id}-research.key", out / f"{camera_id}-research.pub"
    _refuse_existing(private, public)
    save_sealing_key(SealingKey.generate(), private, public)
    return private, public


def make_central_keys(out: Path) -> dict[str, Path]:
    """Create the ack-signing key pair, the sealing key pair (units seal their records to
    it) and the web session secret in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "ack_key": out / "ack-signing.key",
        "ack_pub": out / "ack-signing.pub",
        "session": out / "session.key",
        "seal_key": out / "seal.key",
        "seal_pub": out / "seal.pub",
        "audit_key": out / "audit-signing.key",
        "audit_pub": out / "audit-signing.pub",
    }
    _refuse_existing(*paths.values())
    key = SigningKey.generate()
    save_signing_key(key, paths["ack_key"])
    _write_public(paths["ack_pub"], key)
    save_sealing_key(SealingKey.generate(), paths["seal_key"], paths["seal_pub"])
    audit = SigningKey.generate()
    save_signing_key(audit, paths["audit_key"])
    _write_public(paths["audit_pub"], audit)
    fd = os.open(paths["session"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return paths


def make_release_key(out: Path) -> tuple[Path, Path]:
    """The central's release key, which signs change bundles; keep it offline."""
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / "release.key", out / "release.pub"
    _refuse_existing(private, public)
    key = SigningKey.generate()
    save_signing_key(key, private)
    _write_public(public, key)
    return private, public
