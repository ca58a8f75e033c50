"""fit(): what a row never observed becomes (``unobserved=``), MAP estimates
beside posterior means, and standard errors (issue 13, item 12). Closed forms
derived by hand on small counts, and a Monte Carlo check that the standard
errors are the spread of the estimates over repeated logs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pytest import approx

import journeysim as js


def log(rows):
    return pd.DataFrame(rows, columns=["customer", "period", "stage"])


# From a: two customers to b, one to c, in one period; b and c absorbing.
# Row a counts n = (a: 0, b: 2, c: 1), n = 3.
SPLIT = log(
    [(1, 0, "a"), (1, 1, "b"), (2, 0, "a"), (2, 1, "b"), (3, 0, "a"), (3, 1, "c")]
)


def row_a(frame: pd.DataFrame) -> list[float]:
    return frame.loc["a", ["a", "b", "c"]].tolist()


@pytest.mark.parametrize(
    ("prior", "mean", "map_", "se"),
    [
        # No prior: the MLE n/3; its binomial error sqrt(p (1 - p) / n). The MAP
        # is the mode of Dirichlet(0, 2, 1): only b's parameter exceeds 1.
        (
            0.0,
            [0, 2 / 3, 1 / 3],
            [0, 1, 0],
            [0, math.sqrt(2 / 9 / 3), math.sqrt(2 / 9 / 3)],
        ),
        # Uniform prior: Dirichlet(1, 3, 2), mean alpha/6; the MAP is the MLE;
        # the posterior sd sqrt(p (1 - p) / (6 + 1)).
        (
            1.0,
            [1 / 6, 1 / 2, 1 / 3],
            [0, 2 / 3, 1 / 3],
            [math.sqrt(5 / 36 / 7), math.sqrt(1 / 4 / 7), math.sqrt(2 / 9 / 7)],
        ),
        # Dirichlet(2, 4, 3): (n + a - 1) / (n + sum a - K) = (1, 3, 2) / 6.
        (
            2.0,
            [2 / 9, 4 / 9, 3 / 9],
            [1 / 6, 3 / 6, 2 / 6],
            [math.sqrt(14 / 81 / 10), math.sqrt(20 / 81 / 10), math.sqrt(2 / 9 / 10)],
        ),
        # Dirichlet(0.5, 2.5, 1.5): a's density grows without bound as p_a -> 0;
        # the mode is there, the rest in proportion to (1.5, 0.5).
        (
            0.5,
            [0.5 / 4.5, 2.5 / 4.5, 1.5 / 4.5],
            [0, 0.75, 0.25],
            [
                math.sqrt((1 / 9) * (8 / 9) / 5.5),
                math.sqrt((5 / 9) * (4 / 9) / 5.5),
                math.sqrt((1 / 3) * (2 / 3) / 5.5),
            ],
        ),
    ],
)
def test_mean_map_and_standard_errors_by_hand(prior, mean, map_, se):
    f = js.fit(SPLIT, absorbing=["b", "c"], prior=prior)
    assert row_a(f.estimate()) == approx(mean, abs=1e-12)
    assert row_a(f.estimate("map")) == approx(map_, abs=1e-12)
    assert row_a(f.standard_errors) == approx(se, abs=1e-12)
    # Absorbing rows are fixed: no spread, the same in every estimate.
    assert f.standard_errors.loc["b"].tolist() == [0, 0, 0]
    assert f.estimate("map").loc["b", "b"] == 1.0
    s = f.summary()
    assert s.loc[("a", "b"), "count"] == 2 and s.loc[("a", "b"), "row_count"] == 3
    assert s.loc[("a", "b"), "map"] == approx(map_[1])
    assert s.loc[("a", "b"), "std_error"] == approx(se[1])
    assert not s.loc[("a", "b"), "fixed"] and s.loc[("c", "c"), "fixed"]
    assert list(s.columns) == [
        "count",
        "row_count",
        "estimate",
        "map",
        "std_error",
        "low",
        "high",
        "fixed",
    ]


def test_map_where_the_mode_is_a_vertex_or_not_unique():
    # One move to b, one to c, no prior: Dirichlet(1, 1) is flat: no unique mode.
    flat = log([(1, 0, "a"), (1, 1, "b"), (2, 0, "a"), (2, 1, "c")])
    f = js.fit(flat, absorbing=["b", "c"])
    assert np.isnan(row_a(f.estimate("map"))).all()
    assert row_a(f.estimate()) == approx([0, 0.5, 0.5])
    # Dirichlet(1, 0.5) over (b, c): the density peaks as p_c -> 0: b gets 1.
    prior = np.zeros((3, 3))
    prior[0, 2] = 0.5
    one = log([(1, 0, "a"), (1, 1, "b")])
    g = js.fit(one, stages=["a", "b", "c"], absorbing=["b", "c"], prior=prior)
    assert row_a(g.estimate("map")) == [0.0, 1.0, 0.0]
    # A row with one possible move is that move, whatever its parameter.
    h = js.fit(one, stages=["a", "b", "c"], absorbing=["b", "c"])
    assert row_a(h.estimate("map")) == [0.0, 1.0, 0.0]
    assert row_a(h.standard_errors) == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="kind must be 'mean' or 'map'"):
        h.estimate("mode")


# Stage d is never seen: its row is unobserved.
UNSEEN = log([(1, 0, "a"), (1, 1, "b"), (2, 0, "a"), (2, 2, "c")])
STAGES = ["a", "b", "c", "d"]


def test_unobserved_rows_stay_move_uniformly_or_are_the_prior():
    stay = js.fit(UNSEEN, stages=STAGES, prior=0.5)
    assert stay.unobserved == "stay"
    assert stay.estimate().loc["d"].tolist() == [0, 0, 0, 1]  # as before
    uniform = js.fit(
        UNSEEN, stages=STAGES, prior=0.5, unobserved="uniform", impossible=[("d", "a")]
    )
    # Uniform over the allowed stages (d itself included, a impossible).
    assert uniform.estimate().loc["d"].tolist() == approx([0, 1 / 3, 1 / 3, 1 / 3])
    assert uniform.estimate("map").loc["d"].tolist() == approx([0, 1 / 3, 1 / 3, 1 / 3])
    assert uniform.standard_errors.loc["d"].tolist() == [0, 0, 0, 0]
    iv = uniform.interval(0.95).loc["d"]
    assert (iv["low"] == iv["high"]).all()  # an assumption, not an estimate
    draws = uniform.sample(20, seed=1)
    assert all(
        d.transition_matrix.loc["d", "b"] == approx(1 / 3) for d in draws
    )  # never drawn
    # The prior alone: Dirichlet(2, 2, 2, 2), with its spread.
    prior = js.fit(UNSEEN, stages=STAGES, prior=2.0, unobserved="prior")
    assert prior.estimate().loc["d"].tolist() == approx([0.25] * 4)
    assert prior.estimate("map").loc["d"].tolist() == approx([0.25] * 4)
    assert prior.standard_errors.loc["d", "a"] == approx(math.sqrt(3 / 16 / 9))
    spread = [d.transition_matrix.loc["d", "a"] for d in prior.sample(300, seed=2)]
    assert np.std(spread) == approx(math.sqrt(3 / 16 / 9), rel=0.15)
    # Observed rows are the same whatever unobserved says.
    pd.testing.assert_series_equal(
        stay.estimate().loc["a"], uniform.estimate().loc["a"]
    )


def test_bad_unobserved_options():
    with pytest.raises(ValueError, match=r"stage 'c' has no observed transition"):
        js.fit(UNSEEN, stages=STAGES, unobserved="prior")  # prior 0: no row at all
    with pytest.raises(ValueError, match="unobserved must be one of"):
        js.fit(UNSEEN, unobserved="zero")
    with pytest.raises(ValueError, match=r"continuous.*unobserved=.stay. only"):
        js.fit(UNSEEN, model="continuous", unobserved="uniform")


def test_unobserved_in_a_tenure_piece_still_borrows_the_pooled_row():
    # a is observed at tenure 0 only; with pieces [0, 5] piece 5 borrows it.
    f = js.fit(UNSEEN, stages=STAGES, tenure=[0, 5], unobserved="uniform")
    est = f.estimate()
    assert est.loc[("all", 5, "a")].tolist() == est.loc[("all", 0, "a")].tolist()
    assert est.loc[("all", 5, "d")].tolist() == approx([0.25] * 4)


def test_posterior_standard_errors_are_the_spread_of_posterior_draws():
    j = js.Journey(["a", "b", "churned"], {"a": {"b": 0.2, "churned": 0.1}})
    events = j.simulate(300, 6, seed=4, record="events").stage_log()
    f = js.fit(events, stages=j.stages, absorbing=["churned"], end=6, prior=1.0)
    draws = np.array([d.transition_matrix.to_numpy() for d in f.sample(4000, seed=5)])
    se = f.standard_errors.to_numpy()
    np.testing.assert_allclose(draws.std(axis=0)[0], se[0], rtol=0.05)


def test_standard_errors_match_the_spread_over_repeated_logs():
    # 300 logs of 400 customers over 12 periods; each maximum-likelihood fit
    # reports sqrt(p (1 - p) / n). Their mean must be the standard deviation of
    # the estimates over the logs: its own sampling error is ~4% here, so a
    # standard error off by 15% (e.g. n counted per customer, not per period at
    # risk) fails.
    j = js.Journey(
        ["a", "b", "churned"],
        {"a": {"b": 0.15, "churned": 0.05}, "b": {"a": 0.1, "churned": 0.2}},
    )
    est, se = [], []
    for seed in range(300):
        events = j.simulate(400, 12, seed=seed, record="events").stage_log()
        f = js.fit(events, stages=j.stages, absorbing=["churned"], end=12)
        est.append(f.estimate().to_numpy()[:2])
        se.append(f.standard_errors.to_numpy()[:2])
    spread = np.std(est, axis=0, ddof=1)
    reported = np.mean(se, axis=0)
    truth = j.transition_matrix.to_numpy()[:2]
    for i, k in [(0, 1), (0, 2), (1, 0), (1, 2)]:
        assert reported[i, k] == approx(spread[i, k], rel=0.15), (i, k)
        # and the estimates centre on the truth
        assert (
            abs(np.mean(est, axis=0)[i, k] - truth[i, k]) < 4 * spread[i, k] / 300**0.5
        )
