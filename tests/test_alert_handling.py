"""Working on alerts: assignment, investigation lists seen and heard by their owner only,
and the signed webhook (retried, counted, never holding up ingest)."""

import hashlib
import hmac
import json
import queue
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from central.hotlists.listener import HotlistListener
from central.hotlists.lists import Hotlists
from central.hotlists.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookError,
    WebhookSender,
    check_url,
)
from central.ingest.service import IngestWorker
from node.keyfiles import load_signing_key
from tests.conftest import logged_in, make_passage, register_camera
from tests.test_ingest import Peer, recent_time
from wire import SigningKey, encode_passage
from wire.topics import passage_topic

SECRET = b"s" * 32


def two_lists(store: Hotlists, now: datetime) -> tuple[int, int]:
    """A stolen-vehicle list and an investigation's own list, both with plate GBL12X."""
    until = now + timedelta(days=2)
    stolen = store.create_list("Stolen", "desk-12", "report 2026-1", "stolen_vehicle", 2,
                               until, now)  # fmt: skip
    own = store.create_list("Op. Heron", "i.owner", "order 2026-44", "investigation", 3,
                            until, now)  # fmt: skip
    for list_id, instructions in ((stolen, "stop and check"), (own, "observe, do not stop")):
        store.add_entry(list_id, "GBL12X", "", "wanted", instructions, until, "d", now)
        store.approve(list_id, "OvJ", now)
    return stolen, own


def raise_both(store: Hotlists, now: datetime) -> list[int]:
    passage = make_passage(SigningKey.generate(), plate="GBL12X", captured_at=now)
    return [store.raise_alert(hit, passage, now) for hit in store.hits("GBL12X", "NL", now)]


def test_investigation_alerts_are_seen_by_their_owner_only_and_alerts_are_assigned(web_setup, app):
    store = Hotlists(web_setup.config.hotlists_path)
    now = datetime.now(UTC)
    two_lists(store, now)
    stolen_alert, own_alert = raise_both(store, now)
    store.close()
    operator = logged_in(app.test_client(), web_setup.config, ("operator",), "c.operator")
    owner = logged_in(app.test_client(), web_setup.config, ("requester",), "i.owner")
    other = logged_in(app.test_client(), web_setup.config, ("requester",), "r.other")

    def seen(client) -> list[int]:
        return [a["alert_id"] for a in client.get("/api/v1/alerts").get_json()["alerts"]]

    assert seen(operator) == [stolen_alert], "the control room does not see the investigation"
    assert seen(owner) == [own_alert], "the owner sees their own list's hit, and only that"
    assert seen(other) == []
    assert operator.get(f"/alerts/{own_alert}/crop.jpg").status_code == 404
    assert owner.get(f"/alerts/{own_alert}/crop.jpg").data.startswith(b"\xff\xd8\xff")
    assert b"observe, do not stop" in owner.get("/alerts").data

    page = operator.get("/alerts").data
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
    assign = f"/alerts/{stolen_alert}/assign"
    assert operator.post(assign, data={"csrf": csrf, "to": " "}).status_code == 400
    assert operator.post(assign, data={"csrf": csrf, "to": "c.second"}).status_code == 302
    assert b"assigned to c.second" in operator.get("/alerts").data
    assert operator.post(f"/alerts/{own_alert}/assign",
                         data={"csrf": csrf, "to": "c.second"}).status_code == 404  # fmt: skip
    (alert,) = operator.get("/api/v1/alerts").get_json()["alerts"]
    assert (alert["assigned_to"], alert["state"]) == ("c.second", "new"), "still to acknowledge"
    escalated = Hotlists(web_setup.config.hotlists_path)
    assert escalated.escalate(now + timedelta(hours=2)) == [stolen_alert], "control room's only"
    escalated.close()
    handle = f"/alerts/{stolen_alert}/handle"
    operator.post(handle, data={"csrf": csrf, "state": "closed", "outcome": "stopped"})
    assert operator.post(assign, data={"csrf": csrf, "to": "c.third"}).status_code == 400


