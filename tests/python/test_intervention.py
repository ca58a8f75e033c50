"""Interventions and plans: bad ones are ValueErrors naming the culprit, and what a
plan does to a journey (effects, where freed probability goes, reach, tenure
windows, segments, costs) agrees with values worked out by hand.

Unless said otherwise the journeys are tiny and undiscounted, so that every
expected number below is a closed form or a short sum written out in a comment.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import journeysim as js
from conftest import geometric

approx = pytest.approx
NAN = float("nan")


# -- journeys ------------------------------------------------------------------------


def funnel(**kwargs) -> js.Journey:
    """onboarding -> active (0.5) or churned (0.2), staying 0.3; active -> at_risk
    (0.3); at_risk -> active (0.5) or churned (0.2), staying 0.3."""
    return js.Journey(
        ["onboarding", "active", "at_risk", "churned"],
        {
            "onboarding": {"active": 0.5, "churned": 0.2},
            "active": {"at_risk": 0.3},
            "at_risk": {"active": 0.5, "churned": 0.2},
        },
        values={"revenue": {"onboarding": 10.0, "active": 10.0, "at_risk": 5.0}},
        **kwargs,
    )


def risky(**kwargs) -> js.Journey:
    """Everyone starts active; active -> at_risk (0.3); at_risk -> active (0.5) or
    churned (0.2). A customer can be at risk, recover, and be at risk again."""
    return js.Journey(
        ["active", "at_risk", "churned"],
        {"active": {"at_risk": 0.3}, "at_risk": {"active": 0.5, "churned": 0.2}},
        values={"revenue": {"active": 10.0, "at_risk": 10.0}},
        **kwargs,
    )


def save(**kwargs) -> js.Intervention:
    """Halves the churn of the geometric chain (0.2 -> 0.1)."""
    if not {"relative_risk", "change", "probability"} & set(kwargs):
        kwargs["relative_risk"] = 0.5
    return js.Intervention("save", ("active", "churned"), **kwargs)


def one_plan(journey, *interventions, periods=12, **kwargs):
    """Exact comparison of the plan made of ``interventions`` with the baseline;
    returns (summary row of the plan, summary row of the baseline, Comparison)."""
    c = js.compare(journey, [js.Plan("plan", list(interventions))], periods, **kwargs)
    return c.summary.loc["plan"], c.summary.loc["baseline"], c


def matrix(c: js.Comparison, plan: str = "plan", tenure: int = 0, segment=None):
    """The plan's transition matrix for ``tenure`` (the piece in force then)."""
    mats = c.journeys[plan].transition_matrices(segment)
    start = max(t for t in mats if t <= tenure)
    return mats[start]


# -- bad interventions and plans ----------------------------------------------------

I = js.Intervention  # noqa: E741 - short in the table below


def _iv(**kwargs):
    """A valid intervention (on onboarding -> churned) with some arguments
    replaced; ``at`` and the effect may be overridden."""
    at = kwargs.pop("at", ("onboarding", "churned"))
    if not {"relative_risk", "change", "probability"} & set(kwargs):
        kwargs["relative_risk"] = 0.5
    return I("call", at, **kwargs)


