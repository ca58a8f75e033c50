"""Searching combinations of candidate interventions for :func:`best_plan`:
every combination evaluated exactly by :func:`compare`'s engine, the whole
space when it is small enough, else a greedy start improved by local moves,
with an upper bound from the linear relaxation where the objective is money.

A combination is a tuple with one reach level per candidate (0: not funded)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..model.intervention import Intervention, Plan
from ..model.journey import Journey
from .compare import compare
from .metrics import Metric

__all__ = [
    "Evaluator",
    "Row",
    "Search",
    "exhaustive",
    "heuristic",
    "lp_bound",
    "with_level",
]

Combo = tuple[float, ...]


def with_level(combo: Combo, i: int, level: float) -> Combo:
    """``combo`` with candidate ``i`` at reach ``level`` (0: not funded)."""
    return (*combo[:i], level, *combo[i + 1 :])


#: Plans handed to one comparison: memory holds one batch's analyses at a time.
BATCH = 256


@dataclass(frozen=True)
class Row:
    """One combination's figures over the modelled population."""

    combo: Combo
    cost: float
    value: float  # incremental value before intervention costs
    net: float  # incremental net value (compare's)
    roi: float
    metric: float  # the metric's column, when the objective is one
    effort: float
    #: Per team, the most customers it handles in any period (exact, population).
    peaks: dict[str, float] = field(default_factory=dict)


class Evaluator:
    """Evaluates combinations exactly, each once (a cache by combination)."""

    def __init__(
        self,
        journey: Journey,
        candidates: Sequence[Intervention],
        *,
        periods: int,
        accrual: str,
        discount_rate: float | None,
        metric: Metric,
        efforts: Sequence[float],
    ) -> None:
        self.journey = journey
        self.candidates = list(candidates)
        self.periods = periods
        self.accrual = accrual
        self.discount_rate = discount_rate
        self.metric = metric
        self.efforts = list(efforts)
        self.rows: dict[Combo, Row] = {}
        #: The last comparison's summary (its columns name the metrics).
        self.summary = None

    def plan(self, combo: Combo, name: str) -> Plan:
        return Plan(
            name,
            [
                c.replace(reach=float(r))
                for c, r in zip(self.candidates, combo, strict=True)
                if r
            ],
        )

    def effort(self, combo: Combo) -> float:
        return float(sum(e for e, r in zip(self.efforts, combo, strict=True) if r))

    def evaluate(self, combos: Iterable[Combo]) -> list[Row]:
        """The rows of ``combos`` (in their order), evaluating the new ones
        in batches of :data:`BATCH` plans per comparison."""
        combos = list(combos)
        todo = list(dict.fromkeys(c for c in combos if c not in self.rows))
        empty = tuple(0.0 for _ in self.candidates)
        for start in range(0, max(len(todo), 1), BATCH):
            batch = [c for c in todo[start : start + BATCH] if c != empty]
            if not batch and empty in self.rows:
                continue
            names = [f"#{len(self.rows) + k + 1}" for k in range(len(batch))]
            plans = [self.plan(c, n) for c, n in zip(batch, names, strict=True)]
            c = compare(
                self.journey,
                plans,
                self.periods,
                horizons=list(self.metric.horizons),
                accrual=self.accrual,
                discount_rate=self.discount_rate,
            )
            s = c.summary
            self.summary = s
            load = c.workload["handled"]
            peaks = (
                load.groupby(level=["plan", "team"]).max()
                if len(load)
                else pd.Series(dtype=float)
            )
            base = float(s.loc["baseline", "population net value"])
            col = self.metric.column if self.metric.column in s.columns else None
            for combo, key in [(empty, "baseline"), *zip(batch, names, strict=True)]:
                r = s.loc[key]
                self.rows[combo] = Row(
                    combo=combo,
                    cost=float(r["intervention cost"]),
                    value=float(r["population net value"]) - base,
                    net=float(r["incremental net value"]),
                    roi=float(r["ROI"]),
                    metric=float(r[col]) if col is not None else math.nan,
                    effort=self.effort(combo),
                    peaks={
                        team: float(v)
                        for (plan, team), v in peaks.items()
                        if plan == key
                    },
                )
        return [self.rows[c] for c in combos]


@dataclass(frozen=True)
class Search:
    """How a choice was found: ``method`` "exact" or "heuristic", the
    combinations evaluated, and for the heuristic the upper bound on the
    objective (nan where none is available) and whether every evaluated
    combination kept to the bound's assumption."""

    method: str
    best: Row
    evaluated: list[Row]
    bound: float
    bound_assumption_held: bool


Score = Callable[[Row], float]
Fits = Callable[[Row], bool]


def better(score: Score) -> Callable[[Row], tuple]:
    """Sort key: a higher objective, then lower cost, then fewer funded."""

    def key(r: Row) -> tuple:
        s = score(r)
        return (
            -(s if not math.isnan(s) else -math.inf),
            r.cost,
            sum(map(bool, r.combo)),
        )

    return key


def exhaustive(
    ev: Evaluator,
    options: Sequence[Sequence[float]],
    score: Score,
    fits: Fits,
    static_ok: Callable[[Combo], bool],
) -> Search:
    """Every combination the static limits (effort, fixed costs) allow."""
    combos = [c for c in itertools.product(*options) if static_ok(c)]
    rows = ev.evaluate(combos)
    best = min((r for r in rows if fits(r)), key=better(score))
    return Search("exact", best, rows, score(best), True)


