"""Exact analytics through the Python API, against closed forms worked by hand
and against an independent numpy implementation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import geometric, random_chain

approx = pytest.approx


# -- the geometric two-stage chain -----------------------------------------------------


@pytest.mark.parametrize("p", [0.5, 0.25, 0.1, 0.03])
def test_geometric_chain(p):
    T = 24
    a = geometric(p).analyze(periods=T)
    q = 1 - p
    t = np.arange(T + 1)
    assert a.expected_lifetime == approx(1 / p, rel=1e-12)
    np.testing.assert_allclose(a.retention, q**t, rtol=1e-12)
    np.testing.assert_allclose(a.hazard, np.full(T, p), rtol=1e-12)
    # periods started alive within the horizon: 1 + q + ... + q^(T-1)
    assert a.lifetime_within_horizon == approx((1 - q**T) / p, rel=1e-12)
    np.testing.assert_allclose(a.occupancy["churned"], 1 - q**t, rtol=1e-12, atol=1e-15)
    assert a.absorption.to_dict() == {"churned": approx(1.0)}
    assert a.stages["remaining_lifetime"].tolist() == approx([1 / p, 0.0])
    assert a.retention_at(12) == approx(q**12, rel=1e-12)


def test_curves_are_labelled_by_period():
    a = geometric(0.5).analyze(periods=3)
    assert list(a.retention.index) == [0, 1, 2, 3]
    assert a.retention.index.name == "period"
    assert list(a.hazard.index) == [1, 2, 3]
    assert list(a.occupancy.index) == [0, 1, 2, 3]
    assert list(a.occupancy.columns) == ["active", "churned"]
    assert a.occupancy.columns.name == "stage"


def test_everyone_gone_after_one_period():
    a = geometric(1.0).analyze(periods=3)
    assert a.retention.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert a.expected_lifetime == 1.0
    # nobody left to churn: the hazard is undefined, not 0
    assert a.hazard.iloc[0] == 1.0
    assert a.hazard.iloc[1:].isna().all()


def test_zero_periods():
    a = geometric(0.5, value=100.0).analyze(periods=0)
    assert a.retention.tolist() == [1.0]
    assert a.occupancy.shape == (1, 2)
    assert a.value_by_period.shape == (0, 2)
    assert a.clv == 0.0
    assert a.lifetime_within_horizon == 0.0
    assert a.lifetime_clv == approx(200.0)  # the whole lifetime is still there


# -- accrual conventions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("accrual", "lifetime", "by_period"),
    [
        # the worked example of Journey.analyze: churn 0.5, value 100, r = 0
        ("start", 200.0, [100.0, 50.0, 25.0]),  # on x_0, x_1, x_2
        ("end", 100.0, [50.0, 25.0, 12.5]),  # on x_1, x_2, x_3
        ("half-cycle", 150.0, [75.0, 37.5, 18.75]),  # on the averages
        ("life-table", 150.0, [75.0, 37.5, 18.75]),  # the same when r = 0
    ],
)
def test_accrual_conventions_worked_example(accrual, lifetime, by_period):
    a = geometric(0.5, value=100.0).analyze(periods=3, accrual=accrual)
    assert a.accrual == accrual
    assert a.lifetime_clv == approx(lifetime, rel=1e-12)
    assert a.lifetime_value["revenue"] == approx(lifetime, rel=1e-12)
    assert a.value_by_period["revenue"].tolist() == approx(by_period, rel=1e-12)
    assert a.clv == approx(sum(by_period), rel=1e-12)
    assert a.value["net"] == a.clv


def test_accrual_does_not_change_occupancy_or_lifetime():
    results = [
        geometric(0.25, value=1.0).analyze(periods=5, accrual=acc)
        for acc in ("start", "end", "half-cycle", "life-table")
    ]
    for a in results[1:]:
        np.testing.assert_array_equal(a.occupancy, results[0].occupancy)
        assert a.expected_lifetime == results[0].expected_lifetime


@pytest.mark.parametrize(
    ("p", "r"), [(0.5, 0.25), (0.5, 0.0), (0.1, 0.01), (0.25, 0.1), (0.2, -0.1)]
)
def test_accrual_conventions_with_discounting(p, r):
    # Survival q = 1 - p, discount factor d = 1/(1+r), x = q d; v = 100 in active.
    #   start:  sum_k v q^(k-1) d^(k-1)                   = v / (1 - x)
    #   end:    sum_k v q^k d^k                           = v x / (1 - x)
    #   half:   sum_k v (q^(k-1) + q^k)/2 d^(k-1/2)       = v (1+q)/2 sqrt(d) / (1 - x)
    #   life:   sum_k v (q^(k-1) + q^k)/2 d^(k-1)         = v (1+q)/2 / (1 - x)
    # and over T periods each is the same times (1 - x^T).
    v, T = 100.0, 7
    q, d = 1 - p, 1 / (1 + r)
    x = q * d
    closed = {
        "start": v / (1 - x),
        "end": v * x / (1 - x),
        "half-cycle": v * (1 + q) / 2 * math.sqrt(d) / (1 - x),
        "life-table": v * (1 + q) / 2 / (1 - x),
    }
    for accrual, lifetime in closed.items():
        a = geometric(p, value=v, rate=r).analyze(periods=T, accrual=accrual)
        assert a.lifetime_clv == approx(lifetime, rel=1e-12), accrual
        assert a.clv == approx(lifetime * (1 - x**T), rel=1e-12), accrual
        assert a.stages.loc["active", "lifetime_clv"] == approx(lifetime, rel=1e-12)
        assert a.stages.loc["churned", "lifetime_clv"] == 0.0


def test_accrual_conventions_with_discounting_worked_by_hand():
    # p = 0.5, r = 0.25: d = 0.8, q d = 0.4.
    # start: 100 / 0.6 = 166.67; by period 100, 100*.5*.8 = 40, 100*.25*.64 = 16
    # end: 100 * 0.4 / 0.6 = 66.67; by period 100*.5*.8 = 40, 16, 6.4
    # half-cycle: 75 sqrt(.8) / .6 = 125 sqrt(.8); by period 75 sqrt(.8) * .4^(k-1)
    # life-table (heemod): 75 / .6 = 125; by period (1+.5)/2*100 = 75, 75*.4 = 30, 12
    j = geometric(0.5, value=100.0, rate=0.25)
    start = j.analyze(periods=3, accrual="start")
    end = j.analyze(periods=3, accrual="end")
    half = j.analyze(periods=3, accrual="half-cycle")
    assert start.lifetime_clv == approx(500 / 3, rel=1e-12)
    assert start.value_by_period["revenue"].tolist() == approx([100.0, 40.0, 16.0])
    assert end.lifetime_clv == approx(200 / 3, rel=1e-12)
    assert end.value_by_period["revenue"].tolist() == approx([40.0, 16.0, 6.4])
    assert half.lifetime_clv == approx(125 * math.sqrt(0.8), rel=1e-12)
    h = 75 * math.sqrt(0.8)
    assert half.value_by_period["revenue"].tolist() == approx([h, 0.4 * h, 0.16 * h])
    life = j.analyze(periods=3, accrual="life-table")
    assert life.lifetime_clv == approx(125.0, rel=1e-12)
    assert life.value_by_period["revenue"].tolist() == approx([75.0, 30.0, 12.0])
    # the undiscounted amounts do not depend on r
    assert start.value_by_period_nominal["revenue"].tolist() == approx([100, 50, 25])


# -- several streams: rates and net weights --------------------------------------------


def two_streams(**kwargs):
    return geometric(
        0.5,
        values={"revenue": {"active": 100.0}, "cost": {"active": 40.0}},
        **kwargs,
    )


def test_per_stream_discount_rates():
    # revenue at r = 0.25: 100 / (1 - 0.5*0.8) = 500/3; cost at r = 0: 40 / 0.5 = 80
    a = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.5}},
        values={"revenue": {"active": 100.0}, "cost": {"active": 40.0}},
        discount_rate={"revenue": 0.25},  # cost: not named, so 0
        net={"revenue": 1, "cost": -1},
    ).analyze(periods=2)
    assert a.lifetime_value["revenue"] == approx(500 / 3, rel=1e-12)
    assert a.lifetime_value["cost"] == approx(80.0, rel=1e-12)
    assert a.lifetime_clv == approx(500 / 3 - 80, rel=1e-12)
    # period 2 earns on x_1 = 0.5: revenue 100*.5*.8 = 40, cost 40*.5 = 20
    assert a.value_by_period.loc[2].to_dict() == approx(
        {"revenue": 40.0, "cost": 20.0, "net": 20.0}
    )
    assert list(a.value.index) == ["revenue", "cost", "net"]
    assert a.value.index.name == "stream"


@pytest.mark.parametrize(
    ("net", "lifetime_clv"),
    [
        (None, 200.0 + 80.0),  # default: every stream with +1
        ({"revenue": 1, "cost": -1}, 200.0 - 80.0),  # net = revenue - cost
        ({"revenue": 1}, 200.0),  # a stream not named weighs 0
        ({"revenue": 0.5, "cost": -2}, 100.0 - 160.0),
    ],
)
def test_net_weights(net, lifetime_clv):
    # r = 0, start accrual: revenue 100 * 2 = 200, cost 40 * 2 = 80 over the lifetime
    a = two_streams(net=net).analyze(periods=1)
    assert a.lifetime_clv == approx(lifetime_clv, rel=1e-12)
    assert a.lifetime_value["net"] == a.lifetime_clv
    # period 1 earns on x_0 = (1, 0): revenue 100, cost 40
    w = net or {"revenue": 1, "cost": 1}
    assert a.clv == approx(100 * w.get("revenue", 0) + 40 * w.get("cost", 0))


# -- transition values -----------------------------------------------------------------


def fee_journey(tv, rate=0.0):
    # trial and lapsed (half each) renew or churn in period 1; renewed churn in
    # period 2.
    return js.Journey(
        ["trial", "lapsed", "renewed", "churned"],
        {
            "trial": {"renewed": 0.4, "churned": 0.6},
            "lapsed": {"renewed": 0.2, "churned": 0.8},
            "renewed": {"churned": 1.0},
        },
        transition_values=tv,
        start={"trial": 0.5, "lapsed": 0.5},
        discount_rate=rate,
    )


@pytest.mark.parametrize("accrual", ["start", "end", "half-cycle", "life-table"])
def test_a_transition_value_is_incurred_in_the_period_of_the_move(accrual):
    # fee 30 on active -> churned, p = 0.5, d = 0.8:
    # sum_k q^(k-1) p 30 d^k = 30 p d / (1 - q d) = 30 * 0.4 / 0.6 = 20,
    # whatever the accrual convention of the stage values.
    j = geometric(
        0.5, rate=0.25, transition_values={"fee": {("active", "churned"): 30}}
    )
    a = j.analyze(periods=2, accrual=accrual)
    assert a.lifetime_value["fee"] == approx(20.0, rel=1e-12)
    # period 1: 0.5 * 30 * 0.8 = 12; period 2: 0.25 * 30 * 0.64 = 4.8
    assert a.value_by_period["fee"].tolist() == approx([12.0, 4.8])


def test_wildcard_transition_values():
    a = fee_journey(
        {"renewal_fee": {("*", "renewed"): 10.0}, "exit_fee": {("renewed", "*"): 5.0}}
    ).analyze(periods=3)
    # period 1: 0.5*0.4 + 0.5*0.2 = 0.3 enter renewed: 10 * 0.3 = 3; moves into
    # churned pay no renewal fee. Period 2: the 0.3 leave renewed: 5 * 0.3 = 1.5.
    assert a.value_by_period["renewal_fee"].tolist() == approx([3.0, 0.0, 0.0])
    assert a.value_by_period["exit_fee"].tolist() == approx([0.0, 1.5, 0.0])
    assert a.lifetime_value.to_dict() == approx(
        {"renewal_fee": 3.0, "exit_fee": 1.5, "net": 4.5}
    )


def test_wildcard_transition_values_are_discounted_like_end():
    a = fee_journey(
        {"renewal_fee": {("*", "renewed"): 10.0}, "exit_fee": {("renewed", "*"): 5.0}},
        rate=0.25,
    ).analyze(periods=3)
    # 3 * 0.8 = 2.4 in period 1, 1.5 * 0.64 = 0.96 in period 2
    assert a.value_by_period["renewal_fee"].tolist() == approx([2.4, 0.0, 0.0])
    assert a.value_by_period["exit_fee"].tolist() == approx([0.0, 0.96, 0.0])


def test_a_named_move_after_the_wildcard_overrides_it():
    a = fee_journey(
        {"fee": {("*", "renewed"): 10.0, ("lapsed", "renewed"): 4.0}}
    ).analyze(periods=1)
    # trial -> renewed 0.2 * 10 + lapsed -> renewed 0.1 * 4
    assert a.clv == approx(2.4)


def test_transition_values_as_a_matrix():
    M = np.zeros((4, 4))
    M[0, 2] = 10.0  # trial -> renewed
    a = fee_journey({"fee": M}).analyze(periods=2)
    assert a.value_by_period["fee"].tolist() == approx([2.0, 0.0])


def test_stage_values_and_transition_values_in_one_stream():
    j = geometric(
        0.5,
        values={"revenue": {"active": 100.0}},
        transition_values={"revenue": {("active", "churned"): -20.0}},
    )
    # 200 earned over the lifetime, a -20 exit once: 180
    assert j.analyze(periods=1).lifetime_clv == approx(180.0)


# -- absorption ------------------------------------------------------------------------


def gamblers_ruin(N: int, p: float, start: int) -> js.Journey:
    stages = [str(i) for i in range(N + 1)]
    rows = {str(i): {str(i + 1): p, str(i - 1): 1 - p} for i in range(1, N)}
    return js.Journey(stages, rows, start=str(start))


def test_gamblers_ruin_biased():
    # N = 5, p = 0.6, from 2: with r = q/p = 2/3,
    # P(reach 5) = (1 - r^2) / (1 - r^5) = (5/9) / (211/243) = 135/211.
    a = gamblers_ruin(5, 0.6, 2).analyze(periods=10)
    assert a.absorption.index.tolist() == ["0", "5"]
    assert a.absorption["5"] == approx(135 / 211, rel=1e-12)
    assert a.absorption["0"] == approx(76 / 211, rel=1e-12)
    # expected duration i/(q-p) - N/(q-p) * P(reach N) = -10 + 25 * 135/211
    assert a.expected_lifetime == approx(1265 / 211, rel=1e-12)


def test_gamblers_ruin_fair():
    # fair game: P(reach N from i) = i/N, expected duration i (N - i)
    a = gamblers_ruin(5, 0.5, 2).analyze(periods=10)
    assert a.absorption.to_dict() == approx({"0": 0.6, "5": 0.4}, rel=1e-12)
    assert a.expected_lifetime == approx(6.0, rel=1e-12)
    assert a.stages["remaining_lifetime"].tolist() == approx(
        [0.0, 4.0, 6.0, 6.0, 4.0, 0.0], rel=1e-12
    )


# -- time to value ---------------------------------------------------------------------


def ttv_journey(**kwargs) -> js.Journey:
    return js.Journey(
        ["onboarding", "adopting", "value", "churned"],
        {
            "onboarding": {"adopting": 0.5, "churned": 0.25},  # stays 0.25
            "adopting": {"value": 0.5, "churned": 0.25},  # stays 0.25
            "value": {"churned": 0.1},  # value is not absorbing: first passage
        },
        value_stages="value",
        **kwargs,
    )


def test_time_to_value_solved_by_hand():
    # h = P(ever reach value):  h_a = 0.5 + 0.25 h_a -> 2/3;
    #                           h_o = 0.5 h_a + 0.25 h_o -> 4/9.
    # Those who do leave each stage with 0.75 a period: 4/3 periods in each,
    # 8/3 in all (and 4/3 from adopting).
    a = ttv_journey().analyze(periods=4)
    ttv = a.time_to_value
    assert ttv["reached"] == approx(4 / 9, rel=1e-12)
    assert ttv["mean_periods"] == approx(8 / 3, rel=1e-12)
    # first passage at k = 2, 3, 4 with probability (k-1) 0.25^(k-1):
    # 0.25, 0.125, 0.046875
    assert a.value_reached.tolist() == approx([0.0, 0.0, 0.25, 0.375, 0.421875])
    assert ttv["reached_within_horizon"] == approx(0.421875)


@pytest.mark.parametrize(
    ("start", "reached", "mean"),
    [
        ("adopting", 2 / 3, 4 / 3),
        ("value", 1.0, 0.0),
        ("churned", 0.0, math.nan),
        # a mixture: reached 0.5 (4/9 + 2/3) = 5/9;
        # mean (0.5 * 4/9 * 8/3 + 0.5 * 2/3 * 4/3) / (5/9) = 28/15
        ({"onboarding": 0.5, "adopting": 0.5}, 5 / 9, 28 / 15),
    ],
)
def test_time_to_value_from_other_starts(start, reached, mean):
    ttv = ttv_journey(start=start).analyze(periods=4).time_to_value
    assert ttv["reached"] == approx(reached, rel=1e-12)
    assert ttv["mean_periods"] == approx(mean, rel=1e-12, nan_ok=True)


def test_no_value_stages_means_no_time_to_value():
    a = geometric(0.5).analyze(periods=2)
    assert a.time_to_value.isna().all()
    assert "time to value" not in a.summary()


# -- tenure dependence -----------------------------------------------------------------


def first_period_churn() -> js.Journey:
    # half churn in the first period (tenure 0), then 10 % a period
    return js.Journey(
        ["active", "churned"],
        {0: {"active": {"churned": 0.5}}, 1: {"active": {"churned": 0.1}}},
        values={"revenue": {0: {"active": -50.0}, 2: {"active": 100.0}}},
    )


def test_tenure_dependent_retention_worked_by_hand():
    a = first_period_churn().analyze(periods=4)
    # retention 1, 0.5, 0.5*0.9, 0.5*0.9^2, ...
    assert a.retention.tolist() == approx([1.0, 0.5, 0.45, 0.405, 0.3645])
    assert a.hazard.tolist() == approx([0.5, 0.1, 0.1, 0.1])
    # 1 period for everyone, then 0.5 * 1/0.1
    assert a.expected_lifetime == approx(6.0, rel=1e-12)
    assert a.stages.loc["active", "remaining_lifetime"] == approx(6.0, rel=1e-12)
    assert a.lifetime_within_horizon == approx(1 + 0.5 + 0.45 + 0.405)


def test_tenure_dependent_values_worked_by_hand():
    a = first_period_churn().analyze(periods=4)
    # -50 on x_0 and on x_1, 100 from tenure 2 on:
    # -50 - 25 + 100 * (0.45 + 0.405 + ...) = -75 + 100 * 0.45 / 0.1 = 375
    assert a.value_by_period["revenue"].tolist() == approx([-50.0, -25.0, 45.0, 40.5])
    assert a.lifetime_clv == approx(375.0, rel=1e-12)


def test_tenure_dependence_versus_a_journey_started_later():
    # The per-stage table is at tenure 0: from "active" it is the -50 first.
    a = first_period_churn().analyze(periods=2)
    assert a.stages.loc["active", "lifetime_clv"] == approx(375.0, rel=1e-12)


# -- segments --------------------------------------------------------------------------


def two_segments() -> js.Journey:
    return js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.1}},
        values={"revenue": {"active": 100.0}},
        segments={
            "fast": {"share": 0.3, "transitions": {"active": {"churned": 0.5}}},
            "slow": {"share": 0.7},
        },
    )


def test_segments_are_share_weighted_mixtures():
    T = 6
    a = two_segments().analyze(periods=T)
    t = np.arange(T + 1)
    retention = 0.3 * 0.5**t + 0.7 * 0.9**t
    np.testing.assert_allclose(a.retention, retention, rtol=1e-12)
    np.testing.assert_allclose(
        a.hazard, (retention[:-1] - retention[1:]) / retention[:-1], rtol=1e-12
    )
    assert a.expected_lifetime == approx(0.3 * 2 + 0.7 * 10, rel=1e-12)  # 7.6
    assert a.lifetime_clv == approx(760.0, rel=1e-12)
    assert a.clv == approx(100 * retention[:-1].sum(), rel=1e-12)
    assert a.absorption.to_dict() == approx({"churned": 1.0})
    assert a.stages.loc["active", "remaining_lifetime"] == approx(7.6, rel=1e-12)


def test_analysis_segments_per_segment():
    a = two_segments().analyze(periods=6)
    assert list(a.segments) == ["fast", "slow"]
    fast, slow = a.segments["fast"], a.segments["slow"]
    assert fast.expected_lifetime == approx(2.0, rel=1e-12)
    assert slow.expected_lifetime == approx(10.0, rel=1e-12)
    assert fast.lifetime_clv == approx(200.0, rel=1e-12)
    assert slow.retention_at(3) == approx(0.9**3, rel=1e-12)
    np.testing.assert_allclose(
        0.3 * fast.occupancy + 0.7 * slow.occupancy, a.occupancy, rtol=1e-14
    )


def test_an_unsegmented_analysis_has_no_segments():
    assert geometric(0.5).analyze(periods=1).segments == {}


def test_each_segment_starts_where_it_says():
    j = js.Journey(
        ["trial", "paid", "churned"],
        {"trial": {"paid": 0.5, "churned": 0.5}, "paid": {"churned": 0.25}},
        segments={
            "self-serve": {"share": 0.5},
            "sales": {"share": 0.5, "start": "paid"},
        },
    )
    a = j.analyze(periods=1)
    # self-serve: 1 + 0.5 * 4 = 3 periods; sales: 4 periods
    assert a.segments["self-serve"].expected_lifetime == approx(3.0)
    assert a.segments["sales"].expected_lifetime == approx(4.0)
    assert a.expected_lifetime == approx(3.5)
    assert a.occupancy.loc[0].tolist() == [0.5, 0.5, 0.0]


# -- arrivals and population -----------------------------------------------------------


def test_constant_arrivals_population():
    # 100 at t = 0 and 10 more every period, churn 0.5:
    # active at t: 100 * 0.5^t + 10 * (1 + 0.5 + ... + 0.5^(t-1))
    j = geometric(0.5, value=100.0, cohort_size=100.0, arrivals=10.0)
    a = j.analyze(periods=3)
    assert a.population["active"].tolist() == approx([100.0, 60.0, 40.0, 30.0])
    # everybody who ever joined is somewhere: 100 + 10 t
    assert a.population.sum(axis=1).tolist() == approx([100.0, 110.0, 120.0, 130.0])
    assert a.population["churned"].tolist() == approx([0.0, 50.0, 80.0, 100.0])
    # the customer-level figures are for one customer of the first cohort
    assert a.occupancy["active"].tolist() == approx([1.0, 0.5, 0.25, 0.125])


def test_arrivals_as_a_sequence_stop_after_it():
    j = geometric(0.5, cohort_size=100.0, arrivals=[10.0, 20.0])
    a = j.analyze(periods=3)
    # t = 2: 25 + 10 * 0.5 + 20; t = 3: 12.5 + 2.5 + 10 (no one joins at 3)
    assert a.population["active"].tolist() == approx([100.0, 60.0, 50.0, 25.0])


def test_population_value_by_period_worked_by_hand():
    # revenue 100 at r = 0.25 and cost 40 at r = 0 per active customer per period,
    # "start" accrual: calendar period c earns on the population at c - 1
    # (100, 60, 40 active), discounted by 0.8^(c-1) for revenue.
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.5}},
        values={"revenue": {"active": 100.0}, "cost": {"active": 40.0}},
        discount_rate={"revenue": 0.25, "cost": 0.0},
        net={"revenue": 1, "cost": -1},
        cohort_size=100.0,
        arrivals=10.0,
    )
    a = j.analyze(periods=3)
    pv = a.population_value_by_period
    assert pv["revenue"].tolist() == approx([10000.0, 4800.0, 2560.0])
    assert pv["cost"].tolist() == approx([4000.0, 2400.0, 1600.0])
    assert pv["net"].tolist() == approx([6000.0, 2400.0, 960.0])
    nominal = a.population_value_by_period_nominal
    assert nominal["revenue"].tolist() == approx([10000.0, 6000.0, 4000.0])
    assert nominal["net"].tolist() == approx([6000.0, 3600.0, 2400.0])
    assert a.population_value.to_dict() == approx(
        {"revenue": 17360.0, "cost": 8000.0, "net": 9360.0}
    )


def test_population_without_arrivals_scales_the_cohort():
    a = geometric(0.5, value=100.0, cohort_size=250.0).analyze(periods=2)
    np.testing.assert_allclose(a.population, 250.0 * a.occupancy, rtol=0)
    np.testing.assert_allclose(
        a.population_value_by_period, 250.0 * a.value_by_period, rtol=0
    )


def test_segment_populations_add_up_to_the_population():
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.1}},
        values={"revenue": {"active": 100.0}},
        segments={
            "fast": {"share": 0.3, "transitions": {"active": {"churned": 0.5}}},
            "slow": {"share": 0.7},
        },
        cohort_size=100.0,
        arrivals=10.0,
    )
    a = j.analyze(periods=3)
    # fast: 30 at t = 0 and 3 joining a period: 30, 18, 12, 9 active
    assert a.segments["fast"].population["active"].tolist() == approx(
        [30.0, 18.0, 12.0, 9.0]
    )
    total = sum(s.population for s in a.segments.values())
    np.testing.assert_allclose(total, a.population, rtol=1e-12)


# -- the per-stage table ---------------------------------------------------------------


def per_stage_journey(start=None) -> js.Journey:
    return js.Journey(
        ["new", "engaged", "at_risk", "won_back", "churned", "upgraded"],
        {
            0: {
                "new": {"engaged": 0.5, "at_risk": 0.2, "churned": 0.1},
                "engaged": {"at_risk": 0.1, "upgraded": 0.05},
                "at_risk": {"won_back": 0.3, "churned": 0.3},
                "won_back": {"engaged": 0.4, "at_risk": 0.2},
            },
            2: {"new": {"churned": 0.5}},
        },
        values={
            "revenue": {
                "new": 10.0,
                "engaged": 50.0,
                "at_risk": 40.0,
                "won_back": 45.0,
            },
            "cost": {0: {"new": 30.0, "at_risk": 10.0}, 1: {"new": 5.0}},
        },
        transition_values={"cost": {("at_risk", "won_back"): 20.0}},
        discount_rate={"revenue": 0.02, "cost": 0.01},
        net={"revenue": 1, "cost": -1},
        start=start,
    )


def test_per_stage_table_is_the_journey_started_in_each_stage():
    T = 12
    table = per_stage_journey().analyze(periods=T).stages
    assert list(table.columns) == [
        "remaining_lifetime",
        "remaining_lifetime_within_horizon",
        "revenue",
        "cost",
        "clv",
        "lifetime_clv",
    ]
    for stage in table.index:
        a = per_stage_journey(start=stage).analyze(periods=T)
        row = table.loc[stage]
        assert row["remaining_lifetime"] == approx(a.expected_lifetime, rel=1e-12)
        assert row["remaining_lifetime_within_horizon"] == approx(
            a.lifetime_within_horizon, rel=1e-12
        )
        assert row["revenue"] == approx(a.value["revenue"], rel=1e-12)
        assert row["cost"] == approx(a.value["cost"], rel=1e-12)
        assert row["clv"] == approx(a.clv, rel=1e-12)
        assert row["lifetime_clv"] == approx(a.lifetime_clv, rel=1e-12)
    assert table.loc[["churned", "upgraded"], "remaining_lifetime"].tolist() == [0, 0]


# -- infinite lifetimes ----------------------------------------------------------------


def parked(**kwargs) -> js.Journey:
    # "loyal" stays put but is not declared absorbing: customers there never leave.
    return js.Journey(
        ["active", "loyal", "churned"],
        {"active": {"loyal": 0.5, "churned": 0.25}},
        absorbing=["churned"],
        **kwargs,
    )


def test_a_stage_that_is_never_absorbed_gives_an_infinite_lifetime():
    with pytest.warns(js.InfiniteLifetimeWarning, match=r"stage 'loyal' can never be"):
        a = parked().analyze(periods=4)
    assert a.expected_lifetime == math.inf
    assert a.stages["remaining_lifetime"].tolist() == [math.inf, math.inf, 0.0]
    # active churns with 0.25 / (0.25 + 0.5) = 1/3, and loyal never does
    assert a.absorption.to_dict() == approx({"churned": 1 / 3})
    # retention_t = 1 - (1/3)(1 - 0.25^t): finite within the horizon
    t = np.arange(5)
    np.testing.assert_allclose(a.retention, 1 - (1 - 0.25**t) / 3, rtol=1e-12)
    assert a.lifetime_within_horizon == approx(a.retention.iloc[:-1].sum())


def test_infinite_lifetime_values():
    with pytest.warns(js.InfiniteLifetimeWarning):
        a = parked(values={"revenue": {"loyal": 10.0}}).analyze(periods=2)
    assert a.lifetime_clv == math.inf
    # discounting makes it finite: loyal 10 / (1 - 0.8) = 50; active
    # W = 0.8 (0.25 W + 0.5 * 50) -> W = 25
    with pytest.warns(js.InfiniteLifetimeWarning):
        a = parked(values={"revenue": {"loyal": 10.0}}, discount_rate=0.25).analyze(2)
    assert a.expected_lifetime == math.inf
    assert a.stages["lifetime_clv"].tolist() == approx([25.0, 50.0, 0.0])
    assert a.lifetime_clv == approx(25.0)


def test_infinite_lifetime_warning_is_a_journey_warning():
    assert issubclass(js.InfiniteLifetimeWarning, js.JourneyWarning)
    assert issubclass(js.JourneyWarning, UserWarning)
    with pytest.warns(
        js.JourneyWarning, match=r"stages 'a', 'b' can never be absorbed"
    ):
        a = js.Journey(["a", "b"], {"a": {"b": 0.5}, "b": {"a": 0.5}}).analyze(2)
    assert a.retention.tolist() == [1.0, 1.0, 1.0]
    assert a.absorption.empty


def test_infinite_lifetime_warning_names_the_segment():
    j = js.Journey(
        ["active", "loyal", "churned"],
        {"active": {"churned": 0.5}, "loyal": {"churned": 0.5}},
        absorbing=["churned"],
        segments={
            "a": {"share": 0.5},
            "b": {
                "share": 0.5,
                "transitions": {
                    "active": {"loyal": 0.25, "churned": 0.25},
                    "loyal": {"loyal": 1.0},
                },
            },
        },
    )
    with pytest.warns(js.InfiniteLifetimeWarning, match=r"segment 'b': stage 'loyal'"):
        a = j.analyze(periods=2)
    assert a.expected_lifetime == math.inf
    assert a.segments["a"].expected_lifetime == approx(2.0)


def test_no_warning_when_every_stage_can_be_absorbed():
    # filterwarnings = error: any warning here would fail the test
    a = geometric(0.5).analyze(periods=3)
    assert math.isfinite(a.expected_lifetime)


# -- summary ---------------------------------------------------------------------------


def test_summary_headline_figures():
    j = ttv_journey(values={"revenue": {"adopting": 10.0, "value": 20.0}})
    a = j.analyze(periods=12)
    s = a.summary()
    assert list(s.index) == [
        "retention at 3 periods",
        "retention at 12 periods",
        "expected lifetime (periods)",
        "lifetime within 12 periods (periods)",
        "reached value",
        "time to value (periods)",
        "CLV over 12 periods",
        "CLV over the lifetime",
        "NRR over 12 periods",
        "GRR over 12 periods",
    ]
    assert s["retention at 3 periods"] == a.retention_at(3)
    assert s["time to value (periods)"] == approx(8 / 3)
    assert s["CLV over 12 periods"] == a.clv
    assert repr(a).startswith("<Analysis over 12 periods, accrual='start'>")


# -- against an independent numpy implementation ---------------------------------------


@pytest.mark.parametrize("accrual", ["start", "end"])
def test_random_12_stage_journey_against_numpy(rng, accrual):
    n, n_abs, T, r = 12, 2, 40, 0.02
    stages = [f"s{i}" for i in range(n)]
    P = random_chain(n, n_abs, rng)
    v = rng.normal(100.0, 30.0, n)
    v[-n_abs:] = 0.0
    x0 = rng.random(n)
    x0[-n_abs:] = 0.0
    x0 /= x0.sum()
    j = js.Journey.from_matrix(
        pd.DataFrame(P, index=stages, columns=stages),
        values={"revenue": dict(zip(stages, v, strict=True))},
        start=x0,
        discount_rate=r,
    )
    a = j.analyze(periods=T, accrual=accrual)
    tol = {"rtol": 1e-10, "atol": 1e-10}

    # occupancy by repeated vector-matrix products
    occ = [x0]
    for _ in range(T):
        occ.append(occ[-1] @ P)
    occ = np.array(occ)
    np.testing.assert_allclose(a.occupancy, occ, **tol)
    np.testing.assert_allclose(a.retention, occ[:, : n - n_abs].sum(axis=1), **tol)

    # fundamental matrix N = (I - Q)^-1, lifetime N 1, absorption B = N R
    tr, ab = np.arange(n - n_abs), np.arange(n - n_abs, n)
    Q, R = P[np.ix_(tr, tr)], P[np.ix_(tr, ab)]
    N = np.linalg.inv(np.eye(n - n_abs) - Q)
    lifetime = N.sum(axis=1)
    assert a.expected_lifetime == approx(x0[tr] @ lifetime, rel=1e-10)
    np.testing.assert_allclose(
        a.stages["remaining_lifetime"], np.r_[lifetime, np.zeros(n_abs)], **tol
    )
    np.testing.assert_allclose(a.absorption, x0[tr] @ N @ R, **tol)
    assert a.absorption.sum() == approx(1.0, rel=1e-12)
    assert a.lifetime_within_horizon == approx(occ[:-1, tr].sum(), rel=1e-10)

    # discounted value: period k on x_{k-1} d^(k-1) ("start") or x_k d^k ("end")
    d = 1 / (1 + r)
    k = np.arange(1, T + 1)
    if accrual == "start":
        by_period = occ[:-1] @ v * d ** (k - 1)
        per_stage = np.linalg.solve(np.eye(n) - d * P, v)
    else:
        by_period = occ[1:] @ v * d**k
        per_stage = np.linalg.solve(np.eye(n) - d * P, d * P @ v)
    np.testing.assert_allclose(a.value_by_period["revenue"], by_period, **tol)
    assert a.clv == approx(by_period.sum(), rel=1e-10)
    assert a.lifetime_clv == approx(x0 @ per_stage, rel=1e-10)
    np.testing.assert_allclose(a.stages["lifetime_clv"], per_stage, **tol)


def sparse_chain(n: int, n_absorbing: int, rng: np.random.Generator) -> np.ndarray:
    """A large journey with a few exits per stage: the core's sparse kernels."""
    P = np.zeros((n, n))
    for i in range(n - n_absorbing):
        exits = rng.choice(n, size=4, replace=False)
        P[i, exits] = rng.random(4)
        P[i, n - n_absorbing + rng.integers(n_absorbing)] += 0.1
        P[i, i] += 2.0
    for i in range(n - n_absorbing, n):
        P[i] = 0.0
        P[i, i] = 1.0
    return P / P.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("tenure", [False, True])