# (id, builds the plans passed to compare(funnel(), ...), message fragments). The
# plans are built inside the test: some mistakes are caught on construction, some
# only when the plan meets the journey.
BAD = [
    # -- stages that do not exist (known only when applied) -------------------------
    (
        "unknown-from",
        lambda: [js.Plan("p", [_iv(at=("onbording", "churned"))])],
        ["intervention 'call'", "unknown stage 'onbording'"],
    ),
    (
        "unknown-to",
        lambda: [js.Plan("p", [_iv(at=("onboarding", "churn"))])],
        ["intervention 'call'", "unknown stage 'churn'"],
    ),
    (
        "unknown-reassign-to",
        lambda: [js.Plan("p", [_iv(reassign_to="adoption")])],
        ["intervention 'call'", "unknown stage 'adoption'"],
    ),
    (
        "unknown-segment",
        lambda: [js.Plan("p", [_iv(segments=["vip"])])],
        ["intervention 'call'", "unknown segment 'vip'"],
    ),
    (
        "absorbing-from",
        lambda: [js.Plan("p", [_iv(at=("churned", "active"))])],
        ["intervention 'call'", "'churned' is absorbing"],
    ),
    # -- probabilities pushed out of [0, 1] -----------------------------------------
    (
        # onboarding -> active: 0.5 + 0.9 = 1.4
        "change-above-1",
        lambda: [js.Plan("p", [_iv(at=("onboarding", "active"), change=0.9)])],
        ["intervention 'call'", "'onboarding' -> 'active' would become 1.4"],
    ),
    (
        # onboarding -> churned: 0.2 - 0.3 = -0.1
        "change-below-0",
        lambda: [js.Plan("p", [_iv(change=-0.3)])],
        ["intervention 'call'", "'onboarding' -> 'churned' would become -0.1"],
    ),
    (
        # onboarding -> active: 0.5 * 3 = 1.5
        "relative-risk-above-1",
        lambda: [js.Plan("p", [_iv(at=("onboarding", "active"), relative_risk=3)])],
        ["intervention 'call'", "would become 1.5"],
    ),
    (
        # onboarding -> churned: 0.2 * 3 = 0.6 takes 0.4 from the stay (0.3) it
        # is told to reassign to: 0.3 - 0.4 = -0.1. (Freed mass can never push
        # reassign_to above 1 in a row-stochastic row: the row still sums to 1.)
        "relative-risk-drains-reassign-to",
        lambda: [js.Plan("p", [_iv(relative_risk=3, reassign_to="onboarding")])],
        ["intervention 'call'", "'onboarding' -> 'onboarding' would become -0.1"],
    ),
    # -- effects ---------------------------------------------------------------------
    (
        "no-effect-on-a-move",
        lambda: [js.Plan("p", [I("call", ("onboarding", "churned"))])],
        ["intervention 'call'", "with no effect", "only costs", "give at= a stage"],
    ),
    (
        "two-effects",
        lambda: [js.Plan("p", [_iv(relative_risk=0.5, change=-0.1)])],
        ["intervention 'call'", "at most one", "relative_risk", "change"],
    ),
    (
        "negative-relative-risk",
        lambda: [js.Plan("p", [_iv(relative_risk=-0.5)])],
        ["intervention 'call'", "relative_risk must be >= 0"],
    ),
    (
        "nan-relative-risk",
        lambda: [js.Plan("p", [_iv(relative_risk=NAN)])],
        ["intervention 'call'", "relative_risk must be a finite number"],
    ),
    (
        "probability-above-1",
        lambda: [js.Plan("p", [_iv(probability=1.2)])],
        ["intervention 'call'", "probability must be in [0, 1]"],
    ),
    (
        "probability-below-0",
        lambda: [js.Plan("p", [_iv(probability=-0.1)])],
        ["intervention 'call'", "probability must be in [0, 1]"],
    ),
    (
        "reassign-to-a-target",
        lambda: [js.Plan("p", [_iv(reassign_to="churned")])],
        ["intervention 'call'", "reassign_to 'churned' is also a target"],
    ),
    # -- costs and reach ------------------------------------------------------------
    (
        "negative-cost-fixed",
        lambda: [js.Plan("p", [_iv(cost_fixed=-1.0)])],
        ["intervention 'call'", "cost_fixed must be >= 0"],
    ),
    (
        "negative-cost-per-customer",
        lambda: [js.Plan("p", [_iv(cost_per_customer=-1.0)])],
        ["intervention 'call'", "cost_per_customer must be >= 0"],
    ),
    (
        "negative-cost-per-period",
        lambda: [js.Plan("p", [_iv(cost_per_period=-0.01)])],
        ["intervention 'call'", "cost_per_period must be >= 0"],
    ),
    (
        "reach-below-0",
        lambda: [js.Plan("p", [_iv(reach=-0.1)])],
        ["intervention 'call'", "reach must be in [0, 1]"],
    ),
    (
        "reach-above-1",
        lambda: [js.Plan("p", [_iv(reach=1.5)])],
        ["intervention 'call'", "reach must be in [0, 1]"],
    ),
    # -- windows ---------------------------------------------------------------------
    (
        "empty-window",
        lambda: [js.Plan("p", [_iv(window=(2, 2))])],
        ["intervention 'call'", "empty or reversed"],
    ),
    (
        "reversed-window",
        lambda: [js.Plan("p", [_iv(window=(3, 1))])],
        ["intervention 'call'", "empty or reversed"],
    ),
    (
        "negative-window-start",
        lambda: [js.Plan("p", [_iv(window=(-1, 2))])],
        ["intervention 'call'", "tenure >= 0"],
    ),
    (
        "fractional-window-start",
        lambda: [js.Plan("p", [_iv(window=(0.5, 2))])],
        ["intervention 'call'", "window bounds must be integers"],
    ),
    (
        "float-window-end",
        lambda: [js.Plan("p", [_iv(window=(0, 2.0))])],
        ["intervention 'call'", "window bounds must be integers"],
    ),
    (
        "bool-window-bound",
        lambda: [js.Plan("p", [_iv(window=(True, 3))])],
        ["intervention 'call'", "window bounds must be integers"],
    ),
    # -- plans -----------------------------------------------------------------------
    (
        "duplicate-intervention-names",
        lambda: [js.Plan("p", [_iv(), _iv(at=("at_risk", "churned"))])],
        ["plan 'p'", "intervention names repeat", "'call'"],
    ),
    (
        "plan-named-baseline",
        lambda: [js.Plan("baseline", [_iv()])],
        ["not 'baseline'"],
    ),
    (
        "duplicate-plan-names",
        lambda: [js.Plan("p", [_iv()]), js.Plan("p", [])],
        ["plan names must be unique", "['p', 'p']"],
    ),
    # -- contradictions (known only when applied) -----------------------------------
    (
        "two-set-the-same-transition",
        lambda: [
            js.Plan(
                "p",
                [_iv(probability=0.1), I("other", _at_oc(), probability=0.05)],
            )
        ],
        ["plan 'p'", "'call' and 'other' contradict"],
    ),
    (
        "set-then-scale",
        lambda: [
            js.Plan(
                "p",
                [_iv(probability=0.1), I("other", _at_oc(), relative_risk=0.5)],
            )
        ],
        ["plan 'p'", "'call' and 'other' contradict"],
    ),
    (
        "scale-then-set",
        lambda: [
            js.Plan("p", [_iv(change=-0.1), I("other", _at_oc(), probability=0.1)])
        ],
        ["plan 'p'", "'call' and 'other' contradict"],
    ),
    (
        # every exit of onboarding includes onboarding -> churned
        "set-all-exits-then-scale-one",
        lambda: [
            js.Plan(
                "p",
                [
                    I("call", "onboarding", probability=0.1),
                    I("other", _at_oc(), relative_risk=0.5),
                ],
            )
        ],
        ["plan 'p'", "'call' and 'other' contradict"],
    ),
    (
        "freed-mass-to-different-stages",
        lambda: [
            js.Plan(
                "p",
                [
                    _iv(reassign_to="active"),
                    I("other", _at_oc(), relative_risk=0.5, reassign_to="onboarding"),
                ],
            )
        ],
        ["plan 'p'", "'call' and 'other'", "different places"],
    ),
    (
        # same row (onboarding), different transitions, different destinations
        "freed-mass-of-one-row-to-different-stages",
        lambda: [
            js.Plan(
                "p",
                [
                    _iv(reassign_to="active"),
                    I(
                        "other",
                        ("onboarding", "active"),
                        change=-0.1,
                        reassign_to="onboarding",
                    ),
                ],
            )
        ],
        ["plan 'p'", "'call' and 'other'", "different places"],
    ),
]


