"""sweep(): every plan under every grid point and posterior draw, one row per
scenario, the same numbers as compare() and whatever runs the cells; pickling
of what travels to other processes (the fits, the core's journey)."""

from __future__ import annotations

import importlib
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import geometric

engine = importlib.import_module("journeysim.plans.sweep")
executor = importlib.import_module("journeysim._base.executor")

PERIODS = 12


def call(**kw) -> js.Intervention:
    kw = {"relative_risk": 0.5, "cost_per_customer": 20.0, **kw}
    return js.Intervention("call", at=("active", "churned"), **kw)


def plans() -> list[js.Plan]:
    outreach = js.Intervention(
        "outreach", at=("active", "churned"), change=-0.02, reach=0.5
    )
    return [js.Plan("call", [call()]), js.Plan("outreach", [outreach])]


def journey() -> js.Journey:
    return geometric(0.1, value=100.0, rate=0.01, cohort_size=50.0)


def metrics(row: pd.Series) -> pd.Series:
    meta = {"plan", "error", "seed", "draw", "call.relative_risk", "call.reach"}
    return row.drop([k for k in row.index if k in meta]).dropna()


def test_each_row_is_what_compare_gives_for_its_values():
    grid = {"call.relative_risk": [0.4, 0.7], "call.reach": [0.5, 1.0]}
    w = js.sweep(journey(), plans(), grid=grid, periods=PERIODS, workers=1)
    assert len(w) == 4 * 3 and w.index.name == "scenario"
    assert list(w.columns[:3]) == ["plan", "call.relative_risk", "call.reach"]
    assert w.columns[-1] == "error" and w["error"].isna().all()
    # The first name varies slowest; baseline first in every cell.
    assert w["call.relative_risk"].tolist() == [0.4] * 6 + [0.7] * 6
    assert w["call.reach"].tolist() == ([0.5] * 3 + [1.0] * 3) * 2
    assert w["plan"].tolist() == ["baseline", "call", "outreach"] * 4
    for cell in range(4):
        rows = w.iloc[3 * cell : 3 * cell + 3]
        rr, reach = rows.iloc[0][["call.relative_risk", "call.reach"]]
        c = js.compare(
            journey(),
            [
                js.Plan("call", [call(relative_risk=rr, reach=reach)]),
                plans()[1],
            ],
            periods=PERIODS,
        )
        for k, name in enumerate(["baseline", "call", "outreach"]):
            expected = c.summary.loc[name].dropna()
            got = metrics(rows.iloc[k])
            assert got.index.tolist() == expected.index.tolist()
            assert got.to_numpy(dtype=float).tolist() == (
                expected.to_numpy(dtype=float).tolist()
            )


def test_monte_carlo_rows_reproduce_with_their_seed():
    w = js.sweep(
        journey(),
        plans(),
        grid={"call.relative_risk": [0.4, 0.7]},
        periods=PERIODS,
        customers=2_000,
        seed=11,
        workers=1,
    )
    seeds = w["seed"].to_numpy()
    assert w["seed"].dtype == np.uint64
    assert seeds[0] == seeds[1] == seeds[2] != seeds[3]  # a cell shares its seed
    assert seeds[3] == engine.scenario_seed(11, 1)
    c = js.compare(
        journey(),
        [js.Plan("call", [call(relative_risk=0.7)]), plans()[1]],
        periods=PERIODS,
        customers=2_000,
        seed=int(seeds[3]),
    )
    for k, name in enumerate(["baseline", "call", "outreach"]):
        expected = c.summary.loc[name].dropna()
        got = metrics(w.iloc[3 + k])
        assert got.to_numpy(dtype=float).tolist() == (
            expected.to_numpy(dtype=float).tolist()
        )
    again = js.sweep(
        journey(),
        plans(),
        grid={"call.relative_risk": [0.4, 0.7]},
        periods=PERIODS,
        customers=2_000,
        seed=11,
        workers=1,
        batch_size=1,
    )
    pd.testing.assert_frame_equal(w, again)


