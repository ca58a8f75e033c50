"""accrual="life-table": heemod's counting (method = "life-table") and discounting
(discount(x, r), first = FALSE), against a numpy transcription of its formula.

heemod (R/strategy_eval.R, correct_counts.R, utils.R) computes the counts x_0..x_T,
corrects them to (x_{k-1} + x_k) / 2 for cycle k = 1..T, multiplies by the state
values of cycle k (its markov_cycle k is journeysim's tenure k - 1) and divides
cycle k by (1 + r)^(k - 1): the first cycle is not discounted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import random_chain

approx = pytest.approx

STAGES = ["new", "active", "at_risk", "churned"]


def heemod(P, start, values, rate, T):
    """Value of each cycle k = 1..T by heemod's formula, for a constant matrix
    and ``values[tau]`` the per-stage values of tenure tau (cycle tau + 1)."""
    x = [np.asarray(start, dtype=float)]
    for _ in range(T):
        x.append(x[-1] @ P)
    x = np.array(x)
    counts = (x[:-1] + x[1:]) / 2  # correct_counts(method = "life-table")
    per_cycle = np.array([counts[k] @ values[k] for k in range(T)])
    cycle = np.arange(1, T + 1)
    # discount(x, r): x / (1 + r)^(seq_along(x) - 1)
    return per_cycle, per_cycle / (1 + rate) ** (cycle - 1)


def test_life_table_equals_heemods_formula_on_a_random_four_stage_chain(rng):
    P = random_chain(4, 1, rng)
    start = [*rng.dirichlet(np.ones(3)).tolist(), 0.0]
    revenue = rng.uniform(50, 150, 4) * [1, 1, 1, 0]
    later = revenue * 1.2  # from tenure 5 (heemod's cycle 6) on
    cost = rng.uniform(5, 20, 4) * [1, 1, 1, 0]
    rates = {"revenue": 0.03, "cost": 0.1}
    j = js.Journey.from_matrix(
        P,
        stages=STAGES,
        values={
            "revenue": {
                0: dict(zip(STAGES, revenue, strict=True)),
                5: dict(zip(STAGES, later, strict=True)),
            },
            "cost": dict(zip(STAGES, cost, strict=True)),
        },
        net={"revenue": 1.0, "cost": -1.0},
        start=dict(zip(STAGES, start, strict=True)),
        discount_rate=rates,
    )
    T = 30
    a = j.analyze(T, accrual="life-table")
    expected = {}
    for name, by_tenure in {
        "revenue": [revenue] * 5 + [later] * (T - 5),
        "cost": [cost] * T,
    }.items():
        nominal, discounted = heemod(P, start, by_tenure, rates[name], T)
        np.testing.assert_allclose(a.value_by_period[name], discounted, rtol=1e-12)
        np.testing.assert_allclose(a.value_by_period_nominal[name], nominal, rtol=1e-12)
        assert a.value[name] == approx(discounted.sum(), rel=1e-12)
        expected[name] = discounted.sum()
    assert a.clv == approx(expected["revenue"] - expected["cost"], rel=1e-12)

    # The whole lifetime, in closed form: sum_k d^(k-1) (x_{k-1} + x_k)/2 . v
    #   = x_0 (I - d P)^-1 (v + P v) / 2, once the values are constant (tenure 5).
    d = 1 / 1.1
    n = np.linalg.solve(np.eye(4) - d * P, (cost + P @ cost) / 2)
    assert a.lifetime_value["cost"] == approx(np.asarray(start) @ n, rel=1e-10)
    assert a.stages["cost"].to_numpy()[:3] == approx(n[:3], rel=1e-10)

    # Side by side with "half-cycle": the same counts, half a period more discounting.
    h = j.analyze(T, accrual="half-cycle")
    for name, r in rates.items():
        to_mid_period = a.value_by_period[name] / np.sqrt(1 + r)
        np.testing.assert_allclose(h.value_by_period[name], to_mid_period, rtol=1e-12)
    pd.testing.assert_frame_equal(h.occupancy, a.occupancy)


def test_simulation_agrees_with_the_exact_life_table_value():
    # A discount rate of 20 % per period keeps "life-table" and "half-cycle"
    # apart by about 9 %, far more than the standard error.
    j = js.Journey(
        STAGES,
        {
            "new": {"active": 0.5, "churned": 0.1},
            "active": {"at_risk": 0.1},
            "at_risk": {"active": 0.3, "churned": 0.3},
        },
        values={"revenue": {"new": 20.0, "active": 100.0, "at_risk": 60.0}},
        discount_rate=0.2,
    )
    exact = j.analyze(12, accrual="life-table").clv
    half = j.analyze(12, accrual="half-cycle").clv
    sim = j.simulate(20_000, 12, seed=5, replications=4, accrual="life-table")
    se = sim.standard_errors["net"]
    assert abs(sim.clv - exact) < 4 * se
    assert abs(sim.clv - half) > 10 * se
    # Cohort counts: the spread of 30 independent replications.
    agg = j.simulate(
        2_000, 12, seed=6, replications=30, accrual="life-table", method="aggregate"
    )
    per_rep = agg._raw.cohort_value[:, 0] / 2_000
    se = per_rep.std(ddof=1) / np.sqrt(per_rep.size)
    assert agg.clv == approx(per_rep.mean(), rel=1e-12)
    assert abs(agg.clv - exact) < 4 * se
    assert abs(agg.clv - half) > 10 * se


def test_compare_counts_plans_by_life_table_exactly_and_simulated():
    j = js.default_journey("small_business")
    call = js.Intervention(
        "call", at=(j.stages[0], j.stages[-1]), relative_risk=0.6, cost_per_customer=5
    )
    plan = js.Plan("call", [call])
    c = js.compare(j, [plan], 12, accrual="life-table")
    a = j.analyze(12, accrual="life-table")
    assert c.summary.loc["baseline", "CLV"] == approx(a.clv, rel=1e-12)
    s = js.compare(j, [plan], 12, accrual="life-table", customers=5_000, seed=1)
    assert s.summary.loc["call", "CLV"] > 0


@pytest.mark.parametrize(
    "call",
    [
        lambda j: j.analyze(12, accrual="lifetable"),
        lambda j: j.simulate(100, 12, seed=1, accrual="lifetable"),
        lambda j: j.moments_of_truth("clv", 12, accrual="lifetable"),
        lambda j: js.compare(j, [js.Plan("none", [])], 12, accrual="lifetable"),
    ],
    ids=["analyze", "simulate", "moments_of_truth", "compare"],
)
def test_a_bad_accrual_name_lists_every_option(call):
    j = js.Journey(STAGES[1:], {"active": {"churned": 0.1}})
    with pytest.raises(
        js.InputError,
        match=r"accrual must be one of \['end', 'half-cycle', 'life-table', 'start'\], "
        r"got 'lifetable'",
    ):
        call(j)
