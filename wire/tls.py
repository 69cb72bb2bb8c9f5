"""Whether an MQTT connection may go without TLS: only to this machine.

Shared by the agent's and the central's configuration checks, so that both refuse the
same thing: a plaintext connection to another machine.
"""

from __future__ import annotations

import ipaddress


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