def test_scenario_seeds_are_derived_from_seed_and_cell_only():
    seeds = [engine.scenario_seed(5, c) for c in range(100)]
    assert len(set(seeds)) == 100
    assert seeds == [engine.scenario_seed(5, c) for c in range(100)]
    assert all(0 <= s < 2**64 for s in seeds)
    assert engine.scenario_seed(6, 0) != seeds[0]


def test_a_local_pool_gives_the_rows_of_one_process(monkeypatch):
    monkeypatch.setattr(engine, "LOCAL_POOL_MIN_SECONDS", 0.0)
    grid = {"call.relative_risk": [0.3, 0.5, 0.7, 0.9], "call.reach": [0.5, 1.0]}
    kw = {"grid": grid, "periods": PERIODS, "customers": 500, "seed": 3}
    one = js.sweep(journey(), plans(), workers=1, **kw)
    two = js.sweep(journey(), plans(), workers=2, batch_size=2, **kw)
    pd.testing.assert_frame_equal(one, two)


def test_journey_parameters_periods_and_discount_rate():
    w = js.sweep(
        journey(),
        plans()[:1],
        grid={"periods": [6, 12], "discount_rate": [0.0, 0.02]},
        workers=1,
    )
    assert len(w) == 8
    row = w[(w["periods"] == 6) & (w["discount_rate"] == 0.02)]
    c = js.compare(
        geometric(0.1, value=100.0, rate=0.02, cohort_size=50.0), plans()[:1], 6
    )
    for k, name in enumerate(["baseline", "call"]):
        expected = c.summary.loc[name].dropna()
        got = row.iloc[k].drop(["plan", "periods", "discount_rate", "error"]).dropna()
        assert got.to_dict() == expected.to_dict()
    assert row["retention at 12"].isna().all()  # its own horizon only


def test_a_grid_can_be_a_table_of_points():
    points = pd.DataFrame(
        {"call.relative_risk": [0.5, 0.9], "call.cost_per_customer": [10.0, 40.0]}
    )
    w = js.sweep(journey(), plans()[:1], grid=points, periods=PERIODS, workers=1)
    assert w["call.cost_per_customer"].tolist() == [10.0, 10.0, 40.0, 40.0]
    assert w.loc[1, "intervention cost"] < w.loc[3, "intervention cost"]


def test_an_effect_in_the_grid_replaces_the_interventions_effect():
    w = js.sweep(
        journey(), plans()[1:], grid={"outreach.relative_risk": [0.5]}, workers=1
    )
    iv = js.Intervention(
        "outreach", at=("active", "churned"), relative_risk=0.5, reach=0.5
    )
    c = js.compare(journey(), [js.Plan("outreach", [iv])])
    assert w.loc[1, "CLV"] == c.summary.loc["outreach", "CLV"]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"relative_risk": [0.5]}, "unknown parameter 'relative_risk'"),
        ({"nobody.reach": [0.5]}, "names no intervention of the plans"),
        ({"call.colour": [1]}, "'colour' is not a setting"),
        ({"call.reach": 0.5}, "must be a list of values"),
        ({"call.reach": []}, "has no values"),
        ({"call.relative_risk": [0.5], "call.change": [0.1]}, "has one effect"),
        ({"periods": [0]}, "periods must be integers >= 1"),
        ([("call.reach", 1)], "grid must be a dict"),
    ],
)
def test_grid_names_and_shapes_are_checked(grid, message):
    with pytest.raises(ValueError, match=message):
        js.sweep(journey(), plans(), grid=grid, workers=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"errors": "ignore"}, "errors must be"),
        ({"workers": 0}, "workers must be"),
        ({"batch_size": 1.5}, "batch_size must be"),
        ({"client": "tcp://localhost:8786"}, "dask.distributed.Client"),
        ({"customers": 0}, "customers must be"),
        ({"accrual": "middle"}, "accrual must be"),
        ({"horizons": [20]}, r"horizons must be integers in \[0, 12\]"),
        ({"uncertainty": [1, 2]}, "uncertainty must be"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"discount_rate": -1.5}, "discount_rate must be a number > -1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        js.sweep(journey(), plans(), periods=PERIODS, **kwargs)


