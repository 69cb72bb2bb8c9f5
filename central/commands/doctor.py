"""`anpr-central doctor`: check a whole install and say what to fix.

A central that starts can still be broken in ways nobody sees until a day is lost: keys
readable by others, the day keys on the data disk, a CRL days from locking every unit
out, a stopped audit keeper, a clock adrift. Each check prints one line, OK, WARN or FAIL,
and for the last two the command that fixes it. Exit status 0 when all are OK, 1 with a
WARN, 2 with a FAIL; `--json` gives the same as one object for monitoring.

Run by hand as root, outside systemd, there is no `$CREDENTIALS_DIRECTORY`: the doctor then
reads the `LoadCredential=` lines of the installed units and looks at the files they name,
which is what the services receive.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import socket
import sqlite3
import ssl
import stat
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.audit_anchor import KEEPER_MARK, KEEPER_SOCKET, AnchorError
from central.audit_trails import open_audit_trail
from central.config import CentralConfig, ConfigError, load_config, read_session_key
from central.databases import MigrationError
from central.health.certificates import certificate_states, tls_expiries, tls_files
from central.store.key_chain import KeyChain, KeyChainError
from node.keyfiles import load_signing_key
from wire.errors import KeyFormatError

COMMANDS = ("doctor",)
LEVELS = {"OK": 0, "WARN": 1, "FAIL": 2}
UNITS = ("anpr-central.service", "anpr-central-web.service", "anpr-central-maintenance.service")
# A CRL renewed daily has about 29 days left; fewer than 28 means the timer stopped.
CRL_DAILY_LEFT = timedelta(days=28)
BROKER_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN, FAIL
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f" -> fix: {self.fix}" if self.fix and self.status != "OK" else ""
        return f"{self.status:<4} {self.name:<12} {self.detail}{fix}"


@dataclass(frozen=True)
class Options:
    user: str
    units_dir: Path
    nginx_site: Path
    min_free_percent: float


def add_parsers(commands) -> None:
    doctor = commands.add_parser("doctor", help="check the whole install and say what to fix")
    doctor.add_argument("--json", action="store_true", help="one JSON object, for monitoring")
    doctor.add_argument(
        "--user", default="anpr-central", help="the services' account, owner of the folders"
    )
    doctor.add_argument(
        "--units-dir",
        type=Path,
        default=Path("/etc/systemd/system"),
        help="installed units, for their LoadCredential= files",
    )
    doctor.add_argument(
        "--nginx-site",
        type=Path,
        default=Path("/etc/nginx/sites-enabled/anpr-central"),
        help="the TLS proxy's site (deploy/nginx/anpr-central.conf)",
    )
    doctor.add_argument(
        "--min-free-percent",
        type=float,
        default=10.0,
        help="WARN below this share of free disk (FAIL below a fifth of it)",
    )


def run(config_path: Path, args: argparse.Namespace) -> int:
    options = Options(args.user, args.units_dir, args.nginx_site, args.min_free_percent)
    checks = examine(config_path, options, datetime.now(UTC))
    worst = max((LEVELS[c.status] for c in checks), default=0)
    if args.json:
        status = {0: "ok", 1: "warn", 2: "fail"}[worst]
        print(json.dumps({"status": status, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        for check in checks:
            print(check.line())
        print(
            {
                0: "all checks passed",
                1: "warnings: see above",
                2: "FAILED: fix the lines marked FAIL, then run anpr-central doctor again",
            }[worst]
        )
    return worst


def examine(config_path: Path, options: Options, now: datetime) -> list[Check]:
    """Every check, in the order a technician would fix them."""
    with tempfile.TemporaryDirectory(prefix="anpr-doctor-") as view:
        config, checks = _load(config_path, options.units_dir, Path(view))
        if config is not None:
            checks += check_folders(config, options.user)
            checks += check_keys(config)
            checks += check_certificates(config, now)
            checks += check_crl(config, now)
            checks.append(check_broker(config))
            checks += check_database(config)
            checks += check_audit(config)
            checks += check_web(config, options.nginx_site)
            checks += check_disk(config, options.min_free_percent)
    checks.append(check_clock())
    return checks


# --- configuration ------------------------------------------------------------------------


def unit_credentials(units_dir: Path) -> dict[str, Path]:
    """name -> file of every `LoadCredential=name:file` in the central's installed units."""
    found: dict[str, Path] = {}
    for unit in UNITS:
        try:
            text = (units_dir / unit).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("LoadCredential=") and ":" in line:
                name, _, source = line.removeprefix("LoadCredential=").partition(":")
                found.setdefault(name.strip(), Path(source.strip()))
    return found


