"""Sealing records to the central's public key: what a stolen unit's spool is worth (nothing).

A sealed payload is `ANPRSEAL1 || ephemeral X25519 public key (32) || nonce (12) ||
AES-256-GCM ciphertext`. The AES key is HKDF-SHA256 over the X25519 shared secret, salted
with both public keys; the camera id is bound as associated data, so a sealed record cannot
be replayed under another camera's topic. Only the central's private sealing key opens it:
the unit that made it cannot. The sealed content is the ordinary signed payload.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from wire.errors import KeyFormatError, WireError

MAGIC = b"ANPRSEAL1"
_INFO = b"anpr/v1 sealed record"
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


class Unsealable(WireError):
    reason = "unsealable"


def is_sealed(payload: bytes) -> bool:
    return payload.startswith(MAGIC)


def _derive(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient,
                info=_INFO).derive(shared)  # fmt: skip


def seal_public_key_from_b64(text: str, source: str = "key") -> bytes:
    """The raw X25519 public key from its one-line base64 form."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeyFormatError(f"{source}: sealing public key is not valid base64") from None
    if len(raw) != 32:
        raise KeyFormatError(f"{source}: an X25519 public key has 32 bytes")
    return raw


def seal(payload: bytes, recipient_public: bytes, camera_id: str) -> bytes:
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(*_RAW)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    key = _derive(shared, ephemeral_public, recipient_public)
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, payload, camera_id.encode("ascii"))
    return MAGIC + ephemeral_public + nonce + sealed


class SealingKey:
    """The central's private X25519 key. Never printed, never leaves the central."""

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key
        self.public_raw = key.public_key().public_bytes(*_RAW)

    def __repr__(self) -> str:
        return "SealingKey(<private>)"

    @classmethod
    def generate(cls) -> SealingKey:
        return cls(X25519PrivateKey.generate())

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, data: bytes, source: str = "key") -> SealingKey:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"{source} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, X25519PrivateKey):
            raise KeyFormatError(f"{source} is not an X25519 private key")
        return cls(key)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode("ascii")

    def unseal(self, sealed: bytes, camera_id: str) -> bytes:
        if not is_sealed(sealed) or len(sealed) < len(MAGIC) + 32 + 12 + 16:
            raise Unsealable("not a sealed record")
        body = sealed[len(MAGIC) :]
        ephemeral, nonce, ciphertext = body[:32], body[32:44], body[44:]
        try:
            shared = self._key.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        except ValueError:  # a low-order point (e.g. all zeros) gives no shared secret
            raise Unsealable("sealed record carries an invalid ephemeral key") from None
        key = _derive(shared, ephemeral, self.public_raw)
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, camera_id.encode("ascii"))
        except InvalidTag:
            raise Unsealable(
                f"sealed record does not open for camera {camera_id} under this central's key"
            ) from None
