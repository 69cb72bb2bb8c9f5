"""How edge and central reach the broker: the shared part of their MQTT settings.

Both refuse the same thing: a plaintext connection to another machine. TLS needs all three
files (CA, client certificate, client key); without them only loopback is allowed.
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


PLAINTEXT_REFUSED = (
    "MQTT to {host} without TLS is refused: set tls_ca_file, tls_cert_file and tls_key_file "
    "(made by anpr-provision); plaintext is allowed to loopback only"
)


class MqttTransport(BaseModel):
    """Broker address and client TLS; each side's config section extends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Broker host name or address")
    port: int = Field(default=8883, ge=1, le=65535, description="Broker port")
    keepalive_s: int = Field(default=30, ge=5, le=600, description="MQTT keep-alive interval")
    tls_ca_file: Path | None = Field(default=None, description="CA certificate of the broker")
    tls_cert_file: Path | None = Field(default=None, description="This client's certificate")
    tls_key_file: Path | None = Field(default=None, description="This client's TLS private key")

    @model_validator(mode="after")
    def _tls_beyond_loopback(self):
        files = (self.tls_ca_file, self.tls_cert_file, self.tls_key_file)
        if any(files) and not all(files):
            raise ValueError("set all three of tls_ca_file, tls_cert_file, tls_key_file, or none")
        if not any(files) and not is_loopback(self.host):
            raise ValueError(PLAINTEXT_REFUSED.format(host=self.host))
        return self

    @property
    def tls(self) -> bool:
        return self.tls_ca_file is not None

    def with_resolved_files(self, resolve):
        """A copy with the TLS file paths made absolute by `resolve`."""
        names = ("tls_ca_file", "tls_cert_file", "tls_key_file")
        return self.model_copy(
            update={n: resolve(getattr(self, n)) for n in names if getattr(self, n) is not None}
        )


def configure_tls(client, transport: MqttTransport) -> None:
    """Client-certificate TLS on a paho client when the transport has it (the config already
    refuses plaintext beyond loopback). One place for every side: agent, central, research."""
    if transport.tls:
        client.tls_set(
            ca_certs=str(transport.tls_ca_file),
            certfile=str(transport.tls_cert_file),
            keyfile=str(transport.tls_key_file),
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
