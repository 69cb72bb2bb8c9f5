"""The project's certificate authority for MQTT over TLS.

One CA signs the broker's server certificate and a client certificate per camera (common
name = camera id) and for the central's ingest (common name = its MQTT client id). The
broker takes the client certificate's common name as the user name, and the ACL confines
each name to its own topics. Revoking a unit adds its certificate to the CRL.

Private keys are made where they are used (a unit's TLS key on the unit; only its CSR
travels), written owner-only, and never overwritten.

The CRL carries a next-update date: OpenSSL (and so Mosquitto) refuses every client once it
has passed, so the CRL is re-signed well before (`provisioning/renewal.py`, daily from a
systemd timer). The CA keeps a copy of every certificate it signs in `issued/`, so that
`anpr-provision cert-status` can say when each one runs out.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node import wallclock
from provisioning.keys import ProvisioningError

CA_YEARS = 10
LEAF_DAYS = 825
# A CRL is valid this long. Renewed daily, so a failed renewal leaves weeks to notice.
CRL_DAYS = 30
# Certificates and CRLs are back-dated by this much, for clocks slightly behind.
BACKDATE = dt.timedelta(minutes=5)


def _now() -> dt.datetime:
    return wallclock.now()


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    if path.exists():
        raise ProvisioningError(f"{path} exists; refusing to overwrite key material")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ProvisioningError(f"cannot read private key {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ProvisioningError(f"{path} is not an EC private key")
    return key


def new_tls_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    _write_private(path, key)
    return key


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class Authority:
    folder: Path

    @property
    def cert_path(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def key_path(self) -> Path:
        return self.folder / "ca.key"

    @property
    def crl_path(self) -> Path:
        return self.folder / "ca.crl"

    @property
    def revoked_path(self) -> Path:
        return self.folder / "revoked.txt"

    @property
    def issued_folder(self) -> Path:
        """A copy of every certificate this CA signed, named by serial (hex)."""
        return self.folder / "issued"

    @classmethod
    def create(cls, folder: Path, name: str = "ANPR camera network CA") -> Authority:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        authority = cls(folder)
        if authority.cert_path.exists():
            raise ProvisioningError(f"a CA already exists in {folder}")
        key = new_tls_key(authority.key_path)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),  # fmt: skip
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        authority.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        authority.revoked_path.write_text("")
        authority.write_crl()
        return authority

    @classmethod
    def open(cls, folder: Path) -> Authority:
        authority = cls(folder)
        if not authority.cert_path.exists() or not authority.key_path.exists():
            raise ProvisioningError(f"no CA in {folder}; create one with `anpr-provision ca-init`")
        return authority

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_path.read_bytes())

    def sign(
        self,
        public_key,
        common_name: str,
        client: bool,
        hosts: tuple[str, ...] = (),
        now: dt.datetime | None = None,
    ) -> x509.Certificate:
        """A leaf certificate valid LEAF_DAYS from `now`; a copy is kept in `issued/`."""
        ca_cert = self.certificate()
        now = now or _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), False
            )
        )
        if hosts:
            names = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(_load_private(self.key_path), hashes.SHA256())
        self.issued_folder.mkdir(mode=0o700, exist_ok=True)
        write_cert(self.issued_folder / f"{cert.serial_number:x}.pem", cert)
        return cert

    def issued(self) -> list[x509.Certificate]:
        """Every certificate this CA signed since it began keeping copies, oldest first."""
        if not self.issued_folder.is_dir():
            return []
        certs = [load_cert(path) for path in sorted(self.issued_folder.glob("*.pem"))]
        return sorted(certs, key=lambda c: c.not_valid_before_utc)

    def sign_csr(self, csr_pem: bytes, expected_name: str | None = None) -> x509.Certificate:
        """Sign a unit's request; its key never left the unit."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise ProvisioningError(f"not a PEM certificate request: {exc}") from None
        if not csr.is_signature_valid:
            raise ProvisioningError("certificate request signature does not verify")
        names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(names) != 1:
            raise ProvisioningError("certificate request must name exactly one common name")
        common_name = str(names[0].value)
        if expected_name is not None and common_name != expected_name:
            raise ProvisioningError(
                f"request is for {common_name!r}, but enrollment is for {expected_name!r}"
            )
        return self.sign(csr.public_key(), common_name, client=True)

    def revoke_serial(self, serial: int, now: dt.datetime | None = None) -> None:
        serials = self.revoked_serials() | {serial}
        self.revoked_path.write_text("".join(f"{s}\n" for s in sorted(serials)))
        self.write_crl(now)

    def revoked_serials(self) -> set[int]:
        if not self.revoked_path.exists():
            return set()
        return {int(line) for line in self.revoked_path.read_text().split() if line}

    def crl(self) -> x509.CertificateRevocationList:
        """The current CRL, checked against the CA's key."""
        return load_crl(self.crl_path, self.certificate())

    def write_crl(self, now: dt.datetime | None = None) -> x509.CertificateRevocationList:
        """Sign a CRL valid CRL_DAYS from `now` listing every revoked serial.

        The serials come from `revoked.txt` and from the CRL being replaced (when it verifies
        under this CA), so a damaged or lost list never lets a revoked unit back in; each
        keeps the revocation date it was first listed with.
        """
        now = now or _now()
        ca_cert = self.certificate()
        dates: dict[int, dt.datetime] = {}
        if self.crl_path.exists():
            for entry in self.crl():
                dates[entry.serial_number] = entry.revocation_date_utc
        serials = self.revoked_serials() | set(dates)
        if serials != self.revoked_serials():
            self.revoked_path.write_text("".join(f"{s}\n" for s in sorted(serials)))
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now - BACKDATE)
            .next_update(now + dt.timedelta(days=CRL_DAYS))
        )
        for serial in sorted(serials):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(dates.get(serial, now - BACKDATE))
                .build()
            )
        crl = builder.sign(_load_private(self.key_path), hashes.SHA256())
        write_public_file(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
        return crl


def make_csr(key_path: Path, common_name: str) -> bytes:
    """A certificate request for a key made (and kept) on this machine."""
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(_load_private(key_path), hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ProvisioningError(f"cannot read certificate {path}: {exc}") from None


def load_crl(path: Path, ca_cert: x509.Certificate) -> x509.CertificateRevocationList:
    """A CRL from a PEM file, refused unless `ca_cert`'s key signed it."""
    try:
        crl = x509.load_pem_x509_crl(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ProvisioningError(f"cannot read CRL {path}: {exc}") from None
    public_key = ca_cert.public_key()
    if crl.issuer != ca_cert.subject or not (
        isinstance(public_key, ec.EllipticCurvePublicKey) and crl.is_signature_valid(public_key)
    ):
        raise ProvisioningError(f"CRL {path} was not signed by this CA ({ca_cert.subject})")
    return crl


def write_public_file(path: Path, data: bytes) -> None:
    """Replace `path` atomically with world-readable `data` (CRLs, certificates).

    World-readable because the broker rereads the CRL after dropping to its own user; a
    reader never sees half a file.
    """
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.chmod(0o644)
    partial.replace(path)
