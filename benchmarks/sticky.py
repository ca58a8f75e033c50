"""The sojourn engine on sticky journeys (issue 18): bench_simulate.py --sticky.

Two random absorbing journeys (10 and 30 stages): every transient stage stays
with probability U(0.88, 0.95) per period and splits the rest over 4 exits
(churned and 3 random transient stages, Dirichlet), one stream "revenue"; all
start in the first stage. Checked first: final retention and mean discounted
revenue of the sojourn engine, the per-period engine and numpy agree with
``journey.analyze`` within 5 standard errors. Then, in the same run, 1,000,000
customers x 120 periods on one thread (``record="totals"``), best of REPEAT
rounds run alternately: the sojourn engine, the per-period engine, the numpy
version of bench_simulate.py, and a draw-only loop (the per-period engine with
everyone absorbed at t = 0: one mt19937_64 draw per customer-step, no lookup).
Writes the section SECTION of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import math
import os

import numpy as np

import journeysim as js
from results_file import cpu_model, write_section

SECTION = (
    "## Monte Carlo on sticky journeys: sojourn vs per-period engine "
    "(bench_simulate.py --sticky)"
)
SIZES = (10, 30)
CUSTOMERS = 1_000_000
PERIODS = 120
RATE = 0.01
SEED = 20240602
SIM_SEED = 12345
REPEAT = 2
Z_MAX = 5.0
TARGETS = {"vs_period": 3.0, "vs_numpy": 20.0}


def sticky_journey(n: int):
    rng = np.random.default_rng([SEED, n])
    m = n - 1
    stages = [f"s{i:02d}" for i in range(m)] + ["churned"]
    P = np.zeros((n, n))
    for i in range(m):
        exits = rng.choice(np.delete(np.arange(m), i), size=3, replace=False)
        stay = rng.uniform(0.88, 0.95)
        w = rng.dirichlet(np.ones(4)) * (1.0 - stay)
        P[i, exits] = w[:-1]
        P[i, m] = w[-1]
        P[i, i] = 1.0 - P[i].sum()
    P[m, m] = 1.0
    revenue = rng.uniform(10.0, 100.0, m)
    values = {"revenue": dict(zip(stages[:m], revenue.tolist(), strict=True))}
    j = js.Journey.from_matrix(P, stages=stages, values=values, discount_rate=RATE)
    absorbing = np.zeros(n, dtype=bool)
    absorbing[m] = True
    return j, P, np.append(revenue, 0.0), absorbing, values, stages


def run(numpy_simulate, numpy_outcomes, best_interleaved, write: bool) -> int:
    steps = CUSTOMERS * PERIODS
    rows = []
    for n in SIZES:
        j, P, v, ab, values, stages = sticky_journey(n)
        floor_j = js.Journey.from_matrix(
            P, stages=stages, values=values, discount_rate=RATE, start={"churned": 1}
        )

        def sim(engine, jj=j):
            return jj.simulate(
                CUSTOMERS,
                PERIODS,
                seed=SIM_SEED,
                threads=1,
                record="totals",
                progress=False,
                engine=engine,
            )

        exact = j.analyze(PERIODS)
        r_ex = float(exact.retention.iloc[-1])
        v_ex = float(exact.value["revenue"])
        se_r = math.sqrt(r_ex * (1 - r_ex) / CUSTOMERS)
        z = {}
        for e in ("sojourn", "period"):
            s = sim(e)
            z[f"retention {e}"] = (float(s.retention.iloc[-1]) - r_ex) / se_r
            se_v = float(s.standard_errors["revenue"])
            z[f"value {e}"] = (float(s.value["revenue"]) - v_ex) / se_v
        occ = numpy_simulate(P, ab, CUSTOMERS, PERIODS, SEED)
        r_np, v_np = numpy_outcomes(occ, v, ab, CUSTOMERS)
        z["retention numpy"] = (r_np - r_ex) / se_r
        z["value numpy"] = (v_np - v_ex) / se_v
        if max(abs(x) for x in z.values()) > Z_MAX:
            raise SystemExit(f"MISMATCH for {n} stages: {z}")
        t = best_interleaved(
            {
                "sojourn": lambda: sim("sojourn"),
                "period": lambda: sim("period"),
                "numpy": lambda P=P, ab=ab: numpy_simulate(
                    P, ab, CUSTOMERS, PERIODS, SEED
                ),
                "draw": lambda jj=floor_j: sim("period", jj),
            },
            REPEAT,
        )
        rate = {k: steps / x["best"] for k, x in t.items()}
        moves = js._core.expected_moves(j.core, PERIODS)
        rows.append({"n": n, "rate": rate, "z": z, "moves": moves, "t": t})
        print(
            f"{n} stages: sojourn {rate['sojourn'] / 1e6:.0f} M/s, period "
            f"{rate['period'] / 1e6:.0f} M/s, numpy {rate['numpy'] / 1e6:.1f} M/s, "
            f"draw-only {rate['draw'] / 1e6:.0f} M/s; {moves:.2f} moves/customer; "
            f"max |z| {max(abs(x) for x in z.values()):.2f}",
            flush=True,
        )
    vs_p = [r["rate"]["sojourn"] / r["rate"]["period"] for r in rows]
    vs_np = [r["rate"]["sojourn"] / r["rate"]["numpy"] for r in rows]
    targets = [
        (
            f">= {TARGETS['vs_period']:g}x the per-period engine (1 thread)",
            " / ".join(f"{x:.2f}x" for x in vs_p),
            min(vs_p) >= TARGETS["vs_period"],
        ),
        (
            f">= {TARGETS['vs_numpy']:g}x the numpy version (1 thread)",
            " / ".join(f"{x:.1f}x" for x in vs_np),
            min(vs_np) >= TARGETS["vs_numpy"],
        ),
    ]
    for name, meas, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}: {name}: {meas}")
    if write:
        write_section(SECTION, render(rows, targets))
    return 0


def render(rows, targets) -> str:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        SECTION,
        "",
        f"{CUSTOMERS:,} customers x {PERIODS} periods, one thread, "
        f'`record="totals"`, best of {REPEAT} rounds run alternately '
        "(customer-steps = customers x periods over wall time). Journeys: n - 1 "
        "transient stages staying U(0.88, 0.95) per period, the rest split over "
        "churned and 3 random transient stages (Dirichlet), numpy seed "
        f"{SEED}; checked first against `analyze` (retention and revenue of "
        f"both engines and numpy within {Z_MAX:g} SE). Draw-only loop: the "
        "per-period engine with everyone absorbed at t = 0 (one mt19937_64 draw "
        "per step and nothing else), the floor of any per-step engine. CPU: "
        f"{cpu_model()}; load average before the run {load} (a machine shared "
        "with other jobs: ratios, measured side by side, are the figures to read).",
        "",
        "| stages | moves per customer | sojourn M/s | per-period M/s | numpy M/s "
        "| draw-only M/s | sojourn / per-period | sojourn / numpy "
        "| sojourn / draw-only | max abs z |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        x = r["rate"]
        lines.append(
            f"| {r['n']} | {r['moves']:.2f} | {x['sojourn'] / 1e6:,.0f} | "
            f"{x['period'] / 1e6:,.0f} | {x['numpy'] / 1e6:,.1f} | "
            f"{x['draw'] / 1e6:,.0f} | {x['sojourn'] / x['period']:.2f}x | "
            f"{x['sojourn'] / x['numpy']:.1f}x | {x['sojourn'] / x['draw']:.2f}x | "
            f"{max(abs(v) for v in r['z'].values()):.2f} |"
        )
    lines += [
        "",
        "| target | measured | result |",
        "|---|---|---|",
        *[
            f"| {n} | {m} | {'**PASS**' if ok else '**FAIL**'} |"
            for n, m, ok in targets
        ],
        "",
    ]
    return "\n".join(lines)
