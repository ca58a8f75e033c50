"""What a plan asks of each team: customers handled per period against the
team's capacity, and hand-offs between teams (customers moving from a stage
one team owns to a stage another owns).

A customer is *handled* by a team in a period when it starts the period at a
*from* stage of one of the team's interventions, within that intervention's
window, in a sub-population the intervention touches (and, under a capacity,
is served): counted once per period however many of the team's interventions
meet it. Exact (from each sub-population's occupancy by tenure) where the plan
can be analysed, counted by the simulation where it has capacity rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.resolved import piece_at
from .._base.units import Units
from ..model.apply_plan import OnceCharge
from ..model.core_journey import rule_teams
from ..model.intervention import Plan
from ..model.journey import Journey
from ..model.team_capacity import intervention_team, plan_budgets
from ..results.simulation import Simulation
from ..view.numbers import number
from .evaluate import occupancies
from .reach import joining

__all__ = [
    "PlanLoad",
    "at_capacity_lines",
    "exact_handled",
    "exact_handoffs",
    "handoff_table",
    "plan_loads",
    "simulated_handled",
    "simulated_handoffs",
    "workload_table",
]


@dataclass(frozen=True)
class PlanLoad:
    """One plan's load on the teams over the population: per team, customers
    handled in each period 1..T and its capacity (None: none); per (from team,
    to team), customers handed off over the horizon; how it was counted."""

    plan: str
    handled: dict[str, np.ndarray]
    capacity: dict[str, int]
    handoffs: dict[tuple[str, str], float]
    method: str  # "exact" or "simulated"


def _team_of(pj: Journey, plan: Plan) -> dict[str, str | None]:
    r = pj.resolved
    owners = dict(zip(r.stages, r.owners(), strict=True))
    return {iv.name: intervention_team(iv, owners) for iv in plan.interventions}


def exact_handled(
    pj: Journey,
    plan: Plan,
    once: tuple[OnceCharge, ...] | list[OnceCharge],
    occupancy: list[np.ndarray],
    periods: int,
    n0: float,
) -> dict[str, np.ndarray]:
    """Expected customers each team handles in calendar periods 1..T over the
    population (cohort ``n0`` and arrivals): per sub-population and tenure,
    those at a stage where one of the team's interventions is active, once."""
    team_of = _team_of(pj, plan)
    people = joining(pj, periods, n0)
    S = len(pj.stages)
    masks: dict[tuple[str, int], np.ndarray] = {}
    for e in once:
        team = team_of.get(e.intervention)
        if team is None:
            continue
        a, b = e.window
        until = periods if b is None else min(b, periods)
        m = masks.setdefault((team, e.segment), np.zeros((periods, S), dtype=bool))
        if until > a:
            m[a:until, list(e.stages)] = True
    out: dict[str, np.ndarray] = {}
    for (team, g), m in masks.items():
        present = (occupancy[g][:periods] * m).sum(axis=1)
        count = pj.core.share(g) * np.convolve(people, present)[:periods]
        out[team] = out.get(team, np.zeros(periods)) + count
    return {t: out[t] for t in sorted(out)}


def simulated_handled(pj: Journey, sim, k: float) -> dict[str, np.ndarray]:
    """Customers each team of the capacity rules handled in periods 1..T, as
    the simulation counted them (mean over replications, scaled to the
    population: ``k`` simulated customers per modelled customer)."""
    teams = rule_teams(pj.resolved.capacity)
    h = np.asarray(sim.raw.team_handled, dtype=float).mean(axis=0) / k
    return {t: h[:, i] for i, t in sorted(enumerate(teams), key=lambda x: x[1])}


def _team_matrix(pj: Journey) -> tuple[list[str], np.ndarray]:
    owners = pj.resolved.owners()
    teams = sorted({o for o in owners if o is not None})
    own = np.zeros((len(owners), len(teams)))
    for s, o in enumerate(owners):
        if o is not None:
            own[s, teams.index(o)] = 1.0
    return teams, own


def _pairs(teams: list[str], F: np.ndarray) -> dict[tuple[str, str], float]:
    return {
        (a, b): float(F[i, j])
        for i, a in enumerate(teams)
        for j, b in enumerate(teams)
        if a != b
    }


