"""One-way sensitivity on a plan's uncertain inputs and break-even thresholds
(issue 15, item 5): js.tornado's low and high results are compare's at those
inputs, js.threshold finds where the plan breaks even."""

from __future__ import annotations

import matplotlib
import pytest

import journeysim as js

matplotlib.use("Agg")

PERIODS = 24


def journey(churn_at_risk: float = 0.2, cohort: int = 1000) -> js.Journey:
    return js.Journey(
        ["onboarding", "active", "at_risk", "churned"],
        {
            "onboarding": {"active": 0.5, "churned": 0.15},
            "active": {"at_risk": 0.08, "churned": 0.01},
            "at_risk": {"active": 0.25, "churned": churn_at_risk},
        },
        values={"revenue": {"onboarding": 20.0, "active": 90.0, "at_risk": 80.0}},
        start={"onboarding": 1.0},
        cohort_size=cohort,
        currency="USD",
    )


def call(**kw) -> js.Intervention:
    base = {
        "at": ("onboarding", "churned"),
        "relative_risk": 0.6,
        "reach": 0.8,
        "cost_per_customer": 120.0,
    }
    base.update(kw)
    return js.Intervention("onboarding call", **base)


def plan(**kw) -> js.Plan:
    return js.Plan("onboarding", [call(**kw)])


def net(j: js.Journey, p: js.Plan, column: str = "incremental net value") -> float:
    return float(js.compare(j, [p], PERIODS).summary.loc[p.name, column])


RANGES = {
    "onboarding call.relative_risk": (0.5, 0.8),
    "onboarding call.reach": (0.5, 1.0),
    "onboarding call.cost_per_customer": (80.0, 200.0),
    "transitions.at_risk.churned": (0.15, 0.25),
}


def test_tornado_low_and_high_are_compare_at_those_inputs():
    j, p = journey(), plan()
    t = js.tornado(j, p, RANGES, periods=PERIODS)
    assert isinstance(t, js.Tornado)
    tab = t.table
    assert list(tab["swing"]) == sorted(tab["swing"], reverse=True)
    assert t.base == pytest.approx(net(j, p), abs=1e-12)
    expected = {
        "onboarding call.relative_risk": (
            net(j, plan(relative_risk=0.5)),
            net(j, plan(relative_risk=0.8)),
        ),
        "onboarding call.reach": (net(j, plan(reach=0.5)), net(j, plan(reach=1.0))),
        "onboarding call.cost_per_customer": (
            net(j, plan(cost_per_customer=80.0)),
            net(j, plan(cost_per_customer=200.0)),
        ),
        # The journey built by hand with the move at 0.15 and 0.25: the stay
        # in at_risk gives up the difference (0.55 at base).
        "transitions.at_risk.churned": (net(journey(0.15), p), net(journey(0.25), p)),
    }
    for path, (low, high) in expected.items():
        assert tab.loc[path, "low"] == pytest.approx(low, abs=1e-12, rel=1e-12)
        assert tab.loc[path, "high"] == pytest.approx(high, abs=1e-12, rel=1e-12)
    assert tab.loc["transitions.at_risk.churned", "base input"] == pytest.approx(0.2)
    assert tab.loc["onboarding call.reach", "base input"] == 0.8


def test_tornado_on_a_comparison_column_and_its_plot():
    j, p = journey(), plan()
    t = js.tornado(j, p, RANGES, metric="retention at 12", periods=PERIODS)
    assert t.table.loc["onboarding call.relative_risk", "low"] == pytest.approx(
        js.compare(
            j, [plan(relative_risk=0.5)], PERIODS, horizons=[PERIODS, 12]
        ).summary.loc["onboarding", "retention at 12"],
        abs=1e-12,
    )
    ax = js.tornado(j, p, RANGES, periods=PERIODS).plot()
    assert ax.get_xlabel() == (
        "incremental net value, population of 1,000 customers (USD)"
    )
    labels = [x.get_text() for x in ax.get_yticklabels()]
    assert any("$80" in s and "$200" in s for s in labels)
    assert all("e+" not in s for s in [*labels, ax.get_title()])


