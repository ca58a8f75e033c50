"""The sojourn engine on sticky journeys (issue 18): bench_simulate.py --sticky.

Two random absorbing journeys (10 and 30 stages): every transient stage stays
with probability U(0.88, 0.95) per period and splits the rest over 4 exits
(churned and 3 random transient stages, Dirichlet), one stream "revenue"; all
start in the first stage. Checked first: final retention and mean discounted
revenue of the sojourn engine, the per-period engine and numpy agree with
``journey.analyze`` within 5 standard errors. Then, in the same run, 1,000,000
customers x 120 periods on one thread (``record="totals"``), best of REPEAT
rounds run alternately: the sojourn engine, the per-period engine, the numpy
version of bench_simulate.py and, with ``--before-path DIR`` (a build of the
package from before issue 18, run in a child process: before_engine.py), that
per-period engine and its draw-only loop (everyone absorbed at t = 0: one
mt19937_64 draw per customer-step, no lookup). Writes the section SECTION of
benchmarks/RESULTS.md.
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


def run(
    numpy_simulate, numpy_outcomes, best_interleaved, write: bool, before=None
) -> int:
    """``before``: a before_engine.BeforeEngine (the per-period engine from
    before issue 18, timed in the same rounds), or None to leave it out."""
    steps = CUSTOMERS * PERIODS
    rows = []
    for n in SIZES:
        j, P, v, ab, _, _ = sticky_journey(n)

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
        fns = {
            "sojourn": lambda: sim("sojourn"),
            "period": lambda: sim("period"),
            "numpy": lambda P=P, ab=ab: numpy_simulate(P, ab, CUSTOMERS, PERIODS, SEED),
        }
        if before is not None:
            # The engine before issue 18: one mt19937_64 draw per customer and
            # period, absorbed customers included; with everyone absorbed at
            # t = 0 that is the draw-only loop (a draw and nothing else).
            r_b = before.run("sticky", n)["retention"]
            z["retention before"] = (r_b - r_ex) / se_r
            fns["before"] = lambda n=n: before.run("sticky", n)
            fns["draw"] = lambda n=n: before.run("sticky-floor", n)
        t = best_interleaved(fns, REPEAT)
        rate = {k: steps / x["best"] for k, x in t.items()}
        moves = js._core.expected_moves(j.core, PERIODS)
        rows.append({"n": n, "rate": rate, "z": z, "moves": moves, "t": t})
        print(
            f"{n} stages: "
            + ", ".join(f"{k} {v / 1e6:.0f} M/s" for k, v in rate.items())
            + f"; {moves:.2f} moves/customer; "
            f"max |z| {max(abs(x) for x in z.values()):.2f}",
            flush=True,
        )
    vs_p = [r["rate"]["sojourn"] / r["rate"]["period"] for r in rows]
    vs_np = [r["rate"]["sojourn"] / r["rate"]["numpy"] for r in rows]
    targets = []
    if before is not None:
        vs_b = [r["rate"]["sojourn"] / r["rate"]["before"] for r in rows]
        targets.append(
            (
                f">= {TARGETS['vs_period']:g}x the per-period engine of the issue "
                "(before issue 18; 1 thread)",
                " / ".join(f"{x:.2f}x" for x in vs_b),
                min(vs_b) >= TARGETS["vs_period"],
            )
        )
    targets += [
        (
            f">= {TARGETS['vs_period']:g}x the per-period engine now "
            '(`engine="period"`, counter-based draws; 1 thread)',
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
        write_section(SECTION, render(rows, targets, before))
    return 0


def render(rows, targets, before) -> str:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    has_b = before is not None
    lines = [
        SECTION,
        "",
        f"{CUSTOMERS:,} customers x {PERIODS} periods, one thread, "
        f'`record="totals"`, best of {REPEAT} rounds run alternately '
        "(customer-steps = customers x periods over wall time). Journeys: n - 1 "
        "transient stages staying U(0.88, 0.95) per period, the rest split over "
        "churned and 3 random transient stages (Dirichlet), numpy seed "
        f"{SEED}; checked first against `analyze` (retention and revenue of "
        f"the engines and numpy within {Z_MAX:g} SE). Engines: sojourn (the "
        'default); per-period now (`engine="period"`: one counter-based draw per '
        "customer and period while it is on its way, nothing once absorbed)"
        + (
            "; per-period before issue 18 (the engine the issue measured: one "
            "mt19937_64 draw per customer and period, absorbed customers "
            f"included; journeysim {before.version}, in a child process, same "
            "rounds); draw-only loop: that engine with everyone absorbed at "
            "t = 0 (one draw per step and nothing else, the floor of any "
            "per-step engine)"
            if has_b
            else ""
        )
        + f". CPU: {cpu_model()}; load average before the run {load} (a machine "
        "shared with other jobs: ratios, measured side by side, are the figures "
        "to read).",
        "",
    ]
    head = "| stages | moves per customer | sojourn M/s | per-period now M/s |"
    rule = "|---:|---:|---:|---:|"
    if has_b:
        head += " per-period before M/s | draw-only M/s |"
        rule += "---:|---:|"
    head += " numpy M/s | sojourn / per-period now |"
    rule += "---:|---:|"
    if has_b:
        head += " sojourn / per-period before | sojourn / draw-only |"
        rule += "---:|---:|"
    head += " sojourn / numpy | max abs z |"
    rule += "---:|---:|"
    lines += [head, rule]
    for r in rows:
        x = r["rate"]
        row = (
            f"| {r['n']} | {r['moves']:.2f} | {x['sojourn'] / 1e6:,.0f} | "
            f"{x['period'] / 1e6:,.0f} |"
        )
        if has_b:
            row += f" {x['before'] / 1e6:,.0f} | {x['draw'] / 1e6:,.0f} |"
        row += f" {x['numpy'] / 1e6:,.1f} | {x['sojourn'] / x['period']:.2f}x |"
        if has_b:
            row += (
                f" {x['sojourn'] / x['before']:.2f}x |"
                f" {x['sojourn'] / x['draw']:.2f}x |"
            )
        row += (
            f" {x['sojourn'] / x['numpy']:.1f}x |"
            f" {max(abs(v) for v in r['z'].values()):.2f} |"
        )
        lines.append(row)
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
