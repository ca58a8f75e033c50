"""Money that overflows and plans that say what they mean (issue 13, items 4
and 5): intervention costs and cohorts too large for double precision are a
ValueError naming what overflowed, never inf, -inf or nan beside a numpy
warning; a dict of stages, a relative risk on a move that never happens and
candidates of one name are refused with a message about what the caller gave.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import journeysim as js
from conftest import geometric

MONEY = ["CLV", "population net value", "intervention cost", "incremental net value"]


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors():
    """No RuntimeWarning may leak from the money arithmetic."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def save(**costs) -> js.Intervention:
    return js.Intervention("save", ("active", "churned"), relative_risk=0.5, **costs)


def compare(journey, iv, **kwargs):
    return js.compare(journey, [js.Plan("p", [iv])], 12, progress=False, **kwargs)


# -- item 4: money that overflows ------------------------------------------------------


@pytest.mark.parametrize("key", ["cost_fixed", "cost_per_customer", "cost_per_period"])
def test_costs_beyond_a_quadrillion_are_refused_by_name(key):
    # 1e308 a customer used to give "intervention cost inf, ROI nan".
    with pytest.raises(ValueError, match=rf"'save': {key} must be at most 1e\+15") as e:
        save(**{key: 1e308})
    assert e.value.key == (key,)
    assert getattr(save(**{key: 1e15}), key) == 1e15  # the bound itself is fine
    with pytest.raises(ValueError, match=rf"{key}: intervention 'x': {key} must be"):
        js.Intervention.from_dict({"name": "x", "at": "a", "change": 0.1, key: 1e16})


def test_a_cost_per_customer_times_a_cohort_of_1e300_names_both():
    j = geometric(0.1, value=100.0, cohort_size=1e300)
    with pytest.raises(
        ValueError,
        match=r"intervention 'save': cost_per_customer 1e\+10 x about 1e\+300 "
        r"customers reached \(a cohort of 1e\+300\).*overflows double precision",
    ):
        compare(j, save(cost_per_customer=1e10))


def test_a_cost_per_customer_times_huge_arrivals_names_the_arrivals():
    j = geometric(0.1, value=100.0, arrivals=1e300)
    with pytest.raises(ValueError, match=r"'save'.*and 1\.2e\+301 arrivals.*overflow"):
        compare(j, save(cost_per_customer=1e10))


def test_a_cost_per_period_that_overflows_names_the_plan_and_its_costs():
    j = geometric(0.1, value=100.0, cohort_size=1e300)
    with pytest.raises(
        ValueError, match=r"plan 'p': .*overflow.*'save' \(cost_per_period 1e\+10\)"
    ):
        compare(j, save(cost_per_period=1e10))


def test_a_return_on_a_vanishing_cost_that_overflows_is_an_error():
    # 1e10 of value bought for 1e-300: the ROI is beyond double precision.
    j = geometric(0.1, value=1e10, cohort_size=1.0)
    with pytest.raises(ValueError, match=r"plan 'p': 'ROI' \(inf\).*cost_fixed 1e-300"):
        compare(j, save(cost_fixed=1e-300))


def test_a_cost_discount_rate_whose_factors_overflow_is_refused():
    j = geometric(0.1, value=100.0)
    with pytest.raises(ValueError, match=r"discount_rate -0\.999 for intervention"):
        js.compare(
            j, [js.Plan("p", [save(cost_per_period=1.0)])], 120, discount_rate=-0.999
        )


@pytest.mark.parametrize("customers", [None, 2_000])
def test_large_but_finite_money_is_finite_everywhere(customers):
    # The largest costs allowed on a large cohort: every figure finite.
    j = geometric(0.1, value=1e12, cohort_size=1e12)
    iv = save(cost_fixed=1e15, cost_per_customer=1e15, cost_per_period=1e15)
    s = compare(j, iv, customers=customers, seed=1).summary
    for col in [*MONEY, "ROI"]:
        assert math.isfinite(s.loc["p", col]), col


