"""Numerical edge cases, each with the behaviour documented in
docs/reliability.md ("Numerical edge cases"): stays close to one, extreme
values, 2,000 stages, an ill-conditioned fundamental matrix, stages that are
never absorbed, 10,000 periods, discount rates near -1 and very large, and 10^9
arrivals a period. No number may be silently wrong: each result is checked
against a closed form, or the call must fail with a ValueError that says why."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import journeysim as js
from conftest import geometric
from journeysim.warnings import IllConditionedWarning

approx = pytest.approx


# -- stay probabilities of 1 - 1e-12 ---------------------------------------------------


def test_stay_of_one_minus_1e12_gives_full_precision():
    # 1 - P_ii would be 1.0000221e-12 (the stay 1 - 1e-12 rounds): the core uses
    # the exits instead, so the lifetime is 1e12 to the last digit.
    eps = 1e-12
    j = js.Journey(
        ["a", "b", "churned"],
        {"a": {"b": eps}, "b": {"churned": eps}},
        values={"revenue": {"a": 1.0, "b": 1.0}},
    )
    a = j.analyze(periods=36)  # no warning: the matrix is well conditioned
    assert a.expected_lifetime == approx(2e12, rel=1e-15)
    assert a.lifetime_clv == approx(2e12, rel=1e-15)
    assert a.absorption["churned"] == 1.0  # not 1.0000442 (the naive diagonal)
    assert a.stages.loc["b", "remaining_lifetime"] == approx(1e12, rel=1e-15)
    assert a.condition_number < 10
    assert a.retention_at(36) == approx(1.0, abs=1e-10)
    # Discounted: 1 / (1 - (1 - eps) / 1.01) = 1.01 / (0.01 + eps) ~ 101 - 1e-8.
    d = geometric(eps, value=1.0, rate=0.01).analyze(periods=1)
    assert d.lifetime_clv == approx(1.01 / (0.01 + eps), rel=1e-14)
    # The simulation of so stable a journey: nobody leaves in 36 periods.
    s = j.simulate(1000, periods=36, seed=1)
    assert s.retention.iloc[-1] == 1.0


# -- values of 1e12 and 1e-12 ----------------------------------------------------------


def test_values_of_1e12_and_1e_minus_12_keep_their_relative_precision():
    p, r, T = 0.1, 0.01, 36
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": p}},
        values={"big": {"active": 1e12}, "small": {"active": 1e-12}},
        discount_rate=r,
    )
    q = (1 - p) / (1 + r)
    horizon = (1 - q**T) / (1 - q)
    a = j.analyze(periods=T)
    assert a.value["big"] == approx(1e12 * horizon, rel=1e-14)
    assert a.value["small"] == approx(1e-12 * horizon, rel=1e-14)
    assert a.lifetime_value["big"] == approx(1e12 / (1 - q), rel=1e-14)
    for method in ("individual", "aggregate"):
        v = j.simulate(10_000, T, seed=3, method=method).value
        # Each stream is the same count times its amount: the ratio is exact.
        assert v["big"] / v["small"] == approx(1e24, rel=1e-14)
    # Streams of +1e12 and -1e12 cancel to exactly zero in net value.
    k = js.Journey(
        ["active", "churned"],
        {"active": {"churned": p}},
        values={"gain": {"active": 1e12}, "loss": {"active": -1e12}},
    )
    b = k.analyze(periods=T)
    assert b.clv == 0.0 and b.lifetime_clv == 0.0


def test_results_that_overflow_are_a_value_error():
    # 2 x 1e308 per period does not fit a double: refused, never inf or nan.
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.5}},
        values={"a": {"active": 1e308}, "b": {"active": 1e308}},
    )
    with pytest.raises(ValueError, match="overflow double precision"):
        j.analyze(periods=12)
    with pytest.raises(ValueError, match="overflow double precision"):
        j.simulate(100, 12, seed=1, method="aggregate")
    crowd = geometric(0.1, value=1e10, arrivals=1e300)
    with pytest.raises(ValueError, match=r"analysis overflows.*population"):
        crowd.analyze(periods=12)


# -- 2,000 stages (tenure-expanded) ----------------------------------------------------


def churn_at(k):
    return 0.01 + 0.05 * np.exp(-k / 50.0)


def test_two_thousand_tenure_expanded_stages():
    # "active at tenure k" for k < 1999, the last absorbing the rest of tenure:
    # the expansion of a two-stage journey whose churn falls with tenure.
    n = 2000
    stages = [f"t{k}" for k in range(n - 1)] + ["churned"]
    P = np.zeros((n, n))
    for k in range(n - 2):
        P[k, k + 1] = 1 - churn_at(k)
        P[k, n - 1] = churn_at(k)
    P[n - 2, n - 2] = 1 - churn_at(n - 2)
    P[n - 2, n - 1] = churn_at(n - 2)
    P[n - 1, n - 1] = 1.0
    values = {"revenue": {s: 10.0 for s in stages[:-1]}}
    big = js.Journey.from_matrix(P, stages=stages, values=values, discount_rate=0.01)
    a = big.analyze(periods=36)
    # Closed form: survival to tenure k is prod_{m<k} (1 - churn_m).
    surv = np.concatenate([[1.0], np.cumprod(1 - churn_at(np.arange(n - 2)))])
    tail = surv[-1] / churn_at(n - 2)  # the stationary last stage
    assert a.expected_lifetime == approx(surv[:-1].sum() + tail, rel=1e-13)
    disc = 1.01 ** -np.arange(n - 1)
    d_tail = surv[-1] * disc[-1] * 1.01 / (1.01 - (1 - churn_at(n - 2)))
    assert a.lifetime_clv == approx(10 * (surv[:-1] @ disc[:-1] + d_tail), rel=1e-13)
    np.testing.assert_allclose(a.retention, surv[:37], rtol=1e-13)
    assert a.absorption["churned"] == approx(1.0, rel=1e-14)
    # How long it takes (sparse kernels) is measured by benchmarks/bench_limits.py.


# -- an ill-conditioned fundamental matrix ---------------------------------------------


def nearly_closed(e: float, chain: int = 0) -> js.Journey:
    """a <-> b, each leaking e to churned: I - Q is nearly singular, its
    condition number 2 / e. With a chain of other stages the matrix is large
    and sparse enough for the sparse LU (which then hands over to the dense
    subtraction-free elimination)."""
    stages = ["a", "b"] + [f"c{i}" for i in range(chain)] + ["churned"]
    moves = {"a": {"b": 1 - e, "churned": e}, "b": {"a": 1 - e, "churned": e}}
    for i in range(chain):
        moves[f"c{i}"] = {stages[i + 3]: 0.5}
    return js.Journey(stages, moves)


@pytest.mark.parametrize("chain", [0, 100])
@pytest.mark.parametrize("e", [1e-13, 1e-14])
def test_an_ill_conditioned_fundamental_matrix_warns_with_its_condition_number(
    e, chain
):
    j = nearly_closed(e, chain)
    with pytest.warns(IllConditionedWarning, match=r"condition number 2\.0e\+1[34]"):
        a = j.analyze(periods=12)
    assert issubclass(IllConditionedWarning, js.JourneyWarning)
    assert a.condition_number == approx(2 / e, rel=1e-3)
    # The subtraction-free elimination keeps the results exact anyway (an LU,
    # dense or sparse, gave a lifetime 3e-4 off and an absorption probability
    # of 0.9997).
    assert a.expected_lifetime == approx(1 / e, rel=1e-12)
    assert a.absorption["churned"] == approx(1.0, rel=1e-15)


def test_a_well_conditioned_journey_does_not_warn():
    j = js.Journey(
        ["a", "b", "churned"],
        {"a": {"b": 1 - 1e-6, "churned": 1e-6}, "b": {"a": 0.5, "churned": 0.5}},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = j.analyze(periods=12)
    assert a.condition_number < 1e12


# -- transient stages that can never be absorbed ---------------------------------------


def test_stages_never_absorbed_give_infinite_lifetimes_and_a_warning():
    j = js.Journey(
        ["a", "loop", "b", "churned"],
        {"a": {"loop": 0.2, "b": 0.3, "churned": 0.1}, "b": {"churned": 0.1}},
        absorbing=["churned"],  # "loop" stays put but is not absorbing
        values={"revenue": {"a": 1.0, "b": 2.0, "loop": 1.0}},
        discount_rate=0.01,
    )
    with pytest.warns(js.InfiniteLifetimeWarning, match="'loop' can never be absorbed"):
        a = j.analyze(periods=36)
    assert a.expected_lifetime == np.inf
    assert np.isfinite(a.lifetime_clv)  # discounted: finite
    assert a.stages.loc["b", "remaining_lifetime"] == approx(10.0)
    assert a.stages.loc["loop", "remaining_lifetime"] == np.inf
    # Only those who do not end in the loop are absorbed: 0.1 / 0.6 + 0.3 / 0.6.
    assert a.absorption["churned"] == approx(2 / 3, rel=1e-14)
    assert np.isfinite(a.lifetime_within_horizon) and np.isfinite(a.clv)
    # The derivative of an infinite lifetime is undefined: nan, never +-inf.
    m = j.moments_of_truth(metric="lifetime")
    assert m["sensitivity"].isna().all()
    assert (m["direction"] == "undefined").all()
    # Over a horizon it is finite.
    assert np.isfinite(j.moments_of_truth("lifetime", horizon=36)["sensitivity"]).all()


# -- 10,000 periods --------------------------------------------------------------------


def test_ten_thousand_periods_exact_with_arrivals():
    p, T, arrivals = 0.001, 10_000, 1000.0
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": p}},
        values={"revenue": {"active": 1.0}},
        arrivals=arrivals,
    )
    a = j.analyze(periods=T)
    q = 1 - p
    assert a.retention_at(T) == approx(q**T, rel=1e-11)
    assert a.clv == approx((1 - q**T) / p, rel=1e-13)  # compensated sum
    # Everyone who ever joined is somewhere.
    assert a.population.iloc[-1].sum() == approx(1 + T * arrivals, rel=1e-14)
    # Population value: sum_c [x_{c-1} + a sum_{u<c-1} x_u], x_u = q^u.
    cum = np.cumsum(q ** np.arange(T))
    expected = cum[-1] + arrivals * cum[:-1].sum()
    assert a.population_value["revenue"] == approx(expected, rel=1e-12)
    # That the time grows linearly in T (running sums, not an O(T^2) convolution)
    # is measured by benchmarks/bench_limits.py.


# -- discount rates near -1 and very large ---------------------------------------------


@pytest.mark.parametrize("rate", [-0.999, -1 + 1e-12])
def test_discount_rates_near_minus_one_that_overflow_are_refused(rate):
    j = geometric(0.1, value=1.0, rate=rate)
    with pytest.raises(
        ValueError, match=r"discount rate of -0\.999.* over 120 periods"
    ):
        j.analyze(periods=120)
    with pytest.raises(ValueError, match="beyond double precision"):
        j.simulate(100, 120, seed=1)


def test_a_discount_rate_near_minus_one_that_fits_is_exact():
    # d = 2: (0.9 d)^k grows, but 1.8^120 = 2e30 fits; the whole lifetime diverges.
    a = geometric(0.1, value=1.0, rate=-0.5).analyze(periods=120)
    assert a.clv == approx((1.8**120 - 1) / 0.8, rel=1e-12)
    assert a.lifetime_value["revenue"] == np.inf


@pytest.mark.parametrize("rate", [1e6, 1e300])
def test_very_large_discount_rates_leave_the_first_period(rate):
    # d = 1 / (1 + r) is tiny: the first period counts, the rest hardly (d^k
    # underflows to 0, harmlessly).
    j = geometric(0.1, value=1.0, rate=rate)
    d = 1 / (1 + rate)
    for accrual, value in (("start", 1 + 0.9 * d), ("end", 0.9 * d)):
        a = j.analyze(periods=120, accrual=accrual)
        assert a.clv == approx(value, rel=1e-6)
        assert a.lifetime_clv == approx(value, rel=1e-6)
    s = j.simulate(1000, 120, seed=1)
    assert s.clv == approx(1 + 0.9 * d, rel=1e-6)


# -- 10^9 arrivals a period in aggregate mode ------------------------------------------


def test_a_billion_arrivals_a_period_in_aggregate_mode():
    j = js.Journey(
        ["new", "active", "churned"],
        {"new": {"active": 0.5, "churned": 0.1}, "active": {"churned": 0.05}},
        values={"revenue": {"active": 100.0, "new": 1.0}},
        arrivals=1e9,
        cohort_size=1e9,
    )
    T = 120
    s = j.simulate(10**9, T, seed=1, method="aggregate")
    occ = s._raw.occupancy[0]
    assert occ.dtype == np.int64
    # Counts are exact: everyone who joined is somewhere.
    np.testing.assert_array_equal(occ.sum(axis=1), 10**9 * (1 + np.arange(T + 1)))
    a = j.analyze(periods=T)
    # Binomial noise on ~1e11 customers: relative 1e-5.
    np.testing.assert_allclose(s.occupancy.iloc[-1], a.population.iloc[-1], rtol=1e-4)
    assert s.value_by_period["net"].sum() == approx(a.population_value["net"], rel=1e-4)
    # Undiscounted value of a period is an integer count times 100 or 1: exact.
    nominal = s.value_by_period_nominal["revenue"].to_numpy()
    counts = occ[:-1] @ np.array([1.0, 100.0, 0.0])
    np.testing.assert_array_equal(nominal, counts)


def test_more_than_2_to_the_62_customers_are_refused():
    j = js.Journey(["a", "b"], {"a": {"b": 0.1}}, arrivals=9e15)
    with pytest.raises(ValueError, match=r"exceed 2\*\*62"):
        j.simulate(2**62 - 10, 10, method="aggregate")
    with pytest.raises(ValueError, match="customers must be in"):
        j.simulate(2**63, 10, method="aggregate")


def test_a_tiny_discount_rate_is_not_ill_conditioned():
    # Regression (found by the property tests): a discount rate of 2.2e-16
    # made the discounted factorisation over the absorbing stage look
    # ill-conditioned (1 / (1 - d) ~ 1e16) and warned about a 2-stage journey
    # whose I - Q is perfectly conditioned.
    j = js.Journey(
        ["a", "b"],
        {"a": {"b": 0.17557018425786666}},
        values={"v": {"a": 100.0}},
        discount_rate=2.220446049250313e-16,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = j.analyze(periods=1)
    assert a.condition_number == 1.0
