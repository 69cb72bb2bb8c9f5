"""The calamity buffer: 3 rolling hours of every passage, frozen to exactly the right window
when a calamity is declared, consulted only on its own page (logged), destroyed at the end."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from central import create_app
from central.audit import AuditTrail
from central.calamity.buffer import CalamityBuffer, CalamityError, Query
from central.calamity.listener import BufferListener, prune_run
from central.ingest.service import IngestWorker
from central.store import open_store
from node.keyfiles import load_signing_key, load_verify_key
from tests.conftest import logged_in, make_passage, register_camera, write_central_config
from tests.test_ingest import Peer
from wire import SigningKey, encode_passage
from wire.topics import passage_topic

MS = timedelta(milliseconds=1)
H3 = timedelta(hours=3)


class Clock:
    """The central's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def plates_in(buffer: CalamityBuffer) -> set[str]:
    return {row[0] for row in buffer.db.execute("SELECT plate FROM passages")}


@pytest.fixture
def buffer(store_location, tmp_path):
    store = CalamityBuffer(store_location("calamity"), tmp_path / "audit.sqlite")
    yield store
    store.close()


def test_the_buffer_rolls_over_three_hours_without_a_calamity(buffer):
    key, t0 = SigningKey.generate(), datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert buffer.add(make_passage(key, 1, plate="OLD001", captured_at=t0 - H3 - MS), t0) is False
    assert buffer.add(make_passage(key, 2, plate="EDGE01", captured_at=t0 - H3), t0)
    assert buffer.add(make_passage(key, 3, plate="NEW001", captured_at=t0), t0)
    assert buffer.prune(t0 + timedelta(hours=1)) == 1
    assert plates_in(buffer) == {"NEW001"}
    with pytest.raises(CalamityError, match="only while a calamity is in force"):
        buffer.search("c.coordinator", Query(plate="NEW001"), t0)


def test_a_declaration_needs_a_reason_and_a_chief_prosecutor_and_only_one_at_a_time(
    buffer, store_location
):
    t0 = datetime(2026, 11, 22, 12, tzinfo=UTC)
    with pytest.raises(CalamityError, match="reason"):
        buffer.declare("c.coordinator", " ", "mr. Visser", t0)
    with pytest.raises(CalamityError, match="chief prosecutor"):
        buffer.declare("c.coordinator", "bomb threat A12", "", t0)
    buffer.declare("c.coordinator", "bomb threat A12", "mr. Visser", t0)
    with pytest.raises(CalamityError, match="end it before declaring another"):
        buffer.declare("c.coordinator", "second", "mr. Visser", t0)
    with pytest.raises(CalamityError, match="logged"):
        unlogged = CalamityBuffer(store_location("calamity"))
        try:
            unlogged.end("c.coordinator", "over", t0)
        finally:
            unlogged.close()


