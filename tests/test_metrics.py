"""Metrics: what ingest, hotlist matching and retention did reaches /metrics through
metrics.sqlite (so across processes and restarts); certificates' remaining lives; /metrics
stays for the host's own scraper; the unit writes its figures for node_exporter."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from central import create_app
from central.commands.service import retention_worker
from central.hotlists.listener import HotlistListener
from central.hotlists.lists import Hotlists
from central.ingest.service import IngestWorker
from central.store import open_store
from edge_agent.agent import Agent
from edge_agent.config import load_config
from node.keyfiles import load_signing_key
from tests.conftest import (
    make_passage,
    register_camera,
    verified_passage,
    wait_until,
    write_agent_config,
)
from tests.test_end_to_end import expected_plates
from tests.test_ingest import REJECTIONS, Peer, recent_time
from wire import encode_passage
from wire.topics import passage_topic

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, read by prometheus_client's parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(config) -> Samples:
    """/metrics as the host's scraper sees it: from loopback, with no login."""
    response = create_app(config).test_client().get("/metrics")
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def start_worker(config) -> IngestWorker:
    worker = IngestWorker(config, load_signing_key(config.secrets.ack_signing_key_file))
    worker.start()
    assert worker.subscribed.wait(10), "ingest did not subscribe"
    return worker


def test_the_ledger_adds_counts_keeps_the_latest_gauge_and_rebuilds_histograms(store_location):
    from central.tally import Ledger, Tally

    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    ledger, other = Ledger(store_location("metrics")), Ledger(store_location("metrics"))
    tally = Tally()
    tally.add("received", 3)
    tally.add("refused", label="bad_signature")
    tally.observe("store_seconds", 0.003)
    tally.observe("store_seconds", 99.0)
    tally.set("queue_depth", 7)
    tally.flush(ledger, now)
    tally.add("received", 2)
    tally.set("queue_depth", 1)
    tally.flush(other, now)  # another thread's (or node's) handle adds to the same totals
    tally.flush(ledger, now)  # nothing new: nothing written
    counts = other.counters()
    assert counts[("received", "")] == 5 and counts[("refused", "bad_signature")] == 1
    assert ledger.gauges() == {("queue_depth", ""): 1.0}, "the latest gauge wins"
    histogram = ledger.histogram("store_seconds", counts)
    assert dict(histogram.buckets)["0.001"] == 0 and dict(histogram.buckets)["0.005"] == 1
    assert dict(histogram.buckets)["+Inf"] == histogram.count == 2
    assert histogram.total == pytest.approx(99.003)
    ledger.close()
    other.close()


@pytest.mark.slow
def test_stored_duplicate_and_refused_records_are_counted_by_reason(
    mosquitto, central_setup, camera
):
    worker = start_worker(central_setup.config)
    peer = Peer(mosquitto.port, camera.camera_id)
    try:
        topic = passage_topic(camera.camera_id)
        good = encode_passage(
            make_passage(camera.key, seq=1, captured_at=recent_time()), camera.key
        )
        peer.publish(topic, good)
        peer.publish(topic, good)
        peer.publish(topic, REJECTIONS["bad_signature"](camera))
        peer.publish(topic, REJECTIONS["clock_skew"](camera))
        peer.publish(topic, REJECTIONS["clock_skew"](camera))
        wait_until(lambda: worker.counters["rejected_clock_skew"] == 2, what="all handled")
    finally:
        peer.close()
        worker.stop()

    samples = scrape(central_setup.config)
    assert value(samples, "anpr_ingest_received_total") == 5
    assert value(samples, "anpr_ingest_stored_total") == 1
    assert value(samples, "anpr_ingest_duplicates_total") == 1
    assert value(samples, "anpr_ingest_refused_total", reason="bad_signature") == 1
    assert value(samples, "anpr_ingest_refused_total", reason="clock_skew") == 2
    assert value(samples, "anpr_ingest_refused_total", reason="malformed") is None
    assert value(samples, "anpr_ingest_batch_failures_total") == 0
    assert value(samples, "anpr_ingest_queue_depth") == 0
    assert value(samples, "anpr_ingest_queue_capacity") == central_setup.config.ingest.queue_size
    assert value(samples, "anpr_ingest_admission_seconds_count") >= 1
    assert value(samples, "anpr_ingest_store_seconds_count") >= 1
    assert value(samples, "anpr_ingest_store_seconds_bucket", le="+Inf") == value(
        samples, "anpr_ingest_store_seconds_count"
    )
    flushed = value(samples, "anpr_ingest_last_flush_timestamp_seconds")
    assert abs(flushed - datetime.now(UTC).timestamp()) < 60
    assert value(samples, "process_cpu_seconds_total") > 0, "the process collector"
    assert value(samples, "anpr_cameras", state="OFFLINE") == 1, "camera health is kept"