def _at_oc():
    return ("onboarding", "churned")


@pytest.mark.parametrize(
    ("build", "fragments"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_interventions_and_plans_are_value_errors_naming_them(build, fragments):
    with pytest.raises(ValueError) as err:
        js.compare(funnel(), build(), periods=6)
    for f in fragments:
        assert f in str(err.value), f"{f!r} not in {str(err.value)!r}"


def test_the_plans_of_the_table_are_fine_once_the_mistake_is_removed():
    c = js.compare(
        funnel(),
        [
            js.Plan("a", [_iv(), I("other", ("at_risk", "churned"), change=-0.1)]),
            js.Plan(
                "b",
                [
                    _iv(reassign_to="active"),
                    I("other", _at_oc(), relative_risk=0.5, reassign_to="active"),
                ],
            ),
        ],
        periods=6,
    )
    assert list(c.summary.index) == ["baseline", "a", "b"]


def test_the_same_intervention_name_in_two_plans_is_fine():
    c = js.compare(funnel(), [js.Plan("a", [_iv()]), js.Plan("b", [_iv(reach=0.5)])])
    assert c.summary.loc["b", "customers reached"] == approx(0.5)


# -- effects on the targeted probabilities -----------------------------------------


def test_relative_risk_on_churn_of_the_geometric_chain():
    # active -> churned p = 0.2 -> 0.1 (the freed 0.1 stays in active: the stay
    # is the rest of the row), 100 per period, r = 0, T = 12:
    #   expected lifetime 1/0.1 = 10 vs 1/0.2 = 5
    #   CLV = 100 (1 - 0.9^12) / 0.1 vs 100 (1 - 0.8^12) / 0.2
    #   retention at 12 = 0.9^12 vs 0.8^12
    T = 12
    plan, base, c = one_plan(geometric(0.2, value=100.0), save(), periods=T)
    assert base["expected lifetime"] == approx(5.0, rel=1e-12)
    assert plan["expected lifetime"] == approx(10.0, rel=1e-12)
    assert base["CLV"] == approx(100 * (1 - 0.8**T) / 0.2, rel=1e-12)
    assert plan["CLV"] == approx(100 * (1 - 0.9**T) / 0.1, rel=1e-12)
    assert plan["revenue"] == approx(plan["CLV"], rel=1e-12)
    assert plan[f"retention at {T}"] == approx(0.9**T, rel=1e-12)
    assert base[f"retention at {T}"] == approx(0.8**T, rel=1e-12)
    # lifetime within the horizon: 1 + 0.9 + ... + 0.9^11
    assert plan["lifetime"] == approx((1 - 0.9**T) / 0.1, rel=1e-12)
    assert matrix(c).loc["active"].tolist() == approx([0.9, 0.1], abs=1e-15)
    assert matrix(c, "baseline").loc["active"].tolist() == approx([0.8, 0.2])
    # No cost: no ROI; the incremental value is the CLV gained (cohort of 1).
    assert plan["intervention cost"] == 0.0
    assert np.isnan(plan["ROI"])
    assert plan["incremental net value"] == approx(plan["CLV"] - base["CLV"])


@pytest.mark.parametrize(
    ("effect", "p"),
    [
        ({"relative_risk": 0.5}, 0.1),  # 0.2 * 0.5
        ({"relative_risk": 1.5}, 0.3),  # 0.2 * 1.5: takes 0.1 from the stay
        ({"relative_risk": 0.0}, 0.0),  # never churns within the horizon
        ({"change": -0.05}, 0.15),  # 0.2 - 0.05
        ({"change": 0.3}, 0.5),  # 0.2 + 0.3
        ({"probability": 0.04}, 0.04),
        ({"probability": 1.0}, 1.0),
    ],
)
def test_each_effect_on_the_geometric_chain(effect, p):
    # With churn p the CLV over T at 100 per period is 100 (1 - (1-p)^T) / p
    # (100 T when p = 0).
    T = 10
    if p == 0:  # no way out: an infinite lifetime, and compare says so
        with pytest.warns(js.InfiniteLifetimeWarning, match="'active'"):
            plan, _, c = one_plan(
                geometric(0.2, value=100.0), save(**effect), periods=T
            )
        assert plan["expected lifetime"] == np.inf
    else:
        plan, _, c = one_plan(geometric(0.2, value=100.0), save(**effect), periods=T)
    assert matrix(c).loc["active"].tolist() == approx([1 - p, p], abs=1e-15)
    clv = 100 * T if p == 0 else 100 * (1 - (1 - p) ** T) / p
    assert plan["CLV"] == approx(clv, rel=1e-12)
    assert plan[f"retention at {T}"] == approx((1 - p) ** T, rel=1e-12, abs=1e-15)


ONBOARDING = ["onboarding", "active", "at_risk", "churned"]


@pytest.mark.parametrize(
    ("intervention", "row"),
    [
        # Row onboarding: stay 0.3, active 0.5, churned 0.2.
        # rr 0.5 on churned frees 0.1, shared by the rest of the row in proportion
        # 0.3 : 0.5 (of 0.8): stay 0.3 + 0.1 * 3/8 = 0.3375, active 0.5 + 0.1 * 5/8.
        (
            I("x", ("onboarding", "churned"), relative_risk=0.5),
            [0.3375, 0.5625, 0, 0.1],
        ),
        # ... or all of it to active.
        (
            I("x", ("onboarding", "churned"), relative_risk=0.5, reassign_to="active"),
            [0.3, 0.6, 0, 0.1],
        ),
        # ... or all of it kept in onboarding.
        (
            I(
                "x",
                ("onboarding", "churned"),
                relative_risk=0.5,
                reassign_to="onboarding",
            ),
            [0.4, 0.5, 0, 0.1],
        ),
        # ... or to at_risk, a stage the row never reached.
        (
            I("x", ("onboarding", "churned"), relative_risk=0.5, reassign_to="at_risk"),
            [0.3, 0.5, 0.1, 0.1],
        ),
        # change +0.1 takes 0.1 from the rest in proportion: stay 0.3 - 0.0375,
        # active 0.5 - 0.0625.
        (I("x", ("onboarding", "churned"), change=0.1), [0.2625, 0.4375, 0, 0.3]),
        # probability 0.05 frees 0.15, to active.
        (
            I("x", ("onboarding", "churned"), probability=0.05, reassign_to="active"),
            [0.3, 0.65, 0, 0.05],
        ),
        # Every exit of onboarding halved (active 0.25, churned 0.1): the freed
        # 0.35 goes to the only rest of the row, the stay.
        (I("x", "onboarding", relative_risk=0.5), [0.65, 0.25, 0, 0.1]),
        # Two targets at once, their freed 0.35 to at_risk.
        (
            I(
                "x",
                ("onboarding", ["active", "churned"]),
                relative_risk=0.5,
                reassign_to="at_risk",
            ),
            [0.3, 0.25, 0.35, 0.1],
        ),
    ],
)
def test_where_freed_probability_goes(intervention, row):
    _, _, c = one_plan(funnel(), intervention, periods=2)
    got = matrix(c).loc["onboarding", ONBOARDING].tolist()
    assert got == approx(row, abs=1e-15)
    # the other rows are untouched
    base = matrix(c, "baseline")
    assert np.array_equal(matrix(c).drop("onboarding"), base.drop("onboarding"))


def test_every_move_into_a_stage_from_anywhere():
    # ("*", "churned") halves churn in every row that churns: onboarding (0.2)
    # and at_risk (0.2); each row's 0.1 shared in proportion to its rest.
    # at_risk row: stay 0.3, active 0.5 -> stay 0.3375, active 0.5625.
    _, _, c = one_plan(funnel(), I("x", ("*", "churned"), relative_risk=0.5))
    m = matrix(c)
    assert m.loc["onboarding", ONBOARDING].tolist() == approx([0.3375, 0.5625, 0, 0.1])
    assert m.loc["at_risk", ONBOARDING].tolist() == approx([0, 0.5625, 0.3375, 0.1])
    assert m.loc["active", ONBOARDING].tolist() == approx([0, 0.7, 0.3, 0])
    assert m.loc["churned", ONBOARDING].tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize(
    ("first", "second", "p"),
    [
        # relative risks multiply: 0.2 * 0.5 * 0.5 = 0.05
        ({"relative_risk": 0.5}, {"relative_risk": 0.5}, 0.05),
        # changes add: 0.2 - 0.05 - 0.05 = 0.1
        ({"change": -0.05}, {"change": -0.05}, 0.1),
        # in the plan's order: 0.2 * 0.5 - 0.05 = 0.05 ...
        ({"relative_risk": 0.5}, {"change": -0.05}, 0.05),
        # ... and (0.2 - 0.05) * 0.5 = 0.075
        ({"change": -0.05}, {"relative_risk": 0.5}, 0.075),
    ],
)
def test_interventions_on_the_same_transition_compose(first, second, p):
    T = 8
    plan, _, c = one_plan(
        geometric(0.2, value=100.0),
        js.Intervention("one", ("active", "churned"), **first),
        js.Intervention("two", ("active", "churned"), **second),
        periods=T,
    )
    assert matrix(c).loc["active", "churned"] == approx(p, abs=1e-15)
    assert plan["expected lifetime"] == approx(1 / p, rel=1e-12)


def test_two_interventions_on_one_row_may_share_a_destination():
    # rr 0.5 on onboarding -> churned (frees 0.1) and change -0.1 on
    # onboarding -> active (frees 0.1), both to at_risk: at_risk 0.2.
    _, _, c = one_plan(
        funnel(),
        I("one", ("onboarding", "churned"), relative_risk=0.5, reassign_to="at_risk"),
        I("two", ("onboarding", "active"), change=-0.1, reassign_to="at_risk"),
    )
    assert matrix(c).loc["onboarding", ONBOARDING].tolist() == approx(
        [0.3, 0.4, 0.2, 0.1]
    )


# -- reach: an exact mixture of the touched and the untouched --------------------


def test_partial_reach_is_the_exact_mixture_of_touched_and_untouched():
    # Half the customers have churn 0.1, the other half 0.2, for their whole
    # journey: every figure is the average of the two chains, e.g. expected
    # lifetime 0.5 * 10 + 0.5 * 5 = 7.5, which is not the lifetime of an average
    # churn of 0.15 (1 / 0.15 = 6.67).
    T = 12
    plan, _, c = one_plan(geometric(0.2, value=100.0), save(reach=0.5), periods=T)
    clv_touched = 100 * (1 - 0.9**T) / 0.1
    clv_untouched = 100 * (1 - 0.8**T) / 0.2
    assert plan["CLV"] == approx(0.5 * clv_touched + 0.5 * clv_untouched, rel=1e-12)
    assert plan["expected lifetime"] == approx(7.5, rel=1e-12)
    assert plan[f"retention at {T}"] == approx(0.5 * 0.9**T + 0.5 * 0.8**T)
    assert plan["customers reached"] == approx(0.5)
    # the sub-populations of the plan's journey
    pj = c.journeys["plan"]
    assert pj.segments == ["all | touched: save", "all | touched: none"]
    assert pj.shares.tolist() == approx([0.5, 0.5])
    a = c.results["plan"].segments
    assert a["all | touched: save"].clv == approx(clv_touched, rel=1e-12)
    assert a["all | touched: none"].clv == approx(clv_untouched, rel=1e-12)


@pytest.mark.parametrize("reach", [0.0, 0.3, 1.0])
def test_reach_scales_the_gain_of_a_single_intervention_linearly(reach):
    T = 12
    plan, base, _ = one_plan(geometric(0.2, value=100.0), save(reach=reach), periods=T)
    gain = 100 * (1 - 0.9**T) / 0.1 - 100 * (1 - 0.8**T) / 0.2
    assert plan["CLV"] - base["CLV"] == approx(reach * gain, abs=1e-9)
    assert plan["customers reached"] == approx(reach)


def test_two_partial_reach_interventions_touch_customers_independently():
    # "a" (reach 0.5) halves churn, "b" (reach 0.4) halves it again; the four
    # sub-populations: both 0.2 (churn 0.05), a only 0.3 (0.1), b only 0.2
    # (0.1), neither 0.3 (0.2). Expected lifetime:
    #   0.2 * 20 + 0.3 * 10 + 0.2 * 10 + 0.3 * 5 = 10.5
    plan, _, c = one_plan(
        geometric(0.2),
        js.Intervention("a", ("active", "churned"), relative_risk=0.5, reach=0.5),
        js.Intervention("b", ("active", "churned"), relative_risk=0.5, reach=0.4),
    )
    assert plan["expected lifetime"] == approx(10.5, rel=1e-12)
    assert c.journeys["plan"].shares.tolist() == approx([0.2, 0.3, 0.2, 0.3])
    # customers reached counts each customer once: 1 - 0.5 * 0.6 (not 0.5 + 0.4)
    assert plan["customers reached"] == approx(0.7)
    assert c.reach["customers reached"].tolist() == approx([0.5, 0.4])


# -- tenure windows -------------------------------------------------------------------


def test_window_from_tenure_0_covers_the_first_periods():
    # window (0, 2): churn 0.1 in periods 1 and 2 (tenure 0 and 1), 0.2 after.
    # Alive at the start of periods 1, 2, 3, ...: 1, 0.9, 0.81, 0.81 * 0.8, ...
    #   expected lifetime = 1 + 0.9 + 0.81 / 0.2 = 5.95
    #   retention at 10 = 0.81 * 0.8^8
    #   CLV over 10 = 100 (1 + 0.9) + 100 * 0.81 (1 - 0.8^8) / 0.2
    T = 10
    plan, _, c = one_plan(geometric(0.2, value=100.0), save(window=(0, 2)), periods=T)
    assert plan["expected lifetime"] == approx(5.95, rel=1e-12)
    assert plan[f"retention at {T}"] == approx(0.81 * 0.8**8, rel=1e-12)
    clv = 100 * 1.9 + 100 * 0.81 * (1 - 0.8**8) / 0.2
    assert plan["CLV"] == approx(clv, rel=1e-12)
    r = c.results["plan"].retention
    assert r.iloc[:4].tolist() == approx([1, 0.9, 0.81, 0.648])
    mats = c.journeys["plan"].transition_matrices()
    assert sorted(mats) == [0, 2]
    assert mats[0].loc["active", "churned"] == approx(0.1)
    assert mats[2].loc["active", "churned"] == approx(0.2)


def test_window_starting_later():
    # window (2, 4): churn 0.2, 0.2, 0.1, 0.1, then 0.2.
    # Alive at the start of periods 1..5: 1, 0.8, 0.64, 0.576, 0.5184.
    #   expected lifetime = 1 + 0.8 + 0.64 + 0.576 + 0.5184 / 0.2 = 5.608
    #   retention at 6 = 0.5184 * 0.8^2
    T = 6
    plan, _, _ = one_plan(geometric(0.2, value=1.0), save(window=(2, 4)), periods=T)
    assert plan["expected lifetime"] == approx(5.608, rel=1e-12)
    assert plan[f"retention at {T}"] == approx(0.5184 * 0.64, rel=1e-12)
    assert plan["CLV"] == approx(1 + 0.8 + 0.64 + 0.576 + 0.5184 + 0.5184 * 0.8)


def test_open_ended_window():
    # window (3, None): churn 0.2 for tenures 0..2, 0.1 from tenure 3 on.
    #   expected lifetime = 1 + 0.8 + 0.64 + 0.512 / 0.1 = 7.56
    plan, _, _ = one_plan(geometric(0.2), save(window=(3, None)), periods=5)
    assert plan["expected lifetime"] == approx(7.56, rel=1e-12)


def test_window_cuts_a_tenure_dependent_journey():
    # churn 0.2 until tenure 3, 0.4 from then on; rr 0.5 in window (2, 5):
    # churn by tenure 0.2, 0.2, 0.1, 0.2, 0.2, 0.4, 0.4, ...
    # alive at start of periods 1..6: 1, .8, .64, .576, .4608, .36864
    #   expected lifetime = 1 + .8 + .64 + .576 + .4608 + .36864 / 0.4 = 4.3984
    j = js.Journey(
        ["active", "churned"],
        {0: {"active": {"churned": 0.2}}, 3: {"active": {"churned": 0.4}}},
    )
    plan, _, c = one_plan(j, save(window=(2, 5)), periods=6)
    assert plan["expected lifetime"] == approx(4.3984, rel=1e-12)
    mats = c.journeys["plan"].transition_matrices()
    assert {t: m.loc["active", "churned"] for t, m in mats.items()} == approx(
        {0: 0.2, 2: 0.1, 3: 0.2, 5: 0.4}
    )


# -- segments ------------------------------------------------------------------------


def two_segments(**kwargs) -> js.Journey:
    """Self-serve (70 %) churns 0.2 a period, enterprise (30 %) 0.1."""
    return geometric(
        0.2,
        value=100.0,
        segments={
            "self_serve": {"share": 0.7},
            "enterprise": {"share": 0.3, "transitions": {"active": {"churned": 0.1}}},
        },
        **kwargs,
    )


def test_segments_filter_applies_only_to_the_named_segments():
    # Only self-serve is saved: 0.2 -> 0.1; enterprise keeps 0.1.
    #   expected lifetime = 0.7 * 10 + 0.3 * 10 = 10 (baseline 0.7 * 5 + 0.3 * 10
    #   = 6.5); customers reached = 0.7 of the cohort.
    plan, base, c = one_plan(
        two_segments(), save(segments=["self_serve"], cost_per_customer=1.0)
    )
    assert base["expected lifetime"] == approx(6.5, rel=1e-12)
    assert plan["expected lifetime"] == approx(10.0, rel=1e-12)
    assert plan["customers reached"] == approx(0.7)
    assert plan["intervention cost"] == approx(0.7)
    mats = {
        s: matrix(c, segment=s).loc["active", "churned"]
        for s in ("self_serve", "enterprise")
    }
    assert mats == approx({"self_serve": 0.1, "enterprise": 0.1})
    # A segment given as a bare string works the same.
    plan2, _, _ = one_plan(two_segments(), save(segments="enterprise"))
    # enterprise 0.1 -> 0.05: 0.7 * 5 + 0.3 * 20 = 9.5
    assert plan2["expected lifetime"] == approx(9.5, rel=1e-12)


def test_partial_reach_in_one_segment_only():
    # reach 0.5 in enterprise: 0.7 * 5 + 0.15 * 20 + 0.15 * 10 = 8
    plan, _, c = one_plan(two_segments(), save(segments=["enterprise"], reach=0.5))
    assert plan["expected lifetime"] == approx(8.0, rel=1e-12)
    assert c.journeys["plan"].segments == [
        "self_serve",
        "enterprise | touched: save",
        "enterprise | touched: none",
    ]
    assert plan["customers reached"] == approx(0.15)


# -- costs ---------------------------------------------------------------------------


def test_cost_fixed_is_added_once_undiscounted():
    plan, _, _ = one_plan(
        geometric(0.2, value=100.0, rate=0.05, cohort_size=1000.0),
        save(cost_fixed=5000.0),
    )
    assert plan["intervention cost"] == 5000.0


def test_cost_per_period_for_every_touched_customer_period_in_the_window():
    # Window (0, 2), 10 per customer-period in active, r = 5 %, cohort of 1000,
    # reach 0.5. Touched customers alive at the start of periods 1 and 2: 1 and
    # 0.9 (their churn is 0.1); charged like start-of-period value:
    #   0.5 * 1000 * (10 + 10 * 0.9 / 1.05) = 5000 + 4285.714...
    plan, base, _ = one_plan(
        geometric(0.2, value=100.0, rate=0.05, cohort_size=1000.0),
        save(window=(0, 2), cost_per_period=10.0, reach=0.5),
    )
    assert plan["intervention cost"] == approx(500 * (10 + 9 / 1.05), rel=1e-12)
    assert base["intervention cost"] == 0.0
    # No window: every period the touched customers start in active, T = 12:
    #   0.5 * 1000 * 10 * sum_{k<12} (0.9 / 1.05)^k
    plan, _, _ = one_plan(
        geometric(0.2, value=100.0, rate=0.05, cohort_size=1000.0),
        save(cost_per_period=10.0, reach=0.5),
    )
    q = 0.9 / 1.05
    assert plan["intervention cost"] == approx(5000 * (1 - q**12) / (1 - q))


def test_cost_per_period_has_its_own_discount_rate_when_asked():
    # discount_rate=0 for costs: 1000 * (10 + 9) whatever the journey's rate.
    plan, _, _ = one_plan(
        geometric(0.2, value=100.0, rate=0.05, cohort_size=1000.0),
        save(window=(0, 2), cost_per_period=10.0),
        discount_rate=0.0,
    )
    assert plan["intervention cost"] == approx(19000.0, rel=1e-12)


def test_cost_per_customer_once_at_the_first_visit_within_the_window():
    # risky(): start active; active -> at_risk 0.3; at_risk -> active 0.5,
    # churned 0.2. The intervention acts at at_risk in window (1, 4): tenures 1,
    # 2, 3. A customer is charged 100 the first time they start a period at
    # at_risk with tenure 1, 2 or 3, and never again (one at risk at tenure 1,
    # recovered at 2 and at risk again at 3 pays once). The only way to at_risk
    # is from active, so the first visits at tenure 1, 2, 3 are
    #   0.3, 0.7 * 0.3 = 0.21, 0.7^2 * 0.3 = 0.147   (total 1 - 0.7^3 = 0.657)
    # discounted from their period (start of periods 2, 3, 4) at r = 10 %:
    #   100 * (0.3 / 1.1 + 0.21 / 1.1^2 + 0.147 / 1.1^3)
    j = risky(discount_rate=0.1, cohort_size=10.0)
    iv = I(
        "call",
        ("at_risk", "churned"),
        relative_risk=0.5,
        window=(1, 4),
        cost_per_customer=100.0,
    )
    plan, _, _ = one_plan(j, iv, periods=6)
    once = 100 * (0.3 / 1.1 + 0.21 / 1.1**2 + 0.147 / 1.1**3)
    assert plan["intervention cost"] == approx(10 * once, rel=1e-12)
    assert plan["customers reached"] == approx(10 * 0.657, rel=1e-12)
    # A horizon of 3 periods sees only tenures 1 and 2 of the window.
    plan, _, _ = one_plan(j, iv, periods=3)
    assert plan["intervention cost"] == approx(
        10 * 100 * (0.3 / 1.1 + 0.21 / 1.1**2), rel=1e-12
    )
    assert plan["customers reached"] == approx(10 * 0.51, rel=1e-12)
    # A window after the horizon costs nothing and reaches no one.
    late = I("late", ("at_risk", "churned"), relative_risk=0.5, window=(6, 9))
    plan, _, _ = one_plan(j, late, periods=6)
    assert plan["customers reached"] == 0.0


def test_cost_per_period_counts_every_visit_where_cost_per_customer_counts_one():
    # The same moment charged per customer-period: every period started at
    # at_risk with tenure 1..3 pays. Under the plan the at_risk row in the window
    # is stay 0.3375, active 0.5625, churned 0.1 (the freed 0.1 shared 3 : 5).
    # at_risk at tenure 1: 0.3; tenure 2: 0.3 * 0.7 + 0.3 * 0.3375 = 0.31125;
    # active at tenure 2: 0.7 * 0.7 + 0.3 * 0.5625 = 0.65875;
    # at_risk at tenure 3: 0.65875 * 0.3 + 0.31125 * 0.3375 = 0.302671875.
    # r = 0: cost = 100 * (0.3 + 0.31125 + 0.302671875) > 100 * 0.657
    iv = I(
        "call",
        ("at_risk", "churned"),
        relative_risk=0.5,
        window=(1, 4),
        cost_per_period=100.0,
    )
    plan, _, _ = one_plan(risky(), iv, periods=6)
    assert plan["intervention cost"] == approx(100 * 0.913921875, rel=1e-12)


def test_cost_per_customer_with_arrivals():
    # Cohort of 10 and 2 arrivals at t = 1, T = 3, window (1, 4), r = 10 %.
    # The cohort sees tenures 1, 2 (periods 2, 3): 10 * (0.3 d + 0.21 d^2).
    # The arrivals are at tenure 0 in period 2 and tenure 1 in period 3 (start
    # at t = 2): 2 * 0.3 d^2, with d = 1 / 1.1.
    # Reached: 10 * 0.51 + 2 * 0.3 = 5.7.
    d = 1 / 1.1
    j = risky(discount_rate=0.1, cohort_size=10.0, arrivals=[2.0])
    iv = I(
        "call",
        ("at_risk", "churned"),
        relative_risk=0.5,
        window=(1, 4),
        cost_per_customer=100.0,
    )
    plan, _, _ = one_plan(j, iv, periods=3)
    assert plan["intervention cost"] == approx(
        100 * (10 * (0.3 * d + 0.21 * d**2) + 2 * 0.3 * d**2), rel=1e-12
    )
    assert plan["customers reached"] == approx(5.7, rel=1e-12)


def test_cost_per_customer_at_tenure_0_charges_the_whole_cohort():
    # Window (0, 3) on the stage everyone starts in: all 1000 reached at t = 0,
    # undiscounted; partial reach 0.8 charges 800.
    plan, _, _ = one_plan(
        geometric(0.2, value=100.0, rate=0.05, cohort_size=1000.0),
        save(cost_per_customer=50.0, window=(0, 3), reach=0.8),
    )
    assert plan["intervention cost"] == approx(800 * 50.0, rel=1e-12)
    assert plan["customers reached"] == approx(800.0, rel=1e-12)


def test_incremental_net_value_and_roi():
    # Cohort of 1000, churn 0.2 -> 0.1, 100 per period, r = 0, T = 12.
    # Population net value: 1000 * 1000 (1 - 0.9^12) vs 1000 * 500 (1 - 0.8^12).
    # Cost: 5000 fixed + 20 for each of the 1000 customers at tenure 0 = 25000.
    #   incremental net value = (change in net value) - 25000, ROI = that / 25000
    T = 12
    plan, base, _ = one_plan(
        geometric(0.2, value=100.0, cohort_size=1000.0),
        save(cost_fixed=5000.0, cost_per_customer=20.0),
        periods=T,
    )
    gain = 1000 * (1000 * (1 - 0.9**T) - 500 * (1 - 0.8**T))
    assert base["population net value"] == approx(1000 * 500 * (1 - 0.8**T))
    assert plan["population net value"] - base["population net value"] == approx(gain)
    assert plan["intervention cost"] == approx(25000.0)
    assert plan["incremental net value"] == approx(gain - 25000.0, rel=1e-12)
    assert plan["ROI"] == approx((gain - 25000.0) / 25000.0, rel=1e-12)
    assert base["incremental net value"] == 0.0
    assert np.isnan(base["ROI"])
    # costs are reported apart, not taken out of CLV or net value
    assert plan["CLV"] == approx(100 * (1 - 0.9**T) / 0.1, rel=1e-12)


def test_costs_of_a_plan_add_up_over_its_interventions():
    # A: 1000 fixed; B: 2 per customer-period in active over (0, 2): 2 * (1 + 0.9)
    # per customer (B halves churn too); C: 30 per customer at at tenure 0.
    # Cohort 1, r = 0: 1000 + 3.8 + 30.
    plan, _, _ = one_plan(
        geometric(0.2, value=100.0),
        js.Intervention("A", ("active", "churned"), change=0.0, cost_fixed=1000.0),
        js.Intervention(
            "B",
            ("active", "churned"),
            relative_risk=0.5,
            window=(0, 2),
            cost_per_period=2.0,
        ),
        js.Intervention(
            "C", ("active", "churned"), relative_risk=1.0, cost_per_customer=30.0
        ),
    )
    assert plan["intervention cost"] == approx(1033.8, rel=1e-12)


def test_net_value_weights_and_the_cost_stream():
    # The cost stream added by a plan carries weight 0 in net value; the
    # journey's own streams keep their weights (revenue - cost_to_serve).
    j = geometric(
        0.2,
        values={"revenue": {"active": 100.0}, "cost_to_serve": {"active": 30.0}},
        net={"revenue": 1, "cost_to_serve": -1},
    )
    plan, _, c = one_plan(j, save(cost_per_period=5.0), periods=4)
    # CLV over 4 at churn 0.1: 70 * (1 + 0.9 + 0.81 + 0.729) = 240.73
    assert plan["CLV"] == approx(70 * 3.439, rel=1e-12)
    assert plan["intervention cost"] == approx(5 * 3.439, rel=1e-12)
    assert c.journeys["plan"].streams == [
        "revenue",
        "cost_to_serve",
        js._base.conventions.COST_STREAM,
    ]
    assert re.fullmatch(r".* under 'plan'", c.journeys["plan"].name)


def test_an_intervention_on_its_own_stay_is_a_value_error():
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.2}})
    iv = js.Intervention("stay", at=("active", "active"), relative_risk=2.0)
    with pytest.raises(ValueError, match="targets its own stay"):
        js.compare(j, [js.Plan("p", [iv])], periods=3)


