"""Plans as projects (issue 15, items 1 and 4): owners, effort, lead times and
start dates, the timeline table and chart; interventions that only cost, and
effects that follow a tenure schedule."""

from __future__ import annotations

import json

import jsonschema
import matplotlib
import numpy as np
import pandas as pd
import pytest
import yaml

import journeysim as js
from journeysim.io import files
from journeysim.model.apply_plan import apply_plan
from journeysim.view.timeline import TimelineRow, draw_timeline, timeline_figure

matplotlib.use("Agg")

approx = pytest.approx


def churny(**kwargs) -> js.Journey:
    """active -> at_risk 0.2, churned 0.05; at_risk -> active 0.3, churned 0.3."""
    return js.Journey(
        ["active", "at_risk", "churned"],
        {
            "active": {"at_risk": 0.2, "churned": 0.05},
            "at_risk": {"active": 0.3, "churned": 0.3},
        },
        values={"revenue": {"active": 100, "at_risk": 80}},
        **kwargs,
    )


def call(**kwargs) -> js.Intervention:
    kw = {"relative_risk": 0.5, "owner": "Customer Success"}
    kw.update(kwargs)
    return js.Intervention("call", at=("at_risk", "churned"), **kw)


# -- item 1: project fields --------------------------------------------------------

BAD = [
    ("owner-empty", lambda: call(owner=""), "owner must be a team's name"),
    ("owner-number", lambda: call(owner=3), "owner must be a team's name"),
    ("effort-negative", lambda: call(effort=-1), "effort must be a number of person"),
    ("effort-text", lambda: call(effort="lots"), "effort"),
    ("effort-bool", lambda: call(effort=True), "effort"),
    ("lead-negative", lambda: call(lead_time=-1), "lead_time must be a whole number"),
    ("lead-fraction", lambda: call(lead_time=1.5), "lead_time must be a whole number"),
    ("lead-bool", lambda: call(lead_time=True), "lead_time must be a whole number"),
    ("start-negative", lambda: js.Plan("p", [call()], start=-1), "start must be"),
    ("start-fraction", lambda: js.Plan("p", [call()], start=2.0), "start must be"),
    (
        "effect-after-calendar",
        lambda: js.Plan("p", [call(calendar=(0, 4), lead_time=2)], start=2),
        "takes effect at period 4 (start 2 + lead time 2), after its calendar",
    ),
]


