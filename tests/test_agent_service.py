"""The agent as a service: readiness and watchdog for systemd, and `anpr-agent check`."""

import socket
import threading

from edge_agent.__main__ import main as agent_main
from edge_agent.agent import Agent
from edge_agent.config import load_config
from tests.conftest import free_port, wait_until, write_agent_config


def test_agent_tells_systemd_it_is_ready_and_pets_the_watchdog(
    tmp_path, monkeypatch, central_setup, camera
):
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    agent = Agent(load_config(write_agent_config(tmp_path, camera, central_setup, free_port())))
    runner = threading.Thread(target=agent.run)
    runner.start()
    messages = []
    try:
        wait_until(
            lambda: messages.append(listener.recv(100).decode()) or "WATCHDOG=1" in messages,
            what="watchdog petted",
        )
    finally:
        agent.stop_event.set()
        runner.join(timeout=10)
        listener.close()
    assert messages[0] == "READY=1"


def test_check_validates_without_running(tmp_path, central_setup, camera, capsys):
    path = write_agent_config(tmp_path, camera, central_setup, free_port())
    assert agent_main(["check", "--config", str(path)]) == 0
    assert "configuration OK: camera test-cam-01" in capsys.readouterr().out
    camera.key_path.unlink()
    assert agent_main(["check", "--config", str(path)]) == 2
    assert "cannot read signing key" in capsys.readouterr().err
