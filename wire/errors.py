"""Every way a record can be refused, as its own exception.

The central counts rejections by `reason` and the agent logs them; both need a stable,
grep-able name, so each subclass carries one.
"""


class WireError(ValueError):
    """A record or payload that must not be accepted."""

    reason = "malformed"


class MalformedRecord(WireError):
    reason = "malformed"


class OversizedPayload(WireError):
    reason = "oversized"


class UnknownVersion(WireError):
    reason = "unknown_version"


class UnsignedRecord(WireError):
    reason = "unsigned"


class BadSignature(WireError):
    reason = "bad_signature"


class ImageDigestMismatch(WireError):
    reason = "image_digest_mismatch"


class KeyFormatError(WireError):
    reason = "bad_key"
