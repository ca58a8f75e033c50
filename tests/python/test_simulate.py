"""Monte Carlo simulation: its means agree with the exact analysis, the two
methods agree in distribution, a seed fixes every number whatever the thread
count, the event log tells the same story as the per-customer arrays, and bad
input, huge runs and Ctrl-C are handled at once."""

from __future__ import annotations

import signal
import textwrap
from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import journeysim as js
from conftest import fails_at_once, python_child

ACCRUALS = ["start", "end", "half-cycle", "life-table"]
T = 12  # horizon of the statistical tests

#: Expected arrivals at t = 1..6 (fractional: rounded up with that probability).
ARRIVALS = [2.5, 0.0, 4.25, 1.0, 0.75, 3.0]


# -- the journeys --------------------------------------------------------------------


def tenure_dependent(**kwargs) -> js.Journey:
    """Trials convert or leave in their first three periods; from tenure 3 on an
    unconverted trial can only churn and paying customers settle down. Revenue
    rises from tenure 4."""
    return js.Journey(
        ["trial", "paying", "lapsed", "churned"],
        {
            0: {
                "trial": {"paying": 0.3, "churned": 0.2},
                "paying": {"lapsed": 0.15},
                "lapsed": {"paying": 0.3, "churned": 0.2},
            },
            3: {"trial": {"churned": 0.5}, "paying": {"lapsed": 0.05, "churned": 0.02}},
        },
        values={"revenue": {0: {"paying": 10.0}, 4: {"paying": 12.0, "lapsed": 1.0}}},
        discount_rate=0.01,
        value_stages="paying",
        **kwargs,
    )


def segmented(**kwargs) -> js.Journey:
    """Self-serve leads (70 %) and enterprise customers who start engaged (30 %),
    with their own rows and their own value of a won deal."""
    return js.Journey(
        ["lead", "engaged", "won", "lost"],
        {"lead": {"engaged": 0.4, "lost": 0.1}, "engaged": {"won": 0.2, "lost": 0.15}},
        values={"revenue": {"engaged": 5.0, "won": 20.0}},
        segments={
            "self_serve": {"share": 0.7},
            "enterprise": {
                "share": 0.3,
                "transitions": {
                    "lead": {"engaged": 0.1, "lost": 0.3},
                    "engaged": {"won": 0.35},
                },
                "values": {"revenue": {"won": 60.0}},
                "start": "engaged",
            },
        },
        value_stages="won",
        **kwargs,
    )


def with_arrivals(**kwargs) -> js.Journey:
    """A random start and fractional arrivals; the cohort size is the number of
    customers simulated, so that population figures are comparable."""
    kwargs.setdefault("arrivals", ARRIVALS)
    kwargs.setdefault("cohort_size", 40.0)
    return js.Journey(
        ["new", "active", "churned"],
        {"new": {"active": 0.6, "churned": 0.1}, "active": {"churned": 0.08}},
        values={"revenue": {"new": 2.0, "active": 9.0}},
        start={"new": 0.8, "active": 0.2},
        discount_rate=0.02,
        value_stages="active",
        **kwargs,
    )


STREAM_STAGES = ["onboarding", "active", "dormant", "churned"]
STREAM_VALUES = {  # per stage, in STREAM_STAGES order
    "revenue": [0.0, 30.0, 5.0, 0.0],
    "cost": [8.0, 4.0, 1.0, 0.0],
}
STREAM_RATES = {"revenue": 0.01, "cost": 0.03}


def two_streams(**kwargs) -> js.Journey:
    """Revenue and cost discounted at different rates, net = revenue - cost, fees
    on moves (a "*" wildcard for any move into churned) and a value stage."""
    return js.Journey(
        STREAM_STAGES,
        {
            "onboarding": {"active": 0.5, "churned": 0.1},
            "active": {"dormant": 0.15, "churned": 0.03},
            "dormant": {"active": 0.25, "churned": 0.15},
        },
        values={
            s: dict(zip(STREAM_STAGES, v, strict=True))
            for s, v in STREAM_VALUES.items()
        },
        transition_values={
            "cost": {("*", "churned"): 15.0, ("onboarding", "active"): 20.0},
            "revenue": {("dormant", "active"): 10.0},
        },
        discount_rate=STREAM_RATES,
        net={"revenue": 1.0, "cost": -1.0},
        value_stages="active",
        **kwargs,
    )


JOURNEYS = {
    "tenure": tenure_dependent,
    "segments": segmented,
    "arrivals": with_arrivals,
    "streams": two_streams,
}
#: Weights of the streams in net value.
NET = {"tenure": [1.0], "segments": [1.0], "arrivals": [1.0], "streams": [1.0, -1.0]}
#: Start stage of each segment, for journeys whose start is not random.
START = {
    "tenure": ["trial"],
    "segments": ["lead", "engaged"],
    "streams": ["onboarding"],
}


def populated(name: str, customers: int) -> js.Journey:
    """The journey with arrivals and ``cohort_size == customers``."""
    return JOURNEYS[name](arrivals=ARRIVALS, cohort_size=float(customers))


