"""On a Dask cluster (a LocalCluster of 2 worker processes on loopback): sweeps,
plan comparisons with uncertainty and partitioned fits give exactly the local
results, a worker killed mid-sweep changes nothing, a failing scenario is
reported without losing the others."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import geometric

distributed = pytest.importorskip("distributed")

pytestmark = [
    # Closing a cluster whose worker was killed (and restarted by its nanny)
    # can leave Dask's own comms and event loops to be collected after the
    # test: ResourceWarnings of unclosed sockets/transports, and
    # PytestUnraisableExceptionWarnings wrapping "Task was destroyed but it is
    # pending" / CommClosedError from those loops. They come from Dask's
    # teardown, not from journeysim, so they are filtered here only.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

PYTHON_DIR = str(Path(__file__).resolve().parents[2] / "python")


@pytest.fixture(scope="module")
def client():
    # Worker processes import journeysim as this process does: from the source
    # tree when the tests run from it, else from the installed package.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [p for p in sys.path if p == PYTHON_DIR]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,  # errors only (the killed worker's restart is expected)
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def plans() -> list[js.Plan]:
    call = js.Intervention(
        "call", at=("active", "churned"), relative_risk=0.5, cost_per_customer=20
    )
    outreach = js.Intervention(
        "outreach", at=("active", "churned"), change=-0.02, reach=0.5
    )
    return [js.Plan("call", [call]), js.Plan("outreach", [outreach])]


def journey() -> js.Journey:
    return geometric(0.1, value=100.0, rate=0.01, cohort_size=50.0)


GRID = {"call.relative_risk": [0.3, 0.5, 0.7], "call.reach": [0.5, 1.0]}


@pytest.mark.parametrize("batch_size", [None, 1, 4])
def test_an_exact_sweep_equals_the_local_one(client, batch_size):
    local = js.sweep(journey(), plans(), grid=GRID, periods=24, workers=1)
    remote = js.sweep(
        journey(), plans(), grid=GRID, periods=24, client=client, batch_size=batch_size
    )
    pd.testing.assert_frame_equal(local, remote, check_exact=True)


def test_a_simulated_sweep_is_bit_identical(client):
    kw = {"grid": GRID, "periods": 24, "customers": 3_000, "seed": 17}
    local = js.sweep(journey(), plans(), workers=1, **kw)
    remote = js.sweep(journey(), plans(), client=client, **kw)
    pd.testing.assert_frame_equal(local, remote, check_exact=True)


def fitted() -> js.Fit:
    truth = js.default_journey("small_business")
    log = truth.simulate(500, 18, seed=6, record="events").stage_log()
    return js.fit(log, stages=truth.stages, absorbing=["churned"], end=18, prior=0.5)


def demo_plans() -> list[js.Plan]:
    call = js.Intervention(
        "onboarding call",
        at=("onboarding", "churned"),
        relative_risk=0.6,
        reassign_to="adopting",
        reach=0.8,
        cost_per_customer=50,
        window=(0, 3),
    )
    save = js.Intervention(
        "save desk", at=("at_risk", "churned"), relative_risk=0.7, cost_per_period=5
    )
    return [js.Plan("onboarding", [call]), js.Plan("save", [save])]


def test_psa_comparison_equals_the_local_one(client):
    f = fitted()
    j = js.default_journey("small_business")
    kw = {"periods": 24, "uncertainty": f, "draws": 30, "seed": 8}
    local = js.compare(j, demo_plans(), **kw)
    remote = js.compare(j, demo_plans(), client=client, **kw)
    for name in ("summary", "uncertainty", "beats", "draws"):
        pd.testing.assert_frame_equal(
            getattr(local, name), getattr(remote, name), check_exact=True
        )
    sweep_kw = {"uncertainty": f, "draws": 8, "seed": 8, "periods": 24}
    grid = {"onboarding call.reach": [0.5, 0.8]}
    pd.testing.assert_frame_equal(
        js.sweep(j, demo_plans(), grid=grid, workers=1, **sweep_kw),
        js.sweep(j, demo_plans(), grid=grid, client=client, **sweep_kw),
        check_exact=True,
    )


def test_a_monte_carlo_comparison_equals_the_local_one(client):
    j = js.default_journey("small_business")
    # A plan with a capacity: its journey carries the engine's rules to workers.
    desk = js.Intervention(
        "desk", at=("at_risk", "churned"), relative_risk=0.5, capacity=40
    )
    ps = [*demo_plans(), js.Plan("desk", [desk])]
    kw = {"periods": 24, "customers": 5_000, "seed": 4, "replications": 2}
    local = js.compare(j, ps, **kw)
    remote = js.compare(j, ps, client=client, **kw)
    assert remote.summary.loc["desk", "capacity limited"]
    pd.testing.assert_frame_equal(local.summary, remote.summary, check_exact=True)
    for name, s in remote.results.items():
        assert s._journey is remote.journeys[name]
        np.testing.assert_array_equal(
            s.occupancy.to_numpy(), local.results[name].occupancy.to_numpy()
        )


def test_a_failing_scenario_on_the_cluster(client):
    grid = {"call.relative_risk": [0.5, 12.0, 0.7]}
    local = js.sweep(journey(), plans(), grid=grid, errors="keep", workers=1)
    with pytest.raises(js.SweepError, match="scenario 4") as info:
        js.sweep(journey(), plans(), grid=grid, client=client, batch_size=1)
    pd.testing.assert_frame_equal(info.value.results, local, check_exact=True)
    assert info.value.failures.index.tolist() == [4]


# -- partitioned calibration ----------------------------------------------------


def event_log() -> pd.DataFrame:
    j = js.default_journey("small_business")
    log = j.simulate(1_500, 20, seed=3, record="events").stage_log()
    log["customer"] = log["customer"] * 7 + 100  # ids are not row numbers
    log["stage"] = log["stage"].astype(str)
    log["segment"] = np.where(log["customer"] % 3 == 0, "smb", "enterprise")
    # Ties within a period are broken by row order: a second row in the same
    # period, at the same time, for some customers ("extra").
    extra = log[(log["customer"] % 11 == 0) & (log["period"] == 2)].copy()
    extra["stage"] = "at_risk"
    log["extra"] = False
    extra["extra"] = True
    return pd.concat([log, extra], ignore_index=True)


def write_order(log: pd.DataFrame) -> np.ndarray:
    """The file each row of the by-period layout is in."""
    return ((log["period"] - log["extra"].astype(int)) % 4).to_numpy()


def write_partitions(log: pd.DataFrame, folder: Path, layout: str) -> str:
    """Four files, by customer or by period; by period the extra rows go to
    the file before their period's, so that ties span files (and the file
    order decides them)."""
    if layout == "by customer":
        key = log["customer"] % 4
    else:
        key = write_order(log)
    for k in range(4):
        log[key == k].drop(columns="extra").to_parquet(folder / f"events-{k}.parquet")
    return str(folder / "events-*.parquet")


def same_fit(a: js.Fit, b: js.Fit) -> None:
    assert a.stages == b.stages and a.segments == b.segments
    assert a.customers == b.customers
    np.testing.assert_array_equal(a._counts, b._counts)
    np.testing.assert_array_equal(a._starts, b._starts)
    np.testing.assert_array_equal(a._alpha, b._alpha)
    assert a._counts.dtype == b._counts.dtype and a._starts.dtype == b._starts.dtype
    pd.testing.assert_frame_equal(a.interval(), b.interval(), check_exact=True)
    assert a.journey == b.journey


@pytest.mark.parametrize("layout", ["by customer", "by period"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"segment": "segment", "tenure": [0, 4], "prior": 0.5},
        {"absorbing": ["churned"], "end": 25, "kind": "snapshots"},
    ],
    ids=["plain", "segments", "snapshots"],
)
def test_a_partitioned_fit_equals_one_process(client, tmp_path, layout, kwargs):
    pattern = write_partitions(event_log(), tmp_path, layout)
    local = js.fit(pattern, **kwargs)
    remote = js.fit(pattern, client=client, **kwargs)
    same_fit(local, remote)
    assert remote.options == local.options
    if layout == "by period" and not kwargs:
        # The ties across files are decided by the files' order: here the
        # extra rows come first, and lose.
        log = event_log()
        assert not np.array_equal(js.fit(log)._counts, remote._counts)
        ordered = log.iloc[np.argsort(write_order(log), kind="stable")]
        same_fit(js.fit(ordered.drop(columns="extra")), remote)
        with pytest.raises(ValueError, match="leaves on the workers"):
            remote.interval(bootstrap=10)
        with pytest.raises(ValueError, match="leaves on the workers"):
            remote.check()


def test_a_dask_dataframe_is_fitted_by_partition(client):
    dd = pytest.importorskip("dask.dataframe")
    log = event_log().drop(columns="extra")
    log = log.sort_values("period", kind="stable").reset_index(drop=True)
    frame = dd.from_pandas(log, npartitions=3, sort=False)
    same_fit(js.fit(log), js.fit(frame, client=client))


def test_partitioned_fit_errors(client, tmp_path):
    log = event_log().drop(columns="extra")
    log.to_parquet(tmp_path / "a.parquet")
    log.drop(columns="segment").to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"b\.parquet.*no column\(s\) \['segment'\]"):
        js.fit(str(tmp_path / "*.parquet"), segment="segment", client=client)
    with pytest.raises(ValueError, match="a log already in memory is fitted here"):
        js.fit(log, client=client)
    with pytest.raises(ValueError, match="no file matches"):
        js.fit(str(tmp_path / "none-*.parquet"), client=client)
    with pytest.raises(ValueError, match="rows have stages not in stages="):
        js.fit(str(tmp_path / "a.parquet"), stages=["onboarding"], client=client)
    with pytest.raises(ValueError, match="discrete model only"):
        js.fit(str(tmp_path / "a.parquet"), model="continuous", client=client)


# -- faults -------------------------------------------------------------------------


def _kill_on_first_cell(marker: str) -> None:
    """Installed on every worker: the first cell evaluated anywhere kills its
    worker process (the marker file says it happened); later ones run."""
    import importlib

    engine = importlib.import_module("journeysim.plans.sweep")
    evaluate = engine._evaluate_cell

    def deadly(ctx, cell, threads):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return evaluate(ctx, cell, threads)
        os.close(fd)
        os._exit(1)

    engine._evaluate_cell = deadly


def test_a_worker_killed_mid_sweep_changes_nothing(client, tmp_path):
    kw = {"grid": GRID, "periods": 24, "customers": 2_000, "seed": 5}
    local = js.sweep(journey(), plans(), workers=1, **kw)
    marker = tmp_path / "killed"
    before = set(client.nthreads())
    client.run(_kill_on_first_cell, str(marker))
    try:
        remote = js.sweep(journey(), plans(), client=client, batch_size=1, **kw)
    finally:
        client.wait_for_workers(2, timeout=60)
    # A worker did die, and its nanny started a new one.
    assert marker.exists() and set(client.nthreads()) != before
    pd.testing.assert_frame_equal(local, remote, check_exact=True)


def test_a_partitioned_fit_reads_returns_as_one_process(client, tmp_path):
    # Customer 1 churns and comes back within one file; customer 2 across two.
    rows = [(1, 0, "a"), (1, 2, "churned"), (1, 5, "a"), (2, 0, "a"), (3, 0, "a")]
    later = [(2, 3, "churned"), (2, 6, "b"), (3, 4, "b")]
    cols = ["customer", "period", "stage"]
    pd.DataFrame(rows, columns=cols).to_parquet(tmp_path / "e-0.parquet")
    pd.DataFrame(later, columns=cols).to_parquet(tmp_path / "e-1.parquet")
    pattern = str(tmp_path / "e-*.parquet")
    kw = {"absorbing": ["churned"], "end": 8, "returns": "new_customer"}
    local, remote = js.fit(pattern, **kw), js.fit(pattern, client=client, **kw)
    same_fit(local, remote)
    assert remote.customers == 5
    with pytest.raises(
        ValueError,
        match=r"customer 1 is in absorbing stage .* in file '.*e-0\.parquet'",
    ):
        js.fit(str(tmp_path / "e-0.parquet"), absorbing=["churned"], client=client)
    with pytest.raises(
        ValueError, match=r"customer 2 is in absorbing stage 'churned' at time 3"
    ):
        js.fit(str(tmp_path / "e-1.parquet"), absorbing=["churned"], client=client)
    # Each partition (and bucket) is checked where it is counted.
    with pytest.raises(ValueError, match=r"customer [12] is in absorbing stage"):
        js.fit(pattern, absorbing=["churned"], client=client)


@pytest.mark.parametrize("kind", ["changes", "snapshots"])
def test_a_partitioned_monitor_equals_one_process(client, tmp_path, kind):
    from monitor_logs import STAGES, calendar_log

    # Files by month: most customers span files (their rows are shuffled).
    log = calendar_log(14, 60, seed=21, after=0.15, change=8)
    log["date"] = pd.PeriodIndex.from_ordinals(
        log["period"] + 648, freq="M"
    ).to_timestamp() + pd.to_timedelta(log["customer"] % 27, "D")
    log = log[["customer", "date", "stage"]]
    for k in range(3):
        part = log[log["date"].dt.month % 3 == k]
        part.to_parquet(tmp_path / f"events-{k}.parquet")
    kw = dict(
        time="date",
        window="3M",
        every="2M",
        kind=kind,
        stages=STAGES,
        absorbing=["churned"],
    )
    local = js.monitor(log, **kw)
    remote = js.monitor(str(tmp_path / "events-*.parquet"), client=client, **kw)
    pd.testing.assert_frame_equal(local.rates, remote.rates, check_exact=True)
    pd.testing.assert_frame_equal(local.windows, remote.windows, check_exact=True)
    np.testing.assert_array_equal(local._wc.by_period, remote._wc.by_period)
    pd.testing.assert_frame_equal(
        local.drift(draws=300).table, remote.drift(draws=300).table, check_exact=True
    )
    with pytest.raises(ValueError, match="leaves the rows on the workers"):
        remote.backtest(horizon=2)
