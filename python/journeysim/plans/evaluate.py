"""Evaluating plans: the rows of a comparison (exactly here, by Monte Carlo in
:mod:`.simulated`), shared by :func:`~journeysim.compare` and
:func:`~journeysim.sweep` (which runs them per scenario).

A row holds per-customer figures (one customer of the starting cohort) and
population figures (the modelled population: cohort size plus arrivals) under
names that say which (:data:`PER_CUSTOMER`, :data:`POPULATION`)."""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .._base.conventions import COST_STREAM
from .._base.errors import InputError
from ..model.apply_plan import AppliedPlan, apply_plan
from ..model.intervention import Plan
from ..model.journey import Journey
from ..results.analysis import Analysis
from .payback import payback
from .reach import Reach, intervention_period_costs, reach

__all__ = [
    "Z95",
    "Evaluated",
    "PlanMoney",
    "check_cost_discounting",
    "check_plans",
    "cost_rate",
    "draw_journeys",
    "exact_rows",
    "finish_rows",
    "first_year_retention",
    "population_size",
    "scores_at",
]


Z95 = 1.959963984540054
F = TypeVar("F")


def cost_rate(journey: Journey, rate: float | None) -> float:
    """Interventions are money: by default discounted like the net value."""
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or rate <= -1:
            raise InputError(f"discount_rate must be a number > -1, got {rate!r}")
        return float(rate)
    r = journey.resolved
    used = {r.rates[s] for s, w in zip(r.streams, r.weights) if w != 0}
    if len(used) > 1:
        raise InputError(
            "the streams of net value have different discount rates "
            f"{sorted(used)}: pass discount_rate= for intervention costs"
        )
    return used.pop() if used else 0.0


#: Largest log of a cost discount factor (1 + r)^-k, as the core allows for
#: the streams (e^700 = 1e304): costs multiply it.
_MAX_LOG_FACTOR = 700.0