def test_best_plan_reports_an_overflow_with_the_intervention():
    j = geometric(0.1, value=100.0, cohort_size=1e300)
    with pytest.raises(ValueError, match=r"intervention 'save': cost_per_customer"):
        js.best_plan(j, [save(cost_per_customer=1e10)], budget=1e300, periods=12)


# -- item 5: plans that say what they mean --------------------------------------------


def test_a_dict_of_stages_is_refused_not_read_as_its_keys():
    stages = {"active": {"owner": "CS"}, "churned": {}}
    with pytest.raises(ValueError, match=r"stages must be a list.*got a mapping") as e:
        js.Journey(stages, {"active": {"churned": 0.1}})
    assert e.value.key == ("stages",)
    with pytest.raises(ValueError, match=r"only its keys would be read.*metadata="):
        js.Journey.from_matrix(np.eye(2), stages={"a": 0, "b": 1})
    # A list, a tuple, a pandas Index, dict keys taken on purpose: all fine.
    assert js.Journey(list(stages), {"active": {"churned": 0.1}}).stages == list(stages)
    assert js.Journey.from_matrix(np.eye(2), stages=("a", "b")).stages == ["a", "b"]


def abc() -> js.Journey:
    # a never moves to b directly; b churns.
    return js.Journey(
        ["a", "b", "churned"],
        {"a": {"churned": 0.1}, "b": {"churned": 0.2}},
        values={"revenue": {"a": 100.0, "b": 50.0}},
    )


@pytest.mark.parametrize(
    "at, moves",
    [
        (("a", "b"), r"'a' -> 'b'"),
        (("*", "b"), r"any stage -> 'b'"),
        (("a", ["b", "churned"]), r"'a' -> 'b'"),
    ],
)
def test_a_relative_risk_on_a_move_that_never_happens_is_refused(at, moves):
    iv = js.Intervention("nudge", at=at, relative_risk=0.5)
    with pytest.raises(
        ValueError,
        match=rf"intervention 'nudge': relative_risk=0\.5 multiplies {moves}, a "
        r"transition of probability 0 wherever it acts.*change= or probability=",
    ):
        js.compare(abc(), [js.Plan("p", [iv])], 12)


@pytest.mark.parametrize("effect", [{"change": 0.05}, {"probability": 0.05}])
def test_adding_or_setting_a_zero_probability_opens_a_move(effect):
    iv = js.Intervention("open", at=("a", "b"), **effect)
    c = js.compare(abc(), [js.Plan("p", [iv])], 12)
    assert c.journeys["p"].transition_matrix.loc["a", "b"] == pytest.approx(0.05)


def test_a_relative_risk_on_a_move_that_happens_somewhere_is_fine():
    # ("*", "b"): zero from "a" and "b" itself, positive from nowhere else -> refused
    # above; ("*", "churned") happens from both: fine. A segment where the move
    # happens is enough.
    iv = js.Intervention("save", at=("*", "churned"), relative_risk=0.5)
    js.compare(abc(), [js.Plan("p", [iv])], 12)
    seg = js.Journey(
        ["a", "b", "churned"],
        {"a": {"churned": 0.1}, "b": {"churned": 0.2}},
        segments={
            "x": {"share": 0.5},
            "y": {"share": 0.5, "transitions": {"a": {"b": 0.1, "churned": 0.1}}},
        },
    )
    nudge = js.Intervention("nudge", at=("a", "b"), relative_risk=0.5)
    js.compare(seg, [js.Plan("p", [nudge])], 12)


def test_best_plan_names_the_candidates_whose_names_repeat():
    j = geometric(0.1, value=100.0)
    a = save(cost_per_customer=1.0)
    b = a.replace(relative_risk=0.7)
    with pytest.raises(
        ValueError,
        match=r"best_plan: the candidate interventions' names repeat: "
        r"\['save'\]",
    ) as e:
        js.best_plan(j, [a, b], budget=100, periods=12)
    assert "#" not in str(e.value)  # no plan the caller never made
    js.best_plan(j, [a, b.replace(name="save 2")], budget=100, periods=12)