@pytest.mark.parametrize(
    ("build", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_project_fields_are_input_errors_naming_them(build, message):
    with pytest.raises(js.InputError, match=r"call|plan 'p'") as err:
        build()
    assert message in str(err.value)


def test_start_and_lead_time_are_the_calendar_window_they_mean_exactly():
    # A plan starting at 3 whose call needs 2 periods to set up acts from
    # calendar period 5: the same as calendar=(5, None), with arrivals too
    # (each cohort meets it at another tenure).
    j = churny(discount_rate=0.01, cohort_size=1000, arrivals=200)
    scheduled = js.Plan("scheduled", [call(lead_time=2, cost_per_customer=10)], start=3)
    windowed = js.Plan("windowed", [call(calendar=(5, None), cost_per_customer=10)])
    s = js.compare(j, [scheduled, windowed], periods=12).summary
    a, b = s.loc["scheduled"], s.loc["windowed"]
    assert list(a.index) == list(b.index)
    pd.testing.assert_series_equal(a.rename(None), b.rename(None), check_exact=True)
    assert a["retention at 12"] > s.loc["baseline", "retention at 12"]
    # Within its own calendar window, the later start wins.
    late = js.Plan("late", [call(calendar=(2, 9))], start=4)
    assert late.scheduled[0].calendar == (4, 9)
    assert js.Plan("now", [call()]).scheduled[0] is not None
    assert js.Plan("now", [call()]).effect_calendar(call()) is None


def test_start_and_lead_time_monte_carlo_agrees_with_the_exact_window():
    j = churny(discount_rate=0.01, cohort_size=1000, arrivals=200)
    scheduled = [
        js.Plan("c", [call(lead_time=1, reach=0.7, cost_per_period=5)], start=2)
    ]
    windowed = [js.Plan("c", [call(calendar=(3, None), reach=0.7, cost_per_period=5)])]
    cols = ["retention at 12", "population net value", "intervention cost"]
    exact = js.compare(j, windowed, periods=12).summary.loc["c", cols]
    runs = pd.DataFrame(
        [
            js.compare(j, scheduled, periods=12, customers=1000, seed=s).summary.loc[
                "c", cols
            ]
            for s in range(12)
        ]
    )
    se = runs.std(ddof=1) / np.sqrt(len(runs))
    for c in cols:
        assert abs(runs[c].mean() - exact[c]) < 4 * se[c], c


def test_timeline_table_by_hand():
    j = churny()
    j = js.Journey.from_spec(
        {
            **j.to_spec(),
            "stages": ["active", {"name": "at_risk", "owner": "Success"}, "churned"],
        }
    )
    kit = js.Intervention(
        "kit", at="active", cost_per_customer=5, owner="Marketing", calendar=(1, 12)
    )
    nudge = js.Intervention("nudge", at=("at_risk", "churned"), change=-0.1)
    plans = [
        js.Plan("save", [call(effort=10, lead_time=2), nudge], start=3),
        js.Plan("welcome", [kit], start=4),
    ]
    t = js.timeline(plans, j)
    expected = pd.DataFrame(
        {
            "plan": ["save", "save", "welcome"],
            "intervention": ["call", "nudge", "kit"],
            # nudge has no owner: its stage's owner in the journey's map.
            "owner": pd.Series(
                ["Customer Success", "Success", "Marketing"], dtype=object
            ),
            "start": pd.array([3, 3, 4], dtype="Int64"),
            "effect from": pd.array([5, 3, 4], dtype="Int64"),
            "effect until": pd.array([None, None, 12], dtype="Int64"),
            "effort": [10.0, 0.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(t, expected)
    pd.testing.assert_frame_equal(plans[0].timeline(j), expected.iloc[:2])
    # Without a journey nobody owns nudge.
    assert js.timeline(plans)["owner"].tolist() == [
        "Customer Success",
        None,
        "Marketing",
    ]
    with pytest.raises(js.InputError, match="Plan objects"):
        js.timeline([call()])


def test_timeline_chart_has_one_lane_per_owner_and_a_bar_per_phase():
    plans = [
        js.Plan(
            "save",
            [call(effort=10, lead_time=2), call(owner="Support").replace(name="chat")],
            start=3,
        ),
        js.Plan(
            "welcome",
            [
                js.Intervention(
                    "kit",
                    at="active",
                    cost_fixed=5,
                    owner="Marketing",
                    calendar=(0, 12),
                )
            ],
        ),
    ]
    units = churny(time_unit="week").units
    ax = js.plot_timeline(plans, units=units)
    lanes = [t.get_text() for t in ax.get_yticklabels()]
    assert lanes == ["Customer Success", "Support", "Marketing"]
    assert ax.get_xlabel() == "calendar weeks"
    bars = [p for p in ax.patches if p.get_width() > 0]
    # call: lead time (3-5, hatched) and effect (5-horizon); chat and kit: effect.
    assert len(bars) == 4
    hatched = [p for p in bars if p.get_hatch()]
    assert [(p.get_x(), p.get_width()) for p in hatched] == [(3, 2)]
    kit = [p for p in bars if p.get_x() == 0]
    assert kit[0].get_width() == 12
    labels = [t.get_text() for t in ax.texts]
    assert "call (10 person-days) →" in labels and "kit" in labels
    assert not any("e+" in s for s in labels + lanes)
    # The figure for reports: the same chart on a Figure outside pyplot.
    rows = [TimelineRow("p", "x", None, 0, 1, 4, 2.5)]
    fig = timeline_figure(rows, units)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["no owner named"]
    draw_timeline(rows, units, horizon=10)


# -- item 4: effects that need no trick ----------------------------------------------


def test_cost_only_interventions_change_costs_only():
    j = churny(cohort_size=100)
    licence = js.Intervention("licence", cost_per_period=2)  # everywhere
    desk = js.Intervention("desk", at="at_risk", cost_per_customer=30, reach=0.5)
    s = js.compare(j, [js.Plan("costs", [licence, desk])], periods=12).summary
    base, plan = s.loc["baseline"], s.loc["costs"]
    same = [
        c
        for c in s.columns
        if c.startswith(
            ("retention", "revenue", "lifetime", "expected lifetime", "CLV")
        )
    ]
    assert "CLV" in same and "retention at 12" in same
    for c in same:
        assert plan[c] == base[c], c
    assert plan["population net value"] == base["population net value"]
    # Undiscounted: 2 a customer-period while a customer (start of period) plus
    # 30 for half of those who are ever at risk in 12 periods.
    a = j.analyze(12)
    occ = a.occupancy.to_numpy()[:12, :2].sum()
    # Ever at risk by the start of period 12: at_risk made absorbing.
    first = (
        js.Journey(
            ["active", "at_risk", "churned"],
            {"active": {"at_risk": 0.2, "churned": 0.05}},
        )
        .analyze(11)
        .occupancy["at_risk"]
        .iloc[11]
    )
    assert plan["intervention cost"] == approx(100 * (2 * occ + 0.5 * 30 * first))
    assert plan["incremental net value"] == approx(-plan["intervention cost"])
    assert (
        repr(licence) == "Intervention('licence', at=('*', '*'), costs only, reach=1)"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"at": ("active", "churned")}, "with no effect"),
        ({"at": "active", "reassign_to": "at_risk"}, "reassign_to needs an effect"),
        ({"at": None, "change": -0.1}, "change needs at="),
        ({"at": "active", "relative_risk": {1: 0.5}}, "starts at tenure 0"),
        ({"at": "active", "relative_risk": {}}, "schedule is empty"),
        ({"at": "active", "relative_risk": []}, "schedule is empty"),
        ({"at": "active", "relative_risk": {0: 0.5, 2: -1}}, "relative_risk must be"),
        ({"at": "active", "probability": [0.5, 1.2]}, "probability must be in"),
        ({"at": "active", "change": {"soon": 0.1}}, "keys are tenures"),
        ({"at": "active", "change": {0: 0.1, "0": 0.2}}, "names a tenure twice"),
    ],
)
def test_bad_cost_only_and_scheduled_interventions(kwargs, message):
    with pytest.raises(js.InputError, match="intervention 'x'") as err:
        js.Intervention("x", **kwargs)
    assert message in str(err.value)


def _hand_built(rows_by_tenure) -> js.Journey:
    return js.Journey(
        ["active", "at_risk", "churned"],
        rows_by_tenure,
        values={"revenue": {"active": 100, "at_risk": 80}},
        discount_rate=0.01,
    )


@pytest.mark.parametrize(
    ("effect", "pieces"),
    [
        # at_risk -> churned 0.3 times 0.5, 0.7, 1.0 from tenure 0, 3, 6; the freed
        # probability goes to active.
        (
            {"relative_risk": {0: 0.5, 3: 0.7, 6: 1.0}},
            {0: (0.45, 0.15), 3: (0.39, 0.21), 6: (0.3, 0.3)},
        ),
        # A sequence per tenure, the last holding on.
        (
            {"change": [-0.2, -0.1, -0.1, 0.0]},
            {0: (0.5, 0.1), 1: (0.4, 0.2), 3: (0.3, 0.3)},
        ),
        ({"probability": {0: 0.0, 2: 0.15}}, {0: (0.6, 0.0), 2: (0.45, 0.15)}),
    ],
)
def test_a_tenure_schedule_is_the_hand_built_tenure_dependent_journey(effect, pieces):
    iv = js.Intervention(
        "fading", at=("at_risk", "churned"), reassign_to="active", **effect
    )
    j = _hand_built(
        {
            "active": {"at_risk": 0.2, "churned": 0.05},
            "at_risk": {"active": 0.3, "churned": 0.3},
        }
    )
    applied = apply_plan(j, js.Plan("p", [iv]), cost_rate=0.01).journey
    hand = _hand_built(
        {
            t: {
                "active": {"at_risk": 0.2, "churned": 0.05},
                "at_risk": {"active": a, "churned": c},
            }
            for t, (a, c) in pieces.items()
        }
    )
    x, y = applied.analyze(24), hand.analyze(24)
    np.testing.assert_allclose(
        x.occupancy.to_numpy(), y.occupancy.to_numpy(), rtol=0, atol=1e-12
    )
    assert abs(x.value["revenue"] - y.value["revenue"]) < 1e-12 * abs(
        y.value["revenue"]
    )
    assert abs(x.expected_lifetime - y.expected_lifetime) < 1e-12 * y.expected_lifetime
    # compare agrees: the plan row is the hand-built journey's.
    s = js.compare(j, [js.Plan("p", [iv])], periods=24).summary.loc["p"]
    assert s["retention at 24"] == approx(y.retention_at(24), abs=1e-12)


def test_a_schedule_within_a_window_and_a_calendar_start():
    # relative risk 0.5 then 1.0 from tenure 2, the plan acting from period 1:
    # churn 0.2, 0.1, 0.2, ... for the starting cohort.
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.2}})
    iv = js.Intervention("s", at=("active", "churned"), relative_risk={0: 0.5, 2: 1.0})
    s = js.compare(j, [js.Plan("p", [iv], start=1)], periods=3).summary
    assert s.loc["p", "retention at 3"] == approx(0.8 * 0.9 * 0.8, abs=1e-15)


