"""Which interventions to fund within a budget: the combination that
maximises net value after intervention costs (or value, ROI, a metric), each
combination evaluated exactly as one plan (effects are not assumed to add up);
the search itself is in :mod:`.search`."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.units import Units
from ..model.apply_plan import MAX_PARTIAL_REACH
from ..model.intervention import Intervention, Plan
from ..model.intervention_spec import check_budgets
from ..model.journey import Journey
from ..model.team_capacity import intervention_team
from ..view.numbers import money, number, percent
from .metrics import NOT_MAXIMISED, check_metric, metric_of, metric_options
from .search import Evaluator, Row, Search, exhaustive, heuristic, with_level
from .tables import axis_label, kind

__all__ = ["EXACT_LIMIT", "BudgetChoice", "best_plan"]

#: Combinations searched exactly by default. Measured on a 4-stage journey
#: over 12 periods: 1.5 ms per combination at full reach (4,096 in 6 s,
#: 65,536 in about 100 s); partial reach mixes 2^k sub-populations per
#: combination (8 ms on average over 8 candidates; 2,048 combinations of 11
#: partial-reach candidates took over 5 minutes). ``exact_limit=`` raises it.
EXACT_LIMIT = 4096

#: What best_plan can maximise besides a comparison's figures.
MAXIMISE = ("net", "value", "roi")


class BudgetChoice:
    """The result of :func:`best_plan`.

    Attributes
    ----------
    plan : Plan
        The chosen interventions (at their chosen reach).
    summary : Series
        Its cost, incremental value, incremental net value and ROI (and the
        metric maximised, when it is a comparison's figure).
    maximise : str
        What was maximised ("net", "value", "roi" or a comparison's column).
    objective : str
        The column of ``evaluated`` that holds it.
    evaluated : DataFrame
        Every combination evaluated: the reach of each candidate (0 = not
        funded), cost, incremental value, incremental net value, ROI, the
        metric, effort, and whether it fits the budget (and the effort).
    frontier : DataFrame
        The objective-versus-cost frontier: evaluated combinations no other
        beats on the objective at the same or lower cost, by increasing cost.
    search : str
        ``"exact"`` (every combination within the limits evaluated) or
        ``"heuristic"`` (greedy and local moves: see :func:`best_plan`).
    bound, gap : float
        With the heuristic on "net" or "value": an upper bound on the best
        combination's objective (the linear relaxation over each candidate
        alone) and ``bound`` less the choice's objective; nan otherwise. With
        the exact search the bound is the choice itself and the gap 0.
    bound_holds : bool
        Whether every evaluated combination kept to the bound's assumption
        (no synergy between candidates); when False the bound may not hold.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> save = js.Intervention("save offer", at=("active", "churned"),
    ...                        relative_risk=0.5, cost_per_customer=20)
    >>> choice = js.best_plan(j, [save], budget=25, periods=12)
    >>> choice.plan.name, choice.search, len(choice.frontier) >= 1
    ('best within budget', 'exact', True)
    """

    def __init__(
        self,
        plan: Plan,
        summary: pd.Series,
        evaluated: pd.DataFrame,
        frontier: pd.DataFrame,
        budget: float,
        units: Units | None = None,
        *,
        maximise: str = "net",
        objective: str = "incremental net value",
        search: str = "exact",
        bound: float = math.nan,
        gap: float = math.nan,
        bound_holds: bool = True,
        streams: Sequence[str] = (),
        customers: float = math.nan,
    ) -> None:
        self.plan = plan
        self.summary = summary
        self.evaluated = evaluated
        self.frontier = frontier
        self.budget = budget
        #: The journey's time unit and currency, for labels.
        self.units = units if units is not None else Units()
        self.maximise = maximise
        self.objective = objective
        self.search = search
        self.bound = bound
        self.gap = gap
        self.bound_holds = bound_holds
        self._streams = list(streams)
        self._customers = customers

    def plot(self, ax=None):
        """Every combination's objective against its cost, the frontier, the
        budget and the choice (marked and labelled); returns the Axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(7, 4.5))
        e, f, y = self.evaluated, self.frontier, self.objective
        ax.scatter(e["cost"], e[y], s=12, color="#bbbbbb", label="combinations")
        ax.plot(f["cost"], f[y], "-o", color="#1f77b4", ms=4, label="frontier")
        ax.axvline(self.budget, color="#d62728", ls="--", lw=1, label="budget")
        cost, best = self.summary["cost"], self.summary[y]
        ax.scatter([cost], [best], s=90, color="#d62728", zorder=3, label="chosen")
        names = [i.name for i in self.plan.interventions] or ["fund nothing"]
        ax.annotate(
            ", ".join(names),
            (cost, best),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
            color="#d62728",
        )
        units = self.units
        # Budget figures are the modelled population's (cohort and arrivals).
        unit = f" ({units.currency})" if units.currency else ""
        ax.set_xlabel(f"intervention cost, all customers{unit}")
        ax.xaxis.set_major_formatter(lambda v, _: money(v, units, compact=True))
        if y == "incremental value":
            ax.set_ylabel(f"incremental value before costs, all customers{unit}")
        else:
            ax.set_ylabel(axis_label(y, units, self._streams, self._customers))
        k = "money" if y == "incremental value" else kind(y, self._streams)
        if k == "money":
            ax.yaxis.set_major_formatter(lambda v, _: money(v, units, compact=True))
        elif k == "share":
            ax.yaxis.set_major_formatter(lambda v, _: percent(v, units, decimals=1))
        else:
            ax.yaxis.set_major_formatter(lambda v, _: number(v, units))
        ax.set_title(f"best within budget, maximising {self.maximise} ({self.search})")
        ax.grid(alpha=0.3)
        ax.legend()
        return ax

    def __repr__(self) -> str:
        names = [f"{i.name} (reach {i.reach:g})" for i in self.plan.interventions]
        head = f"<BudgetChoice ({self.search}, maximise {self.maximise!r}): "
        return head + f"{names or 'fund nothing'}>\n{self.summary.to_string()}"