def _load(config_path: Path, units_dir: Path, view: Path) -> tuple[CentralConfig | None, list]:
    """The config, with `$CREDENTIALS_DIRECTORY` pointing at what the units would hand over
    when it is not set (a folder of links made here for the run)."""
    try:
        text = config_path.read_text()
    except OSError as exc:
        return None, [
            Check(
                "config",
                "FAIL",
                f"cannot read {config_path}: {exc.strerror}",
                "scripts/install-central.sh writes it; or pass --config",
            )
        ]
    needs_view = "CREDENTIALS_DIRECTORY" in text and "CREDENTIALS_DIRECTORY" not in os.environ
    if needs_view:
        credentials = unit_credentials(units_dir)
        if not credentials:
            return None, [
                Check(
                    "config",
                    "FAIL",
                    f"{config_path} names $CREDENTIALS_DIRECTORY and no unit in {units_dir} "
                    "says which files that holds",
                    "install the units (scripts/install-central.sh), or run with "
                    "CREDENTIALS_DIRECTORY=/etc/anpr/credentials",
                )
            ]
        for name, source in credentials.items():
            (view / name).symlink_to(source)
        os.environ["CREDENTIALS_DIRECTORY"] = str(view)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return None, [
            Check(
                "config",
                "FAIL",
                str(exc),
                f"edit {config_path} (docs/operations.md, Configuration)",
            )
        ]
    finally:
        if needs_view:
            del os.environ["CREDENTIALS_DIRECTORY"]
    where = f" (credentials as {units_dir} hands them over)" if needs_view else ""
    return config, [Check("config", "OK", f"{config_path} validates{where}")]


# --- folders and keys ---------------------------------------------------------------------


def _owner(path: Path) -> str:
    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _private_folder(name: str, path: Path, user: str) -> Check:
    made = f"install -d -o {user} -g {user} -m 0700 {path}"
    try:
        info = path.stat()
    except FileNotFoundError:
        return Check(name, "FAIL", f"{path} does not exist", made)
    if not stat.S_ISDIR(info.st_mode):
        return Check(name, "FAIL", f"{path} is not a folder", f"move it away; {made}")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return Check(
            name, "FAIL", f"{path} has mode {mode:04o}, open to others", f"chmod 0700 {path}"
        )
    if _owner(path) != user:
        return Check(
            name,
            "FAIL",
            f"{path} belongs to {_owner(path)}, not {user}",
            f"chown -R {user}:{user} {path}",
        )
    return Check(name, "OK", f"{path} 0700, owner {user}")


def check_folders(config: CentralConfig, user: str) -> list[Check]:
    data, keys = config.storage.data_dir, config.storage.keys_dir
    checks = [_private_folder("data_dir", data, user), _private_folder("keys_dir", keys, user)]
    if all(c.status == "OK" for c in checks):
        checks.append(_separate_disks(data, keys))
        checks.append(_day_keys(keys, user))
    return checks


def _separate_disks(data: Path, keys: Path) -> Check:
    if data.stat().st_dev == keys.stat().st_dev:
        return Check(
            "keys_disk",
            "WARN",
            f"{keys} is on the same file system as {data}: a stolen or copied data "
            "disk carries the keys that open it",
            f"mount a disk of its own at {keys} (then chown and chmod 0700 it)",
        )
    return Check("keys_disk", "OK", f"{keys} is on its own file system")


