"""The fuzzing machinery shared by the decoder and HTTP fuzz tests: run length, a tally of
what was tried, and the strategies that make hostile input out of valid input.

Why a module of its own: `make test` runs a short fuzz (`ANPR_FUZZ` unset: about 50
examples per property, within the suite's time budget) and `make fuzz` the long one
(`ANPR_FUZZ=long`: thousands), and both test modules must agree on what "short" and "long"
mean. Loaded as a pytest plugin (`-p tests.fuzz_support`, as `make fuzz` does) it also
prints what was tried and what was found at the end of the run.

Hostile input is made three ways, because random bytes alone almost never get past the
first JSON check: valid records mutated field by field (each field replaced by any JSON
value, removed, or joined by an unknown one), byte-level damage to real encoded payloads
(flips, cuts, insertions, repeats), and JSON of bounded depth. The examples database is
kept only in the long run (under var/, which git ignores).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

LONG = os.environ.get("ANPR_FUZZ", "short") == "long"
EXAMPLES = 2000 if LONG else 50
HTTP_EXAMPLES = 60 if LONG else 3
# "Never takes more than a moment": one decode of the largest legal payload takes about
# 30 ms; anything quadratic or exponential takes far longer than this on any machine.
MOMENT_S = 2.0

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # timed by `within_a_moment` instead: hypothesis' deadline is flaky on
    # a shared machine, a fixed bound far above the real cost is not
    derandomize=not LONG,  # the suite's short run is repeatable; the long run explores
    database=DirectoryBasedExampleDatabase(
        str(Path(__file__).resolve().parent.parent / "var" / "hypothesis")
    )
    if LONG
    else None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],  # fmt: skip
    print_blob=True,
)

# What was tried, per property or operation, and what was found (failures by test id).
TRIED: Counter[str] = Counter()


def tried(name: str) -> None:
    TRIED[name] += 1


class within_a_moment:  # noqa: N801 - used as a statement: `with within_a_moment(): ...`
    """Fails the example when the code inside takes longer than MOMENT_S."""

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        elapsed = time.monotonic() - self.start
        assert elapsed < MOMENT_S, f"took {elapsed:.2f} s (a moment is {MOMENT_S} s)"


# --- strategies -----------------------------------------------------------------------------

MAX_SAFE = 2**53 - 1
PORTABLE = st.from_regex(r"[ !#-\[\]-~]{0,20}", fullmatch=True)

# Scalars a hostile sender can put in JSON, including what JSON forbids or we refuse.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**30), 10**30),
    st.sampled_from([0, -1, 1, MAX_SAFE, MAX_SAFE + 1, -MAX_SAFE - 1, 2**63, 10**19]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    PORTABLE,
    st.sampled_from(
        [
            "",
            "N",
            "NL",
            "passage",
            "ack",
            "2026-11-22T07:30:15.250Z",
            "*",
            "2026-02-30T25:61:61.999Z",
            "0000000000000000",
            "a" * 64,
        ]
    ),  # fmt: skip
)
# JSON values of bounded depth (the wire's records nest at most four deep).
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),  # fmt: skip
    max_leaves=12,
)
# Values inside the canonical subset: these must round-trip exactly.
wire_values = st.recursive(
    st.booleans() | st.integers(-MAX_SAFE, MAX_SAFE) | PORTABLE,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(PORTABLE, inner, max_size=5),
    max_leaves=20,
)


def dumps(value: object) -> bytes:
    """JSON as a hostile sender may write it: NaN and non-ASCII included."""
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def byte_damage(draw, data: bytes) -> bytes:
    """`data` damaged by one to four byte-level edits."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "repeat", "truncate"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and out:
            out[at] = draw(st.sampled_from(b'{}[]",:0\\ \x00\xff9-e.') | st.integers(0, 255))
        elif op == "cut":
            del out[at : at + draw(st.integers(1, 16))]
        elif op == "insert":
            nasty = [b"[" * 40, b"-" + b"9" * 400, b"1e400", b"NaN", b"\\ud800", b"\xc3("]
            out[at:at] = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(nasty))
        elif op == "repeat":
            out[at:at] = out[at : at + draw(st.integers(1, 64))]
        elif op == "truncate":
            del out[at:]
    return bytes(out)


@st.composite
def field_mutation(draw, document: dict, paths: list[tuple[str, ...]]) -> dict:
    """A deep copy of `document` with one to three fields (named by `paths`, each a key
    path) replaced by any JSON value or removed, and sometimes an unknown field added."""
    copy = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = copy
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if draw(st.integers(0, 5)) == 0:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(json_values)
    if draw(st.integers(0, 7)) == 0:
        copy[draw(st.text(max_size=8))] = draw(json_values)
    return copy


def key_paths(document: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path in a nested dict, objects and their members alike."""
    paths = []
    for key, value in document.items():
        paths.append((*prefix, key))
        if isinstance(value, dict):
            paths.extend(key_paths(value, (*prefix, key)))
    return paths


# --- the plugin: a summary at the end of `make fuzz` --------------------------------------

_FOUND: list[str] = []


def pytest_runtest_logreport(report) -> None:
    if report.when == "call" and report.failed:
        _FOUND.append(f"FAILED {report.nodeid}")
    elif report.when == "call" and report.skipped and hasattr(report, "wasxfail"):
        _FOUND.append(f"known (xfail) {report.nodeid}: {report.wasxfail}")


def pytest_terminal_summary(terminalreporter) -> None:
    write = terminalreporter.write_line
    write("")
    write(f"fuzz summary ({'long' if LONG else 'short'} run)")
    total = 0
    for name, count in sorted(TRIED.items()):
        write(f"  {count:8d}  {name}")
        total += count
    write(f"  {total:8d}  inputs tried in all, over {len(TRIED)} properties/operations")
    if _FOUND:
        write(f"found {len(_FOUND)}:")
        for line in _FOUND:
            write(f"  {line}")
    else:
        write("found nothing: every input decoded or was refused with its documented error")