def test_plans_are_checked_like_compares():
    with pytest.raises(ValueError, match="not 'baseline'"):
        js.sweep(journey(), [js.Plan("baseline", [])])
    capped = js.Plan("capped", [call(capacity=3)])
    with pytest.raises(ValueError, match="capacity limits can only be simulated"):
        js.sweep(journey(), [capped])
    with pytest.raises(ValueError, match="capacity limits can only be simulated"):
        js.sweep(journey(), plans(), grid={"call.capacity": [5]})


def test_a_failing_scenario_is_reported_and_the_others_kept():
    # relative_risk 12 would push active -> churned to 1.2: that plan fails in
    # that cell only.
    grid = {"call.relative_risk": [0.5, 12.0, 0.7]}
    kept = js.sweep(
        journey(), plans(), grid=grid, periods=PERIODS, errors="keep", workers=1
    )
    bad = kept[kept["error"].notna()]
    assert bad.index.tolist() == [4]
    assert bad.loc[4, "plan"] == "call"
    assert bad.loc[4, "error"].startswith("ValueError: intervention 'call'")
    assert "outside [0, 1]" in bad.loc[4, "error"]
    assert (
        bad.drop(columns=["plan", "call.relative_risk", "error"]).isna().all(axis=None)
    )
    good = js.sweep(
        journey(),
        plans(),
        grid={"call.relative_risk": [0.5, 0.7]},
        periods=PERIODS,
        workers=1,
    )
    rest = kept.drop(index=[3, 4, 5]).reset_index(drop=True).drop(columns="error")
    pd.testing.assert_frame_equal(
        rest, good.reset_index(drop=True).drop(columns="error")
    )
    # Its cell's baseline and other plan are there.
    assert kept.loc[[3, 5], "error"].isna().all()
    with pytest.raises(js.SweepError, match="scenario 4") as info:
        js.sweep(journey(), plans(), grid=grid, periods=PERIODS, workers=1)
    err = info.value
    assert "call.relative_risk=12.0" in str(err) and "outside [0, 1]" in str(err)
    pd.testing.assert_frame_equal(err.results, kept)
    assert err.failures.index.tolist() == [4]


def test_a_failing_baseline_fails_its_whole_cell():
    w = js.sweep(
        journey(),
        plans(),
        grid={"discount_rate": [0.01, -2.0]},
        periods=PERIODS,
        errors="keep",
        workers=1,
    )
    assert w["error"].notna().tolist() == [False] * 3 + [True] * 3
    assert "discount_rate must be > -1" in w.loc[3, "error"]


def test_posterior_draws_are_compares_draws():
    truth = geometric(0.1, value=100.0, rate=0.01)
    log = truth.simulate(400, 24, seed=4, record="events").stage_log()
    f = js.fit(log, stages=truth.stages, absorbing=["churned"], end=24, prior=0.5)
    c = js.compare(truth, plans(), periods=PERIODS, uncertainty=f, draws=6, seed=9)
    w = js.sweep(
        truth,
        plans(),
        uncertainty=f,
        draws=6,
        seed=9,
        periods=PERIODS,
        grid={"call.reach": [1.0, 0.5]},
        workers=1,
    )
    assert len(w) == 2 * 6 * 3
    assert w["draw"].tolist()[:6] == [0, 0, 0, 1, 1, 1]
    first = w[w["call.reach"] == 1.0].pivot(
        index="draw", columns="plan", values="incremental net value"
    )
    assert first[["baseline", "call", "outreach"]].to_numpy().tolist() == (
        c.draws.to_numpy().tolist()
    )
    # Without a seed one is drawn, and kept to reproduce the sweep.
    kw = {"uncertainty": f, "draws": 3, "periods": PERIODS, "workers": 1}
    w = js.sweep(truth, plans(), **kw)
    assert isinstance(w.attrs["seed"], int)
    pd.testing.assert_frame_equal(
        js.sweep(truth, plans(), seed=w.attrs["seed"], **kw), w
    )