def quiet_numpy() -> np.errstate:
    """Money arithmetic below may overflow: numpy's warnings are silenced
    there, and every figure is checked afterwards with an error that names its
    inputs (a fresh context each time: one cannot be entered twice)."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def quiet(fn: F) -> F:
    @functools.wraps(fn)
    def quiet(*args, **kwargs):
        with quiet_numpy():
            return fn(*args, **kwargs)

    return quiet  # type: ignore[return-value]


def check_cost_discounting(rate: float, periods: int) -> None:
    """The discount factors of intervention costs over the horizon fit double
    precision (as the core checks the streams'), or an InputError naming the
    rate."""
    log_factor = -math.log1p(rate) * periods
    if log_factor > _MAX_LOG_FACTOR:
        raise InputError(
            f"discount_rate {rate:g} for intervention costs over {periods} periods "
            f"gives discount factors (1 + r)^-k up to 1e{log_factor / math.log(10):.0f}"
            ", beyond double precision (about 1e308): use fewer periods or a rate "
            "further from -1",
            key=("discount_rate",),
        )


def population_label(pj: Journey, periods: int, n0: float) -> str:
    """The population a plan's costs are multiplied by, for error messages."""
    arrivals = float(pj.resolved.arrivals.per_period(periods).sum())
    return f"a cohort of {n0:g}" + (f" and {arrivals:g} arrivals" if arrivals else "")


def overflow(what: str, advice: str = "") -> InputError:
    return InputError(
        f"{what} overflows double precision (about 1.8e308); "
        + (
            advice
            or "state costs in larger units (thousands) or the cohort per "
            "thousand customers"
        )
    )


def plan_costs(plan: Plan) -> str:
    """The costs of a plan's interventions, for error messages."""
    parts = []
    for iv in plan.interventions:
        costs = [
            f"{key} {getattr(iv, key):g}"
            for key in ("cost_fixed", "cost_per_customer", "cost_per_period")
            if getattr(iv, key)
        ]
        if costs:
            parts.append(f"{iv.name!r} ({', '.join(costs)})")
    return "; ".join(parts) or "none"


#: Summary columns that are money (each may also come as "<col> diff",
#: "<col> low", ...); "ROI" is their ratio.
_MONEY = (
    "CLV",
    "population net value",
    "intervention cost",
    "incremental net value",
    "intervention cost per customer",
    "incremental net value per customer",
)


def check_money(row: dict, plan: Plan, streams: list[str], population: str) -> None:
    """Every money figure of a summary row is finite: an InputError naming the
    plan, the figure, the interventions' costs and the population otherwise.
    (ROI is undefined, nan, for a plan that costs nothing; a paired interval
    is nan with one customer or replication.)"""
    money = (*_MONEY, *streams)
    for key, v in row.items():
        base = key.removesuffix(" low").removesuffix(" high").removesuffix(" diff")
        if base not in money and key != "ROI":
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            continue
        if math.isinf(v) or (
            math.isnan(v)
            and not (key == "ROI" and row["intervention cost"] == 0)
            and not key.endswith((" low", " high"))
        ):
            raise overflow(
                f"plan {plan.name!r}: {key!r} ({v}) over {population}, with the "
                f"interventions' costs {plan_costs(plan)},"
            )


@contextmanager
def about_plan(plan: Plan) -> Iterator[None]:
    """Errors of a plan's analysis or simulation name the plan (and, for an
    overflow, its costs: the baseline, analysed first, did not overflow)."""
    try:
        yield
    except InputError as err:
        msg = f"plan {plan.name!r}: {err}"
        if "overflow" in str(err) and plan.interventions:
            msg += f" (the interventions' costs: {plan_costs(plan)})"
        raise InputError(msg, key=err.key) from None


def team_columns(
    journey: Journey, entries: pd.DataFrame, flows: pd.DataFrame, n0: float
):
    """Mean customers entering each team's stages per period (moves in, plus
    customers starting there: the cohort in period 1, an arrival at t in period
    t + 1), and expected moves between stages of different teams per customer."""
    # Plain numpy on purpose: this runs for every plan of every scenario of a
    # sweep, where pandas column selection per team cost three quarters of the time.
    # The owners and the start distribution from the resolved journey: no
    # pandas objects per plan.
    r = journey.resolved
    o = r.owners()
    start = r.start_distribution()
    periods = len(entries)
    joining = np.concatenate([[n0], r.arrivals.per_period(periods)[: periods - 1]])
    E = np.asarray(entries, dtype=float) + np.outer(joining, start)
    out: dict[str, float] = {}
    for team in sorted({t for t in o if t is not None}):
        idx = [k for k, t in enumerate(o) if t == team]
        out[f"workload {team}"] = float(E[:, idx].sum(axis=1).mean())
    if any(t is not None for t in o):
        mask = np.array(
            [[a is not None and b is not None and a != b for b in o] for a in o]
        )
        out["hand-offs"] = float(np.asarray(flows)[mask].sum())
    return out


def check_plans(plans: Any) -> list[Plan]:
    """The plans as a list (one Plan alone is fine): Plan objects with unique
    names, none of them "baseline", which is added first."""
    if isinstance(plans, Plan):
        plans = [plans]
    plans = list(plans)
    for p in plans:
        if not isinstance(p, Plan):
            raise InputError(f"plans must be Plan objects, got {p!r}")
    names = [p.name for p in plans]
    if "baseline" in names or len(set(names)) != len(names):
        raise InputError(
            f"plan names must be unique and not 'baseline' (added first): {names}"
        )
    return plans


def draw_journeys(journey: Journey, uncertainty: Any, draws: int, seed) -> list:
    """The journey with each draw's transition matrices (values, starts and
    everything else stay the journey's own), and with a fit that estimated
    value streams from the data (its ``value_streams``), each draw's amounts
    of those streams the journey has too."""
    # A fit (anything that samples journeys), or the draws themselves.
    if callable(getattr(uncertainty, "sample", None)):
        if (
            isinstance(draws, bool)
            or not isinstance(draws, numbers.Integral)
            or (draws < 2)
        ):
            raise InputError(f"draws must be an integer >= 2, got {draws!r}")
        samples = uncertainty.sample(int(draws), seed=seed)
    else:
        try:
            samples = list(uncertainty)
        except TypeError:
            samples = []
        if len(samples) < 2 or not all(isinstance(x, Journey) for x in samples):
            raise InputError(
                "uncertainty must be a fit or a list of two or more Journeys"
            )
    fitted = getattr(uncertainty, "value_streams", ())
    streams = [s for s in fitted if s in journey.streams]
    out = []
    for k, d in enumerate(samples):
        what = f"uncertainty draw {k}"
        drawn = journey.with_transitions(d, what=what, mine="the journey")
        out.append(_with_drawn_values(drawn, d, streams) if streams else drawn)
    return out


def _with_drawn_values(journey: Journey, draw: Journey, streams: list[str]):
    """``journey`` with ``draw``'s amounts of ``streams`` (a fit's values are
    pooled over segments: the draw's first segment holds them) in every
    segment."""
    theirs = draw.resolved.segments[0].values
    segments = [
        dataclasses.replace(
            seg, values={**seg.values, **{s: theirs[s] for s in streams}}
        )
        for seg in journey.resolved.segments
    ]
    return journey.derive(segments=segments)


#: Where each column of a comparison row belongs, and its name in
#: ``Comparison.per_customer`` or ``Comparison.population`` (the summary keeps
#: the row's own names). Columns not listed ("retention at 12", the streams,
#: "CLV", "... diff" ...) are per customer under their own names; "reached
#: <intervention>" columns are in ``Comparison.reach``.
PER_CUSTOMER = {
    "intervention cost per customer": "intervention cost",
    "incremental net value per customer": "incremental net value",
    "incremental net value per customer low": "incremental net value low",
    "incremental net value per customer high": "incremental net value high",
}
POPULATION = {
    "customers": "customers",
    "population net value": "net value",
    "intervention cost": "intervention cost",
    "incremental net value": "incremental net value",
    "incremental net value low": "incremental net value low",
    "incremental net value high": "incremental net value high",
    "ROI": "ROI",
    "payback": "payback",
    "customers reached": "customers reached",
    "capacity limited": "capacity limited",
}


def population_size(pj: Journey, periods: int, n0: float) -> float:
    """The modelled population over the horizon: the starting cohort and the
    arrivals at t = 1..periods."""
    return float(n0 + pj.resolved.arrivals.per_period(periods).sum())


@dataclass(frozen=True)
class PlanMoney:
    """A plan's money over the modelled population, by calendar period 1..T
    (discounted to t = 0): its net value, and its intervention costs (the
    fixed costs in period 1); with its reach and each intervention's own cost
    (fixed, once per customer and per customer-period), in the plan's order."""

    net_by_period: np.ndarray
    cost_by_period: np.ndarray
    reach: Reach
    intervention_costs: tuple[float, ...]


@dataclass(frozen=True)
class Evaluated:
    """The rows of a comparison (baseline first), each plan's result
    (Analysis or Simulation), and the reach table: per plan and intervention,
    customers reached and cost over the population."""

    rows: list[dict]
    results: dict
    reach: pd.DataFrame


def finish_rows(rows: list[dict], money: list[PlanMoney], plans: list[Plan]):
    """Against the baseline (the first row): incremental net value per
    customer and for the population, ROI, payback; and the reach table."""
    base, base_money = rows[0], money[0]
    reach_rows = []
    for row, m, plan in zip(rows, money, plans, strict=True):
        cost = row["intervention cost"]
        row["incremental net value"] = (
            row["population net value"] - base["population net value"]
        ) - (cost - base["intervention cost"])
        row["incremental net value per customer"] = (row["CLV"] - base["CLV"]) - (
            row["intervention cost per customer"]
            - base["intervention cost per customer"]
        )
        row["ROI"] = row["incremental net value"] / cost if cost > 0 else np.nan
        gain = (m.net_by_period - base_money.net_by_period) - (
            m.cost_by_period - base_money.cost_by_period
        )
        row["payback"] = np.nan if row is base else payback(gain)
        row["customers reached"] = m.reach.distinct
        for name, n, c in zip(
            m.reach.names, m.reach.reached, m.intervention_costs, strict=True
        ):
            row[f"reached {name}"] = n
            reach_rows.append(
                {
                    "plan": plan.name,
                    "intervention": name,
                    "customers reached": n,
                    "cost": c,
                }
            )
    table = pd.DataFrame(
        reach_rows, columns=["plan", "intervention", "customers reached", "cost"]
    ).set_index(["plan", "intervention"])
    return table


def occupancies(a) -> list[np.ndarray]:
    """Each sub-population's occupancy per customer by tenure (an Analysis of a
    plan's journey; one segment: the journey's own)."""
    segs = a.raw.segments
    if len(segs):
        return [np.asarray(s.occupancy) for s in segs]
    return [np.asarray(a.raw.occupancy)]


def iv_costs(
    plan: Plan, r: Reach, period_costs: tuple[float, ...]
) -> tuple[float, ...]:
    """Each intervention's cost: fixed, once per customer, per customer-period."""
    return tuple(
        iv.cost_fixed + once + per
        for iv, once, per in zip(plan.interventions, r.once_cost, period_costs)
    )


@quiet
def _by_cohort(journey, plan, periods, accrual, rate, n0) -> tuple[PlanMoney, Any]:
    """Population figures of a plan with calendar windows on a journey with
    arrivals: each arriving cohort meets the windows at other tenures, so each
    is analysed on its own (over the periods it has left) and discounted from
    its arrival. Returns its money (by calendar period, with its reach) and the
    entries by calendar period."""
    arr = journey.resolved.arrivals.per_period(periods)
    cohorts = [(0, n0)] + [(t, arr[t - 1]) for t in range(1, periods) if arr[t - 1]]
    rates = journey.resolved.rates
    weights = journey.resolved.weights
    k = len(plan.interventions)
    net = np.zeros(periods)
    cost = np.zeros(periods)
    reached, once, per, distinct = np.zeros(k), np.zeros(k), np.zeros(k), 0.0
    entries = np.zeros((periods, len(journey.stages)))
    for joined, size in cohorts:
        ap = apply_plan(journey, plan, cost_rate=rate, joined=joined)
        pj = ap.journey
        h = periods - joined
        a = pj.analyze(h, accrual=accrual)
        vbp = np.asarray(a.raw.value_by_period)
        for x, (s, w) in enumerate(zip(journey.streams, weights, strict=True)):
            if w:
                net[joined:] += size * w * vbp[:, x] * (1 + rates[s]) ** -joined
        c = pj.streams.index(COST_STREAM)
        shift = (1 + rate) ** -joined
        cost[joined:] += size * np.asarray(a.raw.value_by_period)[:, c] * shift
        r = reach(pj, plan, ap.once, h, rate, size, arrivals=False, accrual=accrual)
        cost[joined:] += r.once_by_period * shift
        reached += r.reached
        once += np.asarray(r.once_cost) * shift
        distinct += r.distinct
        per += (
            np.asarray(
                intervention_period_costs(
                    pj,
                    plan,
                    ap.once,
                    occupancies(a),
                    h,
                    rate,
                    size,
                    arrivals=False,
                    accrual=accrual,
                )
            )
            * shift
        )
        entries[joined:] += size * a.entries.to_numpy()
    cost[0] += plan.fixed_cost
    total = Reach(
        names=tuple(iv.name for iv in plan.interventions),
        reached=tuple(float(x) for x in reached),
        once_cost=tuple(float(x) for x in once),
        distinct=distinct,
        once_by_period=np.zeros(periods),  # already in cost
    )
    money = PlanMoney(net, cost, total, iv_costs(plan, total, tuple(per)))
    return money, entries


@quiet
def first_year_retention(a: Analysis) -> dict[str, float]:
    """The first year's NRR and GRR of the "revenue" stream (or the first
    stream) of one plan's exact analysis, when its horizon covers a year
    (Monte Carlo comparisons show them too: they are exact rates of the plan's
    journey, not sample figures)."""
    row = a.first_year_retention()
    if row is None:
        return {}
    return {"first-year NRR": float(row["nrr"]), "first-year GRR": float(row["grr"])}


def scores_at(scores: pd.DataFrame, horizons: list[int]) -> dict[str, float]:
    """Each score's average over the customers present at each horizon (a
    plan's satisfaction, not a sum over time): "nps at 12"."""
    return {
        f"{name} at {h}": float(scores[name].iloc[h])
        for name in scores.columns
        for h in horizons
    }


def exact_rows(
    plans: list[Plan],
    applied: dict[str, AppliedPlan],
    *,
    periods: int,
    horizons: list[int],
    accrual: str,
    rate: float,
    streams: list[str],
    journey: Journey,
) -> Evaluated:
    """Exact rows of a comparison, baseline first, and each plan's Analysis."""
    rows, results, money = [], {}, []
    for p in plans:
        pj, once = applied[p.name].journey, applied[p.name].once
        with about_plan(p):
            # Intervention costs are a value stream of the plan's journey:
            # counted and discounted under the comparison's accrual.
            a = pj.analyze(periods, accrual=accrual)
        results[p.name] = a
        n0 = pj.resolved.cohort_size
        c = pj.streams.index(COST_STREAM)
        row: dict[str, Any] = {"plan": p.name}
        for h in horizons:
            row[f"retention at {h}"] = a.retention_at(h)
        row["lifetime"] = a.lifetime_within_horizon
        row["expected lifetime"] = a.expected_lifetime
        if pj.value_stages:
            row["time to value"] = float(a.time_to_value["mean_periods"])
            row["reached value"] = float(a.time_to_value["reached_within_horizon"])
        for s in streams:
            row[s] = float(a.value[s])
        row["CLV"] = a.clv
        row.update(first_year_retention(a))
        row.update(scores_at(a.scores, horizons))
        # One customer of the starting cohort: no arrivals, no fixed costs.
        one = reach(pj, p, once, periods, rate, 1.0, arrivals=False, accrual=accrual)
        row["intervention cost per customer"] = (
            float(a.value[COST_STREAM]) + one.once_total
        )
        row["share reached"] = one.distinct
        row["customers"] = population_size(pj, periods, n0)
        entries = np.asarray(a.raw.population_entries)  # raw: no DataFrame per plan
        if journey.resolved.arrivals and any(iv.calendar for iv in p.scheduled):
            with about_plan(p):
                m, entries = _by_cohort(journey, p, periods, accrual, rate, n0)
            row["population net value"] = float(m.net_by_period.sum())
        else:
            who = population_label(pj, periods, n0)
            with about_plan(p):
                r = reach(pj, p, once, periods, rate, n0, who=who, accrual=accrual)
            cost = np.asarray(a.raw.population_value_by_period)[:, c] + (
                r.once_by_period
            )
            cost[0] += p.fixed_cost
            per = intervention_period_costs(
                pj, p, once, occupancies(a), periods, rate, n0, accrual=accrual
            )
            m = PlanMoney(
                np.asarray(a.raw.population_value_by_period)[:, -1],
                cost,
                r,
                iv_costs(p, r, per),
            )
            row["population net value"] = float(a.population_value["net"])
        row["intervention cost"] = float(m.cost_by_period.sum())
        row.update(team_columns(pj, entries, a.raw.flows, n0))
        rows.append(row)
        money.append(m)
    table = finish_rows(rows, money, plans)
    for row, p, pj in zip(rows, plans, (applied[q.name].journey for q in plans)):
        check_money(
            row, p, streams, population_label(pj, periods, pj.resolved.cohort_size)
        )
    return Evaluated(rows, results, table)
