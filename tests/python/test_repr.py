"""Notebook display: compact HTML for journeys and results, locked by golden
files (set JOURNEYSIM_UPDATE_GOLDEN=1 to rewrite them after a deliberate
change)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import journeysim as js

GOLDEN = Path(__file__).with_name("golden")


def check_golden(name: str, html: str) -> None:
    path = GOLDEN / f"{name}.html"
    if os.environ.get("JOURNEYSIM_UPDATE_GOLDEN"):
        path.write_text(html)
    assert path.exists(), (
        f"no golden file {path.name}: run with JOURNEYSIM_UPDATE_GOLDEN=1"
    )
    assert html == path.read_text()


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
        at=("onboarding", "churned"),
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
