"""Renewing what runs out: the CRL (every day, from a timer) and leaf certificates.

A CRL past its next-update date makes OpenSSL, and so Mosquitto, refuse every client: the
whole camera network stops on that day. `renew_crl` re-signs it with the CA key, keeping
every revoked serial, and puts the new file where the broker reads it; the broker must then
reread it (SIGHUP: `systemctl reload mosquitto`), which `systemd/anpr-crl-renew.service`
does. A leaf certificate (the broker's, the central's ingest client, the research service's)
is renewed by signing its existing public key again under the same name, so no private key
moves.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning.ca import Authority, fingerprint, load_cert, write_public_file
from provisioning.enroll import Enrollment, enrollments, write_register
from provisioning.keys import ProvisioningError


def renew_crl(
    authority: Authority, copies: tuple[Path, ...] = (), now: dt.datetime | None = None
) -> x509.CertificateRevocationList:
    """Re-sign the CA's CRL from `now` and replace each broker copy with it.

    Each copy's folder must already exist (the one `broker-config` wrote): a typo in a path
    must not silently leave the broker on the old CRL.
    """
    for copy in copies:
        if not copy.parent.is_dir():
            raise ProvisioningError(
                f"{copy.parent} does not exist; give --copy-to the CRL path in the broker's "
                "mosquitto.conf (crlfile), e.g. /etc/mosquitto/anpr/ca.crl"
            )
    crl = authority.write_crl(now)
    for copy in copies:
        if copy.resolve() != authority.crl_path.resolve():
            write_public_file(copy, authority.crl_path.read_bytes())
    return crl


def _usage(cert: x509.Certificate) -> bool:
    """True for a client certificate, False for a server certificate."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise ProvisioningError("certificate has no extended key usage; not one of ours") from None
    return ExtendedKeyUsageOID.CLIENT_AUTH in usages


def _hosts(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(name.value) for name in names)


def renew_cert(
    authority: Authority, path: Path, now: dt.datetime | None = None
) -> x509.Certificate:
    """Sign the certificate at `path` again for LEAF_DAYS: same key, name, usage and hosts.

    The file is replaced atomically (the previous one is kept as `path.previous`); a unit's
    entry in `enrolled.tsv` follows to the new serial. The old certificate stays valid until
    it expires (same key, same name), so nothing has to switch at one instant.
    """
    old = load_cert(path)
    if old.issuer != authority.certificate().subject:
        raise ProvisioningError(f"{path} was issued by {old.issuer.rfc4514_string()}, not this CA")
    if old.serial_number in authority.revoked_serials():
        raise ProvisioningError(f"{path} is revoked; a revoked certificate is never renewed")
    names = old.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise ProvisioningError(f"{path} must name exactly one common name")
    common_name = str(names[0].value)
    new = authority.sign(old.public_key(), common_name, _usage(old), _hosts(old), now=now)
    shutil.copyfile(path, path.with_name(path.name + ".previous"))
    write_public_file(path, new.public_bytes(Encoding.PEM))
    entries = enrollments(authority)
    if any(e.serial == old.serial_number for e in entries):
        write_register(
            authority,
            [
                Enrollment(e.camera_id, new.serial_number, fingerprint(new), e.status)
                if e.serial == old.serial_number
                else e
                for e in entries
            ],
        )
    return new
