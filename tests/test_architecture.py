"""The drawing in docs/architecture.md, enforced: every import follows an arrow.

Read from the source with `ast` (imports inside functions count too), so a shortcut taken
in a hurry fails here before it becomes the structure.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Which of our packages each package may import. Data flows capture -> edge -> wire ->
# central; `recognition` owns plate formats and the model contract and imports nothing of
# ours; `node` turns a host's files into configs and keys for every process.
ALLOWED = {
    "wire": set(),
    "recognition": set(),
    "node": {"wire"},
    "edge_agent": {"wire", "node", "recognition"},
    "central": {"wire", "node", "recognition"},
    "traffic_research": {"wire", "node"},
    "provisioning": {"wire", "node", "recognition", "edge_agent"},
    "models": {"recognition"},
}
PACKAGES = set(ALLOWED)
TOOLS = {"tests", "benchmarks", "scripts", "hardware_tests"}  # may import any package
# The wire format has no I/O: it may use these and nothing else from outside itself
# (argon2: the unit hotlist's memory-hard digest, pure computation).
WIRE_MAY_USE = {
    "__future__", "argon2", "base64", "binascii", "collections", "cryptography", "dataclasses",
    "datetime", "enum", "hashlib", "hmac", "json", "math", "re", "secrets", "struct", "typing",
}  # fmt: skip


def modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, module: str) -> set[str]:
    """Absolute names imported by one file; `from a import b` yields a.b (read as module a.b
    when there is one, else as a name inside module a)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level or None]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def resolved(name: str, known: set[str]) -> str:
    """The module a name lives in: itself, or the nearest enclosing known module."""
    parts = name.split(".")
    while len(parts) > 1 and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts)


def all_imports() -> dict[str, set[str]]:
    files = {
        name: path
        for package in PACKAGES | TOOLS
        if (REPO / package).is_dir()
        for name, path in modules(package).items()
    }
    known = set(files)
    return {name: {resolved(n, known) for n in imports(path, name)} for name, path in files.items()}


IMPORTS = all_imports()


def top(name: str) -> str:
    return name.split(".")[0]


def test_every_package_is_drawn():
    """A new top-level package must be placed in the drawing before it can be imported."""
    ours = {p.parent.name for p in REPO.glob("*/__init__.py")}
    assert ours <= PACKAGES | TOOLS, f"undrawn packages: {sorted(ours - PACKAGES - TOOLS)}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_follow_the_arrows(package):
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if top(module) == package
        for name in names
        if top(name) in PACKAGES | TOOLS and top(name) != package
        and top(name) not in ALLOWED[package]
    )  # fmt: skip
    assert not wrong, "imports against the drawn direction:\n" + "\n".join(wrong)


def test_no_two_packages_import_each_other():
    """Top-level packages, and the subpackages and modules directly inside each, form no
    cycle: `central.store` and `central.retention` may not lean on each other."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, names in IMPORTS.items():
        if top(module) in TOOLS:
            continue
        for name in names:
            if top(name) not in PACKAGES:
                continue
            source, target = _unit(module, name)
            if source != target:
                edges[source].add(target)
    cycles = _cycles(edges)
    assert not cycles, "packages importing each other: " + "; ".join(
        " <-> ".join(sorted(c)) for c in cycles
    )


def _unit(module: str, name: str) -> tuple[str, str]:
    """Compare at the top level across packages, one level down inside one package."""
    a, b = module.split("."), name.split(".")
    if a[0] != b[0]:
        return a[0], b[0]
    return ".".join(a[:2]), ".".join(b[:2])


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_wire_has_no_io():
    outside = sorted(
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if top(module) == "wire"
        for name in names
        if top(name) != "wire" and top(name) not in WIRE_MAY_USE
    )
    assert not outside, "wire/ must stay free of I/O:\n" + "\n".join(outside)


def test_only_the_web_package_speaks_http():
    """Flask lives in `central.web` (and the app factory); nothing else in the central
    imports the web layer, so stores and ingest never depend on a request."""
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if top(module) == "central" and module != "central"
        and not module.startswith("central.web")
        for name in names
        if top(name) == "flask" or name.startswith("central.web")
    )  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_inference_never_imports_training():
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if top(module) in {"recognition", "edge_agent", "central", "provisioning"}
        for name in names
        if name.startswith("models.train") or top(name) in {"torch", "onnx"}
    )
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """The rules above are not vacuous: a file importing upward is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from central.store import open_store\nfrom . import sibling\n")
    found = {resolved(n, {"central.store", "wire.sibling"}) for n in imports(bad, "wire.bad")}
    assert found == {"central.store", "wire.sibling"}
    assert top("central.store") not in ALLOWED["wire"]
