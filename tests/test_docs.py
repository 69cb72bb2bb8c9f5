"""The documentation stays true: every command, config key, topic and rejection reason is
documented, and the wire-format test vector still verifies against the code."""

import base64
import re
import typing

import pytest
from pydantic import BaseModel

from central.config import CentralConfig
from edge_agent.config import AgentConfig
from tests.conftest import REPO
from wire import SigningKey, decode_passage
from wire.canonical import canonical_bytes

OPERATIONS = (REPO / "docs" / "operations.md").read_text()
WIRE = (REPO / "docs" / "wire-format.md").read_text()
README = (REPO / "README.md").read_text()


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def config_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        models = _models_in(field.annotation)
        if models:
            for member in models:
                keys += config_keys(member, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return sorted(set(keys))


@pytest.mark.parametrize("key", config_keys(AgentConfig) + config_keys(CentralConfig))
def test_every_config_key_is_documented(key):
    section, name = key.rsplit(".", 1)
    assert f"`{key}`" in OPERATIONS or re.search(
        rf"`{re.escape(section)}\.[^`]*\b{re.escape(name)}\b", OPERATIONS
    ), f"config key {key} missing from docs/operations.md"


def central_commands() -> list[str]:
    from central.__main__ import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.dest == "command"]
    return sorted(subparsers.choices)


@pytest.mark.parametrize("command", central_commands())
def test_every_central_command_is_documented(command):
    assert f"C {command}" in OPERATIONS, f"anpr-central {command} missing from operations.md"


def provisioning_commands() -> list[str]:
    from provisioning.__main__ import build_parser

    (subparsers,) = [a for a in build_parser()._actions if a.dest == "command"]
    return sorted(subparsers.choices)


@pytest.mark.parametrize("command", provisioning_commands())
def test_every_provisioning_command_is_documented(command):
    assert f"anpr-provision {command}" in OPERATIONS


def test_agent_command_and_flags_are_documented():
    for text in ("anpr-agent --config", "--exit-when-drained", "--log-level"):
        assert text in OPERATIONS


@pytest.mark.parametrize(
    "suffix",
    [
        "passage",
        "heartbeat",
        "ack",
        "status",
        "selftest",
        "selftest-ack",
        "hotlist",
        "research",
        "research-key",
    ],  # fmt: skip
)
def test_every_topic_is_documented(suffix):
    from wire import topics

    function = getattr(topics, f"{suffix.replace('-', '_')}_topic")
    assert function("cam-x") == f"anpr/v1/cam-x/{suffix}"
    assert f"`anpr/v1/<camera_id>/{suffix}`" in WIRE


def test_every_rejection_reason_is_documented():
    import wire.errors as errors

    reasons = {
        cls.reason
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.WireError)
    } - {"bad_key"}
    sources = "".join(p.read_text() for p in (REPO / "central" / "ingest").glob("*.py"))
    reasons |= set(re.findall(r'Refusal\(\s*"([a-z_]+)"', sources))
    assert {"clock_skew", "topic_mismatch", "unknown_camera", "seq_conflict"} <= reasons
    for reason in sorted(reasons):
        assert f"`{reason}`" in WIRE, f"rejection reason {reason} missing from wire-format.md"


def test_every_passage_field_is_documented():
    from tests.conftest import make_passage

    for field in make_passage(SigningKey.generate()).signed_fields():
        assert f"`{field}`" in WIRE, f"passage field {field} missing from wire-format.md"


def _vector(name: str) -> str:
    match = re.search(rf"<!-- vector:{name} -->\s*```\n(.*?)\n```", WIRE, re.S)
    assert match, f"test vector {name} missing"
    return match.group(1)


def test_wire_format_test_vector_holds():
    key = SigningKey.from_seed(bytes(range(32)))
    assert key.verify_key.b64 in WIRE and key.key_id in WIRE
    payload = _vector("payload").encode()
    verified = decode_passage(payload).verify(key.verify_key)
    assert verified.canonical == _vector("canonical").encode()
    assert canonical_bytes(verified.record.signed_fields()) == verified.canonical
    assert base64.b64encode(key.sign(verified.canonical)).decode() == _vector("signature")


def test_readme_has_exactly_the_two_setup_commands():
    blocks = re.findall(r"```\n(.*?)\n```", README, re.S)
    assert blocks[:2] == ["make demo", "make test"]
