"""The newcomer review's findings (#23) each name tests that exist (docs/architecture.md)."""

from __future__ import annotations

import re

from tests.conftest import REPO

ARCHITECTURE = REPO / "docs" / "architecture.md"
FINDINGS = ("First run", "Alert desk", "Forms", "Maps", "Health", "Photos", "Language",
            "Time", "Internal keys", "CLIs", "No progress for long counts",
            "No progress for package builds")  # fmt: skip


def findings_table() -> list[tuple[str, str]]:
    text = ARCHITECTURE.read_text()
    section = text.split("## The newcomer review (#23)", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    return [(finding.strip(), tests.strip()) for finding, tests in rows[1:]]


def test_each_finding_of_the_review_names_tests_and_each_test_exists():
    table = findings_table()
    for finding in FINDINGS:
        assert any(row.startswith(finding) for row, _ in table), f"no row for {finding}"
    for finding, tests in table:
        current = None
        named = re.findall(r"`(test_\w+\.py)?(?:::)?(test_\w+)?`", tests)
        assert named, f"{finding}: no test named"
        for module, function in named:
            current = module or current
            assert current, f"{finding}: {function} names no file"
            source = (REPO / "tests" / current).read_text()
            if function:
                assert re.search(rf"^def {function}\(", source, re.M), f"{current}::{function}"