def _score(maximise: str) -> Callable[[Row], float]:
    """The objective of a combination's row. ROI of a combination that costs
    nothing: 0 when it changes nothing (fund nothing), else +-infinity by the
    sign of its net value."""
    if maximise == "net":
        return lambda r: r.net
    if maximise == "value":
        return lambda r: r.value
    if maximise == "roi":

        def roi(r: Row) -> float:
            if r.cost > 0:
                return r.roi
            return math.copysign(math.inf, r.net) if r.net else 0.0

        return roi
    return lambda r: r.metric


def _number(x, what: str, *, low: float = 0.0) -> float:
    if (
        isinstance(x, bool)
        or not isinstance(x, numbers.Real)
        or not (math.isfinite(x) and x >= low)
    ):
        raise InputError(f"{what} must be a finite number >= {low:g}, got {x!r}")
    return float(x)


def _efforts(candidates: list[Intervention], effort: float | None) -> list[float]:
    """Each candidate's effort (``Intervention.effort``; none: 0), checked
    when an effort limit is given."""
    out = []
    for c in candidates:
        e = getattr(c, "effort", None)
        if e is None:
            out.append(0.0)
            continue
        out.append(_number(e, f"the effort of candidate {c.name!r}"))
    if effort is not None and not any(out):
        raise InputError(
            f"effort={effort!r} limits the candidates' effort, but none of "
            f"{[c.name for c in candidates]} has one: set Intervention(effort=...)"
        )
    return out


def _team_caps(journey, candidates, caps) -> dict[str, int]:
    """``per_team_capacity`` checked: whole numbers of customers per period,
    for teams that run one of the candidates."""
    out = check_budgets(caps, "best_plan", "per_team_capacity")
    r = journey.resolved
    owners = dict(zip(r.stages, r.owners(), strict=True))
    teams = {intervention_team(c, owners) for c in candidates} - {None}
    for team in out:
        if team not in teams:
            raise InputError(
                f"best_plan: per_team_capacity names team {team!r}, which runs "
                f"none of the candidates (their teams: "
                f"{', '.join(sorted(teams)) or 'none'})",
                key=("per_team_capacity", team),
            )
    return out