@pytest.mark.slow
def test_expired_and_not_in_plan_counts_survive_a_restart_of_ingest(
    mosquitto, central_setup, camera, tmp_path
):
    outsider = register_camera(central_setup, "traffic-cam-07", tmp_path / "o", designate=False)
    old = recent_time() - timedelta(days=28, minutes=1)
    expired = encode_passage(make_passage(camera.key, seq=4, captured_at=old), camera.key)
    outside = encode_passage(
        make_passage(outsider.key, camera_id=outsider.camera_id, captured_at=recent_time()),
        outsider.key,
    )
    worker = start_worker(central_setup.config)
    peer = Peer(mosquitto.port, camera.camera_id)
    try:
        peer.publish(passage_topic(camera.camera_id), expired)
        peer.publish(passage_topic(outsider.camera_id), outside)
        wait_until(lambda: worker.counters["not_in_plan_discarded"] == 1, what="discarded")
        wait_until(lambda: worker.counters["expired_on_arrival"] == 1, what="expired")
    finally:
        worker.stop()

    samples = scrape(central_setup.config)
    assert value(samples, "anpr_ingest_expired_on_arrival_total") == 1
    assert value(samples, "anpr_ingest_not_in_plan_discarded_total") == 1

    restarted = start_worker(central_setup.config)
    try:
        later = encode_passage(make_passage(camera.key, seq=5, captured_at=old), camera.key)
        peer.publish(passage_topic(camera.camera_id), later)
        wait_until(lambda: restarted.counters["expired_on_arrival"] == 1, what="one more")
    finally:
        peer.close()
        restarted.stop()
    samples = scrape(central_setup.config)
    assert value(samples, "anpr_ingest_expired_on_arrival_total") == 2, "counted on, not reset"
    assert value(samples, "anpr_ingest_not_in_plan_discarded_total") == 1


@pytest.mark.slow
def test_hotlist_alerts_are_counted_with_their_latency_from_capture(
    mosquitto, central_setup, camera
):
    store = Hotlists(central_setup.config.hotlists_path)
    now, until = datetime.now(UTC), datetime.now(UTC) + timedelta(days=2)
    list_id = store.create_list("Stolen", "desk-3", "report 2026-9", "stolen_vehicle", 2,
                                until, now)  # fmt: skip
    store.add_entry(list_id, "GBL12X", "NL", "stolen", "do not stop alone", until, "desk-3", now)
    store.approve(list_id, "OvJ", now)
    store.close()
    worker = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    listener = HotlistListener(central_setup.config.hotlists_path, tally=worker.counters)
    worker.passage_listeners.append(listener)
    worker.start()
    peer = Peer(mosquitto.port, camera.camera_id)
    captured = datetime.now(UTC) - timedelta(seconds=3)
    try:
        assert worker.subscribed.wait(10)
        payload = encode_passage(make_passage(camera.key, captured_at=captured), camera.key)
        peer.publish(passage_topic(camera.camera_id), payload)
        wait_until(lambda: worker.counters["stored"] == 1, what="stored")
    finally:
        peer.close()
        worker.stop()
        listener.close()

    samples = scrape(central_setup.config)
    assert value(samples, "anpr_hotlist_alerts_total", priority="2") == 1
    assert value(samples, "anpr_hotlist_alert_latency_seconds_count") == 1
    latency = value(samples, "anpr_hotlist_alert_latency_seconds_sum")
    assert 3 <= latency < 60, latency
    assert value(samples, "anpr_hotlist_alert_latency_seconds_bucket", le="2.0") == 0
    assert value(samples, "anpr_hotlist_alert_latency_seconds_bucket", le="60.0") == 1


def test_metrics_need_no_login_but_only_answer_this_host(client):
    assert client.get("/metrics").status_code == 200
    mapped = client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"})
    assert mapped.status_code == 200
    openmetrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert openmetrics.mimetype == "application/openmetrics-text"
    assert openmetrics.get_data(as_text=True).endswith("# EOF\n")
    for address in ("10.0.0.7", "::ffff:10.0.0.7", "2001:db8::7"):
        from_elsewhere = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
        assert from_elsewhere.status_code == 403, address
        assert b"anpr_" not in from_elsewhere.data


