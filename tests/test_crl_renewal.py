"""Day 30 must not lock every unit out: on a real Mosquitto with TLS and per-unit
certificates, a CRL past its next-update date refuses a unit; `crl-renew` and a reload
(SIGHUP, what anpr-crl-renew.service does) let it in again, and a revoked unit stays out.
Time is injected (`now`), never waited for."""

import datetime as dt
import subprocess

import pytest
from cryptography import x509

from provisioning.__main__ import main as provision
from provisioning.ca import Authority, new_tls_key, write_cert
from provisioning.renewal import renew_crl
from tests.test_tls_network import UNITS, Network, close, connects

pytestmark = pytest.mark.slow
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def network(tmp_path):
    network = Network(tmp_path)
    yield network
    network.stop()


def admitted(network: Network, unit: str) -> bool:
    client = network.raw_client(unit)
    ok = connects(client, network.port)
    if ok:
        close(client)
    return ok


def test_expired_crl_locks_units_out_until_crl_renew_and_a_reload(network):
    broker_crl = network.root / "broker" / "ca.crl"
    active, revoked = UNITS
    assert provision(["revoke", "--ca", str(network.ca), "--camera-id", revoked]) == 0
    network.write_broker_config()
    network.reload_broker()
    assert admitted(network, active) and not admitted(network, revoked)
    authority = Authority.open(network.ca)
    (revoked_entry,) = authority.crl()

    # Day 31: the last CRL was signed 31 days ago, so its next update was yesterday.
    renew_crl(authority, (broker_crl,), now=NOW - dt.timedelta(days=31))
    network.reload_broker()
    assert not admitted(network, active), "a CRL past its next update must refuse every unit"

    assert provision(["crl-renew", "--ca", str(network.ca), "--copy-to", str(broker_crl)]) == 0
    assert not admitted(network, active), "Mosquitto keeps its CRL until it is told to reread"
    network.reload_broker()
    assert admitted(network, active), "after crl-renew and a reload the unit is back"
    assert not admitted(network, revoked), "renewal must keep the revoked unit out"

    crl = x509.load_pem_x509_crl(broker_crl.read_bytes())
    assert crl.next_update_utc > NOW + dt.timedelta(days=29)
    (entry,) = crl
    assert entry.serial_number == revoked_entry.serial_number
    assert entry.revocation_date_utc == revoked_entry.revocation_date_utc
    assert broker_crl.stat().st_mode & 0o777 == 0o644, "the broker reads it as its own user"


def test_a_lost_revocation_list_does_not_readmit_a_revoked_unit(network):
    active, revoked = UNITS
    assert provision(["revoke", "--ca", str(network.ca), "--camera-id", revoked]) == 0
    (network.ca / "revoked.txt").write_text("")
    broker_crl = network.root / "broker" / "ca.crl"
    assert provision(["crl-renew", "--ca", str(network.ca), "--copy-to", str(broker_crl)]) == 0
    network.reload_broker()
    assert admitted(network, active) and not admitted(network, revoked)
    assert (network.ca / "revoked.txt").read_text().strip(), "the list is restored from the CRL"


def test_crl_renew_refuses_a_copy_path_that_cannot_be_the_brokers(network, capsys):
    missing = network.root / "no-such-folder" / "ca.crl"
    assert provision(["crl-renew", "--ca", str(network.ca), "--copy-to", str(missing)]) == 2
    assert "does not exist; give --copy-to the CRL path" in capsys.readouterr().err


def _status(network: Network, capsys, *extra: str) -> tuple[int, str]:
    crl, cert = network.root / "broker" / "ca.crl", network.root / "broker-cert" / "broker.crt"
    code = provision(["cert-status", "--ca", str(network.ca), "--crl", str(crl),
                      "--cert", str(cert), *extra])  # fmt: skip
    return code, capsys.readouterr().out


def test_cert_status_warns_14_days_ahead_and_names_every_certificate(network, capsys):
    code, out = _status(network, capsys)
    assert code == 0, out
    for name in ("CA certificate", "CRL (0 revoked)", "CRL copy", "broker", "anpr-central-ingest",
                 *UNITS):  # fmt: skip
        assert name in out
    # The CRL was signed 20 days ago: 10 days left, inside the 14-day warning.
    authority = Authority.open(network.ca)
    renew_crl(authority, (network.root / "broker" / "ca.crl",), now=NOW - dt.timedelta(days=20))
    code, out = _status(network, capsys)
    assert code == 1 and "RENEW" in out and "crl-renew" in out, out
    code, out = _status(network, capsys, "--warn-days", "7")
    assert code == 0, out
    # A CRL past its date is EXPIRED.
    renew_crl(authority, (network.root / "broker" / "ca.crl",), now=NOW - dt.timedelta(days=31))
    code, out = _status(network, capsys)
    assert code == 1 and "EXPIRED" in out, out
    assert provision(["crl-renew", "--ca", str(network.ca),
                      "--copy-to", str(network.root / "broker" / "ca.crl")]) == 0  # fmt: skip
    capsys.readouterr()
    assert _status(network, capsys)[0] == 0


def test_cert_status_warns_of_a_broker_certificate_near_its_end(tmp_path, capsys):
    ca = tmp_path / "ca"
    authority = Authority.create(ca)
    key = authority.folder / "old.key"
    cert = authority.sign(new_tls_key(key).public_key(), "broker", client=False,
                          hosts=("127.0.0.1",), now=NOW - dt.timedelta(days=820))  # fmt: skip
    write_cert(tmp_path / "broker.crt", cert)
    assert provision(["cert-status", "--cert", str(tmp_path / "broker.crt")]) == 1
    assert "RENEW" in capsys.readouterr().out
    assert provision(["cert-renew", "--ca", str(ca), "--cert", str(tmp_path / "broker.crt")]) == 0
    renewed = x509.load_pem_x509_certificate((tmp_path / "broker.crt").read_bytes())
    assert renewed.public_key() == cert.public_key()
    assert renewed.subject == cert.subject and renewed.not_valid_after_utc > NOW
    assert renewed.extensions.get_extension_for_class(x509.SubjectAlternativeName) == (
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    )
    capsys.readouterr()
    assert provision(["cert-status", "--ca", str(ca), "--cert", str(tmp_path / "broker.crt")]) == 0
    assert "superseded" in capsys.readouterr().out


def test_renewed_broker_certificate_serves_units_after_a_reload(network):
    broker_cert = network.root / "broker-cert" / "broker.crt"
    old = x509.load_pem_x509_certificate(broker_cert.read_bytes())
    assert provision(["cert-renew", "--ca", str(network.ca), "--cert", str(broker_cert)]) == 0
    network.reload_broker()
    assert admitted(network, UNITS[0])
    pem = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{network.port}", "-showcerts"],
        input=b"", capture_output=True, timeout=20,
    ).stdout  # fmt: skip
    served = x509.load_pem_x509_certificates(pem[pem.index(b"-----BEGIN") :])
    assert served[0].serial_number != old.serial_number, "the broker serves the renewed one"
