"""Side-by-side comparison of plans: exact, or by Monte Carlo with common random
numbers."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base import interrupt
from .._base.checks import check_horizons, check_integer
from .._base.conventions import accrual_of
from .._base.errors import InputError
from .._base.executor import check_client
from .._base.units import Units
from ..model.apply_plan import apply_plan
from ..model.intervention import Plan
from ..model.journey import Journey
from ..model.simulate import MAX_CUSTOMERS, MAX_REPLICATIONS
from ..model.team_capacity import plan_budgets
from ..view.display import table
from ..view.numbers import money, number, percent, points
from .evaluate import (
    Evaluated,
    check_cost_discounting,
    check_plans,
    cost_rate,
    draw_journeys,
    exact_rows,
)
from .resources import check_compare_memory
from .simulated import sample_plans, simulated_rows
from .sweep import psa_values, simulate_plans
from .tables import axis_label, heading, is_difference, kind, show, split
from .workload import at_capacity_lines, handoff_table, plan_loads, workload_table

__all__ = ["Comparison", "compare"]


class Comparison:
    """The result of :func:`compare`.

    Per-customer and population figures are never under one name: they come in
    two tables.

    Attributes
    ----------
    per_customer : DataFrame
        One row per plan, baseline first: figures for one customer of the
        starting cohort (retention, lifetime, time to value, value per stream,
        CLV, intervention cost and incremental net value per customer, share
        reached, hand-offs; by Monte Carlo each with its paired difference to
        baseline and 95% interval).
    population : DataFrame
        One row per plan: figures for the modelled population (``customers``:
        cohort size plus arrivals over the horizon), whatever the method: net
        value, intervention cost, incremental net value (with its 95% interval
        by Monte Carlo), ROI, payback (periods of the journey's time unit; nan:
        not within the horizon), distinct customers reached, workload per team.
    reach : DataFrame
        Per plan and intervention: customers reached and cost over the
        population.
    summary : DataFrame
        Both tables side by side, under the names they had before there were
        two: the population's "population net value", "intervention cost",
        "incremental net value", "ROI", "payback", "customers reached",
        "reached <intervention>", "workload <team>"; the per customer's
        "intervention cost per customer", "incremental net value per customer"
        and every other column.
    workload : DataFrame
        Per plan, team and period (1..T, the journey's time unit): customers
        the team handles (at a stage of one of its interventions within the
        window, touched, served; each customer once per period), its capacity
        and whether it is at capacity; exact, or counted by the simulation for
        plans with a team capacity. The text summary says where a team is at
        capacity. See docs/capacity.md.
    handoffs : DataFrame
        Per plan and (from team, to team) of the stage owners: customers moving
        from a stage of one team to a stage of the other, over the horizon and
        per period on average (population); exact, or simulated likewise.
    journeys : dict
        The journey customers face under each plan.
    results : dict
        Each plan's :class:`Analysis` (exact) or :class:`Simulation` (of the
        simulated sample: arrivals scaled like the cohort).
    method : str
        ``"exact"`` or ``"monte carlo"``.
    units : Units
        The journey's time unit, currency and locale, for labels.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}}, cohort_size=1000)
    >>> save = js.Intervention("save offer", at=("active", "churned"),
    ...                        relative_risk=0.5, cost_per_customer=20)
    >>> c = js.compare(j, [js.Plan("save", [save])], periods=12)
    >>> c.method, list(c.per_customer.index)
    ('exact', ['baseline', 'save'])
    >>> float(c.per_customer.loc["save", "incremental net value"].round(2))
    181.71
    >>> float(c.population.loc["save", "incremental net value"].round())
    181709.0
    >>> ax = c.plot()  # bars of the incremental net value per plan
    >>> ax.get_xlabel()
    'incremental net value, population of 1,000 customers'
    """

    def __init__(
        self,
        summary: pd.DataFrame,
        journeys: dict,
        results: dict,
        method: str,
        periods: int,
        *,
        reach: pd.DataFrame | None = None,
        units: Units | None = None,
        uncertainty: pd.DataFrame | None = None,
        beats: pd.DataFrame | None = None,
        draws: pd.DataFrame | None = None,
        workload: pd.DataFrame | None = None,
        handoffs: pd.DataFrame | None = None,
    ) -> None:
        #: Per plan, team and period: customers the team handles (population)
        #: against its capacity (docs/capacity.md); empty without teams.
        self.workload = workload if workload is not None else workload_table([], 0)
        #: Per plan and (from team, to team): customers handed off, in all and
        #: per period on average (population).
        self.handoffs = handoffs if handoffs is not None else handoff_table([], 0)
        #: With uncertainty=: per plan the mean, 95% interval and P(beats
        #: baseline) of the incremental net value (population) over the
        #: draws; else None.
        self.uncertainty = uncertainty
        #: With uncertainty=: P(row plan's incremental net value > column's).
        self.beats = beats
        #: With uncertainty=: incremental net value (population) per draw and
        #: plan.
        self.draws = draws
        self.summary = summary
        self.per_customer, self.population = split(summary)
        self.reach = (
            reach
            if reach is not None
            else pd.DataFrame(
                columns=["customers reached", "cost"],
                index=pd.MultiIndex.from_tuples([], names=["plan", "intervention"]),
            )
        )
        self.journeys = journeys
        self.results = results
        self.method = method
        self.periods = periods
        self.units = units if units is not None else Units()

    @property
    def streams(self) -> list[str]:
        """The value streams of the plans' journeys (the plan cost stream
        included)."""
        j = next(iter(self.journeys.values()), None)
        return [] if j is None else list(j.streams)

    def _customers(self) -> float:
        if "customers" in self.summary.columns:
            return float(self.summary["customers"].iloc[0])
        return float("nan")

    def plot(self, ax=None, metric: str = "incremental net value"):
        """Bars of ``metric`` (a column of ``summary``: by default the
        population's incremental net value) per plan, with the 95% interval
        of the paired difference to baseline for Monte Carlo; the axis says
        whether it is per customer or for all customers, and in what unit.
        Returns the Axes."""
        if metric not in self.summary.columns:
            raise InputError(f"metric must be a column of summary, got {metric!r}")
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(7, 0.6 * len(self.summary) + 1.5))
        y = self.summary[metric].to_numpy(dtype=float)
        err = None
        lo, hi = f"{metric} low", f"{metric} high"
        if lo in self.summary.columns:
            err = np.vstack(
                [y - self.summary[lo].to_numpy(), self.summary[hi].to_numpy() - y]
            )
        names = list(self.summary.index)
        colors = ["#999999"] + ["#1f77b4" if v >= 0 else "#d62728" for v in y[1:]]
        ax.barh(names, y, xerr=err, color=colors, capsize=4)
        ax.axvline(0, color="black", lw=0.8)
        ax.invert_yaxis()
        streams = self.streams
        ax.set_xlabel(axis_label(metric, self.units, streams, self._customers()))
        k = kind(metric, streams)
        units = self.units
        if k == "money":
            ax.xaxis.set_major_formatter(lambda v, _: money(v, units, compact=True))
        elif k == "share" and is_difference(metric):
            ax.xaxis.set_major_formatter(lambda v, _: points(v, units))
        elif k == "share":
            ax.xaxis.set_major_formatter(lambda v, _: percent(v, units, decimals=0))
        else:
            ax.xaxis.set_major_formatter(lambda v, _: number(v, units))
        ax.set_title(f"plans over {units.periods(self.periods)} ({self.method})")
        ax.grid(axis="x", alpha=0.3)
        return ax

    #: Rows of the tables that hold differences (a share in them is written
    #: in percentage points).
    _DIFFERENCE_ROWS: tuple[str, ...] = ()

    def _shown(self, table: pd.DataFrame) -> list[list]:
        """Rows (one per column of ``table``) written for people."""
        streams = self.streams
        cols = [c for c in table.columns if not c.endswith((" low", " high"))]
        out = []
        for c in cols:
            cells = []
            for plan in table.index:
                d = plan in self._DIFFERENCE_ROWS
                text = show(
                    table.at[plan, c],
                    c,
                    self.units,
                    streams,
                    self.periods,
                    difference=d,
                )
                if f"{c} low" in table.columns and plan != table.index[0]:
                    lo = show(table.at[plan, f"{c} low"], c, self.units, streams, 0)
                    hi = show(table.at[plan, f"{c} high"], c, self.units, streams, 0)
                    text += f" ({lo} to {hi})"
                cells.append(text)
            out.append([heading(c, self.units), *cells])
        return out

    def _titles(self) -> tuple[str, str]:
        over = self.units.periods(self.periods)
        n = number(self._customers(), self.units)
        who = f"{n} customer" + ("" if n == "1" else "s")
        return (
            f"Per customer of the starting cohort, over {over} ({self.method})",
            f"Population of {who} (cohort and arrivals), over {over} ({self.method})",
        )

    def _repr_html_(self) -> str:
        per_title, pop_title = self._titles()
        head = ["", *self.summary.index]
        out = table(head, self._shown(self.per_customer), per_title)
        out += table(head, self._shown(self.population), pop_title)
        if len(self.reach):
            streams = self.streams
            out += table(
                ["plan", "intervention", "customers reached", "cost"],
                [
                    [
                        plan,
                        iv,
                        show(
                            r["customers reached"],
                            "customers reached",
                            self.units,
                            streams,
                            self.periods,
                        ),
                        show(r["cost"], "cost", self.units, streams, self.periods),
                    ]
                    for (plan, iv), r in self.reach.iterrows()
                ],
                "Reach per intervention (all customers)",
            )
        if self.uncertainty is not None:
            u = self.uncertainty
            out += table(
                ["plan", *u.columns],
                [
                    [
                        i,
                        *(
                            percent(v, self.units)
                            if col.startswith("P(")
                            else money(v, self.units)
                            for col, v in r.items()
                        ),
                    ]
                    for i, r in u.iterrows()
                ],
                "Under the estimates' uncertainty (all customers)",
            )
        return out

    def __repr__(self) -> str:
        head = f"<Comparison of {len(self.summary)} plans ({self.method})>"
        return head + "\n" + self.to_text()

    def to_text(self) -> str:
        """The per-customer and population tables written for people (money,
        percentages and durations in the journey's units), for printing."""
        per_title, pop_title = self._titles()
        parts: list[str] = []
        for title, t in (
            (per_title, self.per_customer),
            (pop_title, self.population),
        ):
            rows = self._shown(t)
            frame = pd.DataFrame(
                [r[1:] for r in rows],
                index=[r[0] for r in rows],
                columns=list(self.summary.index),
            )
            parts += [title + ":", frame.to_string()]
        parts += at_capacity_lines(self.workload, self.units)
        return "\n".join(parts)


def compare(
    journey: Journey,
    plans: Sequence[Plan],
    periods: int = 36,
    *,
    customers: int | None = None,
    seed: int | None = None,
    replications: int = 1,
    horizons: Sequence[int] | None = None,
    accrual: str = "start",
    discount_rate: float | None = None,
    threads: int | None = None,
    progress: bool | None = None,
    uncertainty: Any = None,
    draws: int = 200,
    client: Any = None,
) -> Comparison:
    """Compare plans side by side against the baseline (no intervention).

    With ``uncertainty`` (a :class:`Fit`, whose posterior gives ``draws``
    transition matrices, or a list of journeys with the same stages and
    segments) every plan is also analysed exactly on every draw of the
    transitions (probabilistic sensitivity analysis; a fit that estimated value
    streams from the data also draws their amounts, see docs/fit_values.md):
    ``Comparison.uncertainty``
    gives per plan the mean and 95% interval of the incremental net value and
    the probability that it beats the baseline, and ``Comparison.beats`` the
    probability that each plan beats each other one.

    Exact (linear algebra, reach as an exact mixture) unless ``customers`` is
    given; then Monte Carlo with common random numbers: every plan is simulated
    with the same seed, so each customer meets the same random numbers in every
    plan, and every figure comes with the 95% interval of its paired difference
    to baseline (over the starting cohort's customers, or over replications).

    Figures per customer and for the population are never mixed:

    - ``Comparison.per_customer`` (one customer of the starting cohort):
      retention at ``horizons`` (default: ``periods``), lifetime within the
      horizon, time to value, value per stream and CLV, intervention cost per
      customer (its once-per-customer and per customer-period charges; fixed
      costs belong to the population), incremental net value per customer (the
      change in CLV less the change in that cost), the share of customers
      reached and hand-offs between teams.
    - ``Comparison.population``: the journey's modelled population, its
      cohort size plus the arrivals over the horizon (``customers``), in both
      methods. By Monte Carlo the ``customers`` simulated stand for the cohort
      and arrivals are simulated scaled alike, so the simulated customers are a
      uniform sample of the population; its totals, and their intervals, are
      scaled by cohort size / customers. Net value; intervention cost (fixed at
      t = 0, once per touched customer at the first visit to the moment within
      the window, per customer-period there; discounted at ``discount_rate``,
      by default the net value's rate); incremental net value against baseline
      (the change in net value less the change in cost); ROI (incremental net
      value per unit of cost); payback (the first period from which the
      cumulative incremental net value stays positive to the horizon, in the
      journey's time unit; nan when it does not pay back within the horizon; by
      Monte Carlo on the mean); customers reached, each counted once however
      many interventions touch it; workload per owner team (mean customers
      entering the team's stages per period).
    - ``Comparison.reach``: per plan and intervention, the customers it
      reaches and what it costs (fixed, once per customer, per customer-period).

    Customers reached and once-per-customer charges are exact expectations in
    both methods, except for interventions with a capacity or a calendar
    window under simulation, which the simulation counts (a customer treated
    by such an intervention and another counts twice in the distinct total
    then). A capacity acts on the customers simulated: simulate the population
    itself (``customers`` = cohort size) for a capacity-limited plan's
    population figures to mean what they say. Plans whose interventions have a
    ``capacity`` are simulation only (``customers=`` is required) and marked
    in the "capacity limited" column; their workload columns are left empty.

    ``Comparison.summary`` has both tables side by side under their former
    names (the population's "population net value", "intervention cost",
    "incremental net value", "ROI", "customers reached", ...).

    With ``client`` (a ``dask.distributed.Client``) the work is spread over the
    cluster with the same numbers as here: by Monte Carlo each plan's
    simulation is a task (same seed, so still common random numbers), and the
    uncertainty draws run in batches as in :func:`sweep`. The exact comparison
    itself takes milliseconds and runs here.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}}, cohort_size=1000)
    >>> save = js.Intervention("save offer", at=("active", "churned"),
    ...                        relative_risk=0.5, cost_per_customer=20)
    >>> c = js.compare(j, [js.Plan("save", [save])], periods=12)
    >>> c.per_customer[["retention at 12", "incremental net value"]].round(2)
              retention at 12  incremental net value
    plan
    baseline             0.28                   0.00
    save                 0.54                 181.71
    >>> c.population[["intervention cost", "incremental net value", "payback"]].round()
              intervention cost  incremental net value  payback
    plan
    baseline                0.0                    0.0      NaN
    save                20000.0               181709.0      4.0

    Monte Carlo, with common random numbers and paired 95% intervals; the
    20,000 customers simulated are a sample of the cohort of 1,000, and
    population figures are scaled to it:

    >>> mc = js.compare(j, [js.Plan("save", [save])], periods=12,
    ...                 customers=20_000, seed=2, progress=False)
    >>> lo, hi = mc.population.loc["save", ["incremental net value low",
    ...                                     "incremental net value high"]]
    >>> bool(lo < 181_709 < hi)
    True
    """
    if not isinstance(journey, Journey):
        raise InputError(f"compare needs a Journey, got {journey!r}")
    plans = check_plans(plans)
    horizons = check_horizons(periods, horizons)
    accrual_of(accrual)
    rate = cost_rate(journey, discount_rate)
    check_cost_discounting(rate, periods)
    capped = [
        p.name
        for p in plans
        if any(i.capacity for i in p.interventions) or plan_budgets(journey, p)
    ]
    if capped and customers is None:
        raise InputError(
            f"plans {capped} have capacity limits, which make effects nonlinear: "
            "they can only be simulated; pass customers= to compare by Monte Carlo"
        )
    if capped and accrual != "start":
        raise InputError(
            "plans with capacity limits are simulated with accrual='start'"
        )
    all_plans = [Plan("baseline", []), *plans]
    applied = {
        p.name: apply_plan(journey, p, cost_rate=rate, simulate=customers is not None)
        for p in all_plans
    }
    journeys = {name: a.journey for name, a in applied.items()}
    if customers is not None:
        customers = check_integer(customers, "customers", 1, MAX_CUSTOMERS)
        check_compare_memory(
            sample_plans(applied, customers),
            customers=customers,
            periods=periods,
            replications=check_integer(
                replications, "replications", 1, MAX_REPLICATIONS
            ),
            threads=threads,
            horizons=len(horizons),
        )
    with interrupt.session():  # Ctrl-C stops it also between its simulations
        evaluated, method = _rows(
            journey,
            all_plans,
            applied,
            periods=periods,
            horizons=horizons,
            accrual=accrual,
            rate=rate,
            customers=customers,
            seed=seed,
            replications=replications,
            threads=threads,
            progress=progress,
            client=client,
        )
    summary = pd.DataFrame(evaluated.rows).set_index("plan")
    results = evaluated.results
    loads = plan_loads(journey, all_plans, applied, results, periods, customers)
    shared = {
        "reach": evaluated.reach,
        "units": journey.units,
        "workload": workload_table(loads, periods),
        "handoffs": handoff_table(loads, periods),
    }
    if uncertainty is None:
        return Comparison(summary, journeys, results, method, periods, **shared)
    if customers is not None:
        raise InputError("uncertainty= runs the exact analysis: leave customers out")
    samples = draw_journeys(journey, uncertainty, draws, seed)
    # Each draw analysed exactly like the comparison above, here or on the
    # cluster (the sweep's engine either way).
    values = psa_values(
        samples,
        plans,
        periods=periods,
        horizons=horizons,
        accrual=accrual,
        discount_rate=rate,
        client=client,
    )  # draws x plans, baseline first
    names = pd.Index([p.name for p in all_plans], name="plan")
    return Comparison(
        summary,
        journeys,
        results,
        method,
        periods,
        **shared,
        uncertainty=pd.DataFrame(
            {
                "incremental net value": values.mean(axis=0),
                "low": np.quantile(values, 0.025, axis=0),
                "high": np.quantile(values, 0.975, axis=0),
                "P(beats baseline)": (values > 0).mean(axis=0),
            },
            index=names,
        ),
        beats=pd.DataFrame(
            (values[:, :, None] > values[:, None, :]).mean(axis=0),
            index=names,
            columns=names.rename("beats"),
        ),
        draws=pd.DataFrame(values, columns=names),
    )


def _rows(
    journey: Journey,
    all_plans: list[Plan],
    applied: dict,
    *,
    periods: int,
    horizons: list[int],
    accrual: str,
    rate: float,
    customers: int | None,
    seed: int | None,
    replications: int,
    threads: int | None,
    progress: bool | None,
    client: Any,
) -> tuple[Evaluated, str]:
    """The rows, results and reach table, and the method: exact, or by
    Monte Carlo (here, or each plan's simulation a task on ``client``)."""
    streams = journey.streams
    sims = None
    if client is not None:
        check_client(client)
        if customers is not None:
            if seed is None:
                seed = secrets.randbits(64)
            sims = simulate_plans(
                client,
                sample_plans(applied, customers),
                customers=customers,
                periods=periods,
                seed=seed,
                replications=replications,
                threads=threads,
                accrual=accrual,
            )
    if customers is None:
        evaluated = exact_rows(
            all_plans,
            applied,
            periods=periods,
            horizons=horizons,
            accrual=accrual,
            rate=rate,
            streams=streams,
            journey=journey,
        )
        method = "exact"
    else:
        evaluated = simulated_rows(
            all_plans,
            applied,
            periods=periods,
            horizons=horizons,
            accrual=accrual,
            rate=rate,
            streams=streams,
            customers=customers,
            seed=seed,
            replications=replications,
            threads=threads,
            progress=progress,
            sims=sims,
        )
        method = "monte carlo"
    return evaluated, method