def _day_keys(keys: Path, user: str) -> Check:
    try:
        files = [p for p in keys.iterdir() if p.is_file()]
    except OSError as exc:
        return Check(
            "day_keys",
            "FAIL",
            f"cannot read {keys}: {exc.strerror}",
            f"chown -R {user}:{user} {keys}; chmod 0700 {keys}",
        )
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 or _owner(path) != user:
            return Check(
                "day_keys",
                "FAIL",
                f"{path} has mode {mode:04o}, owner {_owner(path)}",
                f"chown {user}:{user} {path}; chmod 0600 {path}",
            )
    return Check("day_keys", "OK", f"{len(files)} file(s) in {keys}, all private to {user}")


def _key_files(config: CentralConfig) -> list[tuple[str, Path | None, bool]]:
    """(setting, file, required) for every secret the config names."""
    secrets = config.secrets
    return [
        ("secrets.session_key_file", secrets.session_key_file, True),
        ("secrets.ack_signing_key_file", secrets.ack_signing_key_file, True),
        ("secrets.seal_key_file", secrets.seal_key_file, True),
        ("secrets.audit_signing_key_file", secrets.audit_signing_key_file, True),
        ("mqtt.tls_key_file", config.mqtt.tls_key_file, False),
        ("alerts.webhook_secret_file", config.alerts.webhook_secret_file, False),
        ("alerts.unit_hotlist_master_key_file", config.alerts.unit_hotlist_master_key_file, False),
    ]


def check_keys(config: CentralConfig) -> list[Check]:
    checks = []
    for setting, path, required in _key_files(config):
        if path is None:
            if required:
                checks.append(
                    Check(
                        "key",
                        "FAIL",
                        f"{setting} is not set",
                        "anpr-provision central-keys --out /etc/anpr/credentials, "
                        f"then name the file in {setting}",
                    )
                )
            continue
        checks.append(_private_key(setting, path))
    return checks


def _private_key(setting: str, path: Path) -> Check:
    real = Path(os.path.realpath(path))
    shown = str(path) if real == path else f"{path} ({real})"
    try:
        mode = stat.S_IMODE(real.stat().st_mode)
        if setting == "secrets.session_key_file":
            read_session_key(real)
        elif setting.endswith(("ack_signing_key_file", "audit_signing_key_file")):
            load_signing_key(real)
    except FileNotFoundError:
        return Check(
            "key",
            "FAIL",
            f"{setting}: {shown} is missing",
            "anpr-provision central-keys --out /etc/anpr/credentials (ack, seal, "
            "audit, session); client-cert for the TLS key",
        )
    except (OSError, ConfigError, KeyFormatError) as exc:
        return Check(
            "key",
            "FAIL",
            f"{setting}: {shown} unusable: {exc}",
            "restore the file from its backup or make a new one",
        )
    if mode & 0o077:
        return Check(
            "key",
            "FAIL",
            f"{setting}: {shown} has mode {mode:04o}, readable by others",
            f"chmod 0600 {real}",
        )
    return Check("key", "OK", f"{setting}: {shown} present, mode {mode:04o}")


# --- certificates, CRL and broker ---------------------------------------------------------


def check_certificates(config: CentralConfig, now: datetime) -> list[Check]:
    states = certificate_states(tls_files(config), now)
    checks = []
    for state in states:
        if state.kind == "crl":
            continue  # check_crl, with the daily renewal's stricter limit
        status = {"OK": "OK", "DEGRADED": "WARN"}.get(state.state, "FAIL")
        real = os.path.realpath(state.file)  # the file itself, not the credentials view
        checks.append(
            Check(
                "certificate",
                status,
                f"{real}: {state.subject} {state.reason}".replace("  ", " "),
                f"anpr-provision cert-renew --ca /srv/anpr-ca --cert {real} (the CA's own "
                "certificate: plan a new CA)",
            )
        )
    if not checks:
        checks.append(
            Check(
                "certificate",
                "WARN",
                "no TLS certificate named in the config",
                "set mqtt.tls_* and list the broker's and the site's certificates "
                "in metrics.tls_files",
            )
        )
    return checks


