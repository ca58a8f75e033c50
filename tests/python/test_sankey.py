"""Flows between stages over a horizon, and their Sankey diagram."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pandas as pd
import pytest

import journeysim as js

# js.sankey is the function; the module it lives in:
sankey_module = importlib.import_module("journeysim.view.sankey")


@pytest.fixture
def go():
    return pytest.importorskip("plotly.graph_objects")


def matrix(f: pd.DataFrame, stages: list[str], column: str = "share") -> np.ndarray:
    """A long flows table back to a from x to matrix."""
    m = f.pivot_table(index="from", columns="to", values=column, aggfunc="sum")
    return m.reindex(index=stages, columns=stages, fill_value=0.0).fillna(0).to_numpy()


def segmented_with_arrivals() -> js.Journey:
    """Two segments with their own onboarding, tenure-dependent, arrivals."""
    return js.Journey(
        ["new", "active", "at_risk", "churned"],
        {
            0: {"new": {"active": 0.6, "churned": 0.1}, "active": {"at_risk": 0.1}},
            2: {"at_risk": {"active": 0.3, "churned": 0.3}},
        },
        segments={
            "smb": {"share": 0.7, "transitions": {"active": {"churned": 0.05}}},
            "ent": {"share": 0.3},
        },
        arrivals=[5.0, 3.0, 0.0, 2.0],
        cohort_size=20.0,
    )


# -- flows: hand-derived ---------------------------------------------------------


def test_flows_of_a_three_stage_journey_by_hand(abc):
    # a -> b with 0.5, b -> c with 0.25; occupancy (a, b, c):
    # t0 (1, 0, 0), t1 (.5, .5, 0), t2 (.25, .625, .125), t3 (.125, .59375, .28125)
    f = js.flows(abc, periods=3)
    assert list(f.columns) == ["from", "to", "customers", "share"]
    assert list(zip(f["from"], f["to"])) == [("a", "b"), ("b", "c")]
    # a -> b: .5 + .25 + .125; b -> c: .5 * .25 + .625 * .25
    np.testing.assert_allclose(f["share"], [0.875, 0.28125], rtol=1e-14)
    np.testing.assert_allclose(f["customers"], f["share"])


def test_stays_complete_the_periods_spent_in_each_stage(abc):
    f = js.flows(abc, periods=3, stay=True)
    stays = f[f["from"] == f["to"]].set_index("from")["share"]
    # a: .5 + .25 + .125; b: (0 + .5 + .625) * .75; c: 0 + 0 + .125
    np.testing.assert_allclose(stays[["a", "b", "c"]], [0.875, 0.84375, 0.125])
    out = f.groupby("from")["share"].sum()
    occupancy = abc.analyze(3).occupancy.iloc[:3].sum()  # t = 0..2
    np.testing.assert_allclose(out[["a", "b", "c"]], occupancy[["a", "b", "c"]])


def test_moves_into_absorbing_stages_are_the_retention_lost(abc):
    a = abc.analyze(3)
    f = js.flows(a)
    into_c = f.loc[f["to"] == "c", "share"].sum()
    assert into_c == pytest.approx(1 - a.retention_at(3), rel=1e-14)  # 0.28125


def test_by_period_lists_each_period_moves(abc):
    f = js.flows(abc, periods=3, by="period")
    assert list(f.columns) == ["period", "from", "to", "customers", "share"]
    got = {(p, a, b): s for p, a, b, s in f[["period", "from", "to", "share"]].values}
    assert got == pytest.approx(
        {
            (1, "a", "b"): 0.5,
            (2, "a", "b"): 0.25,
            (2, "b", "c"): 0.125,
            (3, "a", "b"): 0.125,
            (3, "b", "c"): 0.15625,
        }
    )


def test_cohort_size_scales_customers_not_share():
    j = js.Journey(["a", "b"], {"a": {"b": 0.2}}, cohort_size=1000)
    f = js.flows(j, periods=2)
    assert f["share"].tolist() == pytest.approx([0.2 + 0.8 * 0.2])
    assert f["customers"].tolist() == pytest.approx([1000 * 0.36])


# -- flows: conservation on richer journeys ---------------------------------------


@pytest.mark.parametrize("make", [js.default_journey, segmented_with_arrivals])
def test_flows_conserve_mass(make):
    j = make()
    T = 24
    a = j.analyze(T)
    f = js.flows(a, stay=True)
    stages = j.stages
    share = matrix(f, stages)
    customers = matrix(f, stages, "customers")
    # Every customer-period starting in a stage goes somewhere (or stays).
    np.testing.assert_allclose(
        share.sum(axis=1), a.occupancy.iloc[:T].sum().to_numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        customers.sum(axis=1), a.population.iloc[:T].sum().to_numpy(), rtol=1e-12
    )
    # Moves are the core's flows; moves in are the entries.
    moves = share * (1 - np.eye(len(stages)))
    np.testing.assert_allclose(moves, a.flows.to_numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        (customers * (1 - np.eye(len(stages)))).sum(axis=0),
        a.population_entries.sum().to_numpy(),
        rtol=1e-12,
        atol=1e-12,
    )
    # What flowed into the absorbing stages is what is there at the horizon.
    absorbing = [stages.index(s) for s in j.absorbing]
    transient = [k for k in range(len(stages)) if k not in absorbing]
    into = share[np.ix_(transient, absorbing)].sum()
    assert into == pytest.approx(1 - a.retention_at(T), rel=1e-12)
    pop_into = customers[np.ix_(transient, absorbing)].sum()
    assert pop_into == pytest.approx(a.population.iloc[T, absorbing].sum(), rel=1e-12)


@pytest.mark.parametrize("make", [js.default_journey, segmented_with_arrivals])
def test_periods_add_up_to_the_stage_totals_and_the_entries(make):
    j = make()
    a = j.analyze(18)
    total = js.flows(a, stay=True)
    per = js.flows(a, stay=True, by="period")
    summed = per.groupby(["from", "to"])[["customers", "share"]].sum()
    total = total.set_index(["from", "to"])
    summed = summed.reindex(total.index)
    np.testing.assert_allclose(summed["share"], total["share"], rtol=1e-12)
    np.testing.assert_allclose(summed["customers"], total["customers"], rtol=1e-12)
    moves = per[per["from"] != per["to"]]
    for column, entries in (("share", a.entries), ("customers", a.population_entries)):
        got = moves.pivot_table(
            index="period", columns="to", values=column, aggfunc="sum"
        )
        got = got.reindex(index=entries.index, columns=j.stages).fillna(0.0)
        np.testing.assert_allclose(got.to_numpy(), entries.to_numpy(), atol=1e-12)


def test_a_segment_on_its_own():
    j = segmented_with_arrivals()
    a = j.analyze(12)
    parts = {s: js.flows(a, segment=s) for s in j.segments}
    for s, f in parts.items():
        np.testing.assert_allclose(
            matrix(f, j.stages), a.segments[s].flows.to_numpy(), atol=1e-15
        )
    # The segments' customers make up the population's.
    total = matrix(js.flows(a), j.stages, "customers")
    summed = sum(matrix(f, j.stages, "customers") for f in parts.values())
    np.testing.assert_allclose(summed, total, rtol=1e-12)


def test_journey_and_analysis_give_the_same_flows(abc):
    pd.testing.assert_frame_equal(js.flows(abc, 5), js.flows(abc.analyze(5)))
    assert js.flows(abc).equals(js.flows(abc.analyze(36)))  # default horizon


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "month"}, "by must be 'stage' or 'period'"),
        ({"stay": "yes"}, "stay must be True or False"),
        ({"segment": "enterprise"}, "unknown segment 'enterprise'"),
        ({"periods": 4}, "this analysis covers 3 periods"),
    ],
)
def test_flows_bad_arguments(abc, kwargs, message):
    with pytest.raises(ValueError, match=message):
        js.flows(abc.analyze(3), **kwargs)


def test_flows_needs_a_journey_or_analysis():
    with pytest.raises(ValueError, match="expected a Journey or an Analysis"):
        js.flows("journey.yaml")


# -- Sankey -------------------------------------------------------------------------


def test_sankey_nodes_links_and_values(go, abc):
    fig = js.sankey(abc, periods=3)
    assert isinstance(fig, go.Figure)
    (trace,) = fig.data
    assert trace.type == "sankey"
    assert list(trace.node.label) == ["a", "b", "c"]
    assert list(trace.link.source) == [0, 1]
    assert list(trace.link.target) == [1, 2]
    np.testing.assert_allclose(trace.link.value, [0.875, 0.28125])
    # Read left to right: a, then b, then the absorbing c.
    assert trace.node.x[0] < trace.node.x[1] < trace.node.x[2]
    # Hover: customers and share of the cohort.
    assert "0.875 customers" in trace.link.customdata[0]
    assert "87.50% of the cohort" in trace.link.customdata[0]
    assert "3 periods" in fig.layout.title.text


def test_sankey_counts_customers(go):
    j = js.Journey(["a", "b"], {"a": {"b": 0.2}}, cohort_size=1000, name="trial")
    fig = js.sankey(j, periods=2, title="Trials")
    np.testing.assert_allclose(fig.data[0].link.value, [360.0])
    assert "360 customers" in fig.data[0].link.customdata[0]
    assert "36.00% of the cohort" in fig.data[0].link.customdata[0]
    assert fig.layout.title.text == "Trials"


def test_min_share_leaves_out_small_links_and_their_stages(go, abc):
    fig = js.sankey(abc, periods=3, min_share=0.3)
    assert list(fig.data[0].node.label) == ["a", "b"]  # b -> c carries 0.28125
    np.testing.assert_allclose(fig.data[0].link.value, [0.875])
    fig = js.sankey(abc, periods=3, min_share=0)
    assert len(fig.data[0].link.value) == 2


def test_stage_colours_and_moments_of_truth(go):
    j = js.Journey(
        ["trial", "onboarded", "value", "churned"],
        {
            "trial": {"onboarded": 0.5, "churned": 0.1},
            "onboarded": {"value": 0.4, "churned": 0.1},
            "value": {"churned": 0.05},
        },
        value_stages="value",
        moments_of_truth=["onboarded", ("trial", "churned")],
    )
    fig = js.sankey(j, periods=12)
    node, link = fig.data[0].node, fig.data[0].link
    labels = list(node.label)
    color = dict(zip(labels, node.color))
    width = dict(zip(labels, node.line.width))
    colors = sankey_module.COLORS
    assert color["churned"] == colors["absorbing"]
    assert color["value"] == colors["value"]
    assert color["onboarded"] == colors["moment"]
    assert color["trial"] == colors["transient"]
    assert width["onboarded"] > max(width[s] for s in labels if s != "onboarded")
    pairs = [(labels[s], labels[t]) for s, t in zip(link.source, link.target)]
    by_pair = dict(zip(pairs, link.color))
    assert by_pair[("trial", "churned")] == sankey_module.rgba(colors["moment"], 0.65)
    assert by_pair[("onboarded", "churned")] == sankey_module.rgba(
        colors["absorbing"], 0.4
    )
    # Columns: trial, onboarded, value by distance from the start; churned last.
    x = dict(zip(labels, node.x))
    assert x["trial"] < x["onboarded"] < x["value"] < x["churned"]


def test_default_journey_reads_left_to_right(go):
    j = js.default_journey()
    fig = js.sankey(j)
    x = dict(zip(fig.data[0].node.label, fig.data[0].node.x))
    assert x["onboarding"] == min(x.values())
    assert x["churned"] == x["closed"] == max(x.values())
    assert x["adopting"] < x["active"] < x["expanded"] < x["advocate"]
    # Every move of at least min_share of the cohort is a link.
    f = js.flows(j)
    assert len(fig.data[0].link.value) == int((f["share"] >= 0.005).sum())


def test_stays_are_loops_on_transient_stages(go, abc):
    fig = js.sankey(abc, periods=3, stay=True)
    link = fig.data[0].link
    loops = {
        fig.data[0].node.label[s]: v
        for s, t, v in zip(link.source, link.target, link.value)
        if s == t
    }
    assert loops == pytest.approx({"a": 0.875, "b": 0.84375})  # not absorbing c
    assert "customer-periods" in link.customdata[0]


def test_time_unrolled_sankey(go, abc):
    # Columns at t = 0, 2, 4. From a at 0: a .25, b .625, c .125 at t = 2.
    fig = js.sankey(abc, periods=4, by="period", step=2)
    node, link = fig.data[0].node, fig.data[0].link
    assert list(node.label) == ["a", "a", "b", "c", "a", "b", "c"]
    first = {
        node.label[t]: v
        for s, t, v in zip(link.source, link.target, link.value)
        if s == 0
    }
    assert first == pytest.approx({"a": 0.25, "b": 0.625, "c": 0.125})
    # Every column holds the whole cohort (stays included by default).
    col = dict(zip(range(len(node.x)), node.x))
    into = {}
    for t, v in zip(link.target, link.value):
        into[col[t]] = into.get(col[t], 0.0) + v
    assert list(into.values()) == pytest.approx([1.0, 1.0])
    notes = [a.text for a in fig.layout.annotations]
    assert notes == ["t = 0", "t = 2", "t = 4"]
    assert "a at t=0, b at t=2" in link.customdata[1]


def test_time_unrolled_steps_of_one_are_the_period_flows(go):
    j = js.default_journey()
    fig = js.sankey(j, periods=4, by="period", step=1, min_share=0)
    per = js.flows(j, periods=4, by="period", stay=True)
    link = fig.data[0].link
    assert sorted(link.value) == pytest.approx(sorted(per["customers"]))
    assert len(fig.layout.annotations) == 5


def test_sankey_from_an_analysis_and_as_html(go, abc):
    a = abc.analyze(3)
    fig = a.sankey(min_share=0.3)
    assert list(fig.data[0].node.label) == ["a", "b"]
    page = js.sankey(a).to_html(include_plotlyjs=False, full_html=False)
    assert "sankey" in page


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_share": -0.1}, "min_share must be a number >= 0"),
        ({"min_share": float("nan")}, "min_share must be a number >= 0"),
        ({"step": 2}, "step is for by='period'"),
        ({"by": "period", "step": 0}, "step must be an integer >= 1"),
        ({"by": "period", "step": 1, "periods": 100}, "at most 60"),
        ({"by": "flow"}, "by must be 'stage' or 'period'"),
        ({"title": 3}, "title must be a string"),
    ],
)
def test_sankey_bad_arguments(go, abc, kwargs, message):
    with pytest.raises(ValueError, match=message):
        js.sankey(abc, **kwargs)


def test_sankey_without_plotly(abc, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(ImportError, match=r"pip install 'journeysim\[plotly\]'"):
        js.sankey(abc, periods=3)
    # The flows themselves need no plotly.
    assert len(js.flows(abc, periods=3)) == 2