def best_plan(
    journey: Journey,
    candidates: Sequence[Intervention],
    budget: float,
    periods: int = 36,
    *,
    maximise: str = "net",
    effort: float | None = None,
    reach: Sequence[float] | None = None,
    accrual: str = "start",
    discount_rate: float | None = None,
    exact_limit: int = EXACT_LIMIT,
    per_team_capacity: Mapping[str, int] | None = None,
) -> BudgetChoice:
    """Choose which candidate interventions to fund, and optionally at which
    reach, with the intervention cost (for the modelled population, over the
    horizon, discounted) within ``budget``. Every combination is evaluated
    exactly as one plan by :func:`compare`'s engine, so interactions between
    interventions count. Ties go to the cheaper, then to fewer interventions.

    ``maximise``:

    - ``"net"`` (default): the incremental net value, value gained against the
      baseline less the intervention cost (a plan that costs more than it
      brings loses to funding nothing);
    - ``"value"``: the incremental value before intervention costs;
    - ``"roi"``: incremental net value per unit of cost (funding nothing
      counts as 0, so a loss-making plan loses to it);
    - a numeric column of the comparison's summary, made larger: "first-year
      NRR", "retention at 12" (any horizon up to ``periods``), "CLV", "nps at
      36"... (not costs, "time to value" or "payback", where less is better).

    ``effort`` limits the sum of the funded candidates' ``effort``.
    ``per_team_capacity`` (``{team: customers per period}``) limits each
    team's load: a combination fits when, in every period of the horizon, the
    expected customers the team handles (exactly, over the population: those
    at a stage of one of the team's funded interventions within its window,
    touched, each customer once per period; ``Comparison.workload``) are at
    most its capacity. A team is a candidate's ``owner``, else its stage's
    owner; a team that runs no candidate is an InputError. Both the exact
    search and the heuristic keep to it.
    ``reach`` lists the reach levels to consider for every candidate (default:
    each candidate's own reach).

    A combination of more than 10 interventions of partial reach is not
    considered: the exact mixture of their 2^k sub-populations stops there.

    The search is exact (every combination whose fixed costs and effort fit is
    evaluated) when there are at most ``exact_limit`` combinations (default
    :data:`EXACT_LIMIT`: 12 candidates at one reach level). Beyond, a
    heuristic: greedy (fund, one at a time, the candidate that adds most
    objective per unit of added cost while one improves), then local moves (to
    the best neighbour, funding one more, dropping one, changing one's reach or
    swapping one in for one out, while one improves). For "net" and "value"
    it reports an upper bound and the gap to it: the linear relaxation over
    each candidate alone (see :func:`~journeysim.plans.search.lp_bound`),
    valid when combining candidates never beats the sum of them alone
    (``bound_holds`` says whether every evaluated combination kept to that).

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
    budget = _number(budget, "budget")
    effort = None if effort is None else _number(effort, "effort")
    if isinstance(exact_limit, bool) or not isinstance(exact_limit, numbers.Integral):
        raise InputError(f"exact_limit must be a whole number, got {exact_limit!r}")
    team_caps = _team_caps(journey, candidates, per_team_capacity)
    metric = metric_of(maximise, periods, what="maximise")
    efforts = _efforts(candidates, effort)
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
    ev = Evaluator(
        journey,
        candidates,
        periods=periods,
        accrual=accrual,
        discount_rate=discount_rate,
        metric=metric,
        efforts=efforts,
    )
    # Funding nothing and each candidate alone first: cheap, and they name
    # the columns a metric must be one of.
    empty = tuple(0.0 for _ in candidates)
    ev.evaluate([empty, *(with_level(empty, i, o[-1]) for i, o in enumerate(options))])
    offered = [
        c for c in metric_options(ev.summary, MAXIMISE) if c not in NOT_MAXIMISED
    ]
    offered = [
        c
        for c in offered
        if not c.startswith(("reached ", "workload ")) or c.startswith("reached value")
    ]
    check_metric(metric, ev.summary, offered, what="maximise")
    score = _score(maximise)
    tol = 1e-9 * max(1.0, budget)
    fixed = [c.cost_fixed for c in candidates]

    def static_ok(combo) -> bool:
        # Fixed costs are paid whatever happens: a combination whose fixed
        # costs exceed the budget need not be evaluated; nor one over effort.
        if sum(f for f, r in zip(fixed, combo, strict=True) if r) > budget + tol:
            return False
        # More interventions of partial reach than the exact mixture takes
        # (2^k sub-populations) cannot be evaluated: not considered.
        if sum(1 for r in combo if 0 < r < 1) > MAX_PARTIAL_REACH:
            return False
        return effort is None or ev.effort(combo) <= effort + 1e-9 * max(1.0, effort)

    def fits(r: Row) -> bool:
        return (
            r.cost <= budget + tol
            and static_ok(r.combo)
            and all(
                r.peaks.get(team, 0.0) <= cap * (1 + 1e-12)
                for team, cap in team_caps.items()
            )
        )

    total = math.prod(len(o) for o in options)
    found: Search
    if total <= exact_limit:
        found = exhaustive(ev, options, score, fits, static_ok)
    else:
        found = heuristic(
            ev,
            options,
            score,
            fits,
            static_ok,
            additive=maximise in ("net", "value"),
            budget=budget,
            effort=effort,
        )
    return _choice(journey, candidates, ev, found, metric.column, maximise, budget)


def _choice(journey, candidates, ev, found: Search, column, maximise, budget):
    objective = {
        "net": "incremental net value",
        "value": "incremental value",
        "roi": "ROI",
    }.get(maximise, column)
    rows = []
    for r in found.evaluated:
        row = {cand.name: lv for cand, lv in zip(candidates, r.combo, strict=True)}
        row.update(
            {
                "cost": r.cost,
                "incremental value": r.value,
                "incremental net value": r.net,
                "ROI": r.roi,
            }
        )
        if objective not in row:
            row[objective] = r.metric
        row["effort"] = r.effort
        for team, peak in r.peaks.items():
            row[f"peak workload {team}"] = peak
        row["within budget"] = r.cost <= budget + 1e-9 * max(1.0, budget)
        rows.append(row)
    evaluated = pd.DataFrame(rows)
    y = (
        evaluated[objective].fillna(-np.inf)
        if objective != "ROI"
        else pd.Series(
            [_score("roi")(r) for r in found.evaluated], index=evaluated.index
        )
    )
    by_cost = evaluated.assign(_y=y).sort_values(
        ["cost", "_y"], ascending=[True, False], kind="stable"
    )
    frontier_rows, top = [], -np.inf
    for i, r in by_cost.iterrows():
        if r["_y"] > top:
            frontier_rows.append(i)
            top = r["_y"]
    frontier = evaluated.loc[frontier_rows].reset_index(drop=True)
    b = found.best
    summary = {
        "cost": b.cost,
        "incremental value": b.value,
        "incremental net value": b.net,
        "ROI": b.roi,
    }
    if objective not in summary:
        summary[objective] = b.metric
    chosen = Plan("best within budget", ev.plan(b.combo, "chosen").interventions)
    score = _score(maximise)(b)
    bound = score if found.method == "exact" else found.bound
    customers = (
        float(ev.summary["customers"].iloc[0])
        if "customers" in ev.summary.columns
        else math.nan
    )
    return BudgetChoice(
        chosen,
        pd.Series(summary, name="best within budget"),
        evaluated,
        frontier,
        float(budget),
        journey.units,
        maximise=maximise,
        objective=objective,
        search=found.method,
        bound=bound,
        gap=bound - score,
        bound_holds=found.bound_assumption_held,
        streams=journey.streams,
        customers=customers,
    )