def check_crl(config: CentralConfig, now: datetime) -> list[Check]:
    checks = []
    for path in tls_files(config):
        try:
            expiries = tls_expiries(path)
        except (OSError, ValueError):
            continue  # reported UNREADABLE by check_certificates
        for kind, _, moment in expiries:
            if kind == "crl":
                checks.append(_crl_state(path, moment - now))
    if not checks:
        checks.append(
            Check(
                "crl",
                "WARN",
                "no CRL named in metrics.tls_files: its end is not "
                "watched, and when it passes the broker refuses every unit",
                'add "/etc/mosquitto/anpr/ca.crl" to metrics.tls_files',
            )
        )
    return checks


def _crl_state(path: Path, left: timedelta) -> Check:
    renew = (
        f"anpr-provision crl-renew --ca /srv/anpr-ca --copy-to {path} && systemctl "
        "reload mosquitto; then systemctl enable --now anpr-crl-renew.timer"
    )
    if left <= timedelta(0):
        return Check(
            "crl",
            "FAIL",
            f"{path} expired {-left.days} day(s) ago: the broker "
            "refuses every unit and the central",
            renew,
        )
    if left < CRL_DAILY_LEFT:
        return Check(
            "crl",
            "WARN",
            f"{path}: {left.days} day(s) left; renewed daily it would "
            "have 29: the renewal timer has stopped",
            renew,
        )
    return Check("crl", "OK", f"{path}: {left.days} day(s) left")


def check_broker(config: CentralConfig) -> Check:
    """An MQTT connect under the ingest's certificate (its own client id, so the running
    ingest keeps its session): the broker's certificate, ours and the CRL all count."""
    import paho.mqtt.client as mqtt

    from node.tls import configure_tls

    where = f"{config.mqtt.host}:{config.mqtt.port}"
    fix = (
        "systemctl status mosquitto; journalctl -u mosquitto; anpr-provision cert-status "
        "--ca /srv/anpr-ca"
    )
    answered = threading.Event()
    result: dict = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="anpr-central-doctor")

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        result["reason"] = str(reason_code)
        result["ok"] = not reason_code.is_failure
        answered.set()

    client.on_connect = on_connect
    try:
        configure_tls(client, config.mqtt)
        client.connect(config.mqtt.host, config.mqtt.port, keepalive=10)
        client.loop_start()
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Check("broker", "FAIL", f"{where} refused the connection: {exc}", fix)
    try:
        if not answered.wait(BROKER_TIMEOUT_S):
            return Check(
                "broker",
                "FAIL",
                f"{where} gave no answer within "
                f"{BROKER_TIMEOUT_S:.0f} s (TLS refused or CRL expired?)",
                fix,
            )
        if not result["ok"]:
            return Check(
                "broker",
                "FAIL",
                f"{where} refused the ingest: {result['reason']}",
                "check the ACL (anpr-provision broker-config) and the certificate",
            )
    finally:
        client.disconnect()
        client.loop_stop()
    how = "TLS with the ingest's certificate" if config.mqtt.tls else "plaintext on loopback"
    return Check("broker", "OK", f"{where} accepts the ingest ({how})")


# --- the shared database (storage.backend = "postgresql") ------------------------------------

MIN_SERVER = 150000  # PostgreSQL 15 (Debian 12's): what the stores are tested on


def check_database(config: CentralConfig) -> list[Check]:
    """With the PostgreSQL backend: the database answers as a writable primary of a
    supported version, with a synchronous replica, and the day keys come from a chain every
    host shares. Nothing to check for SQLite."""
    if config.storage.backend != "postgresql":
        return []
    import psycopg

    fix_reach = ("check the host, pg_hba.conf and ~anpr-central/.pgpass; "
                 "psql with storage.postgresql says more")  # fmt: skip
    try:
        with psycopg.connect(config.storage.postgresql, connect_timeout=5) as db:
            version = db.info.server_version
            standby = db.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            sync = db.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')"
            ).fetchone()[0]
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [Check("database", "FAIL", f"cannot reach storage.postgresql: {detail}", fix_reach)]
    checks = [_database_server(version, standby), _replica(sync), _key_chain(config)]
    return [check for check in checks if check is not None]


