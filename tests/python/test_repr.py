"""Notebook display: compact HTML for journeys and results, locked by golden
files (set JOURNEYSIM_UPDATE_GOLDEN=1 to rewrite them after a deliberate
change: the tests that rewrite a file are then skipped, not passed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import journeysim as js

GOLDEN = Path(__file__).with_name("golden")
UPDATE = "JOURNEYSIM_UPDATE_GOLDEN"


def check_golden(name: str, html: str, folder: Path = GOLDEN) -> None:
    """``html`` must equal the golden file ``<folder>/<name>.html``. With
    JOURNEYSIM_UPDATE_GOLDEN set (and not "0"), writes it instead and skips:
    a file is never compared with what was just written into it."""
    path = folder / f"{name}.html"
    if os.environ.get(UPDATE, "0") != "0":
        path.write_text(html)
        pytest.skip(f"regenerated {path.name}: review the diff and commit it")
    assert path.exists(), f"no golden file {path.name}: run with {UPDATE}=1"
    assert html == path.read_text(), (
        f"the HTML differs from {path.name}; if the change is deliberate, rerun "
        f"with {UPDATE}=1 and commit the new file"
    )


def test_a_missing_golden_file_fails(tmp_path, monkeypatch):
    monkeypatch.delenv(UPDATE, raising=False)
    with pytest.raises(AssertionError, match=r"no golden file absent\.html"):
        check_golden("absent", "<p>x</p>", folder=tmp_path)


def test_a_different_golden_file_fails(tmp_path, monkeypatch):
    monkeypatch.delenv(UPDATE, raising=False)
    (tmp_path / "old.html").write_text("<p>old</p>")
    with pytest.raises(AssertionError, match=r"differs from old\.html"):
        check_golden("old", "<p>new</p>", folder=tmp_path)


@pytest.mark.parametrize("existing", [None, "<p>old</p>", "<p>new</p>"])
def test_regenerating_writes_the_file_and_skips(tmp_path, monkeypatch, existing):
    monkeypatch.setenv(UPDATE, "1")
    if existing is not None:
        (tmp_path / "page.html").write_text(existing)
    with pytest.raises(pytest.skip.Exception, match=r"regenerated page\.html"):
        check_golden("page", "<p>new</p>", folder=tmp_path)
    assert (tmp_path / "page.html").read_text() == "<p>new</p>"


@pytest.fixture(scope="module")
def journey():
    return js.default_journey()


def test_journey_html(journey):
    check_golden("journey", journey._repr_html_())


def test_analysis_html(journey):
    check_golden("analysis", journey.analyze(36)._repr_html_())


def test_simulation_html(journey):
    s = journey.simulate(2_000, 12, seed=1, progress=False)
    check_golden("simulation", s._repr_html_())


def test_comparison_html(journey):
    call = js.Intervention(
        "call",
        at=("onboarding", "at_risk"),
        relative_risk=0.6,
        reassign_to="adopting",
        cost_per_customer=50,
    )
    c = js.compare(journey, [js.Plan("call", [call])], periods=12)
    check_golden("comparison", c._repr_html_())


def test_fit_html():
    import pandas as pd

    log = pd.DataFrame(
        [(1, 0, "a"), (1, 2, "b"), (1, 3, "c"), (2, 0, "a")],
        columns=["customer", "period", "stage"],
    )
    f = js.fit(log, stages=["a", "b", "c"], absorbing=["c"], end=4, prior=0.5)
    check_golden("fit", f._repr_html_())


def test_html_escapes_names():
    j = js.Journey(["<a>", "b&c"], {"<a>": {"b&c": 0.5}}, name="x<y")
    out = j._repr_html_()
    assert "<a>" not in out.replace("<a></", "")  # the stage name is escaped
    assert "&lt;a&gt;" in out and "b&amp;c" in out