# -- model files ----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_project_fields_and_new_effects_round_trip_through_model_files(
    tmp_path, suffix
):
    plans = [
        js.Plan(
            "save",
            [
                call(effort=12.5, lead_time=2, relative_risk={0: 0.5, 3: 0.7, 6: 1.0}),
                js.Intervention("nudge", at="at_risk", change=[-0.1, -0.05, 0.0]),
                js.Intervention("licence", cost_per_period=2, owner="IT"),
                js.Intervention("desk", at="at_risk", cost_per_customer=3),
            ],
            start=4,
        ),
        js.Plan("plain", [call()]),
    ]
    path = tmp_path / f"plans{suffix}"
    js.save(churny(), path, plans=plans)
    text = path.read_text()
    data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    jsonschema.Draft202012Validator(files.schema()).validate(
        json.loads(json.dumps(data))
    )
    back = js.load_plans(path)
    assert back == plans
    assert back[0].start == 4 and back[0].interventions[0].lead_time == 2
    assert back[0].interventions[0].schedule == plans[0].interventions[0].schedule
    js.compare(js.load(path), back, periods=6)  # the file's plans run on its journey


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": "x", "at": "active", "lead_time": -1}, "lead_time"),
        ({"name": "x", "at": "active", "lead_time": 1.5}, "whole number of periods"),
        ({"name": "x", "at": "active", "effort": "much"}, "effort"),
        ({"name": "x", "at": "active", "owner": 7}, "owner"),
        ({"name": "x", "at": "active", "change": {"a": 0.1}}, "tenures"),
    ],
)
def test_bad_project_fields_in_files_name_their_key(item, message):
    with pytest.raises(js.InputError) as err:
        js.loads(
            json.dumps({"format": "journeysim/1", "interventions": [item]}), "json"
        )
    assert message in str(err.value)
    with pytest.raises(js.InputError, match="start"):
        js.loads(
            json.dumps(
                {"format": "journeysim/1", "plans": [{"name": "p", "start": -2}]}
            ),
            "json",
        )
