"""How long each certificate and CRL of the camera network has left, and which need renewal.

Nothing in TLS warns before it stops: the day a CRL passes its next-update date the broker
refuses every unit, and the day the broker's certificate expires every unit and the central
refuse the broker. `anpr-provision cert-status` lists the days left on the CA certificate,
the CRL (the CA's and each copy the broker reads), every certificate the CA issued and any
certificate file named, and exits 1 when one of them runs out within `WARN_DAYS`, so a
timer or a monitoring check can raise it two weeks ahead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from provisioning.ca import Authority, load_cert, load_crl
from provisioning.keys import ProvisioningError

WARN_DAYS = 14


@dataclass(frozen=True)
class Lifetime:
    """One dated thing: what it is, where it lies, when it ends and whether that matters."""

    what: str
    source: str
    expires: dt.datetime
    counts: bool = True  # False for superseded or revoked certificates: nobody uses them

    def days_left(self, now: dt.datetime) -> float:
        return (self.expires - now).total_seconds() / 86400

    def state(self, now: dt.datetime, warn_days: int = WARN_DAYS) -> str:
        if not self.counts:
            return "unused"
        left = self.days_left(now)
        if left <= 0:
            return "EXPIRED"
        return "RENEW" if left < warn_days else "ok"


def _name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _issued(authority: Authority) -> list[Lifetime]:
    """The CA's copies: the newest unrevoked certificate per name counts, older ones do not."""
    revoked = authority.revoked_serials()
    newest: dict[str, int] = {}
    certs = authority.issued()
    for cert in certs:
        if cert.serial_number not in revoked:
            newest[_name(cert)] = cert.serial_number
    result = []
    for cert in certs:
        serial = cert.serial_number
        note = " (revoked)" if serial in revoked else ""
        if serial not in revoked and newest[_name(cert)] != serial:
            note = " (superseded)"
        result.append(
            Lifetime(
                f"certificate {_name(cert)} serial {serial:x}{note}",
                str(authority.issued_folder / f"{serial:x}.pem"),
                cert.not_valid_after_utc,
                counts=not note,
            )
        )
    return result


def lifetimes(
    authority: Authority | None, certs: tuple[Path, ...] = (), crls: tuple[Path, ...] = ()
) -> list[Lifetime]:
    """Everything dated that the named CA, certificate files and CRL copies hold."""
    found: list[Lifetime] = []
    if authority is not None:
        ca_end = authority.certificate().not_valid_after_utc
        found.append(Lifetime("CA certificate", str(authority.cert_path), ca_end))
        crl = authority.crl()
        found.append(Lifetime(f"CRL ({len(crl)} revoked)", str(authority.crl_path), _next(crl)))
        found += _issued(authority)
    for path in crls:
        if authority is not None:
            crl = load_crl(path, authority.certificate())
        else:
            try:
                crl = x509.load_pem_x509_crl(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise ProvisioningError(f"cannot read CRL {path}: {exc}") from None
        found.append(Lifetime(f"CRL copy ({len(crl)} revoked)", str(path), _next(crl)))
    for path in certs:
        cert = load_cert(path)
        found.append(Lifetime(f"certificate {_name(cert)}", str(path), cert.not_valid_after_utc))
    return found


def _next(crl: x509.CertificateRevocationList) -> dt.datetime:
    if crl.next_update_utc is None:
        raise ProvisioningError("the CRL has no next-update date; re-sign it with crl-renew")
    return crl.next_update_utc


def render(found: list[Lifetime], now: dt.datetime, warn_days: int = WARN_DAYS) -> str:
    """A table a technician reads: state, days left, end date, what, where."""
    lines = [f"{'state':8} {'days':>7}  {'expires (UTC)':16}  what / file"]
    for item in sorted(found, key=lambda i: (not i.counts, i.expires)):
        lines.append(
            f"{item.state(now, warn_days):8} {item.days_left(now):7.1f}  "
            f"{item.expires:%Y-%m-%d %H:%M}  {item.what}: {item.source}"
        )
    due = [i for i in found if i.state(now, warn_days) in ("RENEW", "EXPIRED")]
    if due:
        lines.append(
            f"{len(due)} item(s) expire within {warn_days} days: renew the CRL with "
            "`anpr-provision crl-renew`, a certificate with `anpr-provision cert-renew`"
        )
    return "\n".join(lines)


def needs_attention(found: list[Lifetime], now: dt.datetime, warn_days: int = WARN_DAYS) -> bool:
    return any(i.state(now, warn_days) in ("RENEW", "EXPIRED") for i in found)