def _certificate(path: Path, name: str, not_after: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=400)).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    crl = (
        x509.CertificateRevocationListBuilder().issuer_name(subject)
        .last_update(datetime.now(UTC)).next_update(datetime.now(UTC) + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    from cryptography.hazmat.primitives.serialization import Encoding

    path.write_bytes(cert.public_bytes(Encoding.PEM))
    path.with_suffix(".crl").write_bytes(crl.public_bytes(Encoding.PEM))


def test_days_left_on_certificates_and_the_crl(web_setup, tmp_path):
    soon = tmp_path / "broker.crt"
    _certificate(soon, "broker.example", datetime.now(UTC) + timedelta(days=10))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    config = web_setup.config.model_copy(
        update={
            "metrics": web_setup.config.metrics.model_copy(
                update={"tls_files": (soon, soon.with_suffix(".crl"), junk)}
            )
        }
    )
    samples = scrape(config)
    left = value(samples, "anpr_tls_expiry_seconds", file=str(soon), kind="certificate",
                 subject="CN=broker.example")  # fmt: skip
    assert 9.9 * 86400 < left <= 10 * 86400
    crl = value(samples, "anpr_tls_expiry_seconds", file=str(soon.with_suffix(".crl")),
                kind="crl", subject="CN=broker.example")  # fmt: skip
    assert 29.9 * 86400 < crl <= 30 * 86400
    assert value(samples, "anpr_tls_file_readable", file=str(junk)) == 0
    assert value(samples, "anpr_tls_file_readable", file=str(soon)) == 1


def test_retention_lag_and_last_run(web_setup):
    from wire import SigningKey

    config = web_setup.config
    key = SigningKey.generate()
    real_now = datetime.now(UTC).replace(microsecond=0)
    run_at = real_now - timedelta(days=2)
    captured = real_now - timedelta(days=29)  # 27 days old when retention ran
    store = open_store(config, clock=lambda: run_at)
    store.insert_batch([verified_passage(key, captured_at=captured)], run_at)
    store.close()
    assert value(scrape(config), "anpr_retention_lag_seconds") is None, "never ran"

    retention_worker(config).run_once(run_at)
    samples = scrape(config)
    assert value(samples, "anpr_retention_last_run_timestamp_seconds") == run_at.timestamp()
    assert value(samples, "anpr_retention_runs_total") == 1
    lag = value(samples, "anpr_retention_lag_seconds")
    assert 86400 - 60 < lag < 86400 + 60, "a day past 28 days: retention has not run since"

    retention_worker(config).run_once(real_now)
    samples = scrape(config)
    assert value(samples, "anpr_retention_lag_seconds") == 0
    assert (
        value(samples, "anpr_retention_rows_deleted_total")
        + value(samples, "anpr_retention_days_destroyed_total")
        >= 1
    )


@pytest.mark.slow
def test_the_unit_writes_its_figures_for_node_exporter(tmp_path, mosquitto, central_setup, camera):
    path = write_agent_config(tmp_path, camera, central_setup, mosquitto.port)
    textfile = tmp_path / "textfile" / "anpr_agent.prom"
    path.write_text(path.read_text() + f'\n[metrics]\ntextfile = "{textfile}"\n')
    assert load_config(write_agent_config(tmp_path, camera, central_setup, mosquitto.port,
                                          name="plain.toml")).metrics.textfile is None  # fmt: skip
    worker = start_worker(central_setup.config)
    try:
        agent = Agent(load_config(path))
        runner = threading.Thread(target=agent.run, kwargs={"exit_when_drained": True})
        runner.start()
        runner.join(timeout=60)
        assert not runner.is_alive(), "agent did not drain its spool"
    finally:
        worker.stop()
    samples = parse(textfile.read_text())
    plates = len(expected_plates())
    cam = camera.camera_id
    assert value(samples, "anpr_agent_passages_total", camera=cam) == plates > 0
    assert value(samples, "anpr_agent_acknowledged_total", camera=cam) == plates
    assert value(samples, "anpr_agent_frames_total", camera=cam) == agent.stats.frames > 0
    assert value(samples, "anpr_agent_spool_depth", camera=cam) == 0
    assert value(samples, "anpr_agent_bad_acks_total", camera=cam) == 0
    for name in ("repeats_merged", "tracks_cut_only", "tracks_stitched"):  # not sent alone
        assert value(samples, f"anpr_agent_{name}_total", camera=cam) == getattr(agent.stats, name)
    assert not list(textfile.parent.glob("*.prom.*")), "written atomically, no leftovers"
