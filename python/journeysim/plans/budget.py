"""Which interventions to fund within a budget, from exact evaluations of every
combination (effects are not assumed to add up)."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.units import Units
from ..model.intervention import Intervention, Plan
from ..model.journey import Journey
from ..view.numbers import money
from .compare import compare

__all__ = ["BudgetChoice", "best_plan"]

#: Combinations evaluated at most (each is one exact analysis).
MAX_COMBINATIONS = 4096


class BudgetChoice:
    """The result of :func:`best_plan`.

    Attributes
    ----------
    plan : Plan
        The chosen interventions (at their chosen reach).
    summary : Series
        Its cost, incremental value, incremental net value and ROI.
    evaluated : DataFrame
        Every combination: the reach of each candidate (0 = not funded), cost,
        incremental value, incremental net value, and whether it fits the budget.
    frontier : DataFrame
        The value-versus-cost frontier: combinations no other beats on value
        at the same or lower cost, by increasing cost.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> save = js.Intervention("save offer", at=("active", "churned"),
    ...                        relative_risk=0.5, cost_per_customer=20)
    >>> choice = js.best_plan(j, [save], budget=25, periods=12)
    >>> choice.plan.name, len(choice.frontier) >= 1
    ('best within budget', True)
    """

    def __init__(
        self, plan, summary, evaluated, frontier, budget, units: Units | None = None
    ) -> None:
        self.plan = plan
        self.summary = summary
        self.evaluated = evaluated
        self.frontier = frontier
        self.budget = budget
        #: The journey's time unit and currency, for labels.
        self.units = units if units is not None else Units()

    def plot(self, ax=None):
        """Every combination's value against cost, the frontier, the budget and
        the choice; returns the Axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(7, 4.5))
        e, f = self.evaluated, self.frontier
        ax.scatter(
            e["cost"],
            e["incremental value"],
            s=12,
            color="#bbbbbb",
            label="combinations",
        )
        ax.plot(
            f["cost"],
            f["incremental value"],
            "-o",
            color="#1f77b4",
            ms=4,
            label="frontier",
        )
        ax.axvline(self.budget, color="#d62728", ls="--", lw=1, label="budget")
        ax.scatter(
            [self.summary["cost"]],
            [self.summary["incremental value"]],
            s=80,
            color="#d62728",
            zorder=3,
            label="chosen",
        )
        # Budget figures are the modelled population's (cohort and arrivals).
        unit = f" ({self.units.currency})" if self.units.currency else ""
        ax.set_xlabel(f"intervention cost, all customers{unit}")
        ax.set_ylabel(f"incremental value, all customers{unit}")
        ax.xaxis.set_major_formatter(lambda v, _: money(v, self.units, compact=True))
        ax.yaxis.set_major_formatter(lambda v, _: money(v, self.units, compact=True))
        ax.grid(alpha=0.3)
        ax.legend()
        return ax

    def __repr__(self) -> str:
        names = [f"{i.name} (reach {i.reach:g})" for i in self.plan.interventions]
        return f"<BudgetChoice: {names or 'fund nothing'}>\n{self.summary.to_string()}"


def _with_reach(iv: Intervention, reach: float) -> Intervention:
    return iv.replace(reach=float(reach))


