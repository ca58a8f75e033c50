"""The package's shape (docs/architecture.md): layers that import one way, no
import circle anywhere (imports inside functions and under TYPE_CHECKING
included), modules of a readable size, every module importable by its path,
and public functions that do not hide modules."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import journeysim as js

grimp = pytest.importorskip("grimp")

PACKAGE = Path(js.__file__).parent
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph():
    # The package the tests import (the source tree under `make test`).
    sys.path.insert(0, str(PACKAGE.parent))
    try:
        return grimp.build_graph("journeysim", cache_dir=None)
    finally:
        sys.path.remove(str(PACKAGE.parent))


def cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for m in sorted(graph.modules):
        if m not in index:
            visit(m)
    return found


def test_no_import_circle_anywhere(graph):
    # `from .. import _core` in _base/native.py reads as an import of the
    # package itself (grimp sees no compiled modules); it is the only one.
    graph.remove_import(importer="journeysim._base.native", imported="journeysim")
    assert cycles(graph) == []


def test_an_import_circle_is_found(graph):
    # The check above can fail: a circle made on purpose is reported.
    graph.add_import(importer="journeysim._base.errors", imported="journeysim.apps.cli")
    assert any("journeysim._base.errors" in c for c in cycles(graph))


def test_the_layer_contract_holds():
    lint = Path(sys.executable).parent / "lint-imports"
    if not lint.exists():
        pytest.skip("import-linter is not installed (the dev extra)")
    proc = subprocess.run(
        [str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        env={"PYTHONPATH": str(PACKAGE.parent), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.walk_packages([str(PACKAGE)], prefix="journeysim.")
        if m.name != "journeysim.__main__"
    ]


@pytest.mark.parametrize("name", modules())
def test_every_module_imports_by_its_path(name):
    assert importlib.import_module(name).__name__ == name


def test_modules_stay_readable():
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text().splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert {p: n for p, n in sizes.items() if n > 900} == {}


def test_no_public_function_hides_a_module():
    # js.sweep, js.fit, js.compare, js.report are functions, and no module of
    # the package sits at journeysim.<that name>.
    tops = {m.split(".")[1] for m in modules()}
    for name in js.__all__:
        obj = getattr(js, name)
        if callable(obj) and not isinstance(obj, type):
            assert name not in tops, name
    for name in ("sweep", "fit", "compare", "report", "flows", "sankey"):
        assert callable(getattr(js, name))


def test_a_journeys_resolved_arrays_are_read_only_and_the_users_are_not():
    P = np.array([[0.9, 0.1], [0.0, 1.0]])
    start = np.array([1.0, 0.0])
    j = js.Journey(["a", "b"], P, start=start, values={"r": np.array([5.0, 0.0])})
    seg = j.resolved.segments[0]
    for a in (seg.transitions[0].value, seg.start, seg.values["r"][0].value):
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 0.5
    assert P.flags.writeable and start.flags.writeable  # the caller's own
    # A plan's journey copies what it changes; the base journey is untouched.
    plan = js.Plan("p", [js.Intervention("i", at=("a", "b"), relative_risk=0.5)])
    js.compare(j, [plan], periods=6)
    assert j.resolved.segments[0].transitions[0].value[0, 1] == 0.1