def test_the_frozen_window_is_kept_consulted_with_a_log_and_destroyed_at_the_end(buffer, tmp_path):
    """The slow broker test below, at the store: a batch counts what it kept, the
    declaration freezes exactly 3 hours, the end destroys every kept passage."""
    key, t0 = SigningKey.generate(), datetime(2026, 11, 22, 12, tzinfo=UTC)
    before = t0 - timedelta(minutes=30)
    batch = [make_passage(key, 1, plate="GONE01", captured_at=t0 - H3 - MS),
             make_passage(key, 2, plate="EDGE01", captured_at=t0 - H3),
             make_passage(key, 3, plate="KEEP03", captured_at=t0 - timedelta(hours=1)),
             make_passage(key, 4, plate="OLD004", captured_at=before - H3 - MS)]  # fmt: skip
    assert buffer.add_many(batch, before) == 3, "the one before the rolling window left out"
    assert buffer.add_many(batch[:2], before) == 0, "a passage is buffered once"
    assert buffer.buffered() == (3, "2026-11-22T08:59:59.999Z")

    calamity_id = buffer.declare("c.coordinator", "hostage taking", "mr. Visser", t0)
    assert buffer.active()["calamity_id"] == calamity_id == buffer.history()[0]["calamity_id"]
    assert plates_in(buffer) == {"EDGE01", "KEEP03"}, "the 3 hours, exactly"
    later = t0 + timedelta(hours=5)
    late = [make_passage(key, 5, plate="NEW005", captured_at=later - MS),
            make_passage(key, 6, plate="LATE06", captured_at=t0 - H3 - MS)]  # fmt: skip
    assert buffer.add_many(late, later) == 1
    assert buffer.prune(later) == 0, "nothing rolls out during a calamity"

    found = buffer.search("c.coordinator", Query(plate="KEE*"), later)
    assert [p["plate"] for p in found] == ["KEEP03"]
    assert [p["plate"] for p in buffer.search("c.coordinator", Query(plate="ED?E01"), later)] == [
        "EDGE01"
    ]
    assert buffer.search("c.coordinator", Query(plate="kee*"), later) == found, "plates upper"
    for other in ("K%*", "K_EP0?", "\\KEE*"):
        assert buffer.search("c.coordinator", Query(plate=other), later) == [], "* and ? only"
    assert buffer.search("c.coordinator", Query(since=t0), later)[0]["plate"] == "NEW005"
    assert buffer.image("c.coordinator", found[0]["id"], "crop", later).startswith(b"\xff\xd8")

    end = t0 + timedelta(hours=6)
    assert buffer.end("c.coordinator", "suspects arrested", end) == 3
    assert buffer.history()[0]["destroyed"] == 3 and buffer.active() is None
    after = [make_passage(key, 7, plate="BEFORE", captured_at=end - MS),
             make_passage(key, 8, plate="AFTER1", captured_at=end)]  # fmt: skip
    assert buffer.add_many(after, end) == 1
    assert plates_in(buffer) == {"AFTER1"}, "rolling again, from the end on"
    assert buffer.prune(end + H3 + MS) == 1 and buffer.buffered() == (0, None)
    trail = AuditTrail(tmp_path / "audit.sqlite")
    actions = [e["action"] for e in reversed(trail.entries())]
    trail.close()
    assert actions == ["calamity_declared"] + ["calamity_consulted"] * 7 + [
        "calamity_image_viewed", "calamity_ended"]  # fmt: skip


def test_the_listener_buffers_admitted_batches_and_counts_a_failure(store_location):
    from tests.conftest import verified_passage

    key, now = SigningKey.generate(), datetime(2026, 11, 22, 12, tzinfo=UTC)
    listener = BufferListener(store_location("calamity"), Clock(now))
    listener([verified_passage(key, seq=1), verified_passage(key, seq=2)])
    assert (listener.buffered, listener.failures) == (2, 0)
    other = CalamityBuffer(store_location("calamity"))
    assert other.prune(now + H3 + timedelta(seconds=1)) == 2
    other.db.execute("DROP TABLE passages")
    other.close()
    listener([verified_passage(key, seq=3)])
    assert (listener.buffered, listener.failures) == (2, 1), "logged, ingest goes on"
    listener.close()


def deliver(peer: Peer, ack_key, key: SigningKey, camera_id: str, seq: int, plate: str,
            captured_at: datetime) -> None:  # fmt: skip
    """Publish one passage over the broker and wait for the central's acknowledgement:
    by then every passage listener has seen it."""
    passage = make_passage(key, seq, camera_id=camera_id, plate=plate, captured_at=captured_at)
    peer.publish(passage_topic(camera_id), encode_passage(passage, key))
    while True:
        ack = peer.next_ack(ack_key)
        if seq in ack.seqs:
            return


