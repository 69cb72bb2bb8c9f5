"""The command-line tools a technician types: keys, camera registration, rotation."""

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from central.__main__ import main as central_main
from node.keyfiles import load_signing_key
from provisioning.__main__ import main as provision_main
from tests.conftest import write_central_config


def test_camera_key_is_private_and_never_overwritten(tmp_path, capsys):
    assert (
        provision_main(["camera-key", "--camera-id", "a12-hm34-n-1", "--out", str(tmp_path)]) == 0
    )
    mode = stat.S_IMODE((tmp_path / "a12-hm34-n-1.key").stat().st_mode)
    assert mode == 0o600
    assert (
        provision_main(["camera-key", "--camera-id", "a12-hm34-n-1", "--out", str(tmp_path)]) == 2
    )
    assert "refusing to overwrite" in capsys.readouterr().err


def test_bad_camera_id_is_refused(tmp_path, capsys):
    assert provision_main(["camera-key", "--camera-id", "A12 HM34", "--out", str(tmp_path)]) == 2
    assert "lower-case" in capsys.readouterr().err


def test_register_list_and_rotate_a_camera(tmp_path, capsys):
    central = write_central_config(tmp_path, broker_port=1883)
    config = ["--config", str(central.config_path)]
    keys = tmp_path / "keys"
    provision_main(["camera-key", "--camera-id", "cam-old", "--out", str(keys)])
    provision_main(["camera-key", "--camera-id", "cam-new", "--out", str(keys)])
    capsys.readouterr()

    add = ["camera-add", "--camera-id", "a12-hm34-n-1", "--public-key", str(keys / "cam-old.pub")]
    assert central_main(config + add) == 0
    old_key_id = capsys.readouterr().out.split("key_id=")[1].strip()

    add_key = ["camera-add-key", "--camera-id", "a12-hm34-n-1"]
    assert central_main(config + add_key + ["--public-key", str(keys / "cam-new.pub")]) == 0
    retire = ["camera-retire-key", "--camera-id", "a12-hm34-n-1", "--key-id", old_key_id]
    assert central_main(config + retire) == 0
    capsys.readouterr()
    assert central_main(config + ["camera-list"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("a12-hm34-n-1\t") and old_key_id not in listing

    assert central_main(config + add) == 2
    assert "already registered" in capsys.readouterr().err


def test_missing_config_is_a_clear_error(tmp_path, capsys):
    assert central_main(["--config", str(tmp_path / "absent.toml"), "camera-list"]) == 2
    assert "cannot read central config" in capsys.readouterr().err


def test_designate_hold_backup_retention_and_statistics(tmp_path, capsys):
    import json
    from datetime import UTC, datetime

    from central.store import open_store
    from tests.conftest import verified_passage

    central = write_central_config(tmp_path, broker_port=1883)
    config = ["--config", str(central.config_path)]
    provision_main(["camera-key", "--camera-id", "cam-a", "--out", str(tmp_path / "k")])
    central_main(
        config
        + ["camera-add", "--camera-id", "cam-a", "--public-key", str(tmp_path / "k" / "cam-a.pub")]
    )
    designate = ["camera-designate", "--camera-id", "cam-a", "--plan-version", "plan 2026"]
    assert central_main(config + designate + ["--from", "2026-01-01T00:00"]) == 2
    assert "no time zone" in capsys.readouterr().err
    assert central_main(config + designate + ["--from", "2026-01-01T00:00Z"]) == 0

    key = load_signing_key(tmp_path / "k" / "cam-a.key")
    store = open_store(central.config)
    store.insert_batch(
        [
            verified_passage(
                key, seq=1, camera_id="cam-a", captured_at=datetime.now(UTC).replace(microsecond=0)
            )
        ],
        datetime.now(UTC),
    )
    store.close()
    hold = ["hold", "--camera-id", "cam-a", "--seq", "1", "--request", "REQ-1", "--by", "officer-1"]
    assert central_main(config + hold) == 0
    assert (
        central_main(
            config + ["hold", "--camera-id", "cam-a", "--seq", "7", "--request", "R", "--by", "o"]
        )
        == 2
    )
    assert central_main(config + ["release-holds", "--request", "REQ-1"]) == 0
    assert "released 1 hold" in capsys.readouterr().out

    backup = ["--to", str(tmp_path / "bk"), "--keys-to", str(tmp_path / "bk-keys")]
    assert central_main(config + ["backup"] + backup) == 0
    assert central_main(config + ["backup-expire"] + backup) == 0
    assert central_main(config + ["retention-run"]) == 0
    capsys.readouterr()
    assert central_main(config + ["statistics", "--day", "2026-01-02"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_agent_config_with_masks_and_preview(tmp_path, capsys):
    from edge_agent.config import load_config
    from tests.conftest import SAMPLES

    out = tmp_path / "agent.toml"
    args = ["agent-config", "--camera-id", "a12-hm34-n-1", "--lat", "52.09", "--lon", "5.12",
            "--direction", "N", "--broker-host", "central.example", "--credentials",
            str(tmp_path / "creds"), "--mask", "0,0 1279,0 1279,150 0,150",
            "--still", str(SAMPLES / "scene-000.jpg"), "--preview", str(tmp_path / "m.png"),
            "--out", str(out)]  # fmt: skip
    assert provision_main(args) == 0
    config = load_config(out)
    assert config.privacy.masks == (((0, 0), (1279, 0), (1279, 150), (0, 150)),)
    assert config.mqtt.tls and config.mqtt.host == "central.example"
    assert (tmp_path / "m.png").read_bytes().startswith(b"\x89PNG")
    assert provision_main(args) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    outside = [a if a != "0,0 1279,0 1279,150 0,150" else "0,0 2000,0 2000,10" for a in args]
    outside[outside.index(str(out))] = str(tmp_path / "other.toml")
    assert provision_main(outside) == 2
    assert "outside the 1280x720" in capsys.readouterr().err
    assert not (tmp_path / "other.toml").exists()


@pytest.mark.parametrize("program", ["anpr-central", "anpr-agent", "anpr-provision",
                                     "anpr-research"])  # fmt: skip
def test_every_command_says_its_version(program):
    done = subprocess.run([str(Path(sys.executable).parent / program), "--version"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith(f"{program} 0.")


def test_user_add_lists_the_roles_it_takes(capsys):
    with pytest.raises(SystemExit):
        central_main(["user-add", "--help"])
    shown = capsys.readouterr().out
    assert "operator" in shown and "calamity_coordinator" in shown


def test_logs_can_be_json_lines_for_a_pipeline():
    """journald or a log shipper takes one JSON object per line; nothing to parse."""
    probe = (
        "import argparse, logging; from node.logs import add_log_options, configure; "
        "p = argparse.ArgumentParser(); add_log_options(p); "
        "configure(p.parse_args(['--log-format', 'json'])); "
        "logging.getLogger('central.ingest').warning('refused %s', 'x')"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    (line,) = done.stderr.splitlines()
    parsed = json.loads(line)
    assert parsed["level"] == "WARNING" and parsed["message"] == "refused x"
    assert parsed["logger"] == "central.ingest" and parsed["time"][4] == "-"


def test_user_add_shows_the_second_factor_as_a_qr_code_and_can_write_it(tmp_path, capsys):
    """A new officer scans the code at the administrator's screen; typing a 32-character
    secret from an otpauth:// line was the only way before."""
    import segno

    setup = write_central_config(tmp_path, broker_port=1883)
    (tmp_path / "pw").write_text("correct horse battery staple\n")
    qr_file = tmp_path / "o.new.svg"
    argv = ["--config", str(setup.config_path), "user-add", "--username", "o.new",
            "--full-name", "O. New", "--unit", "unit-midden", "--role", "officer",
            "--password-file", str(tmp_path / "pw"), "--qr", str(qr_file)]  # fmt: skip
    assert central_main(argv) == 0
    shown = capsys.readouterr().out
    uri = shown.split("or enter: ")[1].split()[0]
    assert uri.startswith("otpauth://totp/") and "secret=" in uri
    expected = segno.make(uri, error="m")
    rendered = [line for line in shown.splitlines() if set(line) <= set("█▀▄ ") and line]
    assert len(rendered) == (expected.symbol_size()[1] + 1) // 2, "the code, two rows a line"
    assert stat.S_IMODE(qr_file.stat().st_mode) == 0o600
    assert qr_file.read_text().startswith("<?xml") and "<path" in qr_file.read_text()


@pytest.mark.parametrize("before", [True, False])
def test_config_goes_before_or_after_the_command(tmp_path, capsys, before):
    """One habit for every tool: `--config C audit verify` and `audit verify --config C`."""
    setup = write_central_config(tmp_path, broker_port=1883)
    config = ["--config", str(setup.config_path)]
    argv = [*config, "camera-list"] if before else ["camera-list", *config]
    assert central_main(argv) == 0
    nested = ["calamity", "status", *config]
    assert central_main(nested) == 0


def test_a_missing_config_says_so(capsys):
    with pytest.raises(SystemExit) as stopped:
        central_main(["camera-list"])
    assert stopped.value.code == 2
    assert "--config FILE is required" in capsys.readouterr().err


def test_help_lists_the_commands_by_area_each_once(capsys):
    from central.__main__ import build_parser

    with pytest.raises(SystemExit):
        central_main(["--help"])
    shown = capsys.readouterr().out
    listing = shown.split("commands, by area:")[1]
    areas = [line for line in listing.splitlines() if line.startswith("  ") and
             not line.startswith("    ")]  # fmt: skip
    assert "  cameras and keys:" in areas and "  requests and reports:" in areas
    listed = [line.split()[0] for line in listing.splitlines() if line.startswith("    ")]
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert sorted(listed) == sorted(commands), "every command once, under its area"
    assert "register a camera's public key" in listing, "with its one-line help"
