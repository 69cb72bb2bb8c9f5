"""The on-site self-test against a real broker and central: a test passage makes the round
trip and is never stored; a missing central is a clear FAIL."""

import pytest

from central.ingest.service import IngestWorker
from central.store import open_store
from edge_agent.config import load_config
from node.keyfiles import load_signing_key
from provisioning.selftest import render, run_selftest
from tests.conftest import write_agent_config
from wire.topics import selftest_ack_topic, selftest_topic

pytestmark = pytest.mark.slow


def test_all_checks_pass_and_the_test_passage_is_not_stored(
    tmp_path, mosquitto, central_setup, camera
):
    # 10 fps: a rate a loaded CI machine keeps up with while decoding 1280x720 JPEGs.
    path = write_agent_config(tmp_path, camera, central_setup, mosquitto.port, fps=10)
    config = load_config(path)
    worker = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    worker.start()
    try:
        assert worker.subscribed.wait(10)
        checks = run_selftest(config)
    finally:
        worker.stop()
    table = render(checks)
    assert all(check.passed for check in checks), table
    assert table.endswith("ALL PASS")
    assert worker.counters["selftests"] == 1
    assert open_store(central_setup.config).count() == 0


def test_a_unit_with_an_unregistered_key_is_told_what_to_check(
    tmp_path, mosquitto, central_setup, camera
):
    """A replaced unit whose key the central does not hold: before, only "no answer"."""
    from node.keyfiles import save_signing_key
    from wire import SigningKey

    config = load_config(write_agent_config(tmp_path, camera, central_setup, mosquitto.port))
    config.keys.signing_key.unlink()
    save_signing_key(SigningKey.generate(), config.keys.signing_key)  # never registered
    worker = IngestWorker(
        central_setup.config, load_signing_key(central_setup.config.secrets.ack_signing_key_file)
    )
    worker.start()
    try:
        assert worker.subscribed.wait(10)
        checks = {check.name: check for check in run_selftest(config)}
    finally:
        worker.stop()
    trip = checks["test passage round trip"]
    assert not trip.passed
    assert "registered at the central with this unit's key" in trip.detail
    assert "camera-add-key" in trip.detail and "camera=test-cam-01" in trip.detail


def test_a_refusal_in_the_answer_says_why_and_what_to_do():
    from provisioning.selftest import _refusal_detail
    from wire.records import Rejection

    detail = _refusal_detail((Rejection(1, "clock_skew"), Rejection(1, "something_new")))
    assert "refused: clock_skew: the unit's clock is off" in detail
    assert "refused: something_new: see the central log" in detail


def test_no_central_is_a_clear_fail(tmp_path, mosquitto, central_setup, camera):
    config = load_config(write_agent_config(tmp_path, camera, central_setup, mosquitto.port))
    checks = {check.name: check for check in run_selftest(config, timeout=1.0)}
    assert checks["broker accepts the unit's certificate"].passed
    assert not checks["test passage round trip"].passed
    assert "no answer within 1 s" in checks["test passage round trip"].detail
    assert f"is camera {config.camera.id} registered" in checks["test passage round trip"].detail
    assert "FAILED" in render(list(checks.values()))


def test_topics():
    assert selftest_topic("cam-001") == "anpr/v1/cam-001/selftest"
    assert selftest_ack_topic("cam-001") == "anpr/v1/cam-001/selftest-ack"