def _moves(combo: Combo, options: Sequence[Sequence[float]]) -> list[Combo]:
    """Neighbours: fund one more, drop one, change one's reach, or swap one
    funded for one not funded (at any of its reach levels)."""
    out: set[Combo] = set()
    n = len(combo)
    for i in range(n):
        for level in options[i]:
            if level != combo[i]:
                out.add(with_level(combo, i, level))
    funded = [i for i in range(n) if combo[i]]
    unfunded = [i for i in range(n) if not combo[i]]
    for i in funded:
        for j in unfunded:
            for level in options[j][1:]:
                c = list(combo)
                c[i], c[j] = 0.0, level
                out.add(tuple(c))
    return sorted(out)


def heuristic(
    ev: Evaluator,
    options: Sequence[Sequence[float]],
    score: Score,
    fits: Fits,
    static_ok: Callable[[Combo], bool],
    *,
    additive: bool,
    budget: float,
    effort: float | None,
) -> Search:
    """Greedy, then local moves until none improves.

    Greedy: from nothing funded, repeatedly fund the candidate (at the reach
    level) that fits the limits and adds most objective per unit of added cost
    (a free improvement first; for ROI and other metrics: most objective),
    while something improves. Local moves: from the greedy choice, move to the
    best neighbour (fund one more, drop one, change one's reach, swap a funded
    for an unfunded) that fits and improves (higher objective, or the same for
    less), until none does. Every step evaluates its candidates exactly."""
    n = len(options)
    current = ev.evaluate([tuple(0.0 for _ in range(n))])[0]
    key = better(score)
    while True:
        adds = [
            with_level(current.combo, i, level)
            for i in range(n)
            if not current.combo[i]
            for level in options[i][1:]
        ]
        rows = [r for r in ev.evaluate(c for c in adds if static_ok(c)) if fits(r)]
        gains = [(score(r) - score(current), r) for r in rows]
        gains = [(g, r) for g, r in gains if g > 0]
        if not gains:
            break
        if additive:

            def ratio(gr: tuple[float, Row], now: Row = current) -> tuple[float, float]:
                g, r = gr
                dc = r.cost - now.cost
                return (math.inf if dc <= 0 else g / dc, g)

            current = max(gains, key=ratio)[1]
        else:
            current = min((r for _, r in gains), key=key)
    while True:
        rows = [
            r
            for r in ev.evaluate(
                c for c in _moves(current.combo, options) if static_ok(c)
            )
            if fits(r)
        ]
        best = min([current, *rows], key=key)
        if best is current or key(best) >= key(current):
            break
        current = best
    evaluated = list(ev.rows.values())
    bound, held = math.nan, True
    if additive:
        bound, held = lp_bound(ev, options, score, budget, effort, evaluated)
    return Search("heuristic", current, evaluated, bound, held)


def lp_bound(
    ev: Evaluator,
    options: Sequence[Sequence[float]],
    score: Score,
    budget: float,
    effort: float | None,
    evaluated: list[Row],
) -> tuple[float, bool]:
    """An upper bound on the objective of any combination within the limits,
    and whether the evaluated combinations kept to its assumption.

    Each candidate at each reach level alone gives its objective v and cost c
    (and effort e). The bound is the linear relaxation: maximise sum v x over
    0 <= x <= 1 with at most one level per candidate (sum over levels <= 1),
    sum c x <= budget and sum e x <= effort. It bounds the best combination
    when combinations do not beat the sum of their members alone (no synergy:
    objective(S) <= sum of v, cost(S) >= sum of c), the usual case for
    interventions that compete for the same customers; every evaluated
    combination is checked against that, and the answer says if one broke it.
    """
    n = len(options)
    empty = tuple(0.0 for _ in range(n))
    items: list[tuple[int, Row]] = []
    for i in range(n):
        singles = [with_level(empty, i, lv) for lv in options[i][1:]]
        items += [(i, r) for r in ev.evaluate(singles)]
    v = np.array([score(r) for _, r in items])
    c = np.array([r.cost for _, r in items])
    a_ub = [c]
    b_ub = [budget]
    if effort is not None:
        a_ub.append(np.array([r.effort for _, r in items]))
        b_ub.append(effort)
    for i in range(n):
        a_ub.append(np.array([1.0 if k == i else 0.0 for k, _ in items]))
        b_ub.append(1.0)
    # scipy.optimize takes ~0.3 s and ~40 MB to import: loaded when a bound
    # is needed, not with journeysim (as calibrate loads scipy.stats).
    from scipy.optimize import linprog

    res = linprog(-v, A_ub=np.vstack(a_ub), b_ub=b_ub, bounds=(0, 1), method="highs")
    bound = max(0.0, -float(res.fun)) if res.status == 0 else math.nan
    alone = {r.combo: r for _, r in items}
    held = True
    for r in evaluated:
        members = [
            alone[with_level(empty, i, lv)] for i, lv in enumerate(r.combo) if lv
        ]
        if len(members) < 2:
            continue
        tol = 1e-9 * max(1.0, abs(score(r)), abs(r.cost))
        if (
            score(r) > sum(score(m) for m in members) + tol
            or r.cost < sum(m.cost for m in members) - tol
        ):
            held = False
            break
    return bound, held