def test_large_sparse_journey_against_numpy(rng, tenure):
    # 160 stages with ~6 entries a row take the sparse products and sparse LU.
    n, n_abs, T, r = 160, 3, 30, 0.01
    stages = [f"s{i}" for i in range(n)]
    P = sparse_chain(n, n_abs, rng)
    P0 = sparse_chain(n, n_abs, rng) if tenure else P
    assert (P != 0).sum() * 8 <= n * n
    v = rng.uniform(10, 100, n)
    v[-n_abs:] = 0.0
    x0 = np.zeros(n)
    x0[0] = 1.0
    j = js.Journey.from_matrix(
        {0: P0, 2: P} if tenure else P,
        stages=stages,
        values={"revenue": dict(zip(stages, v, strict=True))},
        discount_rate=r,
        value_stages=["s5", "s6"],
    )
    a = j.analyze(periods=T)
    occ = [x0]
    for k in range(T):
        occ.append(occ[-1] @ (P0 if k < 2 else P))
    occ = np.array(occ)
    np.testing.assert_allclose(a.occupancy, occ, rtol=1e-10, atol=1e-13)
    tr, ab = np.arange(n - n_abs), np.arange(n - n_abs, n)
    Q, R = P[np.ix_(tr, tr)], P[np.ix_(tr, ab)]
    N = np.linalg.inv(np.eye(n - n_abs) - Q)
    life = np.r_[N.sum(axis=1), np.zeros(n_abs)]
    absorb = np.r_[N @ R, np.eye(n_abs)]
    per_stage = np.linalg.solve(np.eye(n) - P / (1 + r), v)
    if tenure:  # two periods under P0, then the stationary tail
        d = 1 / (1 + r)
        for _ in range(2):
            life = np.where(np.arange(n) < n - n_abs, 1.0, 0.0) + P0 @ life
            absorb = P0 @ absorb
            per_stage = v + d * P0 @ per_stage
    assert a.expected_lifetime == approx(life[0], rel=1e-9)
    np.testing.assert_allclose(a.stages["remaining_lifetime"], life, rtol=1e-9)
    np.testing.assert_allclose(a.absorption, absorb[0], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(
        a.stages["lifetime_clv"], per_stage, rtol=1e-9, atol=1e-9
    )
    # time to value: first passage into {s5, s6} in the chain where they absorb
    target = np.isin(stages, ["s5", "s6"])
    Pm = P.copy()
    Pm[target] = np.eye(n)[target]
    y, reached = x0.copy(), [x0[target].sum()]
    for k in range(T):
        Pk = (P0 if k < 2 else P).copy()
        Pk[target] = np.eye(n)[target]
        y = y @ Pk
        reached.append(y[target].sum())
    np.testing.assert_allclose(a.value_reached, reached, rtol=1e-10, atol=1e-13)