def exact_handoffs(
    pj: Journey, occupancy: list[np.ndarray], periods: int, n0: float
) -> dict[tuple[str, str], float]:
    """Expected customers moving from a stage of one team to a stage of another
    over periods 1..T, over the population: per sub-population and tenure,
    occupancy times the off-diagonal transition probabilities."""
    teams, own = _team_matrix(pj)
    if len(teams) < 2:
        return {}
    people = joining(pj, periods, n0)
    total = np.zeros((len(teams), len(teams)))
    for g, seg in enumerate(pj.resolved.segments):
        occ = occupancy[g]
        flows = np.zeros((periods, len(teams), len(teams)))
        for tau in range(periods):
            P = np.array(piece_at(seg.transitions, tau), dtype=float)
            np.fill_diagonal(P, 0.0)
            flows[tau] = own.T @ (occ[tau][:, None] * P) @ own
        # Every customer who joined early enough meets tenure tau in the horizon.
        reached = np.cumsum(people)[::-1]  # joined by period T - tau
        by_tenure = reached[:periods]
        total += pj.core.share(g) * np.tensordot(by_tenure, flows, axes=1)
    return _pairs(teams, total)


def simulated_handoffs(pj: Journey, sim, k: float) -> dict[tuple[str, str], float]:
    """The same, counted by the capacity engine (every change of stage, mean
    over replications, scaled to the population)."""
    teams, own = _team_matrix(pj)
    moves = np.asarray(sim.raw.capacity_moves, dtype=float)
    if len(teams) < 2 or moves.size == 0:
        return {}
    F = own.T @ (moves.mean(axis=0) / k) @ own
    return _pairs(teams, F)


def plan_loads(
    journey: Journey,
    plans: list[Plan],
    applied: dict,
    results: dict,
    periods: int,
    customers: int | None,
) -> list[PlanLoad]:
    """Each plan's load on the teams: simulated where the plan's journey has
    team rules (a team capacity in force), else exact (a plan with other
    capacity or calendar rules under simulation has no exact analysis: its
    handled counts are left out, its hand-offs counted by the simulation)."""
    out = []
    for p in plans:
        pj, once = applied[p.name].journey, applied[p.name].once
        n0 = pj.resolved.cohort_size
        budgets = plan_budgets(journey, p)
        res = results.get(p.name)
        if isinstance(res, Simulation):
            k = customers / n0
            if pj.resolved.capacity:
                handled = (
                    simulated_handled(pj, res, k)
                    if rule_teams(pj.resolved.capacity)
                    else {}
                )
                out.append(
                    PlanLoad(
                        p.name,
                        handled,
                        budgets,
                        simulated_handoffs(pj, res, k),
                        "simulated",
                    )
                )
                continue
            res = pj.analyze(periods, accrual="start")
        occ = occupancies(res)
        out.append(
            PlanLoad(
                p.name,
                exact_handled(pj, p, once, occ, periods, n0),
                budgets,
                exact_handoffs(pj, occ, periods, n0),
                "exact",
            )
        )
    return out


def at_capacity_lines(workload: pd.DataFrame, units: Units) -> list[str]:
    """One sentence per plan and team that reaches its capacity: "Customer
    Success is at capacity (50 customers a month) in 36 of 36 months under
    plan 'cs'"."""
    lines = []
    if workload.empty:
        return lines
    for (plan, team), g in workload.groupby(level=["plan", "team"], sort=False):
        cap = g["capacity"].iloc[0]
        if pd.isna(cap):
            continue
        n = int(g["at capacity"].sum())
        if n:
            lines.append(
                f"{team} is at capacity ({number(float(cap), units)} customers a "
                f"{units.time_unit}) in {n} of {units.periods(len(g))} under plan "
                f"{plan!r}"
            )
    return lines


def workload_table(loads: list[PlanLoad], periods: int) -> pd.DataFrame:
    """Per plan, team and period 1..T: customers handled (population), the
    team's capacity (<NA>: none), and whether it is at capacity; how counted."""
    rows = []
    for load in loads:
        for team, h in load.handled.items():
            cap = load.capacity.get(team)
            for t in range(periods):
                rows.append(
                    {
                        "plan": load.plan,
                        "team": team,
                        "period": t + 1,
                        "handled": float(h[t]),
                        "capacity": cap,
                        "at capacity": cap is not None and h[t] >= cap - 1e-9,
                        "method": load.method,
                    }
                )
    cols = ["plan", "team", "period", "handled", "capacity", "at capacity", "method"]
    df = pd.DataFrame(rows, columns=cols)
    df["capacity"] = df["capacity"].astype("Int64")
    return df.set_index(["plan", "team", "period"])


def handoff_table(loads: list[PlanLoad], periods: int) -> pd.DataFrame:
    """Per plan and (from team, to team): customers handed off over the
    horizon and per period on average (population); how counted."""
    rows = [
        {
            "plan": load.plan,
            "from team": a,
            "to team": b,
            "total": v,
            "per period": v / periods,
            "method": load.method,
        }
        for load in loads
        for (a, b), v in load.handoffs.items()
    ]
    cols = ["plan", "from team", "to team", "total", "per period", "method"]
    return pd.DataFrame(rows, columns=cols).set_index(["plan", "from team", "to team"])
