"""docs/security.md backs each statement with a test: every test it names exists."""

import ast
import re

from tests.conftest import REPO

SECURITY = (REPO / "docs" / "security.md").read_text()


def test_every_test_named_in_the_threat_model_exists():
    named = set(re.findall(r"`(tests/test_\w+\.py)::(test_\w+)`", SECURITY))
    assert len(named) >= 10, "the stolen-unit section names its tests"
    missing = []
    for path, name in sorted(named):
        tree = ast.parse((REPO / path).read_text())
        functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if name not in functions:
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
