"""Every public name has a numpy-style docstring with an Examples section, and
every example in the package's docstrings runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import matplotlib
import pytest

import journeysim as js

matplotlib.use("Agg")

PUBLIC = sorted(n for n in js.__all__ if not n.startswith("_"))
# Every module of every layer (journeysim._base.interrupt, journeysim.model.journey,
# ...), not only the package's top level.
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(js.__path__, "journeysim.")
    if not m.name.rsplit(".", 1)[1].startswith("_")
)


def test_the_examples_of_every_layer_are_collected():
    assert {"journeysim.model.journey", "journeysim._base.interrupt"} <= set(MODULES)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_has_an_example(name):
    obj = getattr(js, name)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        pytest.skip(f"{name} is not a class or function")
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return  # a warning or error class: its docstring says when it is raised
    assert "Examples\n--------" in doc, f"{name}'s docstring has no Examples section"
    assert ">>> " in doc, f"{name}'s Examples section has no runnable example"


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    tests = [t for t in finder.find(mod, module) if t.examples]
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed"