def test_settings_in_windows_that_do_not_overlap_do_not_contradict():
    # Two interventions set the same probability, one for tenures [0, 3), the
    # other from 3 on: churn 0.1 then 0.3, retention after 4 periods .9^3 * .7.
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.2}})
    early = js.Intervention(
        "early", at=("active", "churned"), probability=0.1, window=(0, 3)
    )
    late = js.Intervention(
        "late", at=("active", "churned"), probability=0.3, window=(3, None)
    )
    c = js.compare(j, [js.Plan("p", [early, late])], periods=4)
    assert c.summary.loc["p", "retention at 4"] == approx(0.9**3 * 0.7)


def test_customers_reached_per_intervention():
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.2}})
    a = js.Intervention("a", at=("active", "churned"), relative_risk=0.5, reach=0.5)
    c = js.compare(j, [js.Plan("p", [a])], periods=3)
    assert c.summary.loc["p", "reached a"] == approx(0.5)


def test_calendar_window_is_the_tenure_window_of_the_starting_cohort():
    # Churn 0.2 halved during calendar periods starting at t = 1, 2: retention at
    # 3 is 0.8 * 0.9 * 0.9, whether the window is given in tenure or calendar.
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.2}})
    by_calendar = js.Intervention(
        "c", at=("active", "churned"), relative_risk=0.5, calendar=(1, 3)
    )
    by_tenure = js.Intervention(
        "t", at=("active", "churned"), relative_risk=0.5, window=(1, 3)
    )
    s = js.compare(
        j, [js.Plan("cal", [by_calendar]), js.Plan("ten", [by_tenure])], periods=3
    ).summary
    assert s.loc["cal", "retention at 3"] == approx(0.8 * 0.9 * 0.9)
    assert s.loc["ten", "retention at 3"] == approx(0.8 * 0.9 * 0.9)


