"""value_of_information(): EVPI, regression EVPPI and EVSI of the plan decision.

Checked by hand on a two-draw example, against closed forms of a linear net
benefit in a Beta rate (EVPI = E[max(0, a + bP)] - max(0, E[a + bP])), on a
two-plan journey decided by one uncertain rate (its EVPPI is the EVPI, an
unrelated rate's is 0), and against compare(uncertainty=)'s own draws.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from scipy import stats

import journeysim as js
from journeysim.plans import voi_estimators as est

approx = pytest.approx


def _linear_evpi(a: float, b: float, al: float, be: float) -> float:
    """E[max(0, a + bP)] - max(0, a + b E[P]) for P ~ Beta(al, be), b > 0."""
    c = -a / b
    tail = stats.beta.sf(c, al, be)
    mean_tail = al / (al + be) * stats.beta.sf(c, al + 1, be)
    return a * tail + b * mean_tail - max(0.0, a + b * al / (al + be))


def test_evpi_and_evppi_match_the_closed_form_of_a_linear_net_benefit():
    rng = np.random.default_rng(1)
    al, be, a, b = 4.0, 16.0, -200.0, 1000.0  # decided at P = 0.2 = E[P]
    p = rng.beta(al, be, 100_000)
    q = rng.uniform(size=p.size)  # an unrelated parameter
    noise = rng.normal(0, 300, p.size) * (q - 0.5)  # depends on q, not on P
    nb = np.column_stack([np.zeros(p.size), a + b * p + noise])
    exact = _linear_evpi(a, b, al, be)
    # E[NB | P] = a + bP: learning P is worth the noise-free EVPI.
    assert est.evppi(nb, p) == approx(exact, rel=0.02)
    # The full EVPI also gains from the noise.
    assert est.evpi(nb) > est.evppi(nb, p)
    # E[NB | q] = a + b E[P]: learning q alone is worth nothing.
    assert est.evppi(nb, q) < 0.02 * exact


def _two_draws() -> js.Journey:
    return js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.2}},
        values={"revenue": {"active": 100.0}},
        cohort_size=1000,
        time_unit="month",
        currency="USD",
    )


def _rate(j: js.Journey, p: float) -> js.Journey:
    return js.Journey(["active", "churned"], {"active": {"churned": p}})


def test_evpi_by_hand_on_two_draws():
    # Over 2 months (value at the start of each): 100 + 100(1 - p); halving
    # churn for 10 per customer gains 50p - 10 per customer: -5 at p = 0.1,
    # +5 at p = 0.3. For 1,000 customers the means tie at 0, and knowing p
    # is worth (0 + 5,000) / 2 = 2,500.
    j = _two_draws()
    save = js.Intervention(
        "save", ("active", "churned"), relative_risk=0.5, cost_per_customer=10
    )
    v = js.value_of_information(
        j,
        [js.Plan("save", [save])],
        uncertainty=[_rate(j, 0.1), _rate(j, 0.3)],
        periods=2,
    )
    assert v.evpi == approx(2500)
    assert v.evpi_per_customer == approx(2.5)
    assert v.customers == 1000
    assert v.table.loc["active → churned", "value for the population"] == approx(2500)
    assert v.decision.loc["save", "incremental net value"] == approx(0, abs=1e-9)


@functools.lru_cache
def _decided_by_one_rate(draws: int = 600, seed: int = 5):
    """Half the customers in "active" (churn p, uncertain: Beta(12, 48)), half
    in "other" (churn q, uncertain, Beta(30, 70)); the plan acts on active
    only, costing about what it saves at E[p] = 0.2."""
    stages = ["active", "other", "churned"]
    start = {"active": 0.5, "other": 0.5}
    rng = np.random.default_rng(seed)

    def journey(p: float, q: float) -> js.Journey:
        return js.Journey(
            stages,
            {"active": {"churned": p}, "other": {"churned": q}},
            values={"revenue": {"active": 100.0, "other": 80.0}},
            start=start,
            cohort_size=2000,
            time_unit="month",
            currency="USD",
        )

    j = journey(0.2, 0.3)
    ps, qs = rng.beta(12, 48, draws), rng.beta(30, 70, draws)
    samples = [journey(p, q) for p, q in zip(ps, qs, strict=True)]
    save = js.Intervention(
        "save", ("active", "churned"), relative_risk=0.6, cost_per_customer=185
    )
    return j, [js.Plan("save", [save])], samples


@pytest.fixture(scope="module")
def decided():
    j, plans, samples = _decided_by_one_rate()
    v = js.value_of_information(j, plans, uncertainty=samples, periods=12, seed=1)
    return j, plans, samples, v


def test_the_deciding_rate_is_worth_the_evpi_and_an_unrelated_one_nothing(decided):
    j, plans, samples, v = decided
    assert 0.2 < v.decision.loc["save", "P(best)"] < 0.8  # a real decision
    assert v.evpi > 0
    pop = v.table["value for the population"]
    # E[NB | p] is NB itself: the regression recovers the EVPI up to its fit.
    assert pop["active → churned"] == approx(v.evpi, rel=0.03)
    assert pop["other → churned"] < 0.03 * v.evpi
    assert (pop <= v.evpi).all()
    g = js.value_of_information(
        j,
        plans,
        uncertainty=samples,
        periods=12,
        groups={"both rows": ["active", "other"], "other": "other"},
    )
    assert g.table.loc["both rows", "value for the population"] == approx(
        v.evpi, rel=0.03
    )
    assert g.table.loc["other", "value for the population"] < 0.03 * v.evpi
    assert (g.table["value for the population"] <= g.evpi).all()


def test_evsi_grows_with_the_study_towards_the_evppi_of_the_row(decided):
    v = decided[-1]
    s = v.sample_information("active", [5, 500, 5000], seed=2)
    pop = s["value for the population"]
    assert list(s.index) == [5, 500, 5000]
    # A study of 5 hardly moves a prior worth about 58 customers' counts.
    assert pop[5] < 0.05 * v.evpi < pop[500] < pop[5000] <= v.evpi
    assert pop[5000] == approx(v.evpi, rel=0.1)
    assert (s["share of EVPPI"] <= 1).all()
    # Nothing to learn about "other" for this decision.
    assert (
        v.sample_information("other", 5000)["value for the population"].iloc[0]
        < 0.05 * v.evpi
    )


def test_the_draws_money_is_compare_uncertaintys():
    j = js.default_journey()
    plans = js.default_plans()
    log = j.simulate(400, 12, seed=1, record="events").stage_log()
    f = js.fit(log, stages=j.stages, absorbing=j.absorbing, end=12)
    v = js.value_of_information(j, plans, uncertainty=f, draws=20, periods=12, seed=4)
    c = js.compare(j, plans, periods=12, uncertainty=f, draws=20, seed=4)
    assert np.allclose(v._sample.nb, c.draws.to_numpy(), rtol=1e-10, atol=1e-6)
    assert (v.table["value for the population"] <= v.evpi + 1e-9).all()
    # Every transition that varies over the draws, stays apart, is valued.
    theta = v._sample.theta
    varies = theta.std(axis=0) > 0
    for k in range(theta.shape[-1]):
        varies[..., k, k] = False
    assert len(v.table) == int(varies.sum()) > 15


def test_outputs_speak_money_and_units(decided):
    v = decided[-1]
    text = v.to_text()
    assert "Measuring active → churned better is worth up to $" in text
    assert "per customer" in text and "2,000 customers" in text
    ax = v.plot()
    assert ax.get_xlabel() == (
        "value of perfect information ($), population of 2,000 customers"
    )
    assert "EVPI" in v._repr_html_() and "ValueOfInformation" in repr(v)
    assert list(v.table.columns) == [
        "value per customer",
        "value for the population",
        "share of EVPI",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "clv"}, "metric must be 'net'"),
        ({"groups": {"g": "nowhere"}}, "unknown stage 'nowhere'"),
        ({"groups": {"g": [("active", 3)]}}, "is not a stage or a (from, to)"),
        ({"groups": {"g": []}}, "group 'g' is empty"),
        ({"groups": {"g": [("churned", "active")]}}, "do not vary over the draws"),
        ({"groups": []}, "groups must be a dict"),
        ({"periods": 0}, "periods must be >= 1"),
        ({"uncertainty": "fit"}, "uncertainty must be a fit or a list"),
        ({"plans": []}, "at least one plan"),
    ],
)
def test_bad_inputs_are_named(kwargs, message):
    j, plans, samples = _decided_by_one_rate(draws=20)
    args = {"uncertainty": samples, "periods": 6, **kwargs}
    plans = args.pop("plans", plans)
    with pytest.raises(js.InputError, match=re.escape(message)):
        js.value_of_information(j, plans, **args)


def test_bad_studies_and_still_draws_are_named():
    j, plans, samples = _decided_by_one_rate(draws=20)
    v = js.value_of_information(j, plans, uncertainty=samples, periods=6)
    with pytest.raises(js.InputError, match="unknown stage 'x'"):
        v.sample_information("x", 10)
    with pytest.raises(js.InputError, match="customers must be"):
        v.sample_information("active", 0)
    with pytest.raises(js.InputError, match="do not vary"):
        v.sample_information("churned", 10)
    with pytest.raises(js.InputError, match="draws do not vary"):
        js.value_of_information(j, plans, uncertainty=[j, j], periods=6)
    capped = js.Plan(
        "capped",
        [js.Intervention("c", ("active", "churned"), relative_risk=0.5, capacity=5)],
    )
    with pytest.raises(js.InputError, match="capacity"):
        js.value_of_information(j, [capped], uncertainty=samples, periods=6)