def absorbing_mask(j: js.Journey) -> np.ndarray:
    return np.array([s in j.absorbing for s in j.stages])


def with_net(a: np.ndarray, weights: list[float]) -> np.ndarray:
    return np.concatenate([a, (a @ np.asarray(weights))[..., None]], axis=-1)


def assert_within(got, exact, se, what: str, k: float = 4.0, slack=0.0) -> None:
    """|got - exact| <= k * se + slack everywhere, with the worst cells in the
    message."""
    got = np.atleast_1d(np.asarray(got, dtype=float))
    exact = np.atleast_1d(np.asarray(exact, dtype=float))
    se = np.broadcast_to(np.asarray(se, dtype=float), got.shape)
    allowed = k * se + slack + 1e-9 * np.maximum(1.0, np.abs(exact))
    dev = np.abs(got - exact)
    bad = [tuple(int(i) for i in idx) for idx in np.argwhere(dev > allowed)]
    if bad:
        lines = [
            f"  at {i}: simulated {got[i]:.6g}, exact {exact[i]:.6g}, se {se[i]:.3g}"
            for i in bad[:8]
        ]
        raise AssertionError(
            f"{what}: {len(bad)} of {dev.size} off by more than {k} SE\n"
            + "\n".join(lines)
        )


def binomial_se(p, n: int) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    return np.sqrt(p * (1.0 - p) / n)


# -- the starting cohort against analyze() -------------------------------------------

COHORT = 50_000  # customers per replication
COHORT_REPS = 2  # pooled: n = 100,000 customers


@cache
def cohort_run(name: str, accrual: str) -> js.Simulation:
    seed = 1000 + list(JOURNEYS).index(name) * 10 + ACCRUALS.index(accrual)
    return JOURNEYS[name]().simulate(
        COHORT, T, seed=seed, replications=COHORT_REPS, accrual=accrual, threads=2
    )


cohort_cases = pytest.mark.parametrize(
    ("name", "accrual"), [(n, a) for n in JOURNEYS for a in ACCRUALS]
)


@cohort_cases
def test_cohort_occupancy_shares_match_exact(name, accrual):
    sim = cohort_run(name, accrual)
    exact = JOURNEYS[name]().analyze(T, accrual=accrual).occupancy
    n = COHORT * COHORT_REPS
    share = sim.cohort_occupancy / COHORT
    assert share.index.equals(exact.index)
    assert share.columns.equals(exact.columns)
    # Binomial SE of each share; half a customer of continuity correction.
    assert_within(
        share, exact, binomial_se(exact, n), "cohort occupancy", slack=0.5 / n
    )


@cohort_cases
def test_retention_matches_exact(name, accrual):
    sim = cohort_run(name, accrual)
    exact = JOURNEYS[name]().analyze(T, accrual=accrual).retention
    n = COHORT * COHORT_REPS
    assert sim.retention.index.equals(exact.index)
    assert_within(
        sim.retention, exact, binomial_se(exact, n), "retention", slack=0.5 / n
    )
    se = sim.standard_errors["retention"]
    assert se == pytest.approx(binomial_se(sim.retention.iloc[-1], n))
    assert_within(sim.retention.iloc[-1], exact.iloc[-1], se, "final retention")


@cohort_cases
def test_lifetime_within_horizon_matches_exact(name, accrual):
    sim = cohort_run(name, accrual)
    exact = JOURNEYS[name]().analyze(T, accrual=accrual).lifetime_within_horizon
    se = sim.standard_errors["lifetime_within_horizon"]
    assert 0 < se < 0.1
    assert_within(sim.lifetime_within_horizon, exact, se, "lifetime within horizon")


@cohort_cases
def test_value_per_stream_and_net_matches_exact(name, accrual):
    sim = cohort_run(name, accrual)
    exact = JOURNEYS[name]().analyze(T, accrual=accrual).value
    assert list(sim.value.index) == list(exact.index)
    se = sim.standard_errors[list(exact.index)]
    assert (se > 0).all()
    assert_within(sim.value, exact, se, f"value ({accrual})")
    assert sim.clv == sim.value["net"]


