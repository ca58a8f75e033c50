"""Scaling out with Dask (issue targets): a sweep of 1,000 exact scenarios of a
30-stage journey, a sweep of 100 simulated scenarios (200,000 customers x 60
periods each), and a partitioned fit of 10 M events in 20 Parquet files, each
on a LocalCluster of 1 and of 2 worker processes (one thread each), against a
run in one process. Writes its section of RESULTS.md."""

from __future__ import annotations

import os
import platform
import resource
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import journeysim as js
from bench_compare import journey, plans
from results_file import cpu_model, write_section

SECTION = "## Scaling out with Dask (bench_sweep.py)"
PERIODS = 60
EXACT_GRID = {
    "save s0.relative_risk": [round(x, 4) for x in np.linspace(0.3, 0.9, 20)],
    "save s1.reach": [round(x, 4) for x in np.linspace(0.1, 1.0, 10)],
}  # 200 cells x (baseline + 4 plans) = 1,000 scenarios
MC_GRID = {"save s0.relative_risk": [round(x, 4) for x in np.linspace(0.3, 0.9, 50)]}
MC_CUSTOMERS = 200_000  # 50 cells x (baseline + 1 plan) = 100 simulations
FIT_ROWS, FIT_FILES, FIT_PERIODS = 10_000_000, 20, 20


