"""Journey.moments_of_truth: exact sensitivities, checked against finite
differences of the metric under a tiny intervention, and against a closed form."""

from __future__ import annotations

import pytest
from pytest import approx

import journeysim as js


def metric_under(j, frm, to, eps, metric, horizon, accrual):
    """The metric when eps of row `frm` moves from staying put to `to`."""
    iv = js.Intervention("eps", at=(frm, to), change=eps, reassign_to=frm)
    c = js.compare(j, [js.Plan("p", [iv])], periods=horizon or 50, accrual=accrual)
    a = c.results["p"]
    if metric == "clv":
        return a.clv if horizon else a.lifetime_clv
    if metric == "lifetime":
        return a.lifetime_within_horizon if horizon else a.expected_lifetime
    return a.retention_at(horizon)


@pytest.mark.parametrize(
    ("metric", "horizon"),
    [
        ("clv", 24),
        ("clv", None),
        ("lifetime", None),
        ("lifetime", 36),
        ("retention", 12),
    ],
)
@pytest.mark.parametrize("accrual", ["start", "end", "half-cycle", "life-table"])
def test_sensitivities_equal_finite_differences(metric, horizon, accrual):
    # The default journey has a tenure piece, two streams with a move value.
    j = js.default_journey("small_business")
    m = j.moments_of_truth(metric, horizon, accrual=accrual)
    for (frm, to), row in list(m.iterrows())[:5]:
        eps = 1e-6
        up = metric_under(j, frm, to, eps, metric, horizon, accrual)
        down = metric_under(j, frm, to, -eps, metric, horizon, accrual)
        fd = (up - down) / (2 * eps)
        assert row.sensitivity == approx(fd, rel=1e-6, abs=1e-6)


def test_geometric_lifetime_closed_form():
    # active -> churned with p: lifetime 1/p; moving mass from staying to churn
    # changes it by d(1/p)/dp = -1/p^2.
    p = 0.2
    j = js.Journey(["active", "churned"], {"active": {"churned": p}})
    m = j.moments_of_truth("lifetime")
    row = m.loc[("active", "churned")]
    assert row.sensitivity == approx(-1 / p**2, rel=1e-12)
    assert row.direction == "decrease"
    assert row.gain_per_point == approx(0.01 / p**2, rel=1e-12)


def test_ranking_and_flags():
    j = js.default_journey("small_business")
    m = j.moments_of_truth("clv", 36)
    assert list(m.columns) == [
        "probability",
        "sensitivity",
        "direction",
        "gain_per_point",
        "moment_of_truth",
    ]
    assert m["gain_per_point"].is_monotonic_decreasing
    assert m.loc[("renewal_decision", "churned"), "moment_of_truth"]
    assert "churned" not in m.index.get_level_values("from")


def test_destination_to_a_stage():
    j = js.default_journey("small_business")
    m = j.moments_of_truth("lifetime", to="churned")
    assert ("onboarding", "churned") not in m.index  # the destination itself


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "nps"}, "metric must be one of"),
        ({"metric": "retention"}, "needs a horizon"),
        ({"horizon": 0}, "horizon must be"),
        ({"to": "nowhere"}, "unknown stage 'nowhere'"),
        ({"accrual": "middle"}, "accrual must be"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        js.default_journey("small_business").moments_of_truth(**kwargs)


def test_undefined_sensitivities_are_labelled():
    # r = 0 and value in an absorbing stage: the whole-lifetime value diverges.
    j = js.Journey(
        ["a", "won", "lost"],
        {"a": {"won": 0.3, "lost": 0.2}},
        values={"revenue": {"a": 1.0, "won": 5.0}},
    )
    m = j.moments_of_truth("clv")
    assert (m.loc[m["sensitivity"].isna(), "direction"] == "undefined").all()


def test_transitions_possible_only_later_are_listed():
    j = js.Journey(
        ["a", "b", "c"],
        {0: {"a": {"c": 0.1}}, 2: {"a": {"b": 0.2, "c": 0.1}}},
    )
    m = j.moments_of_truth("lifetime")
    assert ("a", "b") in m.index