def test_net_value_weights_the_streams():
    sim = cohort_run("streams", "half-cycle")
    v = sim.value
    assert v["net"] == pytest.approx(v["revenue"] - v["cost"], rel=1e-12)
    cv = sim.customer_value
    np.testing.assert_allclose(cv[:, 2], cv[:, 0] - cv[:, 1], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name", JOURNEYS)
def test_time_to_value_matches_exact(name):
    sim = cohort_run(name, "start")
    reached = JOURNEYS[name]().analyze(T).value_reached.to_numpy()
    first = sim.first_value[sim.joined == 0]
    n = first.size
    assert n == COHORT  # the first replication's cohort
    hit = first[first >= 0]
    # Share reaching a value stage within the horizon.
    assert_within(
        hit.size / n,
        reached[-1],
        binomial_se(reached[-1], n),
        "share reaching value",
        slack=0.5 / n,
    )
    # First-passage distribution: P(first = k) = reached[k] - reached[k-1], and
    # the rest never within the horizon (one goodness-of-fit test, not 14).
    pk = np.diff(reached, prepend=0.0)
    observed = np.append(np.bincount(hit, minlength=T + 1), n - hit.size)
    expected = n * np.append(pk, 1.0 - reached[-1])
    assert (observed[expected == 0] == 0).all()
    small = expected < 5  # lumped together
    observed = np.append(observed[~small], observed[small].sum())
    expected = np.append(expected[~small], expected[small].sum())
    keep = expected > 0
    assert stats.chisquare(observed[keep], expected[keep]).pvalue > 1e-4
    # Mean time to value of those who reach it within the horizon, exactly.
    k = np.arange(T + 1)
    mean = (k * pk).sum() / reached[-1]
    var = (k**2 * pk).sum() / reached[-1] - mean**2
    assert_within(hit.mean(), mean, np.sqrt(var / hit.size), "mean time to value")


# -- replications: population and cohort means, both methods -------------------------

POP = 30  # customers per replication (and the journey's cohort size)
POP_REPS = 300


@pytest.mark.parametrize("method", ["individual", "aggregate"])
@pytest.mark.parametrize("accrual", ACCRUALS)
@pytest.mark.parametrize("name", JOURNEYS)
def test_population_means_over_replications_match_exact(name, accrual, method):
    """Every replication is independent, so the standard error of a mean over
    replications is the sample standard deviation over sqrt(replications)."""
    j = populated(name, POP)
    exact = j.analyze(T, accrual=accrual)
    seed = 7 + 100 * list(JOURNEYS).index(name) + 10 * ACCRUALS.index(accrual)
    sim = j.simulate(
        POP,
        T,
        seed=seed,
        replications=POP_REPS,
        accrual=accrual,
        method=method,
        record="totals",
    )
    raw, R = sim._raw, POP_REPS

    def se(a, floor=0.0):
        return np.sqrt(np.maximum(a.var(axis=0, ddof=1), floor) / R)

    assert sim.occupancy.shape == exact.population.shape
    # A count of rare independent events has a variance about its mean; a cell
    # that stays empty in every replication has a sample variance of 0, so the
    # variance is floored at min(expected count, 1). Half a customer in one
    # replication of continuity correction.
    floor = np.minimum(exact.population.to_numpy(), 1.0)
    assert_within(
        sim.occupancy,
        exact.population,
        se(raw.occupancy, floor),
        "population occupancy",
        slack=0.5 / R,
    )
    values = with_net(raw.value_by_period, NET[name])
    assert list(sim.value_by_period.columns) == list(exact.value_by_period.columns)
    assert_within(
        sim.value_by_period,
        exact.population_value_by_period,
        se(values),
        "population value by period",
    )
    nominal = with_net(raw.value_by_period_nominal, NET[name])
    assert_within(
        sim.value_by_period_nominal,
        exact.population_value_by_period_nominal,
        se(nominal),
        "population value by period (nominal)",
    )
    # The starting cohort alone, per customer.
    cohort_value = with_net(raw.cohort_value, NET[name]) / POP
    assert_within(sim.value, exact.value, se(cohort_value), "cohort value")
    assert_within(
        sim.retention,
        exact.retention,
        se(sim._retention),
        "retention",
        slack=0.5 / (POP * R),
    )
    assert_within(
        sim.lifetime_within_horizon,
        exact.lifetime_within_horizon,
        se(raw.cohort_lifetime / POP),
        "lifetime within horizon",
    )


def test_arrivals_are_whole_and_average_the_expected_numbers():
    sim = with_arrivals().simulate(10, T, seed=3, replications=2000, method="aggregate")
    arr = sim._raw.arrivals
    expected = np.array(ARRIVALS + [0.0] * (T - len(ARRIVALS)))
    # each is floor(a) or ceil(a)
    assert ((arr == np.floor(expected)) | (arr == np.ceil(expected))).all()
    frac = expected - np.floor(expected)
    assert_within(
        arr.mean(axis=0),
        expected,
        binomial_se(frac, 2000),
        "arrivals",
        slack=0.5 / 2000,
    )
    assert list(sim.arrivals.index) == list(range(1, T + 1))


# -- individual against aggregate ----------------------------------------------------


def binned(a: np.ndarray, b: np.ndarray, bins: int = 8) -> np.ndarray:
    """2 x bins contingency table of two samples, binned at the pooled quantiles."""
    edges = np.unique(
        np.quantile(np.concatenate([a, b]), np.linspace(0, 1, bins + 1)[1:-1])
    )
    table = np.stack(
        [np.bincount(np.digitize(x, edges), minlength=edges.size + 1) for x in (a, b)]
    )
    return table[:, table.sum(axis=0) > 0]


@pytest.mark.parametrize("name", JOURNEYS)
def test_individual_and_aggregate_agree_in_distribution(name):
    j = populated(name, 100)
    kw = dict(customers=100, periods=T, seed=4242, replications=400)
    ind = j.simulate(method="individual", record="totals", **kw)
    agg = j.simulate(method="aggregate", **kw)
    fi = ind._raw.cohort_occupancy[:, -1, :]  # R x S: final stage counts
    fa = agg._raw.cohort_occupancy[:, -1, :]
    assert (fi.sum(axis=1) == 100).all() and (fa.sum(axis=1) == 100).all()
    # Pooled over replications: the same multinomial.
    table = np.stack([fi.sum(axis=0), fa.sum(axis=0)])
    table = table[:, table.sum(axis=0) > 0]
    assert stats.chi2_contingency(table).pvalue > 1e-3, table
    # The spread over replications of the busiest stage: the same distribution.
    s = int(np.argmax(fi.var(axis=0)))
    spread = binned(fi[:, s], fa[:, s])
    assert stats.chi2_contingency(spread).pvalue > 1e-3, spread
    # And everyone (with arrivals) at the end of the horizon.
    pi = ind._raw.occupancy[:, -1, :].sum(axis=0)
    pa = agg._raw.occupancy[:, -1, :].sum(axis=0)
    table = np.stack([pi, pa])[:, (pi + pa) > 0]
    assert stats.chi2_contingency(table).pvalue > 1e-3, table


@pytest.mark.parametrize("name", JOURNEYS)
def test_aggregate_runs_a_billion_customers(name):
    j = JOURNEYS[name]()
    # (how long it takes is measured by benchmarks/bench_limits.py)
    sim = j.simulate(10**9, 36, seed=5, method="aggregate")
    exact = j.analyze(36)
    assert np.abs(sim.retention - exact.retention).max() < 1e-3
    share = sim.cohort_occupancy / 10**9
    assert np.abs(share - exact.occupancy).to_numpy().max() < 1e-3
    assert sim.cohort_occupancy.sum(axis=1).eq(10**9).all()


# -- reproducibility -----------------------------------------------------------------


def big_run(method: str, threads: int, seed: int = 99, **kwargs) -> js.Simulation:
    """Several blocks of customers (4096 each), arrivals, segments, 3 replications."""
    j = segmented(arrivals=[1500.5, 0.0, 2200.25], cohort_size=9_000.0)
    if method == "individual":
        kwargs.setdefault("record", "events")
    return j.simulate(
        9_000, T, seed=seed, replications=3, threads=threads, method=method, **kwargs
    )


def assert_same_raw(a: js.Simulation, b: js.Simulation) -> None:
    for key in a._raw.arrays:
        x, y = getattr(a._raw, key), getattr(b._raw, key)
        assert x.dtype == y.dtype, key
        assert np.array_equal(x, y), f"{key} differs"


@pytest.mark.parametrize("method", ["individual", "aggregate"])
def test_same_seed_gives_identical_arrays_whatever_the_thread_count(method):
    one = big_run(method, threads=1)
    if method == "individual":
        assert one._raw.event_customer.size > 0
        assert one.lifetime.size > 9_000
    for threads in (2, 4):
        assert_same_raw(one, big_run(method, threads=threads))


@pytest.mark.parametrize("method", ["individual", "aggregate"])
def test_different_seeds_differ(method):
    a, b = big_run(method, 2, seed=1), big_run(method, 2, seed=2)
    assert not np.array_equal(a._raw.occupancy, b._raw.occupancy)
    assert not np.array_equal(a._raw.value_by_period, b._raw.value_by_period)
    if method == "individual":
        assert not np.array_equal(a.lifetime, b.lifetime)


def test_per_customer_arrays_and_event_log_are_identical_under_1_and_3_threads():
    j = two_streams(arrivals=[700.5] * 5)
    a = j.simulate(12_000, T, seed=17, threads=1, record="events")
    b = j.simulate(12_000, T, seed=17, threads=3, record="events")
    for key in ("lifetime", "outcome", "first_value", "segment", "joined"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    assert np.array_equal(a.customer_value, b.customer_value)
    pd.testing.assert_frame_equal(a.customers_table, b.customers_table)
    pd.testing.assert_frame_equal(a.events, b.events)


def test_the_record_option_does_not_change_the_random_numbers():
    j = two_streams(arrivals=[700.5] * 5)
    kw = dict(customers=9_000, periods=T, seed=23, replications=2, threads=2)
    plain, events, totals = (
        j.simulate(record=r, **kw) for r in (None, "events", "totals")
    )
    for key in ("lifetime", "outcome", "first_value", "segment", "customer_value"):
        assert np.array_equal(getattr(plain._raw, key), getattr(events._raw, key)), key
    for key in (
        "occupancy",
        "cohort_occupancy",
        "value_by_period",
        "cohort_value",
        "cohort_lifetime",
        "arrivals",
    ):
        assert np.array_equal(getattr(plain._raw, key), getattr(events._raw, key)), key
        assert np.array_equal(getattr(plain._raw, key), getattr(totals._raw, key)), key


def test_the_first_replication_does_not_depend_on_how_many_follow():
    j = tenure_dependent()
    one = j.simulate(5_000, T, seed=8, replications=1)
    three = j.simulate(5_000, T, seed=8, replications=3)
    for key in ("occupancy", "value_by_period", "cohort_value", "lifetime"):
        assert np.array_equal(getattr(one._raw, key)[0], getattr(three._raw, key)[0]), (
            key
        )
    assert np.array_equal(one.customer_value, three.customer_value)


def test_a_customer_meets_the_same_random_numbers_whatever_the_cohort_size():
    j = tenure_dependent()
    small = j.simulate(5_000, T, seed=9, threads=2)
    large = j.simulate(13_000, T, seed=9, threads=2)
    for key in ("lifetime", "outcome", "first_value"):
        assert np.array_equal(getattr(small, key), getattr(large, key)[:5_000]), key


def test_without_a_seed_one_is_drawn_and_kept():
    j = tenure_dependent()
    sim = j.simulate(2_000, T)
    assert isinstance(sim.seed, int) and 0 <= sim.seed < 2**64
    assert_same_raw(sim, j.simulate(2_000, T, seed=sim.seed))
    assert str(sim.seed) in repr(sim)


# -- the event log -------------------------------------------------------------------


def event_arrays(sim: js.Simulation):
    ev = sim.events
    return (
        ev["customer"].to_numpy(),
        ev["period"].to_numpy(),
        ev["from"].cat.codes.to_numpy(),
        ev["to"].cat.codes.to_numpy(),
    )


@cache
def event_run(name: str, accrual: str = "start") -> js.Simulation:
    return populated(name, 3_000).simulate(
        3_000, T, seed=31, record="events", accrual=accrual, threads=2
    )


event_journeys = pytest.mark.parametrize("name", list(START))


@event_journeys
def test_event_log_is_a_dataframe_of_moves_with_categorical_stages(name):
    sim, j = event_run(name), populated(name, 3_000)
    ev = sim.events
    assert list(ev.columns) == ["customer", "period", "from", "to"]
    for col in ("from", "to"):
        assert isinstance(ev[col].dtype, pd.CategoricalDtype)
        assert list(ev[col].cat.categories) == j.stages
    assert len(ev) > 3_000
    assert (ev["from"] != ev["to"]).all()
    assert ev["customer"].between(0, sim.lifetime.size - 1).all()
    assert ev["period"].between(1, T).all()


def replay(sim: js.Simulation, name: str) -> list[np.ndarray]:
    """Each customer's stage at tenure 0..periods - joined, from its start stage and
    its events; checks that the events chain up as it goes."""
    j = populated(name, sim.customers)
    starts = [j.stages.index(s) for s in START[name]]
    cust, period, frm, to = event_arrays(sim)
    assert (np.diff(cust) >= 0).all(), "events are grouped by customer"
    bounds = np.searchsorted(cust, np.arange(sim.lifetime.size + 1))
    paths = []
    for i, (J, g) in enumerate(zip(sim.joined, sim.segment, strict=True)):
        H = T - int(J)
        path = np.full(H + 1, starts[g])
        last = 0
        for e in range(bounds[i], bounds[i + 1]):
            k = int(period[e]) - int(J)  # tenure at which the customer is in `to`
            assert last < k <= H, f"customer {i}: event at tenure {k} after {last}"
            assert frm[e] == path[k - 1], (
                f"customer {i} moves from a stage it is not in"
            )
            path[k:] = to[e]
            last = k
        paths.append(path)
    return paths


@event_journeys
def test_replayed_events_reproduce_outcome_lifetime_and_first_value(name):
    sim = event_run(name)
    j = populated(name, sim.customers)
    absorbing = absorbing_mask(j)
    value = np.array([s in j.value_stages for s in j.stages])
    paths = replay(sim, name)
    assert len(paths) == sim.lifetime.size
    outcome = [p[-1] if absorbing[p[-1]] else -1 for p in paths]
    lifetime = [int((~absorbing[p[:-1]]).sum()) for p in paths]
    first = [int(np.argmax(value[p])) if value[p].any() else -1 for p in paths]
    assert np.array_equal(sim.outcome, outcome)
    assert np.array_equal(sim.lifetime, lifetime)
    assert np.array_equal(sim.first_value, first)


@pytest.mark.parametrize("accrual", ACCRUALS)
def test_replayed_events_reproduce_each_customers_value(accrual):
    """Value from the path, by the conventions: period k earns on the stage at
    tenure k-1 ("start", discounted d^(k-1)), at k ("end", d^k) or the mean of
    both ("half-cycle", d^(k-1/2); "life-table", d^(k-1) as heemod discounts);
    a move in period k costs its fee times d^k."""
    sim = event_run("streams", accrual)
    paths = replay(sim, "streams")
    S = len(STREAM_STAGES)
    fees = {k: np.zeros((S, S)) for k in STREAM_VALUES}
    fees["cost"][:, 3] = 15.0
    fees["cost"][3, 3] = 0.0
    fees["cost"][0, 1] = 20.0
    fees["revenue"][2, 1] = 10.0
    expected = np.zeros((len(paths), len(STREAM_VALUES)))
    for c, (stream, v) in enumerate(STREAM_VALUES.items()):
        v, d = np.array(v), 1.0 / (1.0 + STREAM_RATES[stream])
        for i, p in enumerate(paths):
            k = np.arange(1, p.size)
            before, after = v[p[:-1]], v[p[1:]]
            earned = {
                "start": before * d ** (k - 1.0),
                "end": after * d**k,
                "half-cycle": (before + after) / 2 * d ** (k - 0.5),
                "life-table": (before + after) / 2 * d ** (k - 1.0),
            }[accrual]
            moved = fees[stream][p[:-1], p[1:]] * d**k
            expected[i, c] = earned.sum() + moved.sum()
    np.testing.assert_allclose(
        sim.customer_value[:, :2], expected, rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        sim.customer_value[:, 2], expected[:, 0] - expected[:, 1], rtol=1e-9, atol=1e-9
    )


@event_journeys
def test_event_flows_reproduce_occupancy_changes(name):
    sim = event_run(name)
    j = populated(name, sim.customers)
    S = len(j.stages)
    cust, period, frm, to = event_arrays(sim)
    starts = np.array([j.stages.index(s) for s in START[name]])[sim.segment]

    def net_flow(mask):
        inflow = np.zeros((T + 1, S), dtype=np.int64)
        np.add.at(inflow, (period[mask], to[mask]), 1)
        np.add.at(inflow, (period[mask], frm[mask]), -1)
        return inflow[1:]

    cohort = sim._raw.cohort_occupancy[0]
    assert np.array_equal(np.diff(cohort, axis=0), net_flow(cust < sim.customers))
    everyone = sim._raw.occupancy[0]
    joins = np.zeros((T + 1, S), dtype=np.int64)
    np.add.at(joins, (sim.joined, starts), 1)
    assert np.array_equal(everyone[0], joins[0])
    assert np.array_equal(
        np.diff(everyone, axis=0), net_flow(np.ones_like(cust, dtype=bool)) + joins[1:]
    )


@event_journeys
def test_no_event_has_probability_zero(name):
    sim = event_run(name)
    j = populated(name, sim.customers)
    cust, period, frm, to = event_arrays(sim)
    tenure = period - 1 - sim.joined[cust]  # the period's tenure
    seg = sim.segment[cust]
    for g, segment in enumerate(j.segments):
        pieces = j.transition_matrices(segment)  # {first tenure: matrix}
        starts = sorted(pieces)
        for t0, t1 in zip(starts, [*starts[1:], T + 1], strict=True):
            m = (seg == g) & (tenure >= t0) & (tenure < t1)
            p = pieces[t0].to_numpy()[frm[m], to[m]]
            impossible = set(zip(frm[m][p == 0], to[m][p == 0], strict=True))
            assert not impossible, f"{segment}, tenure {t0}: moves {impossible}"


def test_tenure_pieces_switch_moves_off():
    # From tenure 3 a trial can no longer convert: no trial -> paying after that.
    sim = event_run("tenure")
    cust, period, frm, to = event_arrays(sim)
    tenure = period - 1 - sim.joined[cust]
    conversions = (frm == 0) & (to == 1)
    assert conversions[tenure < 3].sum() > 100
    assert conversions[tenure >= 3].sum() == 0


def test_events_without_an_event_log_is_a_value_error():
    sim = tenure_dependent().simulate(100, T, seed=1)
    with pytest.raises(ValueError, match="record='events'"):
        sim.events  # noqa: B018


# -- per-customer arrays -------------------------------------------------------------


@pytest.mark.parametrize("name", JOURNEYS)
def test_per_customer_arrays(name):
    j = populated(name, 2_000)
    sim = j.simulate(2_000, T, seed=12, replications=2)
    M = 2_000 + int(sim.arrivals.sum())
    assert sim.arrivals.sum() > 0
    for key in ("lifetime", "outcome", "first_value", "segment", "joined"):
        assert getattr(sim, key).shape == (M,), key
    assert sim.customer_value.shape == (M, len(j.streams) + 1)
    joined = sim.joined
    assert (np.diff(joined) >= 0).all()
    assert (joined[:2_000] == 0).all() and (joined[2_000:] >= 1).all()
    assert np.array_equal(np.bincount(joined, minlength=T + 1)[1:], sim.arrivals)
    assert ((sim.lifetime >= 0) & (sim.lifetime <= T - joined)).all()
    absorbing = np.flatnonzero(absorbing_mask(j))
    assert np.isin(sim.outcome, [*absorbing, -1]).all()
    # still active means a lifetime of the whole remaining horizon
    assert (sim.lifetime[sim.outcome == -1] == (T - joined)[sim.outcome == -1]).all()
    assert ((sim.first_value >= -1) & (sim.first_value <= T - joined)).all()
    assert np.isin(sim.segment, range(len(j.segments))).all()
    # the cohort's per-customer figures are the first replication's totals
    cohort = slice(0, 2_000)
    assert sim.lifetime[cohort].sum() == sim._raw.cohort_lifetime[0]
    np.testing.assert_allclose(
        sim.customer_value[cohort, :-1].sum(axis=0),
        sim._raw.cohort_value[0],
        rtol=1e-9,
    )


@pytest.mark.parametrize("name", JOURNEYS)
def test_customers_table(name):
    j = populated(name, 500)
    sim = j.simulate(500, T, seed=13)
    tab = sim.customers_table
    assert list(tab.columns) == [
        "joined",
        "segment",
        "lifetime",
        "outcome",
        "first_value",
        *j.streams,
        "net",
    ]
    assert tab.index.name == "customer"
    assert len(tab) == sim.lifetime.size
    assert list(tab["segment"].cat.categories) == j.segments
    assert set(tab["outcome"]) <= {*j.absorbing, "active"}
    assert (tab["outcome"] == "active").sum() == (sim.outcome == -1).sum()
    np.testing.assert_array_equal(tab["net"], sim.customer_value[:, -1])


@pytest.mark.parametrize("kwargs", [{"record": "totals"}, {"method": "aggregate"}])
def test_per_customer_arrays_need_individual_customers(kwargs):
    sim = tenure_dependent().simulate(100, T, seed=1, **kwargs)
    for key in (
        "lifetime",
        "outcome",
        "first_value",
        "segment",
        "customer_value",
        "customers_table",
    ):
        with pytest.raises(ValueError, match="per-customer"):
            getattr(sim, key)


def test_customers_who_start_in_an_absorbing_stage_never_move():
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.1}},
        start={"active": 0.6, "churned": 0.4},
    )
    sim = j.simulate(5_000, T, seed=14, record="events")
    gone = sim.outcome == 1
    born_gone = gone & (sim.lifetime == 0)
    assert_within(born_gone.mean(), 0.4, binomial_se(0.4, 5_000), "start churned")
    assert not np.isin(np.flatnonzero(born_gone), sim.events["customer"]).any()
    exact = j.analyze(T)
    assert_within(
        sim.retention,
        exact.retention,
        binomial_se(exact.retention, 5_000),
        "retention",
        slack=0.5 / 5_000,
    )


