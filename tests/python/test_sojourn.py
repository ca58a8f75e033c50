"""The sojourn engine (the default) and the per-period engine simulate the same
process: their statistics agree within 4 standard errors with each other and
with the exact analysis, on journeys with tenure pieces, segments and arrivals;
sojourn lengths and the number of moves per customer follow their exact
distributions (chi-square); results do not depend on the thread count; a
customer's path changes only where the plan changes what it meets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import journeysim as js
from journeysim._base.errors import InputError
from journeysim.model.apply_plan import apply_plan
from journeysim.model.simulate import paired_engine

Z = 4.0
ENGINES = ("sojourn", "period")


B_EXITS = {"a": 0.08, "c": 0.1, "churned": 0.04}


def journey(arrivals: float = 0.0, b_exits: dict = B_EXITS) -> js.Journey:
    """Tenure pieces of transitions (from 4) and values (from 6), two segments,
    a value on a move, discounting."""
    return js.Journey(
        ["a", "b", "c", "churned"],
        {
            0: {
                "a": {"b": 0.15, "c": 0.03, "churned": 0.05},
                "b": b_exits,
                "c": {"b": 0.2, "churned": 0.02},
            },
            4: {"a": {"b": 0.05, "churned": 0.12}, "c": {"a": 0.3}},
        },
        values={"revenue": {0: {"a": 10, "b": 25, "c": 40}, 6: {"b": 30, "c": 50}}},
        transition_values={"revenue": {("a", "b"): 15.0}},
        discount_rate=0.01,
        arrivals=arrivals,
        segments={
            "big": {"share": 0.35, "transitions": {"b": {"churned": 0.01}}},
            "small": {"share": 0.65, "start": {"a": 0.7, "c": 0.3}},
        },
    )


def z(x: float, y: float, se: float) -> float:
    return abs(x - y) / se if se > 0 else (0.0 if x == y else np.inf)


@pytest.mark.parametrize("accrual", ["start", "end", "half-cycle", "life-table"])
def test_both_engines_agree_with_each_other_and_with_exact_analysis(accrual):
    n, T = 20_000, 18
    j = journey()
    a = j.analyze(T, accrual=accrual)
    sims = {
        e: j.simulate(n, T, seed=11, engine=e, accrual=accrual, record="events")
        for e in ENGINES
    }
    r_ex = float(a.retention.iloc[-1])
    se_r = np.sqrt(r_ex * (1 - r_ex) / n)
    for e, s in sims.items():
        assert z(float(s.retention.iloc[-1]), r_ex, se_r) < Z, e
        se_v = float(s.standard_errors["revenue"])
        assert z(float(s.value["revenue"]), float(a.value["revenue"]), se_v) < Z, e
        # Occupancy of every stage at a few times, against the exact shares.
        for t in (1, 5, 12, T):
            for stage in j.stages:
                p = float(a.occupancy.loc[t, stage])
                se = np.sqrt(max(p * (1 - p), 1e-12) / n)
                got = float(s.cohort_occupancy.loc[t, stage]) / n
                assert z(got, p, se) < Z, (e, t, stage)
    s1, s2 = sims["sojourn"], sims["period"]
    se2 = np.hypot(s1.standard_errors["revenue"], s2.standard_errors["revenue"])
    assert z(float(s1.value["revenue"]), float(s2.value["revenue"]), se2) < Z
    # Event log: moves per customer, against each other and the exact count.
    moves = [np.bincount(s.events["customer"], minlength=n) for s in (s1, s2)]
    se_m = np.hypot(*(m.std() / np.sqrt(n) for m in moves))
    assert z(moves[0].mean(), moves[1].mean(), se_m) < Z
    exact_moves = js._core.expected_moves(j.core, T)
    assert z(moves[0].mean(), exact_moves, moves[0].std() / np.sqrt(n)) < Z
    # And moves by calendar period and by (from, to).
    for key in ("period", "from"):
        c1 = s1.events[key].value_counts()
        c2 = s2.events[key].value_counts().reindex(c1.index, fill_value=0)
        se = np.sqrt(c1 + c2).clip(lower=1)
        assert (abs(c1 - c2) / se).max() < Z, key


def test_both_engines_agree_with_arrivals():
    n, T = 10_000, 15
    j = journey(arrivals=400.0)
    s1, s2 = (j.simulate(n, T, seed=5, engine=e, record="totals") for e in ENGINES)
    assert (s1.arrivals == s2.arrivals).all()  # the same draw of who joins
    total = n + float(s1.arrivals.sum())
    for t in (3, 9, T):
        for stage in j.stages:
            x1, x2 = (float(s.occupancy.loc[t, stage]) for s in (s1, s2))
            p = max((x1 + x2) / (2 * total), 1e-6)
            assert z(x1, x2, np.sqrt(2 * total * p * (1 - p))) < Z, (t, stage)
    v1, v2 = (np.asarray(s.value_by_period["revenue"]) for s in (s1, s2))
    # Revenue over the horizon, both runs' totals: a customer's spread (SE of
    # the cohort's mean times sqrt(n); arrivals, with shorter horizons, vary
    # less) times sqrt(customers in all), for each of the two.
    spread = float(s1.standard_errors["revenue"]) * np.sqrt(n)
    se = spread * np.sqrt(2 * total)
    assert z(v1.sum(), v2.sum(), se) < Z


def chi_square_p(observed: np.ndarray, expected: np.ndarray) -> float:
    """Chi-square p-value, bins with expected < 5 merged into their neighbour."""
    obs, exp = [], []
    o = e = 0.0
    for oi, ei in zip(observed, expected, strict=True):
        o, e = o + oi, e + ei
        if e >= 5:
            obs.append(o)
            exp.append(e)
            o = e = 0.0
    obs[-1] += o
    exp[-1] += e
    exp = np.asarray(exp) * sum(obs) / sum(exp)
    return float(stats.chisquare(obs, exp).pvalue)


def test_sojourn_lengths_follow_the_geometric_law_across_a_tenure_piece():
    """One stage left with 0.1 per period for tenure < 5, then 0.3: a stay
    drawn in the first piece is cut at tenure 5 and redrawn."""
    n, T = 40_000, 20
    j = js.Journey(
        ["a", "churned"], {0: {"a": {"churned": 0.1}}, 5: {"a": {"churned": 0.3}}}
    )
    q = np.array([0.1 if k < 5 else 0.3 for k in range(T)])
    alive = np.concatenate([[1.0], np.cumprod(1 - q)])  # before period k + 1
    expected = np.append(alive[:-1] * q, alive[-1]) * n  # leave in 1..T, or stay
    for e in ENGINES:
        s = j.simulate(n, T, seed=3, engine=e)
        life = s.lifetime.astype(int)
        observed = np.bincount(life - 1, minlength=T).astype(float)
        stayed = (s.outcome < 0).sum()
        observed[T - 1] -= stayed  # customers active at the horizon
        observed = np.append(observed, stayed)
        assert chi_square_p(observed, expected) > 1e-4, e


def test_moves_per_customer_follow_their_exact_distribution():
    """Two stages, no churn: the number of moves over T periods, exactly by
    dynamic programming over (stage, moves so far)."""
    n, T = 30_000, 12
    j = js.Journey(
        ["a", "b"],
        {0: {"a": {"b": 0.2}, "b": {"a": 0.35}}, 6: {"a": {"b": 0.5}}},
        absorbing=[],
    )
    dist = np.zeros((2, T + 1))
    dist[0, 0] = 1.0
    for k in range(T):
        go = (0.2 if k < 6 else 0.5, 0.35)
        new = np.zeros_like(dist)
        for s in (0, 1):
            new[s] += dist[s] * (1 - go[s])
            new[1 - s, 1:] += dist[s, :-1] * go[s]
        dist = new
    expected = dist.sum(axis=0) * n
    for e in ENGINES:
        s = j.simulate(n, T, seed=9, engine=e, record="events")
        moves = np.bincount(s.events["customer"], minlength=n)
        observed = np.bincount(moves, minlength=T + 1).astype(float)
        assert chi_square_p(observed, expected) > 1e-4, e


@pytest.mark.parametrize("engine", ENGINES)
def test_results_do_not_depend_on_the_thread_count(engine):
    j = journey(arrivals=1000.5)
    runs = [
        j.simulate(
            30_000,
            10,
            seed=2,
            threads=t,
            replications=2,
            record="events",
            engine=engine,
        ).raw
        for t in (1, 2, 3)
    ]
    for name in runs[0].arrays:
        for r in runs[1:]:
            assert np.array_equal(getattr(runs[0], name), getattr(r, name)), name


def test_a_customer_meets_the_same_numbers_under_another_plan():
    """Common random numbers: with b's exits changed, every customer who never
    enters b follows the very same path."""
    n, T = 5_000, 12
    base = journey()
    other = journey(b_exits={"a": 0.3, "c": 0.01, "churned": 0.2})
    s1, s2 = (jj.simulate(n, T, seed=4, record="events") for jj in (base, other))
    ev = s1.events
    met_b = np.zeros(n, dtype=bool)
    met_b[ev.loc[ev["to"] == "b", "customer"]] = True
    met_b |= np.asarray(s1.start_stage) == base.stages.index("b")
    same = ~met_b
    assert same.sum() > n / 4
    assert (s1.lifetime[same] == s2.lifetime[same]).all()
    assert (s1.outcome[same] == s2.outcome[same]).all()
    assert np.allclose(s1.customer_value[same], s2.customer_value[same])
    assert (s1.lifetime[~same] != s2.lifetime[~same]).any()


def test_the_engines_draw_different_numbers_for_one_seed():
    j = journey()
    s1, s2 = (j.simulate(2_000, 12, seed=1, engine=e) for e in ENGINES)
    assert not np.array_equal(s1.lifetime, s2.lifetime)


@pytest.mark.parametrize("engine", ["bogus", "Sojourn", 3, None])
def test_an_unknown_engine_is_an_input_error(engine):
    j = journey()
    with pytest.raises(InputError, match="engine must be one of"):
        j.simulate(100, 3, seed=1, engine=engine)


def test_rules_run_period_by_period_whatever_the_engine():
    """A calendar window makes the plan's journey run on the capacity engine:
    engine= does not change it, and a comparison runs every plan on the
    per-period engine's numbers (paired_engine)."""
    j = journey()
    call = js.Intervention(
        "call", at=("a", "churned"), relative_risk=0.5, reassign_to="b", calendar=(2, 6)
    )
    pj = apply_plan(j, js.Plan("p", [call]), cost_rate=0.01, simulate=True).journey
    assert pj.resolved.capacity
    s1, s2 = (pj.simulate(3_000, 10, seed=8, engine=e) for e in ENGINES)
    assert np.array_equal(s1.raw.occupancy, s2.raw.occupancy)
    assert paired_engine([j, pj]) == "period"
    assert paired_engine([j, j]) == "sojourn"
