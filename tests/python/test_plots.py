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
    for team in ("Onboarding", "Customer Success", "Account Management"):
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


# -- readable pictures (issue 14, item 7) ---------------------------------------------


def texts_outside(fig, path) -> list[str]:
    """Text that leaves the figure once saved to ``path``, measured by the
    renderer: every label, title, annotation and legend entry by name, and
    "(something drawn)" when anything else drawn (tick labels) sticks out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.savefig(path)
    renderer = fig.canvas.get_renderer()
    box = fig.bbox.padded(0.5)
    out = []
    for ax in fig.axes:
        texts = [*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label]
        if ax.get_legend() is not None:
            texts += [*ax.get_legend().get_texts(), ax.get_legend().get_title()]
        for t in texts:
            if t.get_visible() and t.get_text().strip():
                e = t.get_window_extent(renderer)
                if not (box.x0 <= e.x0 and e.x1 <= box.x1):
                    out.append(t.get_text())
                elif not (box.y0 <= e.y0 and e.y1 <= box.y1):
                    out.append(t.get_text())
        t = ax.get_tightbbox(renderer)
        if not (box.x0 <= t.x0 and t.x1 <= box.x1 and box.y0 <= t.y0 <= t.y1 <= box.y1):
            out.append(f"(something drawn on {ax.get_title() or 'an axes'})")
    return out


@pytest.mark.parametrize("tenure", [0, 11])
def test_journey_map_reads_left_to_right_in_owner_lanes(tenure, tmp_path):
    j = js.default_journey()
    ax = j.plot() if tenure == 0 else js.plot.journey_diagram(j, tenure=tenure)
    fig = ax.figure
    texts = {t.get_text(): t for t in ax.texts}
    # lanes named by owner team, the outcomes in a lane of their own
    lanes = ["Onboarding", "Customer Success", "Account Management", "Marketing"]
    for lane in [*lanes, "outcomes"]:
        assert lane in texts, lane
    assert "(no owner)" not in texts and "no owner" not in texts
    lane_y = {lane: texts[lane].get_position()[1] for lane in [*lanes, "outcomes"]}
    assert sorted(lane_y, key=lane_y.get, reverse=True) == [*lanes, "outcomes"]
    x = {s: texts[s].get_position()[0] for s in j.stages}
    y = {s: texts[s].get_position()[1] for s in j.stages}
    # transient stages left to right in journey order, in their owner's lane
    transient = j.transient
    assert [x[s] for s in transient] == sorted(x[s] for s in transient)
    for s in transient:
        assert lane_y[j.owner(s)] - 0.5 < y[s] < lane_y[j.owner(s)]
    for s in j.absorbing:
        assert lane_y["outcomes"] - 0.5 < y[s] < lane_y["outcomes"]
    # moves labelled as a share per month
    P = j.transition_matrices()[3 if tenure == 0 else 11]
    P = j.transition_matrices()[0] if tenure == 0 else P
    assert "45%/month" in texts if tenure == 0 else "40%/month" in texts
    labelled = [t for t in ax.texts if t.get_text().endswith("%/month")]
    big = sum(1 for a in j.stages for b in j.stages if a != b and P.loc[a, b] >= 0.02)
    assert len(labelled) == big
    # a legend for the moments of truth and the outcomes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "moment of truth: a move" in legend
    assert "moment of truth: a stage" in legend
    assert "outcome (absorbing)" in legend
    # nothing clipped at the figure's edge when saved
    assert texts_outside(fig, tmp_path / "map.png") == []


def test_journey_map_in_a_report_sized_figure_keeps_its_labels(tmp_path):
    j = js.default_journey()
    fig, ax = js.plot.figure(1.5 * len(j.stages) + 2, 1.1 * 6 + 1)
    js.plot.journey_diagram(j, ax=ax)
    assert texts_outside(fig, tmp_path / "report-map.png") == []


def test_journey_map_of_a_journey_without_owners_or_units(tmp_path):
    j = js.Journey(
        ["new", "active", "lost"],
        {"new": {"active": 0.5, "lost": 0.1}, "active": {"lost": 0.05}},
    )
    ax = j.plot()
    texts = [t.get_text() for t in ax.texts]
    assert {"no owner", "outcome", "50%/period", "10%/period", "5%/period"} <= set(
        texts
    )
    assert texts_outside(ax.figure, tmp_path / "plain.png") == []


def test_moments_of_truth_chart_has_a_legend_and_says_its_unit(tmp_path):
    j = js.default_journey()
    m = j.moments_of_truth("clv", 36)
    ax = tornado(m, top=8, units=j.units)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["flagged moment of truth", "other move"]
    assert ax.get_xlabel() == (
        "net value gained per customer ($), from a one-point change"
    )
    lifetime = tornado(j.moments_of_truth("lifetime"), metric="lifetime", units=j.units)
    assert "months" in lifetime.get_xlabel()
    assert texts_outside(ax.figure, tmp_path / "tornado.png") == []


def test_retention_and_occupancy_axes_carry_the_units(tmp_path):
    a = js.default_journey().analyze(36)
    ax = a.plot_retention()
    assert ax.get_xlabel() == "months"
    assert ax.get_ylabel() == "retention (share of customers)"
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "100%" in ticks and "e+" not in "".join(ticks)
    assert 12 in ax.get_xticks() and 24 in ax.get_xticks()  # renewals
    assert texts_outside(ax.figure, tmp_path / "retention.png") == []
    ax = a.plot_occupancy()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("months", "share of customers")
    # pandas objects only: plain periods unless told
    assert js.plot.retention_curve(a.retention).get_xlabel() == "periods"


def test_band_plot_shows_a_visible_band_with_a_legend(tmp_path):
    s = js.default_journey().simulate(2_000, 24, seed=1, replications=8)
    ax = s.plot_band()
    assert ax.get_xlabel() == "months"
    assert ax.get_ylabel() == "retention (share of the starting cohort)"
    bands = [c for c in ax.collections if c.get_label().endswith("over replications")]
    assert len(bands) == 1 and bands[0].get_alpha() >= 0.2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["mean", "5%–95% band over replications"]
    assert texts_outside(ax.figure, tmp_path / "band.png") == []
    revenue = s.plot_band(of="revenue")
    assert revenue.get_ylabel() == (
        "discounted revenue per month ($), all simulated customers"
    )
    stage = s.plot_band(of="at_risk")
    assert stage.get_ylabel() == "customers in at_risk (all simulated customers)"
