"""`anpr-provision`: keys, certificates, enrollment and broker configuration."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from node import wallclock
from node.cli import add_version
from provisioning.agent_config import UnitSettings, parse_polygon, write_agent_config
from provisioning.broker_config import (
    CONTROL_ROOM_USER,
    RESEARCH_USER,
    render_acl,
    render_tls_config,
)
from provisioning.broker_plugin import BrokerPluginError, build_plugin
from provisioning.ca import Authority
from provisioning.enroll import enroll, enrollments, issue_service_cert, revoke, unit_init
from provisioning.keys import (
    ProvisioningError,
    make_camera_key,
    make_central_keys,
    make_release_key,
    make_research_key,
)
from provisioning.lifetimes import WARN_DAYS, lifetimes, needs_attention, render
from provisioning.register import register_unit
from provisioning.renewal import renew_cert, renew_crl
from wire.fields import CAMERA_ID


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anpr-provision", description=__doc__)
    add_version(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    camera = commands.add_parser("camera-key", help="new Ed25519 signing key for a camera")
    camera.add_argument("--camera-id", required=True)
    camera.add_argument("--out", type=Path, required=True, help="folder for .key and .pub")
    research = commands.add_parser(
        "research-key", help="on the unit: X25519 key that opens its research day keys"
    )
    research.add_argument("--camera-id", required=True)
    research.add_argument("--out", type=Path, required=True, help="folder for .key and .pub")
    central = commands.add_parser("central-keys", help="ack-signing key and session secret")
    central.add_argument("--out", type=Path, required=True, help="credentials folder")
    release = commands.add_parser("release-key", help="the key that signs change bundles")
    release.add_argument("--out", type=Path, required=True)
    ca_init = commands.add_parser("ca-init", help="create the certificate authority (once)")
    ca_init.add_argument("--ca", type=Path, required=True)
    broker = commands.add_parser("broker-cert", help="TLS server key and certificate")
    broker.add_argument("--ca", type=Path, required=True)
    broker.add_argument("--host", action="append", required=True, help="DNS name or IP; repeat")
    broker.add_argument("--out", type=Path, required=True)
    client = commands.add_parser("client-cert", help="TLS client certificate for a service")
    client.add_argument("--ca", type=Path, required=True)
    client.add_argument("--name", default="anpr-central-ingest", help="MQTT user name")
    client.add_argument("--out", type=Path, required=True)
    unit = commands.add_parser("unit-init", help="on the unit: signing key, TLS key, request")
    unit.add_argument("--camera-id", required=True)
    unit.add_argument("--out", type=Path, required=True)
    enrol = commands.add_parser("enroll", help="at the CA: certify a unit's request")
    enrol.add_argument("--ca", type=Path, required=True)
    enrol.add_argument("--camera-id", required=True)
    enrol.add_argument("--csr", type=Path, required=True)
    enrol.add_argument("--out", type=Path, required=True, help="certificate file to write")
    rev = commands.add_parser("revoke", help="shut a unit out: CRL and broker ACL")
    rev.add_argument("--ca", type=Path, required=True)
    rev.add_argument("--camera-id", required=True)
    crl = commands.add_parser(
        "crl-renew", help="re-sign the CRL (daily, from a timer), keeping every revoked serial"
    )
    crl.add_argument("--ca", type=Path, required=True)
    crl.add_argument("--copy-to", type=Path, action="append", default=[],
                     help="the broker's crlfile to replace too; repeat")  # fmt: skip
    status = commands.add_parser(
        "cert-status", help="days left on the CA, the CRL and every certificate; exit 1 if due"
    )
    status.add_argument("--ca", type=Path, help="CA folder: its certificate, CRL and issued/")
    status.add_argument("--cert", type=Path, action="append", default=[],
                        help="a certificate file in use (broker.crt, ...); repeat")  # fmt: skip
    status.add_argument("--crl", type=Path, action="append", default=[],
                        help="a CRL copy in use (the broker's crlfile); repeat")  # fmt: skip
    status.add_argument("--warn-days", type=int, default=WARN_DAYS)
    renew = commands.add_parser(
        "cert-renew", help="sign a certificate again (same key, name and hosts) before it expires"
    )
    renew.add_argument("--ca", type=Path, required=True)
    renew.add_argument("--cert", type=Path, required=True, help="the certificate to replace")
    conf = commands.add_parser("broker-config", help="Mosquitto TLS config and ACL")
    conf.add_argument("--ca", type=Path, required=True)
    conf.add_argument("--broker-cert", type=Path, required=True, help="folder of broker-cert")
    conf.add_argument("--out", type=Path, required=True)
    conf.add_argument("--port", type=int, default=8883)
    conf.add_argument("--bind", default="0.0.0.0")
    conf.add_argument("--central-client-id", default="anpr-central-ingest")
    conf.add_argument("--run-as", default=None, help="user Mosquitto runs as")
    conf.add_argument("--no-refusal-plugin", action="store_true",
                      help="do not build the plugin that reports a unit publishing under "
                      "another camera's topics (it needs gcc and mosquitto-dev)")  # fmt: skip
    register = commands.add_parser("register", help="register the unit's keys at the central")
    register.add_argument("--central", required=True, help="central URL, e.g. https://central")
    register.add_argument("--token", required=True, help="one-time enrollment token")
    register.add_argument("--camera-id", required=True)
    register.add_argument("--credentials", type=Path, required=True, help="unit-init folder")
    register.add_argument("--ca", type=Path,
                          help="the project CA the central's certificate must chain to "
                          "(default: ca.crt in --credentials)")  # fmt: skip
    selftest = commands.add_parser(
        "selftest", help="commissioning on the live view: focus, exposure, plates, rate, "
        "broker, clock; a signed report to the central"
    )  # fmt: skip
    selftest.add_argument("--config", type=Path, required=True, help="the unit's agent TOML")
    selftest.add_argument("--window", type=float, default=6.0,
                          help="seconds of reading plates in the live view")  # fmt: skip
    masks = commands.add_parser(
        "masks", help="on the unit: a page to draw the privacy masks on a live frame"
    )
    masks.add_argument("--config", type=Path, required=True, help="the unit's agent TOML")
    masks.add_argument("--bind", default="127.0.0.1", help="address (reach it over ssh -L)")
    masks.add_argument("--port", type=int, default=8765)
    agent = commands.add_parser("agent-config", help="write a unit's agent TOML, with masks")
    agent.add_argument("--camera-id", required=True)
    agent.add_argument("--lat", type=float, required=True)
    agent.add_argument("--lon", type=float, required=True)
    agent.add_argument("--direction", required=True)
    agent.add_argument("--lane", type=int, default=0)
    agent.add_argument("--credentials", type=Path, default=Path("/etc/anpr/credentials"))
    agent.add_argument("--broker-host", required=True)
    agent.add_argument("--broker-port", type=int, default=8883)
    agent.add_argument("--source", type=Path, default=Path("/var/lib/anpr-agent/replay"))
    agent.add_argument("--spool", type=Path, default=Path("/var/lib/anpr-agent/spool.sqlite"))
    agent.add_argument("--central-seal-key", type=Path,
                       help="the central's seal.pub, which every record is sealed to "
                       "(default: central-seal.pub in --credentials)")  # fmt: skip
    agent.add_argument("--mask", action="append", default=[], help="'x,y x,y x,y'; repeat")
    agent.add_argument("--still", type=Path, help="a frame from the camera, to check masks")
    agent.add_argument("--preview", type=Path, help="PNG to write: the still with the masks")
    agent.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "selftest":
        return _selftest(args.config, args.window)
    if args.command == "cert-status":
        return _cert_status(args)
    if args.command == "masks":
        return _masks(args)
    try:
        _dispatch(args)
    except (ProvisioningError, BrokerPluginError) as exc:
        print(f"anpr-provision: {exc}", file=sys.stderr)
        return 2
    return 0


def _dispatch(args: argparse.Namespace) -> None:
    command = args.command
    if command in ("camera-key", "research-key") and not CAMERA_ID.fullmatch(args.camera_id):
        raise ProvisioningError("camera id: lower-case letters, digits and '-', 3 to 64 characters")
    if command == "camera-key":
        private, public = make_camera_key(args.camera_id, args.out)
        print(f"private key: {private}\npublic key:  {public}")
    elif command == "research-key":
        private, public = make_research_key(args.camera_id, args.out)
        print(f"research key: {private} (keys.research_key; stays on the unit)\n"
              f"research public key: {public} (for the research service)")  # fmt: skip
    elif command == "central-keys":
        for name, path in make_central_keys(args.out).items():
            print(f"{name}: {path}")
    elif command == "release-key":
        private, public = make_release_key(args.out)
        print(f"release key: {private} (keep offline)\nrelease public key: {public}")
    elif command == "ca-init":
        authority = Authority.create(args.ca)
        print(f"CA created: {authority.cert_path} (keep {authority.key_path} offline)")
    elif command == "broker-cert":
        key, cert = issue_service_cert(
            Authority.open(args.ca), "broker", args.out, client=False, hosts=tuple(args.host)
        )
        print(f"broker key: {key}\nbroker certificate: {cert}")
    elif command == "client-cert":
        key, cert = issue_service_cert(Authority.open(args.ca), args.name, args.out, client=True)
        print(f"client key: {key}\nclient certificate: {cert}")
    elif command == "unit-init":
        for name, path in unit_init(args.camera_id, args.out).items():
            print(f"{name}: {path}")
    elif command == "enroll":
        entry = enroll(Authority.open(args.ca), args.camera_id, args.csr, args.out)
        print(f"enrolled {entry.camera_id}: certificate {args.out}, sha256 {entry.fingerprint}")
    elif command == "revoke":
        entry = revoke(Authority.open(args.ca), args.camera_id)
        print(
            f"revoked {entry.camera_id} (serial {entry.serial}); run broker-config again and "
            "reload the broker"
        )
    elif command == "crl-renew":
        crl = renew_crl(Authority.open(args.ca), tuple(args.copy_to))
        copies = "".join(f", copied to {path}" for path in args.copy_to)
        print(f"CRL renewed: {len(crl)} revoked, next update {crl.next_update_utc:%Y-%m-%d %H:%M}"
              f" UTC{copies}; reload the broker (systemctl reload mosquitto)")  # fmt: skip
    elif command == "cert-renew":
        cert = renew_cert(Authority.open(args.ca), args.cert)
        print(f"renewed {args.cert} until {cert.not_valid_after_utc:%Y-%m-%d} (serial "
              f"{cert.serial_number:x}); restart or reload whatever reads it")  # fmt: skip
    elif command == "broker-config":
        write_broker_config(args)
    elif command == "register":
        key_id = register_unit(args.central, args.token, args.camera_id, args.credentials, args.ca)
        print(f"registered {args.camera_id} at the central, key_id={key_id}")
    elif command == "agent-config":
        settings = UnitSettings(
            args.camera_id, args.lat, args.lon, args.direction, args.lane, args.credentials,
            args.broker_host, args.broker_port, args.source, args.spool,
            args.central_seal_key or args.credentials / "central-seal.pub",
        )  # fmt: skip
        masks = [parse_polygon(text) for text in args.mask]
        write_agent_config(settings, masks, args.out, args.still, args.preview)
        print(f"agent config: {args.out} ({len(masks)} privacy mask(s))")


def _cert_status(args: argparse.Namespace) -> int:
    """0 when nothing expires within --warn-days, 1 when something does, 2 on an error."""
    if args.ca is None and not args.cert and not args.crl:
        print("anpr-provision: cert-status needs --ca, --cert or --crl", file=sys.stderr)
        return 2
    now = wallclock.now()
    try:
        authority = Authority.open(args.ca) if args.ca is not None else None
        found = lifetimes(authority, tuple(args.cert), tuple(args.crl))
    except ProvisioningError as exc:
        print(f"anpr-provision: {exc}", file=sys.stderr)
        return 2
    print(render(found, now, args.warn_days))
    return 1 if needs_attention(found, now, args.warn_days) else 0


def _selftest(path: Path, window_s: float = 6.0) -> int:
    from edge_agent.config import ConfigError, load_config
    from provisioning.selftest import render, run_selftest

    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"anpr-provision: {exc}", file=sys.stderr)
        return 2
    if not 1.0 <= window_s <= 120.0:
        print("anpr-provision: --window takes 1 to 120 seconds", file=sys.stderr)
        return 2
    checks = run_selftest(config, window_s=window_s)
    print(render(checks))
    return 0 if all(check.passed for check in checks) else 1


def _masks(args: argparse.Namespace) -> int:
    """Serve the mask page until Ctrl-C; the address with its one-time token is printed."""
    from edge_agent.config import ConfigError
    from provisioning.mask_page import MaskPage

    try:
        page = MaskPage(args.config)
        server = page.serve(args.bind, args.port)
    except (ConfigError, OSError) as exc:
        print(f"anpr-provision: {exc}", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    print(f"privacy masks for {page.config.camera.id}: open http://{host}:{port}/?token="
          f"{page.token}\n(from a laptop: ssh -L {port}:127.0.0.1:{port} <unit>); "
          "Ctrl-C to end")  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def write_broker_config(args: argparse.Namespace) -> None:
    authority = Authority.open(args.ca)
    out: Path = args.out
    (out / "data").mkdir(parents=True, exist_ok=True)
    for source in (authority.cert_path, authority.crl_path):
        shutil.copyfile(source, out / source.name)
    active = [e.camera_id for e in enrollments(authority) if e.status == "active"]
    (out / "anpr.acl").write_text(render_acl(args.central_client_id, active))
    (out / "mosquitto.conf").write_text(
        render_tls_config(
            port=args.port,
            bind=args.bind,
            ca_file=out / "ca.crt",
            crl_file=out / "ca.crl",
            cert_file=args.broker_cert / "broker.crt",
            key_file=args.broker_cert / "broker.key",
            acl_file=out / "anpr.acl",
            data_dir=out / "data",
            run_as=args.run_as,
            refusal_plugin=None if args.no_refusal_plugin else build_plugin(out),
            service_users=(args.central_client_id, RESEARCH_USER, CONTROL_ROOM_USER),
        )
    )
    print(f"broker config: {out / 'mosquitto.conf'} ({len(active)} unit(s) granted)")


if __name__ == "__main__":
    sys.exit(main())
