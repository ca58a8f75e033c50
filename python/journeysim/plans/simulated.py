"""Monte Carlo rows of a comparison, with common random numbers: every plan
simulated with the same seed, each figure with the 95% interval of its paired
difference to the baseline. The simulated customers are a sample of the
modelled population, and population figures are scaled to it."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from .._base import interrupt
from .._base.conventions import COST_STREAM
from .._base.errors import InputError
from .._base.resolved import Arrivals
from ..model.apply_plan import AppliedPlan
from ..model.intervention import Plan
from ..model.journey import Journey
from ..model.simulate import paired_engine
from .evaluate import (
    Z95,
    Evaluated,
    PlanMoney,
    about_plan,
    check_money,
    finish_rows,
    first_year_retention,
    iv_costs,
    occupancies,
    population_label,
    population_size,
    quiet,
    scores_at,
    team_columns,
)
from .reach import Reach, intervention_period_costs, reach

__all__ = ["sample_journey", "sample_plans", "simulated_rows"]

# 97.5% quantiles of Student's t for 1..30 degrees of freedom (normal beyond).
_T975 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


def sample_journey(pj: Journey, customers: int) -> Journey:
    """The plan's journey as simulated: ``customers`` starting customers stand
    for the cohort, so arrivals are scaled by the same factor (customers /
    cohort size) and the simulated customers are a uniform sample of the
    modelled population."""
    r = pj.resolved
    k = customers / r.cohort_size
    if not r.arrivals or k == 1:
        return pj
    arrivals = Arrivals(tuple(a * k for a in r.arrivals.amounts), r.arrivals.constant)
    return pj.derive(arrivals=arrivals, name=pj.name)


def sample_plans(
    applied: dict[str, AppliedPlan], customers: int
) -> dict[str, AppliedPlan]:
    """Each plan applied, with the journey it is simulated on."""
    return {
        name: AppliedPlan(sample_journey(a.journey, customers), a.once)
        for name, a in applied.items()
    }


@quiet
def _paired(diff: np.ndarray, t_quantile: bool = False) -> tuple[float, float, float]:
    """Mean of paired differences and its 95% interval (Student's t for a few
    replications, normal for many customers)."""
    m = float(diff.mean())
    n = len(diff)
    if n < 2:
        return m, np.nan, np.nan
    q = _T975[n - 2] if t_quantile and n - 1 <= len(_T975) else Z95
    se = float(diff.std(ddof=1) / np.sqrt(n))
    return m, m - q * se, m + q * se


@quiet
def _paired_units(s, pj: Journey, customers: int, horizons, streams):
    """The units paired between plans: the starting cohort's customers (one
    replication: per-customer arrays), or replications (several: each
    replication's cohort means and sample total). Returns the metric arrays
    and whether they are per replication. "population net value" is the
    simulated sample's (every customer's value discounted to t = 0)."""
    weights = np.asarray(pj.resolved.weights)
    rates = pj.resolved.rates
    c = pj.streams.index(COST_STREAM)
    per: dict[str, np.ndarray] = {}
    if s.replications == 1:
        n = customers
        cv = s.customer_value  # streams, cost stream, net
        life = s.lifetime[:n].astype(float)
        absorbed = s.outcome[:n] >= 0
        for h in horizons:
            per[f"retention at {h}"] = (~(absorbed & (life <= h))).astype(float)
        per["lifetime"] = life
        for k, st in enumerate(streams):
            per[st] = cv[:n, k]
        per["CLV"] = cv[:n, -1]
        per["intervention cost per customer"] = cv[:n, c]
        joined = s.joined
        pop = np.zeros(len(joined))
        for k, st in enumerate(pj.streams):
            if weights[k]:
                pop += weights[k] * cv[:, k] * (1 + rates[st]) ** (-joined)
        per["population net value"] = pop
        return per, False
    raw = s.raw
    absorbing = np.asarray(pj.core.absorbing)
    coh = raw.cohort_occupancy
    for h in horizons:
        per[f"retention at {h}"] = 1.0 - coh[:, h, absorbing].sum(axis=1) / customers
    per["lifetime"] = raw.cohort_lifetime / customers
    values = raw.cohort_value / customers
    for k, st in enumerate(streams):
        per[st] = values[:, k]
    per["CLV"] = values @ weights
    per["intervention cost per customer"] = values[:, c]
    per["population net value"] = raw.value_by_period.sum(axis=1) @ weights
    return per, True


def _ruled(p: Plan, pj: Journey, s, rate: float, k: float, periods: int):
    """Interventions the simulation applies period by period (capacity or
    calendar rules): per intervention, customers treated for the first time by
    calendar period (mean over replications, scaled to the population) and
    their once-per-customer charges by period."""
    rules = [rule.intervention for rule in pj.resolved.capacity]
    disc = (1.0 + rate) ** -np.arange(periods)
    first, charges = {}, np.zeros(periods)
    for x, name in enumerate(rules):
        iv = next(i for i in p.interventions if i.name == name)
        f = s.raw.capacity_first_treated[:, :, x].mean(axis=0) / k
        first[name] = f
        charges += iv.cost_per_customer * f * disc
    return first, charges


@quiet
def simulated_rows(
    plans: list[Plan],
    applied: dict[str, AppliedPlan],
    *,
    periods: int,
    horizons: list[int],
    accrual: str,
    rate: float,
    streams: list[str],
    customers: int,
    seed: int | None,
    replications: int,
    threads: int | None,
    progress: bool | None,
    sims: dict | None = None,
) -> Evaluated:
    """Monte Carlo rows. The ``customers`` simulated (and the arrivals, scaled
    alike: :func:`sample_journey`) are a sample of the modelled population:
    population figures are the sample's totals times cohort size / customers,
    their intervals likewise. ``sims`` (plan name -> Simulation) are
    simulations of the sample journeys already run (on a cluster)."""
    if seed is None:
        seed = secrets.randbits(64)
    rows, results, money = [], {}, []
    base_pc: dict[str, np.ndarray] = {}
    # One engine for all plans: common random numbers.
    engine = paired_engine(applied[p.name].journey for p in plans)
    w = np.asarray(applied[plans[0].name].journey.resolved.weights)
    for p in plans:
        interrupt.checkpoint()  # Ctrl-C since the last plan: start no other
        pj, once = applied[p.name].journey, applied[p.name].once
        n0 = pj.resolved.cohort_size
        k = customers / n0  # simulated customers per modelled customer
        with about_plan(p):
            s = (
                sims[p.name]
                if sims is not None
                else sample_journey(pj, customers).simulate(
                    customers,
                    periods,
                    seed=seed,
                    replications=replications,
                    threads=threads,
                    progress=progress,
                    accrual=accrual,
                    engine=engine,
                )
            )
        results[p.name] = s
        interrupt.checkpoint()
        limited = {rule.intervention for rule in pj.resolved.capacity}
        if limited and accrual != "start":
            raise InputError(
                f"plan {p.name!r} has capacity or calendar rules, simulated with "
                "accrual='start'"
            )
        free = [e for e in once if e.intervention not in limited]
        who = population_label(pj, periods, n0)
        with about_plan(p):
            pop_reach = reach(pj, p, free, periods, rate, n0, who=who, accrual=accrual)
            one = reach(
                pj, p, free, periods, rate, 1.0, arrivals=False, accrual=accrual
            )
        first, ruled_once = _ruled(p, pj, s, rate, k, periods)
        per, by_rep = _paired_units(s, pj, customers, horizons, streams)
        interrupt.checkpoint()  # the pairing takes a while for many customers
        # Once-per-customer charges of one customer of the cohort: exact, or
        # (rules) the treated customers' charges spread over the population.
        once_pc = one.once_total + ruled_once.sum() / population_size(pj, periods, n0)
        per["intervention cost per customer"] = (
            per["intervention cost per customer"] + once_pc
        )
        row: dict[str, Any] = {"plan": p.name}
        for key, v in per.items():
            if key == "population net value":
                row[key] = float(v.mean() if by_rep else v.sum()) / k
            else:
                row[key] = float(v.mean())
        if pj.value_stages:
            # Within the horizon, from the first replication's customers.
            row["reached value"] = float((s.first_value[:customers] >= 0).mean())
        row.update(scores_at(s.scores, horizons))
        if periods >= pj.units.year and not pj.resolved.capacity:
            # Capacity makes effects nonlinear: no exact rate to show then.
            row.update(first_year_retention(pj.analyze(pj.units.year)))
        row["share reached"] = one.distinct + sum(
            float(f.sum()) for f in first.values()
        ) / population_size(pj, periods, n0)
        row["customers"] = population_size(pj, periods, n0)
        # By calendar period, the sample's mean over replications, scaled.
        vbp = np.asarray(s.raw.value_by_period).mean(axis=0)
        c = pj.streams.index(COST_STREAM)
        net = vbp @ w / k
        # Simulated under the comparison's accrual: capacity decides who is treated.
        period_cost = vbp[:, c] / k
        cost = period_cost + pop_reach.once_by_period + ruled_once
        cost[0] += p.fixed_cost
        row["intervention cost"] = float(cost.sum())
        reached = tuple(
            float(first[iv.name].sum()) if iv.name in first else n
            for iv, n in zip(p.interventions, pop_reach.reached, strict=True)
        )
        once_cost = tuple(
            iv.cost_per_customer * float(first[iv.name].sum())
            if iv.name in first
            else x
            for iv, x in zip(p.interventions, pop_reach.once_cost, strict=True)
        )
        r = Reach(
            pop_reach.names,
            reached,
            once_cost,
            # A customer met by a rule and by another intervention counts twice
            # here: the simulation counts treatments, not customers.
            pop_reach.distinct + sum(float(f.sum()) for f in first.values()),
            pop_reach.once_by_period + ruled_once,
        )
        row["capacity limited"] = any(
            r.capacity is not None or r.team_capacity is not None
            for r in pj.resolved.capacity
        )
        if not limited:
            # Workload and hand-offs are their exact expectations under the plan.
            a = pj.analyze(periods, accrual=accrual)
            row.update(team_columns(pj, a.raw.population_entries, a.raw.flows, n0))
            shares = intervention_period_costs(
                pj, p, once, occupancies(a), periods, rate, n0, accrual=accrual
            )
        else:
            shares = tuple(
                iv.cost_per_period * max(n, 1e-300)
                for iv, n in zip(p.interventions, reached, strict=True)
            )
        # The simulated per customer-period cost, shared out in proportion to
        # each intervention's expected (or, with rules, reach-weighted) share.
        total = float(sum(shares))
        period_costs = tuple(
            float(period_cost.sum()) * x / total if total > 0 else 0.0 for x in shares
        )
        m = PlanMoney(net, cost, r, iv_costs(p, r, period_costs))
        # Per customer: net value less intervention cost, paired like the rest.
        per["incremental net value per customer"] = (
            per["CLV"] - per["intervention cost per customer"]
        )
        for key, v in per.items():
            if p is plans[0]:
                base_pc[key] = v
            d = v - base_pc[key]
            if key == "population net value":
                if by_rep:  # a total per replication: the interval of its mean
                    total_d, _, hi = _paired(d, t_quantile=True)
                    half = hi - total_d
                else:  # a sum over customers
                    half = (
                        Z95 * float(d.std(ddof=1) * np.sqrt(len(d)))
                        if len(d) > 1
                        else np.nan
                    )
                row["population half width"] = 0.0 if p is plans[0] else half / k
                continue
            mean, lo, hi = (
                _paired(d, t_quantile=by_rep) if p is not plans[0] else (0.0, 0.0, 0.0)
            )
            if key == "incremental net value per customer":
                row[f"{key} low"], row[f"{key} high"] = lo, hi
                continue
            row[f"{key} diff"] = mean
            row[f"{key} diff low"] = lo
            row[f"{key} diff high"] = hi
        rows.append(row)
        money.append(m)
    table = finish_rows(rows, money, plans)
    for row, p in zip(rows, plans, strict=True):
        half = row.pop("population half width")
        inc = row["incremental net value"]
        row["incremental net value low"] = inc - half
        row["incremental net value high"] = inc + half
        check_money(row, p, streams, f"{customers:,} simulated customers")
    return Evaluated(rows, results, table)
