"""Evaluating plans: the rows of a comparison, exactly or by Monte Carlo with
common random numbers, shared by :func:`~journeysim.compare` and
:func:`~journeysim.sweep` (which runs them per scenario)."""

from __future__ import annotations

import functools
import math
import numbers
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .._base import interrupt
from .._base.conventions import COST_STREAM
from .._base.errors import InputError
from .._base.native import _core, core_errors
from ..model.apply_plan import AppliedPlan, OnceCharge, apply_plan
from ..model.intervention import Plan
from ..model.journey import Journey

__all__ = [
    "Z95",
    "check_cost_discounting",
    "check_plans",
    "cost_rate",
    "draw_journeys",
    "exact_rows",
    "simulated_rows",
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


def _quiet_numpy() -> np.errstate:
    """Money arithmetic below may overflow: numpy's warnings are silenced
    there, and every figure is checked afterwards with an error that names its
    inputs (a fresh context each time: one cannot be entered twice)."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _quiet(fn: F) -> F:
    @functools.wraps(fn)
    def quiet(*args, **kwargs):
        with _quiet_numpy():
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


def _customers(pj: Journey, periods: int, n0: float) -> str:
    """The population a plan's costs are multiplied by, for error messages."""
    arrivals = float(pj.resolved.arrivals.per_period(periods).sum())
    return f"a cohort of {n0:g}" + (f" and {arrivals:g} arrivals" if arrivals else "")


def _overflow(what: str, advice: str = "") -> InputError:
    return InputError(
        f"{what} overflows double precision (about 1.8e308); "
        + (
            advice
            or "state costs in larger units (thousands) or the cohort per "
            "thousand customers"
        )
    )


def _plan_costs(plan: Plan) -> str:
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
_MONEY = ("CLV", "population net value", "intervention cost", "incremental net value")


def _check_money(row: dict, plan: Plan, streams: list[str], population: str) -> None:
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
            raise _overflow(
                f"plan {plan.name!r}: {key!r} ({v}) over {population}, with the "
                f"interventions' costs {_plan_costs(plan)},"
            )


@contextmanager
def _about_plan(plan: Plan) -> Iterator[None]:
    """Errors of a plan's analysis or simulation name the plan (and, for an
    overflow, its costs: the baseline, analysed first, did not overflow)."""
    try:
        yield
    except InputError as err:
        msg = f"plan {plan.name!r}: {err}"
        if "overflow" in str(err) and plan.interventions:
            msg += f" (the interventions' costs: {_plan_costs(plan)})"
        raise InputError(msg, key=err.key) from None


def _once(
    pj: Journey,
    once: list[OnceCharge],
    periods: int,
    rate: float,
    n0: float,
    arrivals: bool = True,
):
    """Population cost and customers reached of the once-per-customer charges,
    exactly: first visits to the moment within the window, by sub-population,
    for a starting cohort of ``n0`` and (if ``arrivals``) the journey's
    arrivals."""
    d = 1.0 / (1.0 + rate)
    arr = pj.resolved.arrivals.per_period(periods) if arrivals else np.zeros(periods)
    disc_join = d ** np.arange(1, periods + 1)
    cost = 0.0
    reached: dict[str, float] = {}
    for entry in once:
        a, b = entry.window
        until = periods if b is None else min(b, periods)
        g = np.zeros(periods)
        if until > a:
            with core_errors():
                f = _core.first_visits(
                    pj.core, entry.segment, list(entry.stages), a, until
                )
            g[a:until] = f
        share = pj.core.share(entry.segment)
        name = entry.intervention
        with _quiet_numpy():
            tau = np.arange(periods)
            cum_disc = np.concatenate([[0.0], np.cumsum(g * d**tau)])
            cum = np.concatenate([[0.0], np.cumsum(g)])
            horizons = periods - np.arange(1, periods + 1)  # cohort joining at s
            pop_disc = (
                n0 * cum_disc[periods] + (arr * disc_join * cum_disc[horizons]).sum()
            )
            pop = n0 * cum[periods] + (arr * cum[horizons]).sum()
            charge = float(entry.cost * share * pop_disc)
        if not (math.isfinite(charge) and math.isfinite(cost + charge)):
            who = _customers(pj, periods, n0) if arrivals else f"a cohort of {n0:g}"
            raise _overflow(
                f"intervention {name!r}: cost_per_customer {entry.cost:g} x about "
                f"{float(share * pop):.3g} customers reached ({who}), discounted "
                f"at {rate:g} a period,"
            )
        cost += charge
        reached[name] = reached.get(name, 0.0) + share * pop
    return cost, reached


def _team_columns(
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
    everything else stay the journey's own)."""
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
    out = []
    for k, d in enumerate(samples):
        what = f"uncertainty draw {k}"
        out.append(journey.with_transitions(d, what=what, mine="the journey"))
    return out


def _finish(row: dict, base: dict | None) -> None:
    cost = row["intervention cost"]
    if base is None:
        row["incremental net value"] = 0.0
    else:
        row["incremental net value"] = (
            row["population net value"] - base["population net value"]
        ) - (cost - base["intervention cost"])
    row["ROI"] = row["incremental net value"] / cost if cost > 0 else np.nan


@_quiet
def _by_cohort(journey, plan, periods, accrual, rate, n0):
    """Population figures of a plan with calendar windows on a journey with
    arrivals: each arriving cohort meets the windows at other tenures, so each
    is analysed on its own (over the periods it has left) and discounted from
    its arrival. Returns population net value, per-period cost, once cost,
    customers reached, and entries by calendar period."""
    arr = journey.resolved.arrivals.per_period(periods)
    cohorts = [(0, n0)] + [(t, arr[t - 1]) for t in range(1, periods) if arr[t - 1]]
    rates = journey.resolved.rates
    weights = journey.resolved.weights
    net = period_cost = once_cost = 0.0
    reached: dict[str, float] = {}
    entries = np.zeros((periods, len(journey.stages)))
    for joined, size in cohorts:
        a = apply_plan(journey, plan, cost_rate=rate, joined=joined)
        pj, once = a.journey, a.once
        h = periods - joined
        a = pj.analyze(h, accrual=accrual)
        for s, w in zip(journey.streams, weights, strict=True):
            if w:
                net += size * w * float(a.value[s]) * (1 + rates[s]) ** -joined
        a_cost = a if accrual == "start" else pj.analyze(h, accrual="start")
        period_cost += size * float(a_cost.value[COST_STREAM]) * (1 + rate) ** -joined
        c, r = _once(pj, once, h, rate, size, arrivals=False)
        once_cost += c * (1 + rate) ** -joined
        for k, v in r.items():
            reached[k] = reached.get(k, 0.0) + v
        entries[joined:] += size * a.entries.to_numpy()
    entries = pd.DataFrame(entries, columns=pd.Index(journey.stages, name="stage"))
    return net, period_cost, once_cost, reached, entries


@_quiet
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
) -> tuple[list[dict], dict]:
    """Exact rows of a comparison, baseline first, and each plan's Analysis."""
    rows, results = [], {}
    base = None
    for p in plans:
        pj, once = applied[p.name].journey, applied[p.name].once
        with _about_plan(p):
            a = pj.analyze(periods, accrual=accrual)
        results[p.name] = a
        n0 = pj.resolved.cohort_size
        once_cost, reached = _once(pj, once, periods, rate, n0)
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
        entries = np.asarray(a.raw.population_entries)  # raw: no DataFrame per plan
        if journey.resolved.arrivals and any(iv.calendar for iv in p.interventions):
            with _about_plan(p):
                net, period_cost, once_cost, reached, entries = _by_cohort(
                    journey, p, periods, accrual, rate, n0
                )
            row["population net value"] = net
        else:
            row["population net value"] = float(a.population_value["net"])
            # Costs per customer-period are paid at the start of the period
            # whatever the value accrual.
            with _about_plan(p):
                a_cost = (
                    a if accrual == "start" else pj.analyze(periods, accrual="start")
                )
            period_cost = float(a_cost.population_value[COST_STREAM])
        row["intervention cost"] = p.fixed_cost + period_cost + once_cost
        _finish(row, base)
        _check_money(row, p, streams, _customers(pj, periods, n0))
        _reached_columns(row, p, reached)
        row.update(_team_columns(pj, entries, a.raw.flows, n0))
        rows.append(row)
        base = base or row
    return rows, results


def _reached_columns(row: dict, plan: Plan, reached: dict[str, float]) -> None:
    """Customers reached: in total over the plan's interventions (a customer
    touched by two counts twice), and per intervention."""
    row["customers reached"] = float(sum(reached.values()))
    for iv in plan.interventions:
        row[f"reached {iv.name}"] = float(reached.get(iv.name, 0.0))


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


@_quiet
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


@_quiet
def _paired_units(s, pj: Journey, customers: int, horizons, streams):
    """The units paired between plans: the starting cohort's customers (one
    replication: per-customer arrays), or replications (several: each
    replication's cohort means and population total). Returns the metric arrays
    and whether they are per replication."""
    weights = np.asarray(pj.resolved.weights)
    rates = pj.resolved.rates
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
        # Population net value: each customer's value discounted from t = 0.
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
    per["population net value"] = raw.value_by_period.sum(axis=1) @ weights
    return per, True


@_quiet
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
) -> tuple[list[dict], dict]:
    """Monte Carlo rows; ``sims`` (plan name -> Simulation) are simulations
    already run (on a cluster) with these arguments."""
    if seed is None:
        seed = secrets.randbits(64)
    rows, results = [], {}
    base = None
    base_pc: dict[str, np.ndarray] = {}
    for p in plans:
        interrupt.checkpoint()  # Ctrl-C since the last plan: start no other
        pj, once = applied[p.name].journey, applied[p.name].once
        with _about_plan(p):
            s = (
                sims[p.name]
                if sims is not None
                else pj.simulate(
                    customers,
                    periods,
                    seed=seed,
                    replications=replications,
                    threads=threads,
                    progress=progress,
                    accrual=accrual,
                )
            )
        results[p.name] = s
        interrupt.checkpoint()
        # Capacity or calendar rules, applied by the simulation period by period.
        rules = [rule.intervention for rule in pj.resolved.capacity]
        limited = set(rules)
        if limited and accrual != "start":
            raise InputError(
                f"plan {p.name!r} has capacity or calendar rules, simulated with "
                "accrual='start'"
            )
        once_cost, reached = _once(
            pj,
            [e for e in once if e.intervention not in limited],
            periods,
            rate,
            customers,
        )
        if limited:
            # Treated customers, counted by the simulation period by period.
            disc = (1.0 + rate) ** -np.arange(periods)
            for x, name in enumerate(rules):
                iv = next(i for i in p.interventions if i.name == name)
                first = s.raw.capacity_first_treated[0, :, x]
                once_cost += iv.cost_per_customer * float((first * disc).sum())
                reached[name] = float(first.sum())
        per, by_rep = _paired_units(s, pj, customers, horizons, streams)
        interrupt.checkpoint()  # the pairing takes a while for many customers
        row: dict[str, Any] = {"plan": p.name}
        for key, v in per.items():
            if key == "population net value" and not by_rep:
                row[key] = float(v.sum())
            else:
                row[key] = float(v.mean())
        if pj.value_stages:
            # Within the horizon, from the first replication's customers.
            row["reached value"] = float((s.first_value[:customers] >= 0).mean())
        if accrual == "start":  # simulated: capacity decides who is treated
            period_cost = float(s.value_by_period[COST_STREAM].sum())
        else:  # paid at the start of a period: its exact expectation
            a_cost = pj.analyze(periods, accrual="start")
            n0 = pj.resolved.cohort_size
            period_cost = float(
                a_cost.population_value[COST_STREAM]
                + (customers - n0) * a_cost.value[COST_STREAM]
            )
        row["intervention cost"] = p.fixed_cost + period_cost + once_cost
        _finish(row, base)
        _reached_columns(row, p, reached)
        row["capacity limited"] = any(iv.capacity for iv in p.interventions)
        if not limited:
            # Workload and hand-offs are their exact expectations under the plan.
            a = pj.analyze(periods, accrual=accrual)
            n0 = pj.resolved.cohort_size
            r = a.raw  # raw arrays: no DataFrames per plan
            entries = np.asarray(r.population_entries) + (customers - n0) * np.asarray(
                r.entries
            )
            row.update(_team_columns(pj, entries, r.flows, customers))
        for key, v in per.items():
            if base is None:
                base_pc[key] = v
                d = np.zeros_like(v)
            else:
                d = v - base_pc[key]
            if key == "population net value":
                if by_rep:  # a total per replication: the interval of its mean
                    total, lo, hi = _paired(d, t_quantile=True)
                    half = hi - total
                else:  # a sum over customers
                    total = float(d.sum())
                    half = (
                        Z95 * float(d.std(ddof=1) * np.sqrt(len(d)))
                        if len(d) > 1
                        else np.nan
                    )
                dc = row["intervention cost"] - (base or row)["intervention cost"]
                row["incremental net value low"] = total - dc - half
                row["incremental net value high"] = total - dc + half
                continue
            m, lo, hi = (
                _paired(d, t_quantile=by_rep) if base is not None else (0.0, 0.0, 0.0)
            )
            row[f"{key} diff"] = m
            row[f"{key} diff low"] = lo
            row[f"{key} diff high"] = hi
        if base is None:
            row["incremental net value low"] = 0.0
            row["incremental net value high"] = 0.0
        _check_money(row, p, streams, f"{customers:,} simulated customers")
        rows.append(row)
        base = base or row
    return rows, results
