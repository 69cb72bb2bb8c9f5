"""End-to-end alert latency: a unit publishes a passage on a real Mosquitto, the central
ingests and matches it, and the operator's page learns of it over server-sent events and
fetches the new rows. Timed per alert at a steady rate (issue target: p99 under 2 s at
10 alerts per second).

    python -m benchmarks.alert_latency [--rate 10] [--seconds 30]

`benchmarks.alerts` runs it against its 1-million-entry list; alone it uses a small list.
The clock stops when the page's rows, fetched after the `alerts` event, hold the alert.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import paho.mqtt.client as mqtt
from werkzeug.serving import make_server

from central import create_app
from central.calamity.listener import BufferListener
from central.hotlists.listener import HotlistListener
from central.hotlists.lists import Hotlists
from central.ingest.service import IngestWorker
from node.keyfiles import load_signing_key
from provisioning.broker_config import render_dev_config
from tests.conftest import (
    current_code,
    free_port,
    make_passage,
    make_user,
    mosquitto_binary,
    register_camera,
    wait_for_port,
    write_central_config,
)
from wire import encode_passage
from wire.topics import passage_topic


def _login(port: int, config) -> str:
    """An operator's session cookie, through the real login form."""
    username, password, secret = make_user(config, "bench.operator", ("operator",))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = urlencode({"username": username, "password": password,
                      "code": current_code(secret)})  # fmt: skip
    connection.request("POST", "/login", body,
                       {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    response = connection.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    if response.status != 302 or not cookie:
        raise RuntimeError(f"benchmark login failed: HTTP {response.status}")
    return cookie


class PageWatcher(threading.Thread):
    """What the live page does: listen to /alerts/stream, fetch /alerts/rows on each event,
    and note when each alert (by its id in the rows) first became visible."""

    def __init__(self, port: int, cookie: str) -> None:
        super().__init__(name="bench-page", daemon=True)
        self.port, self.cookie = port, cookie
        self.seen: dict[int, float] = {}
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        rows = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop.is_set():
            stream = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            stream.request("GET", "/alerts/stream?max_s=300", headers={"Cookie": self.cookie})
            response = stream.getresponse()
            while not self.stop.is_set():
                line = response.readline()
                if not line:
                    break  # the stream ended: reconnect, as the browser does
                if line.startswith(b"event: hello"):
                    self.ready.set()
                if line.startswith(b"event: alerts"):
                    rows.request("GET", "/alerts/rows", headers={"Cookie": self.cookie})
                    html = rows.getresponse().read().decode()
                    now = time.perf_counter()
                    for part in html.split("/alerts/")[1:]:
                        head = part.split("/", 1)[0]
                        if head.isdigit():
                            self.seen.setdefault(int(head), now)
            stream.close()


def measure(root: Path, rate: float, seconds: float, plates: list[str]) -> dict[str, float]:
    """Publish `rate` hitting passages a second for `seconds`; latency per alert, in s.

    `root` may already hold `hotlists.sqlite` with an approved list containing `plates`.
    """
    for name in ("central.alerts", "werkzeug"):  # one line per alert and request otherwise
        logging.getLogger(name).setLevel(logging.ERROR)
    port = free_port()
    broker_dir = root / "broker"
    broker_dir.mkdir()
    (broker_dir / "mosquitto.conf").write_text(render_dev_config(port, broker_dir))
    broker = subprocess.Popen([mosquitto_binary(), "-c", str(broker_dir / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    setup = write_central_config(root / "central", port, free_port())
    hotlists_file = root / "hotlists.sqlite"
    if hotlists_file.exists():
        setup.config.storage.data_dir.mkdir(parents=True, exist_ok=True)
        hotlists_file.rename(setup.config.hotlists_path)
    camera = register_camera(setup, "bench-cam-01", root / "camera")
    worker = IngestWorker(setup.config, load_signing_key(setup.config.secrets.ack_signing_key_file))
    listener = HotlistListener(setup.config.hotlists_path)
    buffer = BufferListener(setup.config.calamity_path)
    worker.passage_listeners.append(listener)  # both as `anpr-central serve` attaches them
    worker.batch_listeners.append(buffer)
    server = make_server("127.0.0.1", 0, create_app(setup.config), threaded=True)
    threading.Thread(target=server.serve_forever, name="bench-web", daemon=True).start()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-unit")
    watcher = None
    try:
        wait_for_port(port)
        worker.start()
        if not worker.subscribed.wait(10):
            raise RuntimeError("ingest did not subscribe")
        watcher = PageWatcher(server.server_port, _login(server.server_port, setup.config))
        watcher.start()
        if not watcher.ready.wait(10):
            raise RuntimeError("the alert stream did not open")
        publisher.connect("127.0.0.1", port)
        publisher.loop_start()
        count = int(rate * seconds)
        payloads = [
            encode_passage(make_passage(camera.key, seq, camera_id=camera.camera_id,
                                        plate=plates[seq % len(plates)],
                                        captured_at=datetime.now(UTC)), camera.key)
            for seq in range(1, count + 1)
        ]  # fmt: skip
        sent: dict[int, float] = {}
        began = time.perf_counter()
        for seq, payload in enumerate(payloads, start=1):
            time.sleep(max(0.0, began + (seq - 1) / rate - time.perf_counter()))
            sent[seq] = time.perf_counter()
            publisher.publish(passage_topic(camera.camera_id), payload, qos=1)
        # Wait until every alert raised (a read may hit more than one entry) is on the page.
        counter = Hotlists(setup.config.hotlists_path)
        deadline = time.perf_counter() + 15
        while time.perf_counter() < deadline:
            raised = counter.db.execute("SELECT count(DISTINCT seq), count(*) FROM alerts")
            seqs, alerts = raised.fetchone()
            if seqs >= count and len(watcher.seen) >= alerts:
                break
            time.sleep(0.1)
        counter.close()
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        if watcher is not None:
            watcher.stop.set()
        worker.stop()
        listener.close()
        buffer.close()
        server.shutdown()
        broker.terminate()
        broker.wait(timeout=10)
    store = Hotlists(setup.config.hotlists_path)
    try:
        alert_of_seq = dict(store.db.execute("SELECT seq, min(alert_id) FROM alerts GROUP BY seq"))
    finally:
        store.close()
    latencies = sorted(
        watcher.seen[alert_of_seq[seq]] - at
        for seq, at in sent.items()
        if seq in alert_of_seq and alert_of_seq[seq] in watcher.seen
    )
    if not latencies:
        raise RuntimeError("no alert reached the page")
    return {
        "alerts": len(sent),
        "seen": len(latencies),
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "max": latencies[-1],
    }


def report(figures: dict[str, float], rate: float) -> None:
    print(f"  end to end at {rate:g} alerts/s: {figures['seen']}/{figures['alerts']} alerts on "
          f"the page; p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s, "
          f"max {figures['max']:.2f} s (target p99 < 2 s)")  # fmt: skip


def bench_list(root: Path, now: datetime) -> tuple[Hotlists, int]:
    """The benchmarks' hotlist store under `root` and its one (not yet approved) list."""
    store = Hotlists(root / "hotlists.sqlite")
    list_id = store.create_list("bench", "bench", "bench", "stolen_vehicle", 2,
                                now + timedelta(days=1), now)  # fmt: skip
    return store, list_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-alert-latency-"))
    try:
        now = datetime.now(UTC)
        store, list_id = bench_list(root, now)
        plates = [f"BX{i:03d}Z" for i in range(200)]
        for plate in plates:
            store.add_entry(list_id, plate, "", "r", "i", now + timedelta(days=1), "b", now)
        store.approve(list_id, "bench", now)
        store.close()
        report(measure(root, args.rate, args.seconds, plates), args.rate)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