def _database_server(version: int, standby: bool) -> Check:
    shown = f"{version // 10000}.{version % 10000}"
    if version < MIN_SERVER:
        return Check("database", "FAIL", f"PostgreSQL {shown}: 15 or newer is needed",
                     "upgrade the server (Debian 12: apt install postgresql, 15)")  # fmt: skip
    if standby:
        return Check(
            "database", "FAIL", f"PostgreSQL {shown} answers as a standby: nothing can be stored",
            "list the primary first and add target_session_attrs=read-write to "
            "storage.postgresql; after a failover, promote the replica",
        )  # fmt: skip
    return Check("database", "OK", f"PostgreSQL {shown}, a writable primary")


def _replica(sync: int) -> Check:
    if sync:
        return Check("replica", "OK", f"{sync} synchronous replica(s) confirm every commit")
    return Check(
        "replica", "WARN",
        "no synchronous replica: a lost primary loses passages already acknowledged",
        "docs/operations.md, Running on PostgreSQL, step 5 (synchronous_standby_names)",
    )  # fmt: skip


def _key_chain(config: CentralConfig) -> Check:
    keys_dir = config.storage.keys_dir
    chain = KeyChain.open(keys_dir)
    if chain is None:
        return Check(
            "key chain", "WARN",
            f"no day-key chain in {keys_dir}: right for one central host; with several, each "
            "makes other day keys and none opens another's passages",
            "anpr-central day-key-chain --start <a day ahead>, then copy chain.key to every "
            "host (docs/operations.md, Running on PostgreSQL, step 4)",
        )  # fmt: skip
    mode = chain.path.stat().st_mode & 0o777
    if mode & 0o077:
        return Check("key chain", "FAIL", f"{chain.path} is mode {mode:o}: others can read it",
                     f"chmod 600 {chain.path}")  # fmt: skip
    try:
        first = chain.next_day()
    except KeyChainError as exc:
        return Check("key chain", "FAIL", str(exc),
                     "copy chain.key again from a running host of this install")  # fmt: skip
    return Check("key chain", "OK", f"{chain.path}: day keys from {first} on come from it")


# --- audit trail and its anchor -------------------------------------------------------------


def check_audit(config: CentralConfig) -> list[Check]:
    return [_audit_trail(config), _audit_anchor(config.audit_anchor_dir)]


def _audit_trail(config: CentralConfig) -> Check:
    if config.secrets.audit_signing_key_file is None:
        return Check(
            "audit",
            "FAIL",
            "no secrets.audit_signing_key_file: nothing signs or verifies the trail",
            "anpr-provision central-keys; name audit-signing.key",
        )
    if config.storage.backend == "sqlite" and not config.audit_path.exists():
        return Check(
            "audit",
            "WARN",
            f"no audit trail yet at {config.audit_path}",
            "start the central (systemctl start anpr-central); it begins the trail",
        )
    errors: tuple[type[BaseException], ...] = (
        OSError, KeyFormatError, AnchorError, MigrationError, sqlite3.Error,
    )  # fmt: skip
    where = str(config.audit_path)
    if config.storage.backend == "postgresql":
        import psycopg

        errors, where = (*errors, psycopg.Error), "the audit trail in storage.postgresql"
    try:
        key = load_signing_key(config.secrets.audit_signing_key_file)
        trail = open_audit_trail(config)
        try:
            findings = trail.verify(key.verify_key)
        finally:
            trail.close()
    except errors as exc:
        return Check(
            "audit",
            "FAIL",
            f"cannot verify {where}: {exc}",
            "anpr-central audit-verify says more; fix the key or the anchor it names",
        )
    if findings:
        first = findings[0]
        return Check(
            "audit",
            "FAIL",
            f"{len(findings)} problem(s); first at entry {first.seq}: {first.problem}",
            "treat as an integrity incident: anpr-central audit-verify lists them "
            "all; compare with an off-host copy of anchor.log (docs/security.md)",
        )
    return Check("audit", "OK", f"{where} verifies against its chain, checkpoints and anchor")