def best_plan(
    journey: Journey,
    candidates: Sequence[Intervention],
    budget: float,
    periods: int = 36,
    *,
    reach: Sequence[float] | None = None,
    accrual: str = "start",
    discount_rate: float | None = None,
) -> BudgetChoice:
    """Choose which candidate interventions to fund, and optionally at which
    reach, to maximise the incremental value (population net value over the
    horizon against baseline, before intervention costs) with the intervention
    cost within ``budget``. Every combination is evaluated exactly as one plan,
    so interactions between interventions count. Ties go to the cheaper.

    ``reach`` lists the reach levels to consider for every candidate (default:
    each candidate's own reach).

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> save = js.Intervention("save offer", at=("active", "churned"),
    ...                        relative_risk=0.5, cost_per_customer=20)
    >>> b = js.best_plan(j, [save], budget=25, periods=12)
    >>> [i.name for i in b.plan.interventions]
    ['save offer']
    >>> js.best_plan(j, [save], budget=15, periods=12).plan.interventions
    []
    """
    candidates = list(candidates)
    if not candidates:
        raise InputError("best_plan needs at least one candidate intervention")
    for c in candidates:
        if not isinstance(c, Intervention):
            raise InputError(f"candidates must be Interventions, got {c!r}")
    # Before the combinations are made into plans: their names ("#3") are ours,
    # and an error about one of them would name a plan the caller never made.
    names = [c.name for c in candidates]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(
            f"best_plan: the candidate interventions' names repeat: {dup} "
            f"(candidates: {names}); give each candidate its own name, e.g. "
            "iv.replace(name=...)"
        )
    if (
        isinstance(budget, bool)
        or not isinstance(budget, numbers.Real)
        or not (math.isfinite(budget) and budget >= 0)
    ):
        raise InputError(f"budget must be a finite number >= 0, got {budget!r}")
    levels: list[list[float]]
    if reach is None:
        levels = [[c.reach] for c in candidates]
    else:
        reach = list(reach)
        if not reach or any(
            isinstance(r, bool) or not isinstance(r, numbers.Real) or not 0 < r <= 1
            for r in reach
        ):
            raise InputError(f"reach levels must be numbers in (0, 1], got {reach!r}")
        levels = [sorted(set(reach)) for _ in candidates]
    options = [[0.0, *lv] for lv in levels]
    total = math.prod(len(o) for o in options)
    if total > MAX_COMBINATIONS:
        raise InputError(
            f"{total} combinations to evaluate, more than {MAX_COMBINATIONS}: "
            "offer fewer candidates or reach levels"
        )
    combos = list(itertools.product(*options))
    plans = []
    for k, combo in enumerate(combos):
        ivs = [_with_reach(c, r) for c, r in zip(candidates, combo, strict=True) if r]
        plans.append(Plan(f"#{k}", ivs))
    c = compare(
        journey, plans[1:], periods, accrual=accrual, discount_rate=discount_rate
    )
    s = c.summary
    base_value = s.loc["baseline", "population net value"]
    rows = []
    for combo, p in zip(combos, plans, strict=True):
        key = "baseline" if not p.interventions else p.name
        cost = float(s.loc[key, "intervention cost"])
        value = float(s.loc[key, "population net value"] - base_value)
        row = {cand.name: r for cand, r in zip(candidates, combo, strict=True)}
        row.update(
            {
                "cost": cost,
                "incremental value": value,
                "incremental net value": value - cost,
                "within budget": cost <= budget + 1e-9 * max(1.0, budget),
            }
        )
        rows.append(row)
    evaluated = pd.DataFrame(rows)
    ok = evaluated[evaluated["within budget"]]
    best = ok.sort_values(
        ["incremental value", "cost"], ascending=[False, True], kind="stable"
    ).index[0]
    chosen = plans[best]
    chosen = Plan("best within budget", chosen.interventions)
    by_cost = evaluated.sort_values(
        ["cost", "incremental value"], ascending=[True, False], kind="stable"
    )
    frontier_rows, top = [], -np.inf
    for i, r in by_cost.iterrows():
        if r["incremental value"] > top:
            frontier_rows.append(i)
            top = r["incremental value"]
    frontier = evaluated.loc[frontier_rows].reset_index(drop=True)
    b = evaluated.loc[best]
    summary = pd.Series(
        {
            "cost": b["cost"],
            "incremental value": b["incremental value"],
            "incremental net value": b["incremental net value"],
            "ROI": b["incremental net value"] / b["cost"] if b["cost"] > 0 else np.nan,
        },
        name="best within budget",
    )
    return BudgetChoice(
        chosen, summary, evaluated, frontier, float(budget), journey.units
    )