def timed(f, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def exact_sweep(j, **kw):
    return js.sweep(
        j, plans(j, 4), grid=EXACT_GRID, periods=PERIODS, progress=False, **kw
    )


def mc_sweep(j, **kw):
    return js.sweep(
        j,
        plans(j, 1),
        grid=MC_GRID,
        periods=PERIODS,
        customers=MC_CUSTOMERS,
        seed=2024,
        progress=False,
        **kw,
    )


def write_events(folder: str) -> None:
    """Snapshots of 500,000 customers over 20 periods, 8 stages, partitioned by
    customer into 20 files of 500,000 rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    customers = FIT_ROWS // FIT_PERIODS
    per_file = customers // FIT_FILES
    names = np.array([f"stage {k}" for k in range(8)])
    for f in range(FIT_FILES):
        ids = np.arange(f * per_file, (f + 1) * per_file, dtype=np.int64)
        n = len(ids) * FIT_PERIODS
        table = pa.table(
            {
                "customer": np.repeat(ids, FIT_PERIODS),
                "period": np.tile(np.arange(FIT_PERIODS, dtype=np.int64), len(ids)),
                "stage": names[rng.integers(0, len(names), n)],
            }
        )
        pq.write_table(table, f"{folder}/events-{f:02d}.parquet")


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not
    inherited from the process that started it)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start(workers: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )
    return cluster, Client(cluster)


def same_fit(a, b) -> bool:
    return (
        np.array_equal(a._counts, b._counts)
        and np.array_equal(a._starts, b._starts)
        and np.array_equal(a._alpha, b._alpha)
        and a.customers == b.customers
    )


def cpu_seconds(client) -> float:
    """CPU time used so far by the cluster's worker processes."""
    return sum(client.run(time.process_time).values())


def alternate(runs: dict, repeat: int, clients: dict) -> dict:
    """Best time of each run, the runs taking turns (so that a change in the
    shared machine's load hits them alike); the last result of each, and for
    the cluster runs the share of their workers' time they got a core for
    (CPU time over wall time x workers, in the best run)."""
    best = {k: float("inf") for k in runs}
    share = {}
    out = {}
    for _ in range(repeat):
        for k, f in runs.items():
            c = clients.get(k)
            cpu = cpu_seconds(c) if c else 0.0
            t = time.perf_counter()
            out[k] = f()
            wall = time.perf_counter() - t
            if wall < best[k]:
                best[k] = wall
                if c:
                    share[k] = (cpu_seconds(c) - cpu) / (wall * k)
    return {k: (best[k], out[k], share.get(k)) for k in runs}


def main() -> None:
    j = journey()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        write_events(tmp)
        write_s = time.perf_counter() - t
        pattern = f"{tmp}/events-*.parquet"
        clusters = {n: start(n) for n in (1, 2)}
        try:
            c1, c2 = clusters[1][1], clusters[2][1]
            for c in (c1, c2):  # journeysim imported on the workers
                js.sweep(j, plans(j, 1), periods=6, client=c)
            exact_sweep(j, workers=1)
            ex = alternate(
                {
                    "local": lambda: exact_sweep(j, workers=1),
                    1: lambda: exact_sweep(j, client=c1),
                    2: lambda: exact_sweep(j, client=c2),
                },
                3,
                {1: c1, 2: c2},
            )
            mc = alternate(
                {
                    "local": lambda: mc_sweep(j, workers=1, threads=1),
                    1: lambda: mc_sweep(j, client=c1),
                    2: lambda: mc_sweep(j, client=c2),
                },
                2,
                {1: c1, 2: c2},
            )
            local_mc, _ = timed(lambda: mc_sweep(j, workers=1), 1)
            ft = alternate(
                {
                    "local": lambda: js.fit(pattern, kind="snapshots"),
                    1: lambda: js.fit(pattern, kind="snapshots", client=c1),
                    2: lambda: js.fit(pattern, kind="snapshots", client=c2),
                },
                2,
                {1: c1, 2: c2},
            )
            worker_mb = {n: max(c.run(peak_mb).values()) for n, c in ((1, c1), (2, c2))}
            after = os.getloadavg()
        finally:
            for cluster, client in clusters.values():
                client.close()
                cluster.close()
    exact_table, mc_table, fit_local = ex["local"][1], mc["local"][1], ft["local"][1]
    for n in (1, 2):
        pd.testing.assert_frame_equal(ex[n][1], exact_table)
        pd.testing.assert_frame_equal(mc[n][1], mc_table)
        assert same_fit(ft[n][1], fit_local), "fits differ"
    n_exact, n_mc = len(exact_table), len(mc_table)
    one = {"exact": ex[1][0], "mc": mc[1][0], "fit": ft[1][0]}
    two = {"exact": ex[2][0], "mc": mc[2][0], "fit": ft[2][0]}
    local_exact, local_mc1, local_fit = ex["local"][0], mc["local"][0], ft["local"][0]

    shares = {"exact": ex, "mc": mc, "fit": ft}

    def row(case, n, local, unit):
        s1, s2 = one[case], two[case]
        speed = s1 / s2
        # The issue sets the 1.7x target for the sweeps; the fit is measured.
        verdict = ("PASS" if speed >= 1.7 else "FAIL") if n else "no target"
        over = f"{(s1 - local) / n * 1e3:+.2f} ms" if n else f"{s1 - local:+.2f} s"
        cpu = shares[case]
        return (
            f"| {unit} | {local:.2f} s | {s1:.2f} s | {s2:.2f} s | {speed:.2f}x "
            f"({verdict}) | {over} | {cpu[1][2]:.0%} / {cpu[2][2]:.0%} |"
        )

    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python "
        f"{platform.python_version()}, numpy {np.__version__}, dask.distributed "
        f"{__import__('distributed').__version__}; load average before the run "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, after it {after[0]:.2f} / "
        f"{after[1]:.2f} / {after[2]:.2f} (the machine is shared with other "
        "work; the run itself keeps up to 2 processes busy). "
        "LocalClusters of 1 and of 2 worker processes, one thread each, on "
        "loopback, both started and warmed up (journeysim imported on the "
        "workers) before timing; best of 3 (exact sweep) and 2 (simulated sweep, "
        "fit) runs, the one-process, 1-worker and 2-worker runs taking turns. "
        "Every cluster result was checked equal, bit for bit, to the "
        "one-process result before writing this.",
        "",
        "- Exact sweep: the 30-stage journey of bench_compare.py (cohort 10,000, "
        "500 arrivals a period), 4 plans of one intervention each (reach 0.8, "
        "tenure window, cost per customer), a grid of 20 relative risks x 10 "
        f"reaches = 200 cells x 5 (baseline and plans) = {n_exact:,} scenarios, "
        f"{PERIODS} periods.",
        "- Simulated sweep: the same journey, one plan, 50 relative risks x 2 "
        f"(baseline and plan) = {n_mc} simulations of {MC_CUSTOMERS:,} customers x "
        f"{PERIODS} periods (common random numbers within a cell).",
        f"- Partitioned fit: {FIT_ROWS:,} snapshot events (500,000 customers x "
        f"{FIT_PERIODS} periods, 8 stage names) in {FIT_FILES} Parquet files "
        f"partitioned by customer (written in {write_s:.0f} s, not timed): "
        '`fit("events-*.parquet", kind="snapshots", client=client)`, reading '
        "included; the one-process column is the same call without client (all "
        "files read into one DataFrame).",
        "",
        "| case | one process | 1 worker | 2 workers | speed-up 1 -> 2 (target "
        ">= 1.7x) | overhead of 1 worker against one process (per scenario) | "
        "CPU the workers got, 1 / 2 workers |",
        "|---|---:|---:|---:|---:|---:|---:|",
        row("exact", n_exact, local_exact, f"exact sweep, {n_exact:,} scenarios"),
        row("mc", n_mc, local_mc1, f"simulated sweep, {n_mc} scenarios"),
        row("fit", 0, local_fit, f"partitioned fit, {FIT_ROWS // 10**6} M events"),
        "",
        "The last column is the workers' CPU time over wall time x workers: "
        "below 100% the workers waited for a core (other processes on the "
        "machine, or the client and scheduler, which share the 2 cores), and "
        "the speed-up is bounded by the CPU the 2 workers got over the CPU the "
        "1 worker got, times 2.",
        "",
        "The one-process column runs the sweep in this process (`workers=1`; "
        "simulations with `threads=1`, to compare like with like). Run as a "
        "user would, with every core of this process, the simulated sweep took "
        f"{local_mc:.2f} s (the core's own threads).",
        f"Peak resident memory of a worker: {worker_mb[1]:,.0f} MB (1 worker), "
        f"{worker_mb[2]:,.0f} MB (2 workers), imports included; of this "
        f"process (all the one-process runs, the fit of all files in one "
        f"DataFrame included) {peak_mb():,.0f} MB.",
        "",
    ]
    section = "\n".join(lines)
    write_section(SECTION, section)
    print(section)


if __name__ == "__main__":
    sys.exit(main())
