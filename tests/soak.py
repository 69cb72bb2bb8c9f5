"""Time as an input: a central, a broker and two units carried weeks forward in simulated time.

Every process (Mosquitto, `anpr-central serve`, two `anpr-agent`s, and the daily commands
the systemd timers run: CRL renewal with a broker reload, backup, backup expiry) runs under
the simulated date: our processes through `node.wallclock` (`ANPR_SIMULATED_CLOCK`),
Mosquitto through libfaketime, so its TLS checks of certificates and the CRL see it too. Day
keys, retention, backups and deadlines fire as they would on those dates. (libfaketime
cannot run our Python processes: their timed waits, `sem_clockwait`, are not faked and hang.)

After each step the harness checks, from the files and the processes' own answers:
both units still deliver (the broker restarts every few simulated days, so each unit must
shake hands again against the current CRL), no passage, day file or day key outlives 28
days (plus the hour retention may take), no backup holds an expired day, the CRL stays
valid, and the deadlines fire: an officer's lapsed review appears in the register.

`python -m tests.soak --days 60` (`make soak`) runs the full version and prints each step;
`tests/test_soak.py` runs a short one in the suite.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography import x509
from sqlcipher3 import dbapi2 as sqlcipher

from central.accounts import totp
from central.accounts.register import Register
from central.accounts.users import Accounts
from central.audit import AuditTrail
from central.cameras import CameraRegistry
from central.databases import connect
from central.expiry import RETENTION
from central.requests.orders import WRITTEN_ORDER_DUE, Order, Scope, Window
from central.requests.store import Requests
from central.requests.workflow import Workflow
from central.store.daykeys import DayKeyring
from node.keyfiles import load_verify_key
from tests.conftest import (
    CameraSetup,
    free_port,
    mosquitto_binary,
    wait_for_port,
    write_agent_config,
    write_central_config,
)
from wire.fields import format_timestamp

FAKETIME = next(
    (p for p in Path("/usr/lib").glob("*-linux-gnu/faketime/libfaketimeMT.so.1")),
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"),
)
UNITS = ("soak-unit-01", "soak-unit-02")
BIN = Path(sys.executable).parent
BROKER_RESTART_DAYS = 5
REQUESTER_PASSWORD = "a long soak passphrase"
OFFICER_REVIEW_DAYS = 20


class SoakFailure(AssertionError):
    """An invariant broke at a simulated moment; the message says which and when."""


@dataclass
class Step:
    at: datetime
    passages: dict[str, int]
    day_files: int
    findings: list[str] = field(default_factory=list)


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class SimulatedClock:
    """Seconds ahead of the system clock, in two files: one for our processes
    (`ANPR_SIMULATED_CLOCK`, read by `node.wallclock`), one for Mosquitto's libfaketime."""

    def __init__(self, folder: Path, start: datetime) -> None:
        if not FAKETIME.exists():
            raise RuntimeError("libfaketime is missing: `make test` installs Debian's faketime")
        self.ours, self.broker = folder / "simulated-clock", folder / "faketime"
        self.offset = 0.0
        self.advance(start - datetime.now(UTC))

    def advance(self, step: timedelta) -> None:
        self.offset += step.total_seconds()
        self.ours.write_text(f"{self.offset:.3f}\n")
        self.broker.write_text(f"+{int(self.offset)}\n")

    @property
    def moment(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def env(self) -> dict[str, str]:
        return {**os.environ, "ANPR_SIMULATED_CLOCK": str(self.ours), "PYTHONUNBUFFERED": "1"}

    def broker_env(self) -> dict[str, str]:
        """Mosquitto (C, one thread) under libfaketime: its TLS checks of certificates and
        the CRL see the simulated date. Its monotonic clock jumps too, so a step ends every
        connection's keep-alive, like a host waking from suspend: the units reconnect."""
        return {
            **os.environ,
            "LD_PRELOAD": str(FAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(self.broker),
            "FAKETIME_NO_CACHE": "1",
        }


class Soak:
    """The whole system on loopback, in `root`, starting at `start` (simulated)."""

    def __init__(self, root: Path, start: datetime, say: Callable[[str], None] = print) -> None:
        self.root, self.say = root, say
        # Certificates are made on the real date: the units' TLS (real clock) checks the
        # broker's, and the broker (simulated clock) theirs, so both dates must lie inside.
        self.clock = SimulatedClock(root, datetime.now(UTC))
        self.processes: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.web_port = free_port()
        self.ca = root / "ca"
        self._provision()
        self.clock.advance(start - self.clock.moment)
        self.central = write_central_config(root / "central", self.port, self.web_port)
        self._configure_central()
        self._register_units(start)
        self._register_oral_order(start)
        self.last_broker_start = start

    # --- set-up, as a technician would, with the simulated date -----------------------------

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """A CLI command under the simulated clock, as a systemd timer would start it."""
        program = BIN / command[0]
        done = subprocess.run(
            [str(program), *command[1:]], env=self.clock.env(), capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise SoakFailure(f"{' '.join(command)} failed at {self.now}: {done.stderr.strip()}")
        return done

    @property
    def now(self) -> datetime:
        return self.clock.moment

    def _provision(self) -> None:
        self.run("anpr-provision", "ca-init", "--ca", str(self.ca))
        self.run("anpr-provision", "broker-cert", "--ca", str(self.ca), "--host", "127.0.0.1",
                 "--out", str(self.root / "broker-cert"))  # fmt: skip
        self.run("anpr-provision", "client-cert", "--ca", str(self.ca),
                 "--out", str(self.root / "central-tls"))  # fmt: skip
        for unit in UNITS:
            folder = self.root / unit
            self.run("anpr-provision", "unit-init", "--camera-id", unit, "--out", str(folder))
            csr, crt = str(folder / "tls.csr"), str(folder / "tls.crt")
            self.run("anpr-provision", "enroll", "--ca", str(self.ca), "--camera-id", unit,
                     "--csr", csr, "--out", crt)  # fmt: skip
        self.run("anpr-provision", "broker-config", "--ca", str(self.ca),
                 "--broker-cert", str(self.root / "broker-cert"), "--out",
                 str(self.root / "broker"), "--port", str(self.port), "--bind", "127.0.0.1",
                 "--run-as", os.environ.get("USER", "root"))  # fmt: skip

    def _configure_central(self) -> None:
        """The test config as shipped: TLS to the broker, unsealed passages refused, retention
        every 2 s so a step's expiry is done before the step is checked."""
        tls = self.root / "central-tls"
        text = self.central.config_path.read_text()
        text = text.replace("accept_unsealed = true", "accept_unsealed = false")
        text = text.replace(
            'host = "127.0.0.1"\nport',
            f'tls_ca_file = "{self.ca / "ca.crt"}"\n'
            f'tls_cert_file = "{tls / "anpr-central-ingest.crt"}"\n'
            f'tls_key_file = "{tls / "anpr-central-ingest.key"}"\n'
            'host = "127.0.0.1"\nport',
        )
        text += "\n[retention]\ninterval_s = 2\n"
        self.central.config_path.write_text(text)
        from central.config import load_config

        self.config = load_config(self.central.config_path)

    def _register_units(self, start: datetime) -> None:
        registry = CameraRegistry(self.config.cameras_path)
        try:
            for unit in UNITS:
                registry.add(unit, load_verify_key(self.root / unit / f"{unit}.pub"), start)
                registry.designate(unit, start - timedelta(days=1), None, "soak-plan", start)
        finally:
            registry.close()
        review = (start + timedelta(days=OFFICER_REVIEW_DAYS)).date().isoformat()
        password = self.root / "officer-password"
        password.write_text(f"{REQUESTER_PASSWORD}\n")
        self.run("anpr-central", "--config", str(self.central.config_path), "user-add",
                 "--username", "o.soak", "--full-name", "O. Soak", "--unit", "unit-midden",
                 "--role", "officer", "--password-file", str(password))  # fmt: skip
        self.run("anpr-central", "--config", str(self.central.config_path), "officer-authorise",
                 "--username", "o.soak", "--unit", "unit-midden", "--by", "chief",
                 "--review-due", review)  # fmt: skip

    def _register_oral_order(self, start: datetime) -> None:
        """A requester's request on an oral order given at the start: its written order is
        due three days later and never comes, so the request must show as late from then."""
        config = ["anpr-central", "--config", str(self.central.config_path)]
        password = self.root / "requester-password"
        password.write_text(f"{REQUESTER_PASSWORD}\n")
        created = self.run(*config, "user-add", "--username", "r.soak", "--full-name", "R. Soak",
                           "--unit", "unit-midden", "--role", "requester",
                           "--password-file", str(password))  # fmt: skip
        self.requester_secret = created.stdout.split("secret=")[1].split("&")[0]
        window = Window(start - timedelta(days=2), start - timedelta(days=1))
        order = Order(
            reference="OM-SOAK-0001", prosecutor="mr. J. de Vries", order_time=start,
            order_form="oral", legal_basis="detention_crime", investigation="Soak",
            case_number="PL0900-2027-1", crime="armed robbery", crime_type="robbery",
            description="a dark estate car", necessity="the getaway car's route",
            scope=Scope(windows=(window,), plates=("GBL12X",), cameras=(UNITS[0],)),
        )  # fmt: skip
        accounts, requests = (
            Accounts(self.config.accounts_path),
            Requests(self.config.requests_path),
        )
        trail = AuditTrail(self.config.audit_path)
        try:
            flow = Workflow(requests, Register(accounts), trail)
            self.request_id = flow.submit(order, "r.soak", "unit-midden", start)
        finally:
            for part in (trail, requests, accounts):
                part.close()

    def written_order_shown_late(self) -> bool:
        """The request's page, as the requester sees it from the running web service."""
        jar = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        browser = urllib.request.build_opener(jar)
        base = f"http://127.0.0.1:{self.web_port}"
        code = totp.code_at(self.requester_secret, int(self.now.timestamp() // totp.STEP_S))
        form = {"username": "r.soak", "password": REQUESTER_PASSWORD, "code": code, "next": "/"}
        browser.open(f"{base}/login", urllib.parse.urlencode(form).encode(), timeout=10)
        page = browser.open(f"{base}/requests/{self.request_id}", timeout=10).read()
        if b"OM-SOAK-0001" not in page:
            raise SoakFailure(f"the requester could not open the request at {self.now}")
        return b'id="late"' in page

    def _agent_config(self, unit: str) -> Path:
        folder = self.root / unit
        camera = CameraSetup(unit, None, folder / f"{unit}.key", folder / f"{unit}.pub")
        tls = {"ca": self.ca / "ca.crt", "cert": folder / "tls.crt", "key": folder / "tls.key"}
        return write_agent_config(folder, camera, self.central, self.port, fps=2, tls=tls,
                                  loop=True, heartbeat_s=2.0)  # fmt: skip

    # --- processes ------------------------------------------------------------------------

    def _start(self, name: str, command: list[str], env: dict | None = None) -> None:
        log = (self.root / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(command, env=env or self.clock.env(), stdout=log,
                                                stderr=log)  # fmt: skip
        log.close()

    def start(self) -> None:
        self.start_broker()
        self._start("central", [str(BIN / "anpr-central"), "--config",
                                str(self.central.config_path), "serve"])  # fmt: skip
        wait_for_port(self.web_port, timeout=30)
        for unit in UNITS:
            self._start(unit, [str(BIN / "anpr-agent"), "--config", str(self._agent_config(unit))])

    def start_broker(self) -> None:
        config = self.root / "broker" / "mosquitto.conf"
        self._start("broker", [mosquitto_binary(), "-c", str(config)], self.clock.broker_env())
        wait_for_port(self.port)
        self.last_broker_start = self.now

    def restart_broker(self) -> None:
        """Every unit and the central must shake hands again: against today's CRL."""
        broker = self.processes.pop("broker")
        broker.terminate()
        broker.wait(timeout=10)
        self.start_broker()

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def _alive(self) -> None:
        dead = [n for n, p in self.processes.items() if p.poll() is not None]
        if dead:
            raise SoakFailure(f"{', '.join(dead)} stopped at {self.now}; see {self.root}/*.log")

    # --- what the daily timers run --------------------------------------------------------

    def daily_timers(self) -> None:
        """anpr-crl-renew.timer, then the broker reload it triggers; anpr-central-backup.timer
        and the hourly maintenance timer's backup expiry."""
        crl = self.root / "broker" / "ca.crl"
        self.run("anpr-provision", "crl-renew", "--ca", str(self.ca), "--copy-to", str(crl))
        self.processes["broker"].send_signal(signal.SIGHUP)
        config = ["anpr-central", "--config", str(self.central.config_path)]
        backups, keys = self.root / "backup", self.root / "backup-keys"
        backups.mkdir(exist_ok=True)
        keys.mkdir(exist_ok=True)
        self.run(*config, "backup", "--to", str(backups), "--keys-to", str(keys))
        self.run(*config, "backup-expire", "--to", str(backups), "--keys-to", str(keys))

    # --- what is checked -------------------------------------------------------------------

    def day_files(self) -> dict[date, Path]:
        folder = self.config.storage.data_dir / "passages"
        return {date.fromisoformat(p.stem): p for p in folder.glob("????-??-??.sqlite")}

    def passages_since(self, moment: datetime) -> dict[str, int]:
        counts = dict.fromkeys(UNITS, 0)
        for day, path in self.day_files().items():
            if day < moment.date():
                continue
            rows = _query_day(path, self.config.storage.keys_dir,
                              "SELECT camera_id, count(*) FROM passages "
                              "WHERE captured_at >= ? GROUP BY camera_id", moment)  # fmt: skip
            for camera_id, count in rows:
                counts[camera_id] = counts.get(camera_id, 0) + count
        return counts

    def wait_for_deliveries(self, since: datetime, timeout: float = 45.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while True:
            self._alive()
            counts = self.passages_since(since)
            if all(counts[u] > 0 for u in UNITS):
                return counts
            if time.monotonic() > deadline:
                raise SoakFailure(
                    f"no passage stored since {since} from "
                    f"{[u for u in UNITS if not counts[u]]} (locked out?) at {self.now}"
                )
            time.sleep(0.25)

    def expired_left(self) -> list[str]:
        """Anything past 28 days (and the hour retention may take) still on disk."""
        limit = self.now - RETENTION - timedelta(hours=1)
        found = [f"day file {d}" for d in self.day_files() if d < limit.date()]
        for day, path in self.day_files().items():
            if day != limit.date():
                continue
            rows = _query_day(
                path,
                self.config.storage.keys_dir,
                "SELECT count(*) FROM passages WHERE captured_at < ?",
                limit,
            )
            old = rows[0][0] if rows else 0
            if old:
                found.append(f"{old} passage(s) of {day} past 28 days")
        kept = [*self.config.storage.keys_dir.rglob("*.key"), *(self.root / "backup").rglob("*"),
                *(self.root / "backup-keys").rglob("*")]  # fmt: skip
        found += [f"{p.relative_to(self.root)}" for p in kept if _day_named(p) < limit.date()]
        return found

    def crl_valid_for(self) -> timedelta:
        crl = x509.load_pem_x509_crl((self.root / "broker" / "ca.crl").read_bytes())
        return crl.next_update_utc - self.now

    def officer_lapsed(self) -> bool:
        done = self.run("anpr-central", "--config", str(self.central.config_path),
                        "officer-register")  # fmt: skip
        return "lapsed" in done.stdout

    def settle(self, seconds: float) -> None:
        """Let retention (every 2 s) and the units catch up with a jump."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._alive()
            time.sleep(0.25)

    # --- the run --------------------------------------------------------------------------

    def forward(self, days: int, step: timedelta, deliver_within: float = 45.0) -> list[Step]:
        start = self.now
        self.start()
        self.wait_for_deliveries(start, timeout=60)
        steps = []
        last_timer_day = start.date()
        while self.now < start + timedelta(days=days):
            self.clock.advance(step)
            if self.now.date() != last_timer_day:
                self.daily_timers()
                last_timer_day = self.now.date()
            if self.now - self.last_broker_start >= timedelta(days=BROKER_RESTART_DAYS):
                self.restart_broker()
            counts = self.wait_for_deliveries(self.now, deliver_within)
            self.settle(2.5)
            findings = [f"left after 28 days: {x}" for x in self.expired_left()]
            if self.crl_valid_for() < timedelta(days=14):
                findings.append(f"CRL valid for {self.crl_valid_for()} only")
            due = start + timedelta(days=OFFICER_REVIEW_DAYS + 1)
            if self.now >= due and not self.officer_lapsed():
                findings.append("an officer past the review date is not shown as lapsed")
            late = self.now > start + WRITTEN_ORDER_DUE
            near_due = abs(self.now - start - WRITTEN_ORDER_DUE) < timedelta(minutes=1)
            if not near_due and self.written_order_shown_late() != late:
                findings.append(f"the oral order's written order {'is' if late else 'is not'} "
                                "late but the request page says otherwise")  # fmt: skip
            steps.append(Step(self.now, counts, len(self.day_files()), findings))
            self.say(f"{self.now:%Y-%m-%d %H:%M} delivered {counts} day files "
                     f"{len(self.day_files())} CRL {self.crl_valid_for().days} d "
                     f"{'; '.join(findings) or 'ok'}")  # fmt: skip
            if findings:
                raise SoakFailure(f"at {self.now}: {'; '.join(findings)}")
        return steps


def _query_day(path: Path, keys: Path, sql: str, moment: datetime) -> list[tuple]:
    """A query of a day file the central is writing (opened with its day's key, as an
    auditor holding both would), with a moment in the store's text form; nothing while the
    central is still creating the file's tables."""
    db = connect(path, DayKeyring(keys).file_key(date.fromisoformat(path.stem)))
    try:
        return db.execute(sql, (format_timestamp(moment),)).fetchall()
    except sqlcipher.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return []  # a file without tables holds no passages
    finally:
        db.close()


def _day_named(path: Path) -> date:
    """The UTC day a day file, key or backup is named for (far future for other files)."""
    try:
        return date.fromisoformat(path.name[:10])
    except ValueError:
        return date.max


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--step-hours", type=float, default=12.0)
    parser.add_argument("--root", type=Path, default=Path("var/soak"))
    args = parser.parse_args(argv)
    import shutil

    shutil.rmtree(args.root, ignore_errors=True)
    args.root.mkdir(parents=True)
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=6, minute=0, second=0,
                                                             microsecond=0)  # fmt: skip
    soak = Soak(args.root.resolve(), start)
    began = time.monotonic()
    try:
        steps = soak.forward(args.days, timedelta(hours=args.step_hours))
    except SoakFailure as failure:
        print(f"SOAK FAILED: {failure}")
        return 1
    finally:
        soak.stop()
    print(f"soak: {args.days} simulated days in {len(steps)} steps of {args.step_hours} h, "
          f"{time.monotonic() - began:.0f} s: both units delivered at every step, nothing "
          "past 28 days left, CRL renewed daily, review date and written order deadline "
          "fired")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