@pytest.mark.slow
def test_a_calamity_freezes_exactly_the_three_hours_before_it_and_everything_after(
    tmp_path, mosquitto, central_setup
):
    config = central_setup.config
    planned = register_camera(central_setup, "plan-cam-01", tmp_path / "p")
    outsider = register_camera(central_setup, "city-cam-07", tmp_path / "o", designate=False)
    ack_key = load_verify_key(central_setup.ack_public_key)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8)  # the declaration
    clock = Clock(t0 - timedelta(minutes=30))
    worker = IngestWorker(config, load_signing_key(config.secrets.ack_signing_key_file), clock)
    listener = BufferListener(config.calamity_path, clock)
    worker.batch_listeners.append(listener)
    worker.start()
    peers = {c.camera_id: Peer(mosquitto.port, c.camera_id) for c in (planned, outsider)}
    coordinator = CalamityBuffer(config.calamity_path, config.audit_path)

    def send(camera, seq: int, plate: str, captured_at: datetime) -> None:
        peer = peers[camera.camera_id]
        deliver(peer, ack_key, camera.key, camera.camera_id, seq, plate, captured_at)

    try:
        assert worker.subscribed.wait(10)
        # Before the calamity (central clock: half an hour before the declaration).
        send(planned, 1, "GONE01", t0 - H3 - MS)  # older than 3 h at the declaration
        send(outsider, 1, "GONE02", t0 - H3 - timedelta(minutes=20))
        send(planned, 2, "EDGE01", t0 - H3)  # exactly 3 h before: kept
        send(outsider, 2, "KEEP02", t0 - timedelta(hours=1))  # a camera outside the plan
        assert plates_in(coordinator) == {"GONE01", "GONE02", "EDGE01", "KEEP02"}, "rolling"

        clock.now = t0
        coordinator.declare("c.coordinator", "hostage taking, suspects on the A2",
                            "mr. Visser (hoofdofficier)", t0)  # fmt: skip
        assert plates_in(coordinator) == {"EDGE01", "KEEP02"}, "the 3 hours, exactly"

        # During the calamity, hours later: new passages kept, the frozen ones never roll out.
        clock.now = t0 + timedelta(hours=5)
        send(outsider, 3, "NEW003", t0 + timedelta(hours=4, minutes=59))
        send(planned, 3, "LATE01", t0 - H3 - MS)  # delivered late, but before the window
        assert prune_run(config.calamity_path)(clock.now) == 0
        assert plates_in(coordinator) == {"EDGE01", "KEEP02", "NEW003"}
        found = coordinator.search("c.coordinator", Query(plate="KEEP02"), clock.now)
        assert [(p["camera_id"], p["plate"]) for p in found] == [("city-cam-07", "KEEP02")]
        assert coordinator.search("c.coordinator", Query(camera_id="city-cam-07",
                                  since=t0), clock.now)[0]["plate"] == "NEW003"  # fmt: skip

        # The end destroys all of it; what was captured before the end is not kept after it.
        clock.now = t0 + timedelta(hours=6)
        assert coordinator.end("c.coordinator", "suspects arrested", clock.now) == 3
        send(outsider, 4, "BEFORE", clock.now - timedelta(minutes=1))
        send(outsider, 5, "AFTER1", clock.now + timedelta(seconds=1))
        assert prune_run(config.calamity_path)(clock.now) == 0
        assert plates_in(coordinator) == {"AFTER1"}, "rolling again, from the end on"
    finally:
        for peer in peers.values():
            peer.close()
        worker.stop()
        listener.close()
        coordinator.close()
    assert listener.failures == 0
    raw = b"".join(p.read_bytes() for p in config.storage.data_dir.glob("calamity.sqlite*"))
    for plate in (b"EDGE01", b"KEEP02", b"NEW003", b"GONE01", b"GONE02"):
        assert plate not in raw, f"{plate!r} left in the calamity buffer's files"
    store = open_store(config)
    try:
        assert store.count() == 3, "the 28-day store holds only the plan camera's passages"
    finally:
        store.close()
    actions = [e["action"] for e in reversed(AuditTrail(config.audit_path).entries())]
    assert actions == ["calamity_declared", "calamity_consulted", "calamity_consulted",
                       "calamity_ended"]  # fmt: skip


def test_the_calamity_page_is_for_coordinators_and_logs_every_consultation(tmp_path):
    setup = write_central_config(tmp_path, broker_port=1883)
    config = setup.config
    now = datetime.now(UTC)
    store = CalamityBuffer(config.calamity_path, config.audit_path)
    key = SigningKey.generate()
    store.add(make_passage(key, 1, plate="XT456B", captured_at=now - timedelta(hours=1)), now)
    store.close()
    app = create_app(config)
    operator = logged_in(app.test_client(), config, roles=("operator",), username="o.operator")
    assert operator.get("/calamity").status_code == 403
    coordinator = logged_in(app.test_client(), config, roles=("calamity_coordinator",),
                            username="c.coordinator")  # fmt: skip
    page = coordinator.get("/calamity").data
    assert b"No calamity in force" in page and b"XT456B" not in page
    assert coordinator.get("/calamity/search?plate=XT456B").status_code == 400, "not yet"
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
    refused = coordinator.post("/calamity/declare", data={"csrf": csrf, "reason": "threat"})
    assert refused.status_code == 400 and b"chief prosecutor" in refused.data
    declared = coordinator.post("/calamity/declare", data={
        "csrf": csrf, "reason": "attack on the A12", "chief_prosecutor": "mr. Visser"})  # fmt: skip
    assert declared.status_code == 302
    assert b"Calamity 1 in force" in coordinator.get("/calamity").data
    results = coordinator.get("/calamity/search?plate=XT4*").data
    assert b"XT456B" in results
    passage_id = re.search(rb"/calamity/passages/(\d+)/crop.jpg", results).group(1).decode()
    image = coordinator.get(f"/calamity/passages/{passage_id}/crop.jpg")
    assert image.data.startswith(b"\xff\xd8\xff")
    assert b"Nothing found" in coordinator.get("/calamity/search?plate=ZZ999Z").data
    ended = coordinator.post("/calamity/end", data={"csrf": csrf, "reason": "over"})
    assert ended.status_code == 302
    assert coordinator.get(f"/calamity/passages/{passage_id}/crop.jpg").status_code == 404
    trail = AuditTrail(config.audit_path)
    entries = list(reversed(trail.entries()))
    trail.close()
    consulted = [e for e in entries if e["action"] == "calamity_consulted"]
    assert [('"XT4*"' in e["details"], e["actor"]) for e in consulted] == [
        (True, "c.coordinator"), (False, "c.coordinator")]  # fmt: skip
    assert '"supplied": "nothing found"' in consulted[1]["details"]
    assert [e["action"] for e in entries if e["action"] != "calamity_consulted"] == [
        "calamity_declared", "calamity_image_viewed", "calamity_ended"]  # fmt: skip


