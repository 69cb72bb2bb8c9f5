"""How long the certificates and the CRL the central can see stay valid: a health state that
warns 14 days ahead, on the maintainers' page and in /metrics.

An expired CRL makes the broker refuse every unit's handshake; an expired certificate
refuses one party. The files are read on each look (they are renewed by timers), so what is
shown is what is on disk now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

WARN_AHEAD = timedelta(days=14)


def tls_files(config) -> list[Path]:
    """The central's MQTT CA and client certificate, and `metrics.tls_files` (the broker's
    certificate, its CRL), each once."""
    named = [config.mqtt.tls_ca_file, config.mqtt.tls_cert_file, *config.metrics.tls_files]
    return list(dict.fromkeys(path for path in named if path is not None))


def tls_expiries(path: Path) -> list[tuple[str, str, datetime]]:
    """(kind, subject or issuer, when it stops being valid) for every certificate in a PEM
    bundle, or for the CRL the file holds."""
    data = path.read_bytes()
    if b"-----BEGIN X509 CRL-----" in data:
        crl = x509.load_pem_x509_crl(data)
        next_update = crl.next_update_utc
        if next_update is None:
            return []
        return [("crl", crl.issuer.rfc4514_string(), next_update)]
    return [
        ("certificate", cert.subject.rfc4514_string(), cert.not_valid_after_utc)
        for cert in x509.load_pem_x509_certificates(data)
    ]


@dataclass(frozen=True)
class CertificateState:
    file: str
    kind: str
    subject: str
    expires: str
    state: str  # OK, DEGRADED (within WARN_AHEAD), EXPIRED, UNREADABLE
    reason: str


def certificate_states(paths: list[Path], now: datetime) -> list[CertificateState]:
    """Worst first."""
    found = []
    for path in paths:
        try:
            expiries = tls_expiries(path)
        except (OSError, ValueError) as exc:
            found.append(CertificateState(str(path), "", "", "", "UNREADABLE", str(exc)))
            continue
        for kind, subject, moment in expiries:
            left = moment - now
            state = "EXPIRED" if left <= timedelta(0) else "DEGRADED" if left < WARN_AHEAD else "OK"
            renew = "anpr-provision crl-renew" if kind == "crl" else "anpr-provision cert-renew"
            reason = (f"expired {-left.days} day(s) ago: {renew}" if state == "EXPIRED"
                      else f"{left.days} day(s) left: {renew}" if state == "DEGRADED"
                      else f"{left.days} day(s) left")  # fmt: skip
            found.append(CertificateState(str(path), kind, subject, moment.isoformat(), state,
                                          reason))  # fmt: skip
    order = {"UNREADABLE": 0, "EXPIRED": 1, "DEGRADED": 2, "OK": 3}
    return sorted(found, key=lambda c: (order[c.state], c.expires))