def test_summary_and_repr():
    sim = two_streams().simulate(1_000, T, seed=15, replications=2)
    s = sim.summary()
    assert s[f"retention at {T} periods"] == sim.retention.iloc[-1]
    assert s[f"lifetime within {T} periods (periods)"] == sim.lifetime_within_horizon
    for stream in ("revenue", "cost"):
        assert s[f"{stream} over {T} periods"] == sim.value[stream]
    assert s[f"CLV over {T} periods"] == sim.value["net"]
    assert repr(sim) == (
        f"<Simulation individual: 1,000 customers x {T} periods x "
        f"2 replication(s), seed=15>"
    )


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"customers": 0}, "customers"),
        ({"customers": -5}, "customers"),
        ({"customers": 10.0}, "customers"),
        ({"customers": True}, "customers"),
        ({"customers": "10"}, "customers"),
        ({"periods": 0}, "periods"),
        ({"periods": -1}, "periods"),
        ({"periods": 12.0}, "periods"),
        ({"periods": True}, "periods"),
        ({"periods": 10_000_001}, "periods"),
        ({"replications": 0}, "replications"),
        ({"replications": 2.5}, "replications"),
        ({"replications": True}, "replications"),
        ({"threads": 0}, "threads"),
        ({"threads": -2}, "threads"),
        ({"threads": 2.0}, "threads"),
        ({"threads": True}, "threads"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"seed": 1.0}, "seed"),
        ({"seed": True}, "seed"),
        ({"record": "bogus"}, "record"),
        ({"method": "bogus"}, "method"),
        ({"accrual": "middle"}, "accrual"),
        ({"progress": "yes"}, "progress"),
        ({"record": "events", "method": "aggregate"}, "record"),
        ({"record": "customers", "method": "aggregate"}, "record"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(kwargs, name):
    args = {"customers": 10, "periods": 3, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        tenure_dependent().simulate(**args)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": 0},
        {"seed": 2**64 - 1},
        {"seed": np.uint64(2**64 - 1)},
        {"customers": np.int64(10), "periods": np.int32(3)},
        {"threads": 1, "replications": np.int16(2)},
        {"record": "customers"},
        {"customers": 1, "periods": 1},
    ],
)
def test_boundary_and_numpy_integers_are_accepted(kwargs):
    args = {"customers": 10, "periods": 3, "seed": 1, **kwargs}
    sim = tenure_dependent().simulate(**args)
    assert sim.occupancy.sum(axis=1).eq(args["customers"]).all()


