"""`make demo`: a broker, the central and one agent on this machine, all on loopback.

Creates fresh key material and data under var/demo/, starts a loopback Mosquitto with a
generated config, registers the demo camera, starts the central (ingest + web) and an agent
that replays the sample scenes in samples/replay/, and prints the URL where passages appear.
Stops everything on Ctrl-C (or after --seconds).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from central import demo_accounts  # noqa: E402
from central.accounts.totp_code import current  # noqa: E402
from central.cameras import CameraRegistry  # noqa: E402
from central.config import load_config  # noqa: E402
from node.keyfiles import load_verify_key  # noqa: E402
from provisioning.broker_config import render_dev_config  # noqa: E402
from provisioning.keys import make_camera_key, make_central_keys  # noqa: E402

CAMERA_ID = "demo-a12-hm34-n-1"
DEMO_PASSWORD = "demo-password-1234"  # demo data: printed, never for a real instance


def sample_plates() -> list[str]:
    """The plates in the replayed scenes (their label files' last column)."""
    return sorted(
        line.split()[-1]
        for label in (REPO / "samples" / "replay").glob("*.txt")
        for line in label.read_text().splitlines()
        if line.strip()
    )


def print_accounts(secrets: dict[str, str], web_port: int) -> None:
    print("\nDEMO DATA ONLY: demo accounts (password, then the second factor's 6-digit code):")
    print(f"  password for every account   {DEMO_PASSWORD}")
    for role, name, page in demo_accounts.ACCOUNTS:
        secret = secrets[name]
        print(f"  {role:<21} {name:<16} TOTP secret {secret}  code now {current(secret)}"
              f"  opens http://127.0.0.1:{web_port}{page}")  # fmt: skip
    print("  a fresh code:  python -m central.accounts.totp_code SECRET  (or an authenticator app)")
    print(
        "  hotlist 'Demo: stolen vehicles' hits the replayed plates: see /alerts as demo-operator"
    )
    print("  order DEMO-OM-0001 is confirmed and accepted: search it at /requests as demo-officer")


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free loopback port")


def wait_for_port(port: int, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"demo: {what} exited with {process.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"demo: {what} did not start listening on port {port}; see {log}")


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(found).exists():
        sys.exit("demo: mosquitto is not installed; run `make demo`, which installs it")
    return found


def write_configs(root: Path, broker_port: int, web_port: int) -> tuple[Path, Path]:
    keys = make_central_keys(root / "central-credentials")
    camera_private, camera_public = make_camera_key(CAMERA_ID, root / "camera-credentials")
    central = root / "central.toml"
    central.write_text(
        f'[storage]\ndata_dir = "central-data"\nkeys_dir = "central-keys"\n\n'
        f'[secrets]\nsession_key_file = "{keys["session"]}"\n'
        f'ack_signing_key_file = "{keys["ack_key"]}"\n'
        f'seal_key_file = "{keys["seal_key"]}"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n\n'
        f'[web]\nhost = "127.0.0.1"\nport = {web_port}\n'
        # The demo shows the latest passages; production consults them only by search.
        "demo_views = true\n"
    )
    agent = root / "agent.toml"
    agent.write_text(
        f'[camera]\nid = "{CAMERA_ID}"\nlat = 52.0907\nlon = 5.1214\ndirection = "N"\nlane = 1\n\n'
        f'[keys]\nsigning_key = "{camera_private}"\n'
        f'central_public_key = "{keys["ack_pub"]}"\n'
        f'central_seal_public_key = "{keys["seal_pub"]}"\n\n'
        f'[source]\npath = "{REPO / "samples" / "replay"}"\nfps = 1.0\nloop = true\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n\n'
        f'[spool]\npath = "agent-spool.sqlite"\n\n'
        f"[heartbeat]\ninterval_s = 10\n\n"
        # The replay loops every few seconds; let each loop count as new vehicles.
        f"[tracking]\nrepeat_gap_s = 2\n"
    )
    config = load_config(central)
    registry = CameraRegistry(config.cameras_path)
    now = datetime.now(UTC)
    registry.add(CAMERA_ID, load_verify_key(camera_public), now, "demo camera")
    registry.designate(CAMERA_ID, now - timedelta(days=1), None, "demo-plan", now)
    registry.close()
    return central, agent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    parser.add_argument("--root", type=Path, default=REPO / "var" / "demo")
    parser.add_argument("--web-port", type=int, default=8080)
    args = parser.parse_args()

    root: Path = args.root
    if root.exists():
        shutil.rmtree(root)
    (root / "broker").mkdir(parents=True)
    broker_port = free_port(18830)
    web_port = free_port(args.web_port)
    broker_conf = root / "broker" / "mosquitto.conf"
    broker_conf.write_text(render_dev_config(broker_port, root / "broker"))
    central_toml, agent_toml = write_configs(root, broker_port, web_port)
    secrets = demo_accounts.seed(
        load_config(central_toml), DEMO_PASSWORD, CAMERA_ID, sample_plates(), datetime.now(UTC)
    )

    processes: list[subprocess.Popen] = []
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def start(name: str, command: list[str]) -> tuple[subprocess.Popen, Path]:
        log = root / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=handle, cwd=REPO)
        processes.append(process)
        return process, log

    python = sys.executable
    try:
        broker, broker_log = start("mosquitto", [mosquitto_binary(), "-c", str(broker_conf)])
        wait_for_port(broker_port, "mosquitto", broker, broker_log)
        central, central_log = start(
            "central", [python, "-m", "central", "--config", str(central_toml), "serve"]
        )
        wait_for_port(web_port, "central", central, central_log)
        start("agent", [python, "-m", "edge_agent", "--config", str(agent_toml)])
        print_accounts(secrets, web_port)
        print(
            f"\nANPR demo running: broker 127.0.0.1:{broker_port}, camera {CAMERA_ID}\n"
            f"  start page          http://127.0.0.1:{web_port}/ (roles, demo accounts, passages)\n"
            f"  JSON                http://127.0.0.1:{web_port}/api/v1/cameras/{CAMERA_ID}/passages\n"
            f"  logs                {root}/*.log\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while not stopping and (deadline is None or time.monotonic() < deadline):
            for process in processes:
                if process.poll() is not None:
                    print(f"demo: a process exited ({process.args[0]}); see {root}/*.log")
                    stopping = True
            time.sleep(0.2)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        print("demo stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
