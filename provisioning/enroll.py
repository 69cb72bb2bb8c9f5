"""Bringing a unit into the camera network, and shutting it out again.

On the unit: `unit_init` makes the camera's Ed25519 signing key and its TLS key, and a
certificate request; the private keys never leave the unit. At the CA: `enroll` signs the
request and records the unit; `revoke` puts its certificate on the CRL and marks it revoked,
so the next broker configuration no longer grants it any topic.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from provisioning.ca import Authority, fingerprint, load_cert, make_csr, new_tls_key, write_cert
from provisioning.keys import ProvisioningError, make_camera_key
from wire.fields import CAMERA_ID

REGISTER = "enrolled.tsv"
FIELDS = ("camera_id", "serial", "fingerprint", "status")


@dataclass(frozen=True)
class Enrollment:
    camera_id: str
    serial: int
    fingerprint: str
    status: str  # "active" or "revoked"


def _check_id(camera_id: str) -> None:
    if not CAMERA_ID.fullmatch(camera_id):
        raise ProvisioningError("camera id: lower-case letters, digits and '-', 3 to 64 characters")


def unit_init(camera_id: str, out: Path) -> dict[str, Path]:
    """On the unit: signing key, TLS key and certificate request."""
    _check_id(camera_id)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    signing_key, public_key = make_camera_key(camera_id, out)
    tls_key = out / "tls.key"
    new_tls_key(tls_key)
    csr = out / "tls.csr"
    csr.write_bytes(make_csr(tls_key, camera_id))
    return {"signing_key": signing_key, "public_key": public_key, "tls_key": tls_key, "csr": csr}


def enrollments(authority: Authority) -> list[Enrollment]:
    path = authority.folder / REGISTER
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [
            Enrollment(r["camera_id"], int(r["serial"]), r["fingerprint"], r["status"])
            for r in rows
        ]


def write_register(authority: Authority, entries: list[Enrollment]) -> None:
    """Replace `enrolled.tsv` atomically (written beside it, then renamed)."""
    path = authority.folder / REGISTER
    partial = path.with_suffix(".partial")
    with partial.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(FIELDS)
        for e in entries:
            writer.writerow((e.camera_id, e.serial, e.fingerprint, e.status))
    partial.replace(path)


def enroll(authority: Authority, camera_id: str, csr_path: Path, cert_out: Path) -> Enrollment:
    """At the CA: sign the unit's request (its name must be the camera id) and record it."""
    _check_id(camera_id)
    entries = enrollments(authority)
    if any(e.camera_id == camera_id and e.status == "active" for e in entries):
        raise ProvisioningError(f"{camera_id} is already enrolled; revoke it first")
    cert = authority.sign_csr(csr_path.read_bytes(), expected_name=camera_id)
    write_cert(cert_out, cert)
    entry = Enrollment(camera_id, cert.serial_number, fingerprint(cert), "active")
    write_register(authority, [*entries, entry])
    return entry


def revoke(authority: Authority, camera_id: str) -> Enrollment:
    """Put the unit's certificate on the CRL and mark it revoked in the register."""
    entries = enrollments(authority)
    active = [e for e in entries if e.camera_id == camera_id and e.status == "active"]
    if not active:
        raise ProvisioningError(f"no active enrollment for {camera_id}")
    (entry,) = active
    authority.revoke_serial(entry.serial)
    revoked = Enrollment(entry.camera_id, entry.serial, entry.fingerprint, "revoked")
    write_register(authority, [revoked if e == entry else e for e in entries])
    return revoked


def issue_service_cert(
    authority: Authority, name: str, out: Path, client: bool, hosts: tuple[str, ...] = ()
) -> tuple[Path, Path]:
    """A key and certificate for the broker (server) or the central's ingest (client)."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path, cert_path = out / f"{name}.key", out / f"{name}.crt"
    key = new_tls_key(key_path)
    write_cert(cert_path, authority.sign(key.public_key(), name, client=client, hosts=hosts))
    return key_path, cert_path


def certificate_fingerprint(path: Path) -> str:
    return fingerprint(load_cert(path))
