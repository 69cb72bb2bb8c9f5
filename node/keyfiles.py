"""Key files on disk: private keys written owner-only and never overwritten, public keys as
one line of base64. The primitives stay in `wire.signing` and `wire.sealing`; this module
only moves their bytes to and from files, with errors that name the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from wire.errors import KeyFormatError
from wire.sealing import SealingKey, seal_public_key_from_b64
from wire.signing import SigningKey, VerifyKey


def write_private(path: Path, data: bytes) -> None:
    """Readable by its owner only; an existing file is never replaced (FileExistsError)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFormatError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_signing_key(path: Path) -> SigningKey:
    return SigningKey.from_pem(_read(path, "signing key"), str(path))


def save_signing_key(key: SigningKey, path: Path) -> None:
    write_private(path, key.to_pem())


def load_verify_key(path: Path) -> VerifyKey:
    """Read a public key file: one line of base64 over the raw 32 bytes."""
    try:
        text = _read(path, "public key").decode("ascii")
    except UnicodeDecodeError as exc:
        raise KeyFormatError(f"cannot read public key {path}: {exc}") from None
    return VerifyKey.from_b64(text)


def load_sealing_key(path: Path) -> SealingKey:
    return SealingKey.from_pem(_read(path, "sealing key"), str(path))


def save_sealing_key(key: SealingKey, private_path: Path, public_path: Path) -> None:
    write_private(private_path, key.to_pem())
    public_path.write_text(key.public_b64 + "\n")


def load_seal_public_key(path: Path) -> bytes:
    try:
        text = _read(path, "sealing public key").decode("ascii")
    except UnicodeDecodeError as exc:
        raise KeyFormatError(f"cannot read sealing public key {path}: {exc}") from None
    return seal_public_key_from_b64(text, str(path))
