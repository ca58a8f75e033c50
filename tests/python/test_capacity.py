"""Capacity: a team treats at most so many customers per period; the effect is
nonlinear, so plans with a capacity are simulated period by period."""

from __future__ import annotations

import numpy as np
import pytest

import journeysim as js


def outreach(**kwargs) -> js.Intervention:
    return js.Intervention(
        "outreach",
        at=("at_risk", "churned"),
        relative_risk=0.5,
        cost_per_period=80,
        cost_per_customer=20,
        **kwargs,
    )


def test_capacity_is_never_exceeded():
    j = js.default_journey("small_business")
    c = js.compare(
        j,
        [js.Plan("capped", [outreach(capacity=300)])],
        periods=24,
        customers=20_000,
        seed=3,
    )
    cap = c.results["capped"].capacity["outreach"]
    assert (cap["treated"] <= 300).all()
    # Everyone who meets the moment is served while there is room.
    np.testing.assert_array_equal(cap["treated"], np.minimum(cap["eligible"], 300))
    assert (cap["first treated"] <= cap["treated"]).all()
    assert c.summary.loc["capped", "capacity limited"]
    assert not c.summary.loc["baseline", "capacity limited"]


def test_capacity_nobody_reaches_gives_the_unlimited_plan_in_distribution():
    # With room for everyone, the period-by-period engine (its own
    # counter-based draws) gives the customer-by-customer engine's process:
    # CLV and costs within 4 standard errors (also tests/python/
    # test_capacity_streaming.py).
    j = js.default_journey("small_business")
    plans = [
        js.Plan("unlimited", [outreach()]),
        js.Plan("roomy", [outreach(capacity=10**9)]),
    ]
    c = js.compare(j, plans, periods=24, customers=20_000, seed=8)
    a, b = c.results["unlimited"], c.results["roomy"]
    se = np.hypot(a.standard_errors["net"], b.standard_errors["net"])
    assert abs(a.clv - b.clv) <= 4 * se
    s = c.summary
    assert s.loc["roomy", "intervention cost"] == pytest.approx(
        s.loc["unlimited", "intervention cost"], rel=0.05
    )


def test_a_binding_capacity_buys_less():
    # Both capacity plans run on the capacity engine with the same draws per
    # customer (common random numbers): the binding one buys less, for less.
    j = js.default_journey("small_business")
    plans = [
        js.Plan("roomy", [outreach(capacity=10**9)]),
        js.Plan("capped", [outreach(capacity=100)]),
    ]
    c = js.compare(j, plans, periods=24, customers=20_000, seed=3)
    s = c.summary
    assert s.loc["capped", "CLV"] < s.loc["roomy", "CLV"]
    assert s.loc["capped", "intervention cost"] < s.loc["roomy", "intervention cost"]
    roomy, capped = c.results["roomy"], c.results["capped"]
    assert (capped.retention <= roomy.retention + 1e-12).all()


def test_priority_serves_the_listed_stage_first():
    # Two moments of truth share one team: renewal decisions come first.
    j = js.default_journey("small_business")
    iv = js.Intervention(
        "save",
        at=("*", "churned"),
        relative_risk=0.5,
        capacity=50,
        priority=["renewal_decision"],
    )
    c = js.compare(j, [js.Plan("p", [iv])], periods=12, customers=5_000, seed=2)
    cap = c.results["p"].capacity["save"]
    assert (cap["treated"] <= 50).all()
    assert (cap["treated"] == np.minimum(cap["eligible"], 50)).all()


@pytest.mark.parametrize("capacity", [0, -5, 2.5, True])
def test_capacity_must_be_a_positive_whole_number(capacity):
    with pytest.raises(ValueError, match="capacity must be a whole number"):
        outreach(capacity=capacity)


def test_priority_without_capacity_is_a_value_error():
    with pytest.raises(ValueError, match="priority only matters with a capacity"):
        outreach(priority=["at_risk"])


def test_capacity_cannot_be_analysed_exactly():
    j = js.default_journey("small_business")
    with pytest.raises(ValueError, match="can only be simulated"):
        js.compare(j, [js.Plan("capped", [outreach(capacity=10)])], periods=12)
    c = js.compare(
        j,
        [js.Plan("capped", [outreach(capacity=10)])],
        periods=12,
        customers=1_000,
        seed=1,
    )
    with pytest.raises(ValueError, match="can only be simulated"):
        c.journeys["capped"].analyze(12)


def test_rules_keep_the_value_of_absorbing_stages():
    # "won" earns 5 a period after absorption: a do-nothing intervention run by
    # the period-by-period engine must give the exact value (within 4 SE).
    j = js.Journey(
        ["a", "won", "lost"],
        {"a": {"won": 0.3, "lost": 0.2}},
        values={"revenue": {"a": 1.0, "won": 5.0}},
    )
    nothing = js.Intervention(
        "nothing", at=("a", "lost"), relative_risk=1.0, capacity=10**9
    )
    c = js.compare(j, [js.Plan("p", [nothing])], periods=12, customers=20_000, seed=4)
    sim = c.results["p"]
    exact = j.analyze(12).clv
    assert abs(sim.clv - exact) <= 4 * sim.standard_errors["net"]


def test_replications_are_the_paired_units():
    # Several replications: figures are means over all of them, intervals come
    # from per-replication paired differences.
    j = js.default_journey("small_business")
    call = js.Intervention(
        "call", at=("onboarding", "churned"), relative_risk=0.6, reassign_to="adopting"
    )
    c = js.compare(
        j, [js.Plan("p", [call])], periods=24, customers=2_000, seed=1, replications=6
    )
    assert c.summary.loc["p", "CLV"] == pytest.approx(c.results["p"].clv)
    assert c.summary.loc["p", "CLV diff low"] < c.summary.loc["p", "CLV diff"]
    assert c.summary.loc["p", "CLV diff"] < c.summary.loc["p", "CLV diff high"]
    one = js.compare(j, [js.Plan("p", [call])], periods=24, customers=2_000, seed=1)
    assert one.summary.loc["p", "CLV"] != c.summary.loc["p", "CLV"]


def test_a_capacity_beyond_64_bit_counts_is_refused_up_front():
    # Refused when the intervention is made, not when a simulation meets it.
    with pytest.raises(js.InputError, match=r"capacity must be .* \(0, 2\*\*62\]"):
        js.Intervention("desk", at=("a", "b"), relative_risk=0.5, capacity=2**70)
    js.Intervention("desk", at=("a", "b"), relative_risk=0.5, capacity=2**62)