def test_the_command_line_demands_the_coordinator_role(tmp_path, capsys):
    from central.__main__ import main
    from tests.conftest import make_user

    setup = write_central_config(tmp_path, broker_port=1883)
    make_user(setup.config, "c.coordinator", ("calamity_coordinator",))
    make_user(setup.config, "o.operator", ("operator",))
    base = ["--config", str(setup.config_path), "calamity"]
    declare = ["declare", "--reason", "bomb threat", "--chief-prosecutor", "mr. Visser"]
    assert main([*base, *declare, "--by", "o.operator"]) == 2
    assert "calamity_coordinator role" in capsys.readouterr().err
    assert main([*base, *declare, "--by", "c.coordinator"]) == 0
    assert main([*base, "status"]) == 0
    assert "calamity 1 in force" in capsys.readouterr().out
    assert main([*base, "end", "--by", "c.coordinator", "--reason", "over"]) == 0
    assert "0 passages destroyed" in capsys.readouterr().out
    assert main([*base, "end", "--by", "c.coordinator", "--reason", "over"]) == 2


@pytest.mark.slow
def test_a_coordinator_declares_consults_and_ends_in_the_browser(tmp_path, web_setup, app):
    from tests.browser import ARTEFACTS, browser_page, serve
    from tests.conftest import current_code, make_user

    now = datetime.now(UTC)
    store = CalamityBuffer(web_setup.config.calamity_path, web_setup.config.audit_path)
    store.add(make_passage(SigningKey.generate(), 1, plate="KL123M", captured_at=now), now)
    store.close()
    username, password, secret = make_user(web_setup.config, "c.coordinator",
                                           ("calamity_coordinator",))  # fmt: skip
    with serve(app) as url, browser_page(tmp_path) as page:
        page.goto(f"{url}/calamity")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.fill("input[name=code]", current_code(secret))
        page.click("button[type=submit]")
        page.wait_for_selector("#calamity-none")
        page.fill("form[action='/calamity/declare'] input[name=reason]", "attack on the A12")
        page.fill("input[name=chief_prosecutor]", "mr. Visser")
        page.click("form[action='/calamity/declare'] button")
        page.wait_for_selector("#calamity-active")
        page.fill("input[name=plate]", "KL1*")
        page.click("form[action='/calamity/search'] button")
        page.wait_for_selector("#results >> text=KL123M")
        page.wait_for_load_state("networkidle")  # the crop fetched (and logged)
        page.screenshot(path=str(ARTEFACTS / "calamity-search.png"), full_page=True)
        page.fill("form[action='/calamity/end'] input[name=reason]", "suspects arrested")
        page.click("form[action='/calamity/end'] button")
        page.wait_for_selector("#calamity-none")
    trail = AuditTrail(web_setup.config.audit_path)
    actions = [e["action"] for e in reversed(trail.entries())]
    trail.close()
    assert actions == ["calamity_declared", "calamity_consulted", "calamity_image_viewed",
                       "calamity_ended"]  # fmt: skip
    ended = CalamityBuffer(web_setup.config.calamity_path, web_setup.config.audit_path)
    assert ended.buffered() == (0, None) and ended.history()[0]["destroyed"] == 1
    ended.close()
