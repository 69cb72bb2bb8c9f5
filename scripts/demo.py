"""`make demo`: a broker, the central and four cameras' agents on this machine, on loopback.

Creates fresh key material and data under var/demo/, renders each demo camera's traffic clip
once (cached in var/demo/clips/, scripts/demo_clips.py), starts a loopback Mosquitto with a
generated config, registers the four demo cameras (three places in the Netherlands,
central/demo_plan.py) in a published camera plan, seeds the demo accounts, hotlist and order,
starts the central (ingest + web) and one agent per camera replaying its clip through the
shipped ONNX models, and prints the start page and the demo accounts. Stops everything on
Ctrl-C (or after --seconds). All of it is demo data.
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
from central.demo_plan import DEMO_CAMERAS, DemoCamera, seed_plan  # noqa: E402
from central.store import open_store  # noqa: E402
from node.keyfiles import load_verify_key  # noqa: E402
from provisioning.broker_config import render_dev_config  # noqa: E402
from provisioning.keys import make_camera_key, make_central_keys  # noqa: E402
from scripts import demo_clips  # noqa: E402

DEMO_PASSWORD = "demo-password-1234"  # demo data: printed, never for a real instance


def hotlist_plates(specs: list[demo_clips.ClipSpec]) -> list[str]:
    """One plate per camera's clip on the demo hotlist: its second vehicle (on the first
    camera, the one that stops in view)."""
    return [spec.plates()[1] for spec in specs]


def print_accounts(secrets: dict[str, str], web_port: int) -> None:
    print("\nDEMO DATA ONLY: demo accounts (password, then the second factor's 6-digit code):")
    print(f"  password for every account   {DEMO_PASSWORD}")
    for role, name, page in demo_accounts.ACCOUNTS:
        secret = secrets[name]
        print(f"  {role:<21} {name:<16} TOTP secret {secret}  code now {current(secret)}"
              f"  opens http://127.0.0.1:{web_port}{page}")  # fmt: skip
    print("  a fresh code:  python -m central.accounts.totp_code SECRET  (or an authenticator app)")
    print(
        "  hotlist 'Demo: stolen vehicles' holds one plate of each camera's clip: see /alerts "
        "as demo-operator"
    )
    print(
        "  order DEMO-OM-0001 follows once its plate has passed (about a minute; announced "
        "below): search it at /requests as demo-officer"
    )


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


def write_central_config(root: Path, broker_port: int, web_port: int) -> Path:
    keys = make_central_keys(root / "central-credentials")
    central = root / "central.toml"
    central.write_text(
        f'[storage]\ndata_dir = "central-data"\nkeys_dir = "central-keys"\n\n'
        f'[secrets]\nsession_key_file = "{keys["session"]}"\n'
        f'ack_signing_key_file = "{keys["ack_key"]}"\n'
        f'audit_signing_key_file = "{keys["audit_key"]}"\n'
        f'seal_key_file = "{keys["seal_key"]}"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n\n'
        f'[web]\nhost = "127.0.0.1"\nport = {web_port}\n'
        # The demo shows the latest passages; production consults them only by search.
        "demo_views = true\ndemo = true\n"
    )
    return central


def write_agent_config(
    root: Path, camera: DemoCamera, clip: Path, broker_port: int, loop: bool
) -> tuple[Path, Path]:
    """The camera's key and agent TOML; returns (TOML, public key)."""
    credentials = root / "central-credentials"
    private, public = make_camera_key(camera.camera_id, root / "camera-credentials")
    agent = root / f"agent-{camera.camera_id}.toml"
    agent.write_text(
        f'[camera]\nid = "{camera.camera_id}"\nlat = {camera.lat}\nlon = {camera.lon}\n'
        f'direction = "{camera.direction}"\nlane = 1\n\n'
        f'[keys]\nsigning_key = "{private}"\n'
        f'central_public_key = "{credentials / "ack-signing.pub"}"\n'
        f'central_seal_public_key = "{credentials / "seal.pub"}"\n\n'
        f'[source]\npath = "{clip}"\nfps = {demo_clips.REPLAY_FPS}\n'
        f"loop = {'true' if loop else 'false'}\n\n"
        # Dutch roads: a read fitting no Dutch layout is kept only when the reader is sure.
        '[recognizer]\ncountries = ["NL"]\n\n'
        # Consecutive frames of one view: the gate spares the models the empty road.
        '[motion]\ngate = "on"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n\n'
        f'[spool]\npath = "spool-{camera.camera_id}.sqlite"\n\n'
        f"[heartbeat]\ninterval_s = 10\n\n"
        # A clip loops every minute or so: each loop's vehicles count as new passages.
        f"[tracking]\nrepeat_gap_s = 20\n"
    )
    return agent, public


def reset(root: Path, keep: Path) -> None:
    """A fresh demo: everything under `root` goes, except the clip cache `keep`."""
    if root.exists():
        for path in root.iterdir():
            if path.resolve() == keep.resolve():
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    (root / "broker").mkdir(parents=True)


