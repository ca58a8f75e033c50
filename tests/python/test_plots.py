"""Plots draw on the Axes they are given (or a new figure), return it, and never
call plt.show()."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import journeysim as js
from journeysim.plot import tornado


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("plots must not call plt.show()")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


def test_journey_diagram_has_a_box_per_stage_and_lanes_by_team():
    j = js.default_journey()
    ax = j.plot()
    texts = [t.get_text() for t in ax.texts]
    for s in j.stages:
        assert s in texts
    for team in ("Onboarding", "Customer Success", "Sales"):
        assert team in texts
    # Moves drawn as arrows: one per move of at least 1% at tenure 0.
    P = j.transition_matrix
    moves = sum(1 for a in j.stages for b in j.stages if a != b and P.loc[a, b] >= 0.01)
    from matplotlib.patches import FancyArrowPatch

    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == moves


def test_tornado_bars_follow_the_ranking():
    m = js.default_journey().moments_of_truth("clv", 36)
    ax = tornado(m, top=8)
    widths = [p.get_width() for p in ax.patches]
    assert len(widths) == 8
    assert widths == sorted(widths, reverse=True)


def test_occupancy_area_and_given_axes():
    a = js.default_journey().analyze(24)
    _, ax = plt.subplots()
    assert a.plot_occupancy(ax=ax) is ax
    assert a.plot_retention(ax=ax) is ax