def _audit_anchor(folder: Path) -> Check:
    start = "systemctl enable --now anpr-audit-keeper"
    if not folder.is_dir():
        return Check("anchor", "FAIL", f"{folder} does not exist", start)
    if not (folder / KEEPER_MARK).exists():
        return Check(
            "anchor",
            "WARN",
            f"{folder} is not held by the audit keeper: the central's "
            "own account could rewrite its anchor",
            f'{start}, with storage.audit_anchor_dir = "/var/lib/anpr-audit-keeper"',
        )
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            probe.connect(str(folder / KEEPER_SOCKET))
    except OSError as exc:
        return Check(
            "anchor",
            "FAIL",
            f"the audit keeper does not answer on "
            f"{folder / KEEPER_SOCKET} ({exc.strerror or exc}): audit entries fail",
            f"{start}; journalctl -u anpr-audit-keeper",
        )
    return Check("anchor", "OK", f"{folder} held by the audit keeper (keeper.sock answers)")


# --- web, clock, disk ---------------------------------------------------------------------


def check_web(config: CentralConfig, nginx_site: Path) -> list[Check]:
    host = f"[{config.web.host}]" if ":" in config.web.host else config.web.host
    url = f"http://{host}:{config.web.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback http)
            served = answer.status == 200
    except (urllib.error.URLError, OSError) as exc:
        served, reason = False, str(getattr(exc, "reason", exc))
    checks = [
        Check("web", "OK", f"{url} answers")
        if served
        else Check(
            "web",
            "FAIL",
            f"{url} does not answer ({reason})",
            "systemctl status anpr-central-web; journalctl -u anpr-central-web",
        )
    ]
    if not nginx_site.exists():
        checks.append(
            Check(
                "proxy",
                "WARN",
                f"no TLS proxy site at {nginx_site}: officers cannot reach their pages",
                "scripts/install-central.sh installs deploy/nginx/anpr-central.conf",
            )
        )
    elif config.web.proxy_hops == 0:
        checks.append(
            Check(
                "proxy",
                "WARN",
                f"{nginx_site} is in front but web.proxy_hops is "
                "0: every officer shares the proxy's address in login throttling",
                "set proxy_hops = 1 under [web] and restart anpr-central-web",
            )
        )
    else:
        checks.append(
            Check("proxy", "OK", f"{nginx_site}, web.proxy_hops = {config.web.proxy_hops}")
        )
    return checks


def _ask(command: list[str]) -> str | None:
    """A tool's output, or None when it is missing or fails (no systemd, no chrony)."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def check_clock() -> Check:
    """Passages, audit entries and TLS all rely on the clock: a drifting central refuses
    good passages as 'from the future' and misdates the log."""
    fix = "systemctl enable --now systemd-timesyncd (or install chrony); timedatectl"
    synced = _ask(["timedatectl", "show", "--property=NTPSynchronized", "--value"])
    if synced is not None and synced.strip() in ("yes", "no"):
        if synced.strip() == "yes":
            return Check("clock", "OK", "synchronised (timedatectl)")
        return Check("clock", "FAIL", "not synchronised (timedatectl)", fix)
    tracking = _ask(["chronyc", "-n", "tracking"])
    if tracking is not None:
        if "Leap status     : Normal" in tracking:
            return Check("clock", "OK", "synchronised (chronyc)")
        return Check("clock", "FAIL", "chrony is not synchronised", "chronyc sources -v")
    return Check(
        "clock",
        "WARN",
        "cannot tell whether the clock is synchronised (neither timedatectl nor chronyc answered)",
        fix,
    )


def check_disk(config: CentralConfig, min_free_percent: float) -> list[Check]:
    checks, seen = [], set()
    for path in (config.storage.data_dir, config.storage.keys_dir):
        if not path.is_dir():
            continue  # check_folders says so
        device = path.stat().st_dev
        if device in seen:
            continue
        seen.add(device)
        usage = shutil.disk_usage(path)
        free = 100.0 * usage.free / usage.total
        detail = f"{path}: {usage.free / 2**30:.1f} GiB free ({free:.0f} %)"
        fix = (
            "free space or grow the disk: the store stops taking passages when it is full "
            "(retention frees a day's file after 28 days)"
        )
        status = (
            "FAIL" if free < min_free_percent / 5 else "WARN" if free < min_free_percent else "OK"
        )
        checks.append(Check("disk", status, detail, fix))
    return checks