def test_warnings_of_scenarios_are_raised_once():
    # No absorbing stage: every analysis warns of an infinite lifetime.
    j = js.Journey(
        ["a", "b"], {"a": {"b": 0.1}}, values={"revenue": {"b": 1.0}}, absorbing=[]
    )
    p = js.Plan("p", [js.Intervention("x", at=("a", "b"), relative_risk=0.5)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = js.sweep(j, [p], grid={"x.relative_risk": [0.5, 0.6, 0.7]}, workers=1)
    assert w["error"].isna().all()
    messages = [str(x.message) for x in caught]
    assert caught and all(
        issubclass(x.category, js.InfiniteLifetimeWarning) for x in caught
    )
    assert len(messages) == len(set(messages))


def test_progress_bar_counts_scenarios(capsys, monkeypatch):
    counted = []
    update = executor.Progress.update
    monkeypatch.setattr(
        executor.Progress,
        "update",
        lambda self, n: (counted.append(n), update(self, n)),
    )
    js.sweep(
        journey(),
        plans(),
        grid={"call.reach": [0.5, 1.0]},
        periods=PERIODS,
        progress=True,
        workers=1,
    )
    err = capsys.readouterr().err
    assert "sweep" in err and "/6" in err and "scenario" in err
    assert sum(counted) == 6


def test_batches_are_runs_of_cells():
    cells = [engine._Cell(index=k, params={}) for k in range(10)]
    batches = executor.batches(cells, 2, None)
    assert [len(b) for b in batches] == [2, 2, 2, 2, 2]
    assert [c.index for b in batches for c in b] == list(range(10))
    assert [len(b) for b in executor.batches(cells, 1, 4)] == [4, 4, 2]


# -- pickling what travels ----------------------------------------------------------


def fitted(**kwargs) -> js.Fit:
    j = js.default_journey()
    log = j.simulate(300, 12, seed=2, record="events").stage_log()
    return js.fit(log, stages=j.stages, absorbing=["churned"], end=12, **kwargs)


@pytest.mark.parametrize(
    "kwargs", [{}, {"prior": 0.5, "tenure": [0, 3]}, {"model": "continuous"}]
)
def test_fits_pickle_exactly(kwargs):
    f = fitted(**kwargs)
    back = pickle.loads(pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(back) is type(f)
    assert "journey" not in f.__getstate__()  # rebuilt on unpickling, not sent
    for a, b in zip(
        f.journey.transition_matrices().values(),
        back.journey.transition_matrices().values(),
        strict=True,
    ):
        assert np.array_equal(a.to_numpy(), b.to_numpy())
    pd.testing.assert_frame_equal(f.counts, back.counts, check_exact=True)
    pd.testing.assert_frame_equal(f.interval(), back.interval(), check_exact=True)
    for x, y in zip(f.sample(3, seed=1), back.sample(3, seed=1), strict=True):
        assert np.array_equal(
            x.transition_matrix.to_numpy(), y.transition_matrix.to_numpy()
        )
    if isinstance(f, js.Fit):
        assert back.customers == f.customers
        pd.testing.assert_frame_equal(
            f.interval(bootstrap=10, seed=3), back.interval(bootstrap=10, seed=3)
        )
        pd.testing.assert_frame_equal(f.check().retention, back.check().retention)


def core_journeys():
    j = js.default_journey()
    yield j
    yield js.Journey(
        ["a", "b", "c"],
        {0: {"a": {"b": 0.3}}, 2: {"a": {"b": 0.6}}},
        absorbing=[],
        values={"revenue": {"a": 1.0, "b": 2.0}},
        transition_values={"revenue": {("a", "b"): 5.0}},
        segments={
            "x": {"share": 0.25, "start": {"b": 1.0}},
            "y": {"share": 0.75, "transitions": {"b": {"c": 0.2}}},
        },
        arrivals=[3.0, 2.0],
        cohort_size=10.0,
        normalize=True,
    )
    from journeysim.model.apply_plan import apply_plan

    plan = js.Plan("p", [js.Intervention("x", at=("a", "b"), change=0.1, reach=0.5)])
    yield apply_plan(
        js.Journey(["a", "b"], {"a": {"b": 0.2}}), plan, cost_rate=0.0
    ).journey


@pytest.mark.parametrize("j", list(core_journeys()), ids=["demo", "full", "plan"])
def test_the_cores_journey_pickles_as_its_validated_spec(j):
    core = j._core
    back = pickle.loads(pickle.dumps(core))
    assert back.stages == core.stages
    assert back.absorbing == core.absorbing
    assert back.net_weights == core.net_weights
    assert back.n_segments == core.n_segments
    for i in range(core.n_segments):
        assert back.share(i) == core.share(i)
        assert np.array_equal(back.start(i), core.start(i))
        assert back.transition_starts(i) == core.transition_starts(i)
        for m, n in zip(back.transitions(i), core.transitions(i), strict=True):
            assert np.array_equal(m, n)
    acc = js._core.Accrual.start
    a, b = js._core.analyze(core, 24, acc), js._core.analyze(back, 24, acc)
    for name in ("occupancy", "value", "population_value", "absorption"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True)
    with pytest.raises(RuntimeError, match="invalid pickled Journey"):
        js._core.Journey.__new__(js._core.Journey).__setstate__((1, 2))


def test_what_a_sweep_sends_pickles():
    ctx = engine._Context(
        journey=journey(),
        plans=plans(),
        periods=12,
        horizons=None,
        accrual="start",
        discount_rate=None,
        customers=None,
        replications=1,
    )
    cells = [engine._Cell(index=0, params={"call.reach": 0.5}, rows=3)]
    back = pickle.loads(pickle.dumps(ctx))
    assert (
        engine._run_batch(back, cells, None).cells
        == engine._run_batch(ctx, cells, None).cells
    )


# -- several files are one log ---------------------------------------------------


def test_several_files_are_one_log_in_sorted_order(tmp_path):
    j = js.default_journey()
    log = j.simulate(300, 12, seed=5, record="events").stage_log()
    log["stage"] = log["stage"].astype(str)
    parts = [log[log["period"] % 3 == k] for k in range(3)]
    parts[0].to_parquet(tmp_path / "b.parquet")
    parts[1].to_csv(tmp_path / "c.csv", index=False)
    parts[2].to_parquet(tmp_path / "a.parquet")
    whole = pd.concat([parts[2], parts[0], parts[1]], ignore_index=True)
    expected = js.fit(whole)
    for events in (
        str(tmp_path),
        str(tmp_path / "*.*"),
        [tmp_path / "a.parquet", tmp_path / "b.parquet", str(tmp_path / "c.csv")],
    ):
        got = js.fit(events)
        assert np.array_equal(got._counts, expected._counts)
        assert np.array_equal(got._starts, expected._starts)
        assert got.customers == expected.customers
    with pytest.raises(ValueError, match="no file matches"):
        js.fit(str(tmp_path / "none-*.parquet"))
    with pytest.raises(ValueError, match="no column"):
        js.fit(str(tmp_path / "a.parquet"), segment="segment")


def test_rows_already_in_order_are_not_sorted_again():
    partitions = importlib.import_module("journeysim.calibrate.partitions")
    rng = np.random.default_rng(1)
    cust = np.repeat(np.arange(50), 6)
    period = np.tile(np.arange(6), 50)
    time = period + rng.random(300) * 0.5
    time[7] = time[6]  # a tie: row order decides, as in a stable sort
    assert partitions._order(cust, period, time) is None
    assert np.array_equal(
        np.lexsort((np.arange(300), time, period, cust)), np.arange(300)
    )
    shuffled = rng.permutation(300)
    c, p, t = cust[shuffled], period[shuffled], time[shuffled]
    assert np.array_equal(
        partitions._order(c, p, t), np.lexsort((np.arange(300), t, p, c))
    )
    assert partitions._order(cust[:1], period[:1], time[:1]) is None
