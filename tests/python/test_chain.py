"""The journey as a Markov chain (issue 13, items 1, 2 and 11): one definition
of "absorbing" everywhere, retention and hazard accurate in the tail, and the
analytics Markov-chain libraries offer, against closed forms, numpy reference
computations on random journeys and exact rational arithmetic on an
ill-conditioned case."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

import journeysim as js
from conftest import random_chain
from journeysim.warnings import IllConditionedWarning, InfiniteLifetimeWarning

approx = pytest.approx


# -- item 1: a stay that rounds to 1.0 with exits still positive ---------------------

NEARLY_CLOSED = [
    [1.0, 3e-18, 0, 1e-18],
    [0, 0.5, 0.5, 0],
    [0.25, 0, 0.5, 0.25],
    [0, 0, 0, 1.0],
]


def nearly_closed(**kwargs) -> js.Journey:
    return js.Journey(["a", "b", "c", "d"], NEARLY_CLOSED, start="b", **kwargs)


def test_a_stage_with_exits_is_not_absorbing_even_when_its_stay_rounds_to_one():
    j = nearly_closed(value_stages=["a"])
    assert j.absorbing == ["d"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IllConditionedWarning)
        a = j.analyze(periods=400)
    # Every figure reads the same set of absorbing stages.
    assert a.absorption.to_dict() == {"d": approx(1.0, rel=1e-12)}
    T = 400
    assert a.retention.iloc[:T].sum() == approx(a.lifetime_within_horizon, rel=1e-12)
    assert a.stages.loc["d", "remaining_lifetime"] == 0.0
    # From a: 1 / 4e-18 periods there, then 3/4 of them go to b, half of whom
    # come back: L_a = 2.5e17 + 0.75 * 0.5 * L_a = 4e17; from b, half reach a.
    assert a.stages.loc["a", "remaining_lifetime"] == approx(4e17, rel=1e-12)
    assert a.expected_lifetime == approx(2e17, rel=1e-12)
    assert a.expected_lifetime == approx(a.fundamental_matrix.loc["b"].sum(), rel=1e-12)
    # Time to value: half of those in b reach a, through c (2 + 2 periods on
    # average for those who do: first passage b -> c -> a).
    ttv = a.time_to_value
    assert ttv["reached"] == approx(0.5, rel=1e-12)
    assert ttv["never"] == approx(0.5, rel=1e-12)
    assert ttv["mean_periods"] == approx(4.0, rel=1e-12)
    assert ttv["mean_periods_unconditional"] == math.inf


def test_declared_absorbing_stage_with_an_exit_is_refused():
    with pytest.raises(ValueError, match="absorbing stage 'a' has an exit"):
        js.Journey(["a", "b", "c", "d"], NEARLY_CLOSED, absorbing=["a", "d"])


# -- item 2: retention and hazard in the tail ----------------------------------------


@pytest.mark.parametrize(
    ("churn", "T", "expected"),
    [(0.5, 60, 0.5**60), (0.01, 5000, math.exp(5000 * math.log1p(-0.01)))],
)
def test_retention_keeps_relative_precision_in_the_tail(churn, T, expected):
    a = js.Journey(["active", "churned"], {"active": {"churned": churn}}).analyze(
        periods=T
    )
    assert a.retention.iloc[-1] == approx(expected, rel=1e-11)
    assert np.isfinite(a.hazard).all()
    np.testing.assert_allclose(a.hazard, churn, rtol=1e-12)


def test_hazard_is_nan_once_no_one_is_retained():
    a = js.Journey(["active", "churned"], {"active": {"churned": 1.0}}).analyze(
        periods=3
    )
    assert a.hazard.iloc[0] == 1.0
    assert a.hazard.iloc[1:].isna().all()


def test_retention_of_a_segmented_journey_is_accurate_in_the_tail():
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.1}},
        segments={
            "slow": {"share": 0.5, "transitions": {"active": {"churned": 0.1}}},
            "fast": {"share": 0.5, "transitions": {"active": {"churned": 0.9}}},
        },
    )
    a = j.analyze(periods=300)
    expected = 0.5 * 0.9**300 + 0.5 * 0.1**300
    assert a.retention.iloc[-1] == approx(expected, rel=1e-11)


# -- item 11: against numpy on random journeys ---------------------------------------


def numpy_reference(P: np.ndarray, n_abs: int):
    m = len(P) - n_abs
    Q, R = P[:m, :m], P[:m, m:]
    N = np.linalg.inv(np.eye(m) - Q)
    return N, N @ R, N.sum(axis=1)


@pytest.mark.parametrize("seed", range(8))
def test_fundamental_and_absorption_matrices_match_numpy(seed):
    rng = np.random.default_rng(seed)
    n, k = 8, 2
    P = random_chain(n, k, rng)
    names = [f"s{i}" for i in range(n)]
    j = js.Journey(names, P)
    a = j.analyze(periods=5)
    N, B, t = numpy_reference(P, k)
    np.testing.assert_allclose(a.fundamental_matrix.to_numpy(), N, rtol=1e-12)
    np.testing.assert_allclose(a.absorption_matrix.to_numpy(), B, rtol=1e-12)
    np.testing.assert_allclose(a.time_to_absorption.iloc[: n - k], t, rtol=1e-12)
    assert a.time_to_absorption.iloc[n - k :].eq(0).all()
    assert list(a.absorption_matrix.columns) == names[n - k :]
    # The start mix's absorption is its row of the matrix.
    np.testing.assert_allclose(a.absorption, B[0], rtol=1e-12)
    # Hitting the first absorbing stage before the second = absorption there.
    h = j.hitting_probabilities(names[n - k], avoid=names[n - k + 1])
    np.testing.assert_allclose(h["probability"].iloc[: n - k], B[:, 0], rtol=1e-12)
    np.testing.assert_allclose(
        h["never"].iloc[: n - k], B[:, 1], rtol=1e-12, atol=1e-300
    )


def irreducible(n: int, rng: np.random.Generator) -> np.ndarray:
    P = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    for i in range(n):
        P[i, (i + 1) % n] += 0.1  # a cycle through every stage
    return P / P.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(8))
def test_stationary_distribution_and_returns_match_numpy(seed):
    rng = np.random.default_rng(100 + seed)
    n = 7
    P = irreducible(n, rng)
    names = [f"s{i}" for i in range(n)]
    j = js.Journey(names, P)
    assert j.absorbing == []
    # numpy: pi (I - P) = 0, sum pi = 1, by least squares on the stacked system.
    A = np.vstack([(np.eye(n) - P).T, np.ones(n)])
    pi = np.linalg.lstsq(A, np.r_[np.zeros(n), 1.0], rcond=None)[0]
    st = j.stationary_distribution()
    assert st.shape == (1, n)
    np.testing.assert_allclose(st.iloc[0].to_numpy(), pi, rtol=1e-12)
    np.testing.assert_allclose(st.to_numpy() @ P, st.to_numpy(), rtol=1e-12)
    r = j.first_returns()
    np.testing.assert_allclose(r["probability"], 1.0, rtol=1e-14)
    assert (r["never"] == 0).all()
    np.testing.assert_allclose(r["mean_periods"], 1 / pi, rtol=1e-12)  # Kac
    c = j.classification()
    assert (c["kind"] == "recurrent").all() and (c["class"] == 1).all()
    # Hitting times to s0 from everywhere: h = 1 + P[-0, -0] h, by numpy.
    Qm = P[1:, 1:]
    mean = np.linalg.solve(np.eye(n - 1) - Qm, np.ones(n - 1))
    h = j.hitting_probabilities("s0")
    np.testing.assert_allclose(h["mean_periods"].iloc[1:], mean, rtol=1e-12)
    assert (h["never"] == 0).all()
    np.testing.assert_allclose(
        h["mean_periods_unconditional"].iloc[1:], mean, rtol=1e-12
    )


def test_first_returns_of_transient_stages_match_numpy():
    rng = np.random.default_rng(7)
    n, k = 6, 1
    P = random_chain(n, k, rng)
    names = [f"s{i}" for i in range(n)]
    r = js.Journey(names, P).first_returns()
    for i in range(n - k):
        rest = [x for x in range(n) if x != i]
        Q = P[np.ix_(rest, rest)].copy()
        # Probability of reaching i from each other stage (i and absorbing
        # stages stop): h = P[rest, i] + Q' h over the transient others.
        trans = [x for x in rest if x < n - k]
        Qt = P[np.ix_(trans, trans)]
        h = np.linalg.solve(np.eye(len(trans)) - Qt, P[trans, i])
        g = np.linalg.solve(np.eye(len(trans)) - Qt, h)  # E[T; reached] - ...
        f = P[i, i] + P[i, trans] @ h
        t = P[i, i] + P[i, trans] @ (h + g)
        assert r["probability"].iloc[i] == approx(f, rel=1e-12)
        assert r["never"].iloc[i] == approx(1 - f, rel=1e-10)
        assert r["mean_periods"].iloc[i] == approx(t / f, rel=1e-12)
        assert r["mean_periods_unconditional"].iloc[i] == math.inf
        del Q


def test_classes_and_periods_worked_by_hand():
    # a -> {b, c} cycle of period 2, d -> d absorbing, e leaks to a or d.
    moves = {
        "a": {"b": 0.5, "d": 0.5},
        "b": {"c": 1.0},
        "c": {"b": 1.0},
        "e": {"a": 0.5, "e": 0.5},
    }
    j = js.Journey(["a", "b", "c", "d", "e"], moves)
    classes = j.communicating_classes()
    assert [(c.stages, c.recurrent, c.period) for c in classes] == [
        (("b", "c"), True, 2),
        (("d",), True, 1),
        (("a",), False, 0),
        (("e",), False, 1),
    ]
    st = j.stationary_distribution()
    assert list(st.index) == ["b + c", "d"]
    assert st.loc["b + c"].tolist() == [0, 0.5, 0.5, 0, 0]
    # b and c are not absorbing but can never be left: infinite visits.
    with pytest.warns(InfiniteLifetimeWarning, match="'b', 'c' can never be absorbed"):
        a = j.analyze(periods=3)
    fm = a.fundamental_matrix
    assert fm.loc["a", "a"] == 1.0 and fm.loc["a", "b"] == math.inf
    assert fm.loc["e", "e"] == 2.0 and fm.loc["e", "a"] == 1.0
    assert a.time_to_absorption["a"] == math.inf
    assert j.transient == ["a", "b", "c", "e"]
    assert j.classification()["kind"].to_dict() == {
        "a": "transient",
        "b": "recurrent",
        "c": "recurrent",
        "d": "recurrent",
        "e": "transient",
    }


def test_segmented_journey_needs_a_segment_for_long_run_analytics():
    j = js.Journey(
        ["a", "b"],
        {"a": {"b": 0.5}, "b": {"a": 0.5}},
        segments={
            "x": {"share": 0.25, "transitions": {"a": {"b": 0.5}, "b": {"a": 0.5}}},
            "y": {"share": 0.75, "transitions": {"a": {"b": 0.2}, "b": {"a": 0.6}}},
        },
    )
    with pytest.raises(ValueError, match="name one"):
        j.stationary_distribution()
    assert j.stationary_distribution("y").iloc[0].tolist() == approx([0.75, 0.25])
    # Hitting probabilities mix the segments by share; mean times weight by
    # those who get there: 0.25 * 2 + 0.75 * 5 periods from a to b.
    h = j.hitting_probabilities("b")
    assert h.loc["a", "mean_periods"] == approx(0.25 * 2 + 0.75 * 5, rel=1e-12)


def test_tenure_dependent_hitting_and_visits_match_brute_force():
    # Churn 0.5 in the first period, then 0.1; upgrade 0.2 from tenure 2.
    j = js.Journey(
        ["active", "premium", "churned"],
        {
            0: {"active": {"churned": 0.5}},
            2: {
                "active": {"churned": 0.1, "premium": 0.2},
                "premium": {"churned": 0.05},
            },
        },
    )
    P0 = np.array(j.transition_matrices()[0])
    P2 = np.array(j.transition_matrices()[2])
    x = np.array([1.0, 0.0, 0.0])
    visits = np.zeros(3)
    for k in range(4000):
        visits += x
        x = x @ (P0 if k < 2 else P2)
    a = j.analyze(periods=2)
    fm = a.fundamental_matrix
    np.testing.assert_allclose(fm.loc["active"].to_numpy(), visits[:2], rtol=1e-12)
    h = j.hitting_probabilities("premium")
    # Reach premium: survive tenures 0 and 1 (half churn in each), then 0.2
    # of the 0.3 who leave active each period go to premium.
    assert h.loc["active", "probability"] == approx(0.25 * 0.2 / 0.3, rel=1e-12)
    # Those who do: 2 periods to tenure 2, then a geometric wait of mean 1 / 0.3.
    assert h.loc["active", "mean_periods"] == approx(2 + 1 / 0.3, rel=1e-12)


def test_hitting_probabilities_refuse_bad_stages():
    j = js.Journey(["a", "b"], {"a": {"b": 0.5}})
    with pytest.raises(ValueError, match="unknown stage 'z'"):
        j.hitting_probabilities("z")
    with pytest.raises(ValueError, match="both in target and in avoid"):
        j.hitting_probabilities("b", avoid=["b"])
    with pytest.raises(ValueError, match="at least one stage"):
        j.hitting_probabilities([])


# -- item 11: exact rational arithmetic on an ill-conditioned case -------------------


def rational_inverse(A: list[list[Fraction]]) -> list[list[Fraction]]:
    n = len(A)
    M = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(A)]
    for c in range(n):
        p = next(r for r in range(c, n) if M[r][c] != 0)
        M[c], M[p] = M[p], M[c]
        piv = M[c][c]
        M[c] = [v / piv for v in M[c]]
        for r in range(n):
            if r != c and M[r][c] != 0:
                f = M[r][c]
                M[r] = [a - f * b for a, b in zip(M[r], M[c])]
    return [row[n:] for row in M]


def test_ill_conditioned_chain_matches_exact_rational_arithmetic():
    # Exits of 1e-13 next to ordinary ones: cond(I - Q) ~ 1e13.
    exits = {
        "a": {"b": 0.3, "c": 1e-13},
        "b": {"a": 0.5, "c": 2e-13, "end": 1e-14},
        "c": {"a": 0.25, "b": 0.25},
    }
    stages = ["a", "b", "c", "end"]
    j = js.Journey(stages, exits, start="a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IllConditionedWarning)
        a = j.analyze(periods=1)
    assert a.condition_number > 1e12
    m = 3
    # I - Q in rationals, its diagonal the exact sum of each row's exits.
    A = [[Fraction(0)] * m for _ in range(m)]
    for i, s in enumerate(stages[:m]):
        for t, p in exits[s].items():
            A[i][i] += Fraction(p)
            if t != "end":
                A[i][stages.index(t)] -= Fraction(p)
    N = rational_inverse(A)
    got = a.fundamental_matrix.to_numpy()
    for r in range(m):
        for c in range(m):
            assert got[r, c] == approx(float(N[r][c]), rel=1e-12)
    # numpy's LU on the same matrix loses digits here; the core does not.
    Q = np.array(
        [[float(-A[r][c]) if r != c else 0.0 for c in range(m)] for r in range(m)]
    )
    naive = np.linalg.inv(np.eye(m) - Q)
    rel = np.max(np.abs(naive - np.array(N, dtype=float)) / np.array(N, dtype=float))
    assert rel > 1e-6

    # Stationary distribution of a nearly decomposable closed chain.
    closed = {"x": {"y": 1e-12}, "y": {"x": 3e-12, "z": 0.5}, "z": {"y": 0.5}}
    k = js.Journey(["x", "y", "z"], closed)
    pi = k.stationary_distribution().iloc[0].to_numpy()
    # Balance: pi_x 1e-12 = pi_y 3e-12, pi_y 0.5 = pi_z 0.5 (a birth-death chain).
    px, py, pz = Fraction(3), Fraction(1), Fraction(1)
    tot = px + py + pz
    np.testing.assert_allclose(
        pi, [float(px / tot), float(py / tot), float(pz / tot)], rtol=1e-12
    )