class LateOrder:
    """The demo order, filed once its plate has passed the camera in a whole minute gone:
    an order covers only the past, and times in orders are whole minutes."""

    def __init__(self, config, camera_id: str, plate: str, started: datetime) -> None:
        self.config, self.camera_id, self.plate = config, camera_id, plate
        self.started = started
        self.filed = False
        self._next_look = 0.0

    def file_when_due(self) -> None:
        if self.filed or time.monotonic() < self._next_look:
            return
        self._next_look = time.monotonic() + 2.0
        now = datetime.now(UTC)
        end = now.replace(second=0, microsecond=0)
        store = open_store(self.config)
        try:
            passed = store.search_plate(self.plate, self.started - timedelta(minutes=5), end)
        finally:
            store.close()
        if not any(p.camera_id == self.camera_id for p in passed):
            return
        demo_accounts.seed_order(self.config, self.camera_id, self.plate,
                                 self.started - timedelta(minutes=5), end, now)  # fmt: skip
        self.filed = True
        print(
            f"demo: order DEMO-OM-0001 confirmed and accepted ({self.plate} at "
            f"{self.camera_id}): search it at /requests as demo-officer",
            flush=True,
        )


def register(central_toml: Path, keys: dict[str, Path], now: datetime) -> None:
    """Register each camera's key; the published demo plan then lets each store."""
    config = load_config(central_toml)
    registry = CameraRegistry(config.cameras_path)
    for camera in DEMO_CAMERAS:
        registry.add(camera.camera_id, load_verify_key(keys[camera.camera_id]), now,
                     "demo camera")  # fmt: skip
    registry.close()
    seed_plan(config, DEMO_CAMERAS, now.year, now)


def main() -> int:
    began = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    parser.add_argument("--root", type=Path, default=REPO / "var" / "demo")
    parser.add_argument("--web-port", type=int, default=8080)
    parser.add_argument(
        "--clips", type=Path, help="where rendered clips are cached (default: ROOT/clips)"
    )
    parser.add_argument(
        "--once", action="store_true", help="play each camera's clip once instead of looping"
    )
    args = parser.parse_args()

    root: Path = args.root.resolve()
    clips_dir: Path = (args.clips or root / "clips").resolve()
    reset(root, clips_dir)
    specs = demo_clips.specs([camera.camera_id for camera in DEMO_CAMERAS])
    rendering = time.monotonic()
    clips = demo_clips.ensure(clips_dir, specs, lambda line: print(line, flush=True))
    rendering = time.monotonic() - rendering
    broker_port = free_port(18830)
    web_port = free_port(args.web_port)
    broker_conf = root / "broker" / "mosquitto.conf"
    broker_conf.write_text(render_dev_config(broker_port, root / "broker"))
    central_toml = write_central_config(root, broker_port, web_port)
    agents, keys = {}, {}
    for camera in DEMO_CAMERAS:
        agents[camera.camera_id], keys[camera.camera_id] = write_agent_config(
            root, camera, clips[camera.camera_id], broker_port, loop=not args.once
        )
    now = datetime.now(UTC)
    register(central_toml, keys, now)
    secrets = demo_accounts.seed(
        load_config(central_toml), DEMO_PASSWORD, DEMO_CAMERAS[0].camera_id,
        hotlist_plates(specs), now, with_order=False,
    )  # fmt: skip
    order = LateOrder(load_config(central_toml), DEMO_CAMERAS[0].camera_id,
                      hotlist_plates(specs)[0], now)  # fmt: skip

    processes: dict[str, subprocess.Popen] = {}
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
        processes[name] = process
        return process, log

    python = sys.executable
    home = f"http://127.0.0.1:{web_port}"
    try:
        broker, broker_log = start("mosquitto", [mosquitto_binary(), "-c", str(broker_conf)])
        wait_for_port(broker_port, "mosquitto", broker, broker_log)
        central, central_log = start(
            "central", [python, "-m", "central", "--config", str(central_toml), "serve"]
        )
        wait_for_port(web_port, "central", central, central_log)
        for camera_id, agent_toml in agents.items():
            start(f"agent-{camera_id}", [python, "-m", "edge_agent", "--config", str(agent_toml)])
        print_accounts(secrets, web_port)
        print("\nDEMO DATA ONLY: cameras in the published demo camera plan, each its own agent "
              "replaying a rendered traffic clip:")  # fmt: skip
        for camera, spec in zip(DEMO_CAMERAS, specs, strict=True):
            print(f"  {camera.camera_id:<21} {camera.place.removeprefix('Demo: ')}, "
                  f"direction {camera.direction}, {len(spec.plates())} vehicles a loop  "
                  f"{home}/api/v1/cameras/{camera.camera_id}/passages")  # fmt: skip
        print(
            f"\nANPR demo running: broker 127.0.0.1:{broker_port}, "
            f"{len(DEMO_CAMERAS)} cameras, started in {time.monotonic() - began:.1f} s "
            f"(clips {'rendered' if rendering > 1 else 'cached'}: {rendering:.1f} s)\n"
            f"  start page          {home}/ (roles, demo accounts, passages)\n"
            f"  camera plan map     {home}/plan/{now.year}\n"
            f"  clips               {clips_dir}\n"
            f"  logs                {root}/*.log\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while not stopping and (deadline is None or time.monotonic() < deadline):
            order.file_when_due()
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"demo: {name} exited with {process.returncode}; see {root}/{name}.log")
                    stopping = True
            time.sleep(0.2)
    finally:
        for process in reversed(processes.values()):
            process.terminate()
        for process in reversed(processes.values()):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        print("demo stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