def test_tornado_errors():
    j, p = journey(), plan()
    with pytest.raises(
        js.InputError, match=r"unknown input 'call\.reach'.*'onboarding call\.reach'"
    ):
        js.tornado(j, p, {"call.reach": (0.5, 1)})
    with pytest.raises(js.InputError, match="acts by relative_risk, not change"):
        js.tornado(j, p, {"onboarding call.change": (-0.1, 0)})
    with pytest.raises(js.InputError, match=r"must be \(low, high\)"):
        js.tornado(j, p, {"onboarding call.reach": 0.5})
    with pytest.raises(js.InputError, match=r"low 0\.9 is above high 0\.5"):
        js.tornado(j, p, {"onboarding call.reach": (0.9, 0.5)})
    with pytest.raises(js.InputError, match="finite number"):
        js.tornado(j, p, {"onboarding call.reach": (0.5, float("nan"))})
    with pytest.raises(js.InputError, match="reach must be in"):
        js.tornado(j, p, {"onboarding call.reach": (0.5, 1.5)})
    with pytest.raises(js.InputError, match="absorbing"):
        js.tornado(j, p, {"transitions.churned.active": (0.0, 0.1)})
    with pytest.raises(js.InputError, match=r"can be 0 to 0\.75"):
        js.tornado(j, p, {"transitions.at_risk.churned": (0.1, 0.9)})
    with pytest.raises(js.InputError, match=r"unknown metric 'profit'.*'net'"):
        js.tornado(j, p, RANGES, metric="profit")
    with pytest.raises(js.InputError, match="ranges must map"):
        js.tornado(j, p, {})


@pytest.mark.parametrize(
    "parameter",
    [
        "onboarding call.relative_risk",
        "onboarding call.cost_per_customer",
        "onboarding call.reach",
        "transitions.onboarding.churned",
    ],
)
def test_threshold_makes_net_value_zero(parameter):
    j = journey(cohort=1)  # per customer: figures of tens of dollars
    p = plan(cost_per_customer=40.0) if "reach" in parameter else plan()
    if "reach" in parameter:  # the cost is fixed: reach must cover it
        p = js.Plan("onboarding", [call(cost_per_customer=0.0, cost_fixed=30.0)])
    # A move the call multiplies cannot start at 0 (the call would change
    # nothing): a bracket inside.
    bracket = (0.01, 0.5) if parameter.startswith("transitions.") else None
    x = js.threshold(j, p, parameter, periods=PERIODS, bracket=bracket)
    jx, px = j, p
    if parameter.startswith("transitions."):
        jx = js.Journey(
            ["onboarding", "active", "at_risk", "churned"],
            {
                "onboarding": {"active": 0.5, "churned": x},
                "active": {"at_risk": 0.08, "churned": 0.01},
                "at_risk": {"active": 0.25, "churned": 0.2},
            },
            values={"revenue": {"onboarding": 20.0, "active": 90.0, "at_risk": 80.0}},
            start={"onboarding": 1.0},
            cohort_size=1,
        )
    else:
        field = parameter.rpartition(".")[2]
        px = js.Plan("onboarding", [p.interventions[0].replace(**{field: x})])
    assert abs(net(jx, px)) < 1e-8


def test_threshold_at_a_target_and_errors():
    j, p = journey(cohort=1), plan()
    x = js.threshold(
        j,
        p,
        "onboarding call.relative_risk",
        metric="retention at 12",
        target=0.6,
        periods=PERIODS,
    )
    got = js.compare(
        j, [plan(relative_risk=x)], PERIODS, horizons=[PERIODS, 12]
    ).summary.loc["onboarding", "retention at 12"]
    assert got == pytest.approx(0.6, abs=1e-10)
    with pytest.raises(js.InputError, match="no break-even in that range"):
        js.threshold(j, p, "onboarding call.relative_risk", bracket=(0.9, 1.0))
    with pytest.raises(js.InputError, match="unknown input"):
        js.threshold(j, p, "onboarding call.colour")
    with pytest.raises(js.InputError, match="give bracket"):
        js.threshold(
            j,
            js.Plan("c", [call(relative_risk=None, change=-0.05)]),
            "onboarding call.change",
        )
    with pytest.raises(js.InputError, match="bracket must be"):
        js.threshold(j, p, "onboarding call.reach", bracket=0.5)
