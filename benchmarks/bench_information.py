"""Listening posts (issue 17 target): EVPPI for 30 transitions from 1,000
posterior draws in under 10 s.

The demo journey (9 stages) fitted from a simulated log of 300 accounts has 31
uncertain transitions; two plans and the baseline are valued on every draw.
Timed side by side in one run:

- journeysim: ``value_of_information(draws=1000)``, all of it (the draws, an
  exact analysis of every plan on every draw, one regression per
  transition), and the regressions alone;
- the naive competitor, nested Monte Carlo EVPPI: for one transition, draw its
  value (outer loop) and, given it, the other transitions (inner loop: the
  rest of its row from the Dirichlet conditional, the other rows from their
  posteriors), choose the best plan on the inner mean. Its cost for one
  transition at outer x inner = 30 x 30 draws is measured and scaled to 30
  transitions at the same sizes (and at 1,000 x 1,000, the size whose error
  matches the regression's, by the same scaling).

Writes its section of RESULTS.md.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

import journeysim as js
from journeysim.plans import voi_estimators as est
from journeysim.plans.evaluate import cost_rate
from journeysim.plans.information import _net_benefits
from journeysim.view.numbers import money
from results_file import cpu_model, write_section

SECTION = "## Value of information (bench_information.py)"
DRAWS, PERIODS = 1000, 36
OUTER, INNER = 30, 30


def problem():
    """The demo journey and two of its plans, the rescue desk priced (390 per
    account-month at risk) so that neither plan is sure to win."""
    j = js.default_journey()
    call = js.Intervention(
        "onboarding call",
        at=("onboarding", "at_risk"),
        relative_risk=0.4,
        reassign_to="adopting",
        reach=0.9,
        window=(0, 6),
        cost_per_customer=250,
    )
    rescue = js.Intervention(
        "rescue desk",
        at=("at_risk", "churned"),
        relative_risk=0.7,
        reassign_to="active",
        cost_per_period=390,
    )
    plans = [js.Plan("onboarding call", [call]), js.Plan("rescue desk", [rescue])]
    log = j.simulate(300, 24, seed=11, record="events").stage_log()
    f = js.fit(log, stages=j.stages, absorbing=j.absorbing, end=24)
    return j, plans, f


def nested(j, plans, f, i: int, k: int, rng) -> tuple[float, float]:
    """Nested Monte Carlo EVPPI of transition (i, k): (estimate, seconds)."""
    alpha = f._alpha[0, 0]
    fixed = f._fixed[0, 0]
    mean = alpha / alpha.sum(axis=1, keepdims=True)
    rate = cost_rate(j, None)
    all_plans = [js.Plan("baseline", []), *plans]
    t = time.perf_counter()
    inner_means = []
    for _ in range(OUTER):
        p_ik = rng.beta(alpha[i, k], alpha[i].sum() - alpha[i, k])
        draws = []
        for _ in range(INNER):
            P = mean.copy()
            for r in range(len(P)):
                if fixed[r]:
                    continue
                pos = alpha[r] > 0
                P[r] = 0.0
                P[r][pos] = rng.dirichlet(alpha[r][pos])
            rest = alpha[i].copy()
            rest[k] = 0.0
            pos = rest > 0
            P[i] = 0.0
            P[i][pos] = (1 - p_ik) * rng.dirichlet(rest[pos])
            P[i, k] = p_ik
            draws.append(j.with_transitions(f._journey(P[None, None])))
        nb = _net_benefits(j, draws, all_plans, PERIODS, "start", rate, client=None)
        inner_means.append(nb.mean(axis=0))
    m = np.array(inner_means)
    base = np.max(m.mean(axis=0))
    return float(m.max(axis=1).mean() - base), time.perf_counter() - t


def _table(rows) -> str:
    out = ["| what | time | target |", "|---|---:|---:|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out) + "\n"


def main() -> None:
    j, plans, f = problem()
    t = time.perf_counter()
    v = js.value_of_information(
        j, plans, uncertainty=f, draws=DRAWS, periods=PERIODS, seed=7
    )
    total = time.perf_counter() - t
    n = len(v.table)
    t = time.perf_counter()
    for mask in v._groups.values():
        est.evppi(v._sample.nb, v._columns(mask))
    regressions = time.perf_counter() - t
    t = time.perf_counter()
    js.compare(j, plans, periods=PERIODS, uncertainty=f, draws=DRAWS, seed=7)
    psa = time.perf_counter() - t
    top = v.table.index[0]
    a, b = top.split(" → ")
    i, k = j.stages.index(a), j.stages.index(b)
    nested_value, nested_time = nested(j, plans, f, i, k, np.random.default_rng(3))
    per_draw = nested_time / (OUTER * INNER)
    nested_30 = nested_time * n
    nested_full = per_draw * 1000 * 1000 * n
    u = v.units
    rows = [
        (
            f"value_of_information, {DRAWS:,} draws, EVPPI of {n} transitions "
            "(all of it)",
            f"{total:.2f} s",
            "< 10 s",
        ),
        (
            f"of which the {n} regressions (cubic spline each)",
            f"{regressions * 1000:.1f} ms",
            "",
        ),
        (
            f"compare(uncertainty=, draws={DRAWS:,}) for reference (full "
            "comparison rows per draw)",
            f"{psa:.2f} s",
            "",
        ),
        (
            f"nested Monte Carlo, 1 transition, {OUTER} x {INNER} draws",
            f"{nested_time:.2f} s",
            "",
        ),
        (
            f"nested Monte Carlo, {n} transitions at {OUTER} x {INNER} (scaled)",
            f"{nested_30:.0f} s",
            "",
        ),
        (
            f"nested Monte Carlo, {n} transitions at 1,000 x 1,000 (scaled)",
            f"{nested_full / 3600:,.0f} h",
            "",
        ),
    ]
    regression_value = float(v.table.loc[top, "value for the population"])
    text = f"""{SECTION}

Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}.
Load average during the run: {os.getloadavg()[0]:.1f} (other jobs share the
cores: times are upper bounds). Demo journey (9 stages), two plans (onboarding
call; rescue desk at 390 per account-month) and the baseline, {PERIODS} months,
fit from 300 simulated accounts: {n} uncertain transitions. EVPI
{money(v.evpi, u)} (population); best plan {v.best!r}
(P(best) {v.decision.loc[v.best, "P(best)"]:.2f}).

{_table(rows)}
Largest EVPPI, {top}: regression {money(regression_value, u)}; nested
Monte Carlo at {OUTER} x {INNER} {money(nested_value, u)} (biased upwards by
its small inner sample, and noisy: its outer loop has {OUTER} draws).
Target met: {"yes" if total < 10 else "no"}.
"""
    write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
