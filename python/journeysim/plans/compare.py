"""Side-by-side comparison of plans: exact, or by Monte Carlo with common random
numbers."""

from __future__ import annotations

import numbers
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base import interrupt
from .._base.checks import check_integer
from .._base.conventions import accrual_of
from .._base.errors import InputError
from .._base.executor import check_client
from ..model.apply_plan import apply_plan
from ..model.intervention import Plan
from ..model.journey import Journey
from ..model.simulate import MAX_CUSTOMERS, MAX_REPLICATIONS
from ..view.display import table
from .evaluate import (
    check_cost_discounting,
    check_plans,
    cost_rate,
    draw_journeys,
    exact_rows,
    simulated_rows,
)
from .resources import check_compare_memory
from .sweep import psa_values, simulate_plans

__all__ = ["Comparison", "compare"]


class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    summary : DataFrame
        One row per plan, baseline first (see :func:`compare`).
    journeys : dict
        The journey customers face under each plan.
    results : dict
        Each plan's :class:`Analysis` (exact) or :class:`Simulation`.
    method : str
        ``"exact"`` or ``"monte carlo"``.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> save = js.Intervention("save offer", at=("active", "churned"),
    ...                        relative_risk=0.5, cost_per_customer=20)
    >>> c = js.compare(j, [js.Plan("save", [save])], periods=12)
    >>> c.method, list(c.summary.index)
    ('exact', ['baseline', 'save'])
    >>> ax = c.plot()  # bars of the incremental net value per plan
    """

    def __init__(
        self,
        summary: pd.DataFrame,
        journeys: dict,
        results: dict,
        method: str,
        periods: int,
        *,
        uncertainty: pd.DataFrame | None = None,
        beats: pd.DataFrame | None = None,
        draws: pd.DataFrame | None = None,
    ) -> None:
        #: With uncertainty=: per plan the mean, 95% interval and P(beats
        #: baseline) of the incremental net value over the draws; else None.
        self.uncertainty = uncertainty
        #: With uncertainty=: P(row plan's incremental net value > column's).
        self.beats = beats
        #: With uncertainty=: incremental net value per draw and plan.
        self.draws = draws
        self.summary = summary
        self.journeys = journeys
        self.results = results
        self.method = method
        self.periods = periods

    def plot(self, ax=None, metric: str = "incremental net value"):
        """Bars of ``metric`` per plan (with the 95% interval of the paired
        difference to baseline for Monte Carlo); returns the Axes."""
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
        ax.set_xlabel(metric)
        ax.set_title(f"plans over {self.periods} periods ({self.method})")
        ax.grid(axis="x", alpha=0.3)
        return ax

    def _repr_html_(self) -> str:
        cols = [
            c
            for c in self.summary.columns
            if not c.endswith((" low", " high")) and not c.startswith("reached ")
        ]
        rows = [[c, *self.summary[c].tolist()] for c in cols]
        out = table(
            ["", *self.summary.index],
            rows,
            f"Plans over {self.periods} periods ({self.method})",
        )
        if self.uncertainty is not None:
            u = self.uncertainty
            out += table(
                ["plan", *u.columns],
                [[i, *r] for i, r in u.iterrows()],
                "Under the estimates' uncertainty",
            )
        return out

    def __repr__(self) -> str:
        return f"<Comparison of {len(self.summary)} plans ({self.method})>\n" + (
            self.summary.T.to_string()
        )


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
    transitions (probabilistic sensitivity analysis): ``Comparison.uncertainty``
    gives per plan the mean and 95% interval of the incremental net value and
    the probability that it beats the baseline, and ``Comparison.beats`` the
    probability that each plan beats each other one.

    Exact (linear algebra, reach as an exact mixture) unless ``customers`` is
    given; then Monte Carlo with common random numbers: every plan is simulated
    with the same seed, so each customer meets the same random numbers in every
    plan, and every figure comes with the 95% interval of its paired difference
    to baseline (over the starting cohort's customers).

    ``summary`` has one row per plan, baseline first: retention at ``horizons``
    (default: ``periods``), lifetime within the horizon, time to value, value
    per stream and CLV per customer; for the population (cohort size and
    arrivals): net value, intervention cost (fixed at t = 0, once per touched
    customer at the first visit to the moment within the window, per
    customer-period there; discounted at ``discount_rate``, by default the net
    value's rate), incremental net value against baseline (the change in net
    value less the change in cost), ROI (incremental net value per unit of
    cost), customers reached per intervention, workload per owner team (mean
    customers entering the team's stages per period) and hand-offs between
    teams per customer. Plans whose interventions have a ``capacity`` are
    simulation only (``customers=`` is required) and marked in the "capacity
    limited" column; their workload columns are left empty.

    With ``client`` (a ``dask.distributed.Client``) the work is spread over the
    cluster with the same numbers as here: by Monte Carlo each plan's
    simulation is a task (same seed, so still common random numbers), and the
    uncertainty draws run in batches as in :func:`sweep`. The exact comparison
    itself takes milliseconds and runs here.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> save = js.Intervention("save offer", at=("active", "churned"),
    ...                        relative_risk=0.5, cost_per_customer=20)
    >>> c = js.compare(j, [js.Plan("save", [save])], periods=12)
    >>> c.summary[["retention at 12", "incremental net value"]].round(2)
              retention at 12  incremental net value
    plan
    baseline             0.28                   0.00
    save                 0.54                 181.71

    Monte Carlo, with common random numbers and paired 95% intervals; its
    population is the simulated cohort (20,000 customers here):

    >>> mc = js.compare(j, [js.Plan("save", [save])], periods=12,
    ...                 customers=20_000, seed=2, progress=False)
    >>> lo, hi = mc.summary.loc["save", ["incremental net value low",
    ...                                  "incremental net value high"]]
    >>> bool(lo / 20_000 < 181.71 < hi / 20_000)
    True
    """
    if not isinstance(journey, Journey):
        raise InputError(f"compare needs a Journey, got {journey!r}")
    plans = check_plans(plans)
    if isinstance(periods, bool) or not isinstance(periods, numbers.Integral):
        raise InputError(f"periods must be an integer, got {periods!r}")
    if periods < 1:
        raise InputError(f"periods must be >= 1, got {periods}")
    horizons = [periods] if horizons is None else list(horizons)
    for h in horizons:
        if (
            isinstance(h, bool)
            or not isinstance(h, numbers.Integral)
            or not (0 <= h <= periods)
        ):
            raise InputError(f"horizons must be integers in [0, {periods}], got {h!r}")
    accrual_of(accrual)
    rate = cost_rate(journey, discount_rate)
    check_cost_discounting(rate, periods)
    capped = [p.name for p in plans if any(i.capacity for i in p.interventions)]
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
        check_compare_memory(
            applied,
            customers=check_integer(customers, "customers", 1, MAX_CUSTOMERS),
            periods=periods,
            replications=check_integer(
                replications, "replications", 1, MAX_REPLICATIONS
            ),
            threads=threads,
            horizons=len(horizons),
        )
    with interrupt.session():  # Ctrl-C stops it also between its simulations
        rows, results, method = _rows(
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
    summary = pd.DataFrame(rows).set_index("plan")
    if uncertainty is None:
        return Comparison(summary, journeys, results, method, periods)
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
) -> tuple[list[dict], dict, str]:
    """The summary rows, each plan's result, and the method: exact, or by
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
                applied,
                customers=customers,
                periods=periods,
                seed=seed,
                replications=replications,
                threads=threads,
                accrual=accrual,
            )
    if customers is None:
        rows, results = exact_rows(
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
        rows, results = simulated_rows(
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
    return rows, results, method