class Receiver:
    """A real HTTP server on loopback that answers with the statuses it is given in turn
    (then 204) and keeps what it received."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: queue.Queue = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                receiver.received.put((self.headers, body, status))  # case-insensitive
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_webhook_signs_retries_and_counts_failures(tmp_path):
    receiver = Receiver([500, 503])
    sender = WebhookSender(receiver.url, SECRET, attempts=3, first_backoff_s=0.05)
    sender.start()
    store = Hotlists(tmp_path / "hotlists.sqlite")
    now = datetime.now(UTC)
    two_lists(store, now)
    passage = make_passage(SigningKey.generate(), plate="GBL12X", captured_at=now)
    try:
        for hit in store.hits("GBL12X", "NL", now):
            sender(7, hit, passage)  # the investigation's hit is not sent
        statuses = [receiver.received.get(timeout=10)[2] for _ in range(3)]
        deadline = time.monotonic() + 5
        while sender.counts["delivered"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sender.stop()
        receiver.close()
        store.close()
    assert statuses == [500, 503, 204]
    assert dict(sender.counts) == {"failures": 2, "delivered": 1}
    assert receiver.received.empty(), "the investigation's hit never left"


def test_a_dead_receiver_never_holds_up_ingest_and_every_loss_is_counted(tmp_path):
    assert check_url("https://alerts.example.org/hook")
    with pytest.raises(WebhookError, match="https"):
        check_url("http://alerts.example.org/hook")
    store = Hotlists(tmp_path / "hotlists.sqlite")
    now = datetime.now(UTC)
    two_lists(store, now)
    (hit, _) = store.hits("GBL12X", "NL", now)
    store.close()
    passage = make_passage(SigningKey.generate(), plate="GBL12X", captured_at=now)
    dead = "http://127.0.0.1:9/hook"  # the discard port: nothing listens
    sender = WebhookSender(dead, SECRET, attempts=2, first_backoff_s=0.01, queue_size=2)
    began = time.monotonic()
    for alert_id in range(5):  # not started: nothing drains the queue
        sender(alert_id, hit, passage)
    assert time.monotonic() - began < 0.5
    assert sender.counts["dropped"] == 3
    sender.start()
    deadline = time.monotonic() + 10
    while sender.counts["given_up"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    sender.stop()
    assert dict(sender.counts) == {"dropped": 3, "failures": 4, "given_up": 2}


@pytest.mark.slow
def test_investigation_hits_reach_their_owner_and_control_room_hits_the_webhook(
    tmp_path, mosquitto, central_setup
):
    camera = register_camera(central_setup, "city-cam-03", tmp_path / "c", designate=False)
    store = Hotlists(central_setup.config.hotlists_path)
    two_lists(store, datetime.now(UTC))
    store.close()
    receiver = Receiver([])
    webhook = WebhookSender(receiver.url, SECRET)
    webhook.start()
    worker = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    listener = HotlistListener(
        central_setup.config.hotlists_path,
        publish=lambda topic, data: worker.client.publish(topic, data, qos=1),
    )
    listener.notifiers.append(webhook)
    worker.passage_listeners.append(listener)
    worker.start()
    console = Peer(mosquitto.port, "control-room")
    console.client.subscribe("anpr/v1/alerts/#", qos=1)
    owner = Peer(mosquitto.port, "owner-console")
    owner.client.subscribe("anpr/v1/investigations/i.owner/alerts", qos=1)
    peer = Peer(mosquitto.port, camera.camera_id)
    try:
        assert worker.subscribed.wait(10)
        time.sleep(0.2)  # the consoles' subscriptions granted
        passage = make_passage(camera.key, camera_id=camera.camera_id, plate="G8L12X",
                               captured_at=recent_time())  # fmt: skip
        peer.publish(passage_topic(camera.camera_id), encode_passage(passage, camera.key))
        to_room = json.loads(console.acks.get(timeout=10))
        to_owner = json.loads(owner.acks.get(timeout=10))
        headers, body, _ = receiver.received.get(timeout=10)
        time.sleep(0.5)
        assert console.acks.empty() and owner.acks.empty() and receiver.received.empty()
    finally:
        for client in (peer, owner, console):
            client.close()
        worker.stop()
        listener.close()
        webhook.stop()
        receiver.close()
    assert (to_room["category"], to_room["near_match"]) == ("stolen_vehicle", True)
    assert (to_owner["category"], to_owner["instructions"]) == ("investigation",
                                                                "observe, do not stop")  # fmt: skip
    assert json.loads(body)["alert_id"] == to_room["alert_id"]
    expected = hmac.new(SECRET, headers[TIMESTAMP_HEADER].encode() + b"." + body,
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
