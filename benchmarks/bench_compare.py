"""Plan comparison timings (issue targets): compare() of a 30-stage journey with
10 plans, exactly over 60 periods, and by Monte Carlo with 200,000 customers x
60 periods x 10 plans x 10 replications. Writes its section of RESULTS.md."""

from __future__ import annotations

import os
import platform
import time

import numpy as np

import journeysim as js
from results_file import cpu_model, write_section

SECTION = "## Plan comparison (bench_compare.py)"


def journey(n: int = 30, seed: int = 11) -> js.Journey:
    rng = np.random.default_rng(seed)
    stages = [f"s{i}" for i in range(n - 1)] + ["churned"]
    rows = {}
    for i in range(n - 1):
        exits = rng.choice([k for k in range(n - 1) if k != i], 3, replace=False)
        w = rng.dirichlet(np.ones(3)) * 0.12
        rows[stages[i]] = {stages[k]: float(p) for k, p in zip(exits, w, strict=True)}
        rows[stages[i]]["churned"] = 0.03
    values = {"revenue": {s: float(v) for s, v in zip(stages, rng.uniform(50, 150, n))}}
    values["revenue"]["churned"] = 0.0
    owners = {s: {"owner": f"team {i % 4}"} for i, s in enumerate(stages[:-1])}
    return js.Journey(
        stages,
        rows,
        values=values,
        discount_rate=0.01,
        metadata=owners,
        cohort_size=10_000,
        arrivals=500,
    )


def plans(j: js.Journey, n: int = 10) -> list[js.Plan]:
    """``n`` plans, each halving the churn of one of the first stages."""
    out = []
    for k in range(n):
        s = j.stages[k]
        iv = js.Intervention(
            f"save {s}",
            at=(s, "churned"),
            relative_risk=0.5,
            reach=0.8,
            cost_per_customer=20,
            window=(0, 12),
        )
        out.append(js.Plan(f"plan {k}", [iv]))
    return out


def best_of(f, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    j = journey()
    ps = plans(j)
    js.compare(j, ps, periods=60)  # warm up
    exact = best_of(lambda: js.compare(j, ps, periods=60), 20)
    mc = best_of(
        lambda: js.compare(
            j,
            ps,
            periods=60,
            customers=200_000,
            seed=1,
            replications=10,
            progress=False,
        ),
        2,
    )
    cpu = cpu_model()
    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
        f"numpy {np.__version__}. A 30-stage journey (3 random exits and 3% churn a "
        "stage, one revenue stream, four owner teams, a cohort of 10,000 and 500 "
        "arrivals a period) and 10 plans, each one intervention with reach 0.8, a "
        "tenure window and a cost per customer. Best of 20 (exact) and 2 (Monte "
        "Carlo) runs; compare() includes the baseline, so 11 journeys each time.",
        "",
        "| case | measured | target | |",
        "|---|---:|---:|---|",
        f"| exact, 10 plans, 60 periods | {exact * 1e3:.1f} ms | < 50 ms | "
        f"{'PASS' if exact < 0.05 else 'FAIL'} |",
        f"| Monte Carlo, 200,000 customers x 60 periods x 10 plans x 10 replications "
        f"| {mc:.2f} s | < 10 s | {'PASS' if mc < 10 else 'FAIL'} |",
        "",
    ]
    section = "\n".join(lines)
    write_section(SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
