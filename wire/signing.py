"""Ed25519 keys and signatures: the only module that touches the primitives.

Cameras sign passages and heartbeats; the central signs acknowledgements, so that an agent
deletes a spooled record only on the central's word and never on a forged message.
A key is named by its `key_id` (first 16 hex digits of SHA-256 over the raw public key),
which travels inside the signed record so that keys can be rotated without ambiguity.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wire.errors import BadSignature, KeyFormatError

SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32


def key_id_of(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


@dataclass(frozen=True)
class VerifyKey:
    """A public key that checks signatures."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_BYTES:
            raise KeyFormatError(f"an Ed25519 public key has 32 bytes, got {len(self.raw)}")

    @property
    def key_id(self) -> str:
        return key_id_of(self.raw)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    @classmethod
    def from_b64(cls, text: str) -> VerifyKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise KeyFormatError("public key is not valid base64") from None
        return cls(raw)

    def verify(self, signature: bytes, message: bytes) -> None:
        if len(signature) != SIGNATURE_BYTES:
            raise BadSignature(f"signature has {len(signature)} bytes, expected 64")
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            raise BadSignature(f"signature does not verify under key {self.key_id}") from None


class SigningKey:
    """A private key that makes signatures. Never printed, never pickled."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verify_key = VerifyKey(raw)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id})"

    @property
    def key_id(self) -> str:
        return self.verify_key.key_id

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """Deterministic key, for published test vectors only."""
        if len(seed) != 32:
            raise KeyFormatError("an Ed25519 seed has 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, data: bytes, source: str = "key") -> SigningKey:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"{source} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError(f"{source} holds a {type(key).__name__}, not an Ed25519 key")
        return cls(key)