def flip_flop() -> js.Journey:
    """Customers who change stage about every other period, for ages."""
    return js.Journey(
        ["x", "y", "end"], {"x": {"y": 0.5}, "y": {"x": 0.5, "end": 1e-6}}
    )


def test_an_event_log_too_big_for_memory_fails_at_once():
    # 10 million customers x 10,000 periods, ~5,000 moves each: terabytes.
    fails_at_once(
        lambda: flip_flop().simulate(10**7, 10_000, seed=1, record="events"),
        r"event log .* GiB",
    )


@pytest.mark.parametrize("record", [None, "events"])
def test_a_huge_cohort_with_per_customer_records_fails_at_once(record):
    fails_at_once(
        lambda: tenure_dependent().simulate(10**15, T, seed=1, record=record),
        r"GiB.*available",
    )


# -- Ctrl-C --------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import threading
    import tqdm.auto
    import journeysim as js
    from journeysim import _core

    # "running" once the core has started and the calling thread waits in its
    # polling loop (it refreshes the progress bar there): Ctrl-C then reaches
    # the simulation, not the start of its worker thread.
    started = threading.Event()
    core_simulate = _core.simulate

    def simulate(*args):  # in journeysim's worker thread
        started.set()
        return core_simulate(*args)

    class Bar:
        def __init__(self, *args, **kwargs):
            self.n, self.said = 0, False

        def refresh(self):
            if started.is_set() and not self.said:
                self.said = True
                print("running", flush=True)

        def close(self):
            pass

    _core.simulate = simulate
    tqdm.auto.tqdm = Bar
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.01}})
    try:
        j.simulate(50_000_000, 120, seed=1, record="totals", threads=2, progress=True)
    except KeyboardInterrupt:
        print("threads", threading.active_count(), flush=True)
        raise
    print("finished", flush=True)
    """
)


def test_ctrl_c_stops_a_long_simulation_at_once():
    # Uninterrupted, the simulation runs for many seconds; the time from Ctrl-C
    # to the exit is measured by benchmarks/bench_limits.py.
    proc = python_child(CHILD)
    try:
        assert proc.stdout.readline().strip() == "running"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)  # only against a hang
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    assert "finished" not in out
    assert "KeyboardInterrupt" in err, err
    # the worker thread has been joined when KeyboardInterrupt reaches the caller
    assert out.split() == ["threads", "1"], (out, err)
    # ... and the interpreter then dies of the SIGINT it re-raises (not an abort)
    assert proc.returncode == -signal.SIGINT, (proc.returncode, err[-300:])


# -- bands and plots -----------------------------------------------------------------


@pytest.fixture(scope="module")
def banded() -> js.Simulation:
    return with_arrivals().simulate(40, T, seed=21, replications=60, threads=2)


@pytest.mark.parametrize(
    ("of", "first"), [("retention", 0), ("active", 0), ("revenue", 1), ("net", 1)]
)
def test_band_gives_mean_and_quantiles_by_period(banded, of, first):
    band = banded.band(of=of)
    assert list(band.columns) == ["mean", "q0.05", "q0.95"]
    assert list(band.index) == list(range(first, T + 1))
    lo, mean, hi = band["q0.05"], band["mean"], band["q0.95"]
    eps = 1e-9 * (1 + mean.abs())
    assert (lo <= mean + eps).all() and (mean <= hi + eps).all()
    assert (lo < hi).any()
    custom = banded.band(0.1, 0.9, of=of)
    assert list(custom.columns) == ["mean", "q0.1", "q0.9"]
    assert (custom["q0.1"] >= lo - eps).all() and (custom["q0.9"] <= hi + eps).all()


def test_band_means_are_the_tables(banded):
    np.testing.assert_allclose(banded.band()["mean"], banded.retention)
    np.testing.assert_allclose(
        banded.band(of="active")["mean"], banded.occupancy["active"]
    )
    np.testing.assert_allclose(
        banded.band(of="net")["mean"], banded.value_by_period["net"]
    )


@pytest.mark.parametrize(
    ("lo", "hi"), [(-0.1, 0.9), (0.1, 1.1), (0.5, 0.5), (0.9, 0.1), (float("nan"), 0.9)]
)
def test_band_rejects_bad_quantiles(banded, lo, hi):
    with pytest.raises(ValueError, match="lo"):
        banded.band(lo, hi)


def test_band_rejects_an_unknown_quantity(banded):
    with pytest.raises(ValueError, match=r"\bof\b.*'bogus'"):
        banded.band(of="bogus")


@pytest.fixture
def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_plot_band_returns_the_axes(banded, pyplot):
    from matplotlib.axes import Axes

    ax = banded.plot_band(of="net")
    assert isinstance(ax, Axes)
    assert ax.get_ylabel() == "discounted net per period, all simulated customers"
    _, mine = pyplot.subplots()
    assert banded.plot_band(0.1, 0.9, ax=mine) is mine


# -- progress ------------------------------------------------------------------------


def test_progress_bar_goes_to_stderr(capsys):
    sim = tenure_dependent().simulate(2_000, T, seed=1, progress=True)
    out, err = capsys.readouterr()
    assert sim.lifetime.size == 2_000
    assert out == ""
    assert "simulate" in err


def test_no_progress_bar_when_asked_not_to(capsys):
    tenure_dependent().simulate(2_000, T, seed=1, progress=False)
    assert capsys.readouterr() == ("", "")