def test_calendar_and_tenure_windows_combine():
    iv = js.Intervention(
        "c",
        at=("active", "churned"),
        relative_risk=0.5,
        window=(2, 6),
        calendar=(0, 4),
    )
    # A customer who joined at s meets it at tenures in [2, 6) and [0 - s, 4 - s).
    assert iv.tenure_window(0) == (2, 4)
    assert iv.tenure_window(1) == (2, 3)
    assert iv.tenure_window(2) is None
    with pytest.raises(ValueError, match="never overlap"):
        js.Intervention(
            "c",
            at=("active", "churned"),
            relative_risk=0.5,
            window=(5, 6),
            calendar=(0, 4),
        )


def test_calendar_windows_with_arrivals_by_cohort():
    # Churn 0.2 halved in calendar periods starting at t = 1 only. The cohort of
    # 10 at t = 0 and 10 arrivals at t = 1 (both meet the campaign in their
    # first period there: tenure 1 and tenure 0). Customers alive at t = 2:
    # cohort 10 * 0.8 * 0.9, arrivals 10 * 0.9; value 1 a period, r = 0:
    # cohort 10 * (1 + 0.8), arrivals 10 * 1 over periods 1-2 / 2.
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.2}},
        values={"revenue": {"active": 1.0}},
        cohort_size=10,
        arrivals=[10.0],
    )
    iv = js.Intervention(
        "c",
        at=("active", "churned"),
        relative_risk=0.5,
        calendar=(1, 2),
        cost_per_period=1.0,
    )
    s = js.compare(j, [js.Plan("p", [iv])], periods=2).summary
    # Value: cohort periods 1, 2 on x0 = 1 and x1 = 0.8; arrival period 2 on 1.
    assert s.loc["p", "population net value"] == approx(10 * 1.8 + 10 * 1.0)
    # Cost: customers starting a period in [1, 2) at active: cohort 8, arrivals 10.
    assert s.loc["p", "intervention cost"] == approx(8 + 10)
