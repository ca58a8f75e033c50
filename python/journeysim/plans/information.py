"""Listening posts: what better measurement of each transition is worth to the
choice between plans (expected value of perfect, partial perfect and sample
information), from the same posterior draws as ``compare(uncertainty=)``.

The decision is the choice of one plan (or none: the baseline) by its
expected incremental net value. Each draw of the transitions gives every
plan's incremental net value (population, exact analysis); the estimators in
:mod:`.voi_estimators` turn that sample into the value of knowing more.
"""

from __future__ import annotations

import numbers
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._base.checks import check_integer
from .._base.conventions import COST_STREAM, accrual_of
from .._base.errors import InputError
from .._base.units import Units
from ..model.apply_plan import apply_plan
from ..model.intervention import Plan
from ..model.journey import Journey
from ..view.display import table
from ..view.information import information_bars
from ..view.numbers import money, number, percent
from . import voi_estimators as est
from .evaluate import (
    about_plan,
    check_cost_discounting,
    check_plans,
    cost_rate,
    draw_journeys,
    population_size,
    quiet_numpy,
)
from .reach import reach
from .sweep import psa_values

__all__ = ["ValueOfInformation", "value_of_information"]

_ARROW = " → "


@dataclass(frozen=True)
class _Draws:
    """The probabilistic sensitivity sample: net benefit per draw and decision
    (baseline first), and the drawn transition matrices (draws x matrices x
    stages x stages; a matrix per segment and tenure piece)."""

    nb: np.ndarray
    theta: np.ndarray
    matrices: tuple[str, ...]
    stages: tuple[str, ...]


class ValueOfInformation:
    """The result of :func:`value_of_information`.

    Money is incremental net value (the ``metric``): per customer (one
    customer of the modelled population) and for the population (cohort size
    plus arrivals over the horizon), never under one name.

    Attributes
    ----------
    evpi : float
        Expected value of perfect information about every transition, for
        the population: what removing all uncertainty would be worth, on
        average, before choosing a plan.
    evpi_per_customer : float
        The same per customer.
    table : DataFrame
        Per transition (or group), largest first: ``value per customer`` and
        ``value for the population`` (its EVPPI) and ``share of EVPI``.
    decision : DataFrame
        Per plan (baseline first): the expected incremental net value for the
        population and the probability that it is the best plan.
    best : str
        The plan chosen on current information (largest expected value).
    customers : float
        The modelled population.
    draws : int
        Posterior draws used.

    Examples
    --------
    Two draws of the churn rate, 0.1 and 0.3: halving churn for 10 per
    customer loses 5 per customer in the first and gains 5 in the second, so
    knowing the rate is worth half of 5 per customer:

    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.2}},
    ...                values={"revenue": {"active": 100.0}}, cohort_size=1000,
    ...                currency="USD")
    >>> draws = [js.Journey(["active", "churned"], {"active": {"churned": p}})
    ...          for p in (0.1, 0.3)]
    >>> save = js.Intervention("save", ("active", "churned"), relative_risk=0.5,
    ...                        cost_per_customer=10)
    >>> v = js.value_of_information(j, [js.Plan("save", [save])],
    ...                             uncertainty=draws, periods=2)
    >>> round(v.evpi, 2), round(v.evpi_per_customer, 2)
    (2500.0, 2.5)
    >>> print(v.to_text().splitlines()[2])
    Measuring active → churned better is worth up to $2,500 ($2.50 per customer).
    """

    def __init__(
        self,
        sample: _Draws,
        groups: dict[str, np.ndarray],
        plans: list[str],
        customers: float,
        units: Units,
        seed: int,
    ) -> None:
        self._sample = sample
        self._groups = groups
        self.units = units
        self.customers = float(customers)
        self.seed = seed
        nb = sample.nb
        self.draws = len(nb)
        self.evpi = est.evpi(nb)
        self.evpi_per_customer = self.evpi / self.customers
        names = pd.Index(plans, name="plan")
        winners = np.bincount(nb.argmax(axis=1), minlength=nb.shape[1]) / len(nb)
        self.decision = pd.DataFrame(
            {"incremental net value": nb.mean(axis=0), "P(best)": winners},
            index=names,
        )
        self.best = str(names[int(nb.mean(axis=0).argmax())])
        values = {
            name: min(est.evppi(nb, self._columns(mask)), self.evpi)
            for name, mask in groups.items()
        }
        pop = pd.Series(values, dtype=float).sort_values(ascending=False)
        self.table = pd.DataFrame(
            {
                "value per customer": pop / self.customers,
                "value for the population": pop,
                "share of EVPI": pop / self.evpi if self.evpi > 0 else np.nan,
            }
        )
        self.table.index.name = "transitions"

    def _columns(self, mask: np.ndarray) -> np.ndarray:
        """The drawn values of the parameters a group holds (draws x k)."""
        t = self._sample.theta
        return t.reshape(len(t), -1)[:, mask.ravel()]

    def sample_information(
        self, stage: str, customers: int | Sequence[int], seed: int | None = None
    ) -> pd.DataFrame:
        """Expected value of sample information (EVSI) of a study that follows
        ``customers`` more customers through one period in ``stage`` (in every
        segment and tenure piece where its row is uncertain).

        Estimator (Strong, Brennan & Oakley 2015): each posterior draw of the
        stage's row is taken as the truth and the study's counts are drawn
        from it (multinomial); the study's summary is the posterior mean of
        the row it would leave, with the Dirichlet prior moment-matched to the
        draws; net benefits are regressed on that summary as for the EVPPI.
        EVSI grows with the study's size towards the EVPPI of the row.

        Returns a DataFrame indexed by study size, with ``value per
        customer``, ``value for the population`` and ``share of EVPPI`` (of the
        stage's whole row).
        """
        stages = self._sample.stages
        if stage not in stages:
            raise InputError(
                f"unknown stage {stage!r}; the stages are {list(stages)}",
                key=("stage",),
            )
        sizes = [customers] if isinstance(customers, numbers.Integral) else customers
        try:
            sizes = [check_integer(n, "customers", 1, 10**9) for n in sizes]
        except TypeError:
            raise InputError(
                f"customers must be an integer or a list of integers, got {customers!r}"
            ) from None
        if not sizes:
            raise InputError("customers must name at least one study size")
        i = stages.index(stage)
        theta = self._sample.theta
        rows = [
            theta[:, m, i, :]
            for m in range(theta.shape[1])
            if (theta[:, m, i, :].std(axis=0) > 0).any()
        ]
        if not rows:
            raise InputError(
                f"the transitions out of {stage!r} do not vary over the draws: "
                "there is nothing to learn about them"
            )
        rng = np.random.default_rng(self.seed if seed is None else seed)
        whole = min(est.evppi(self._sample.nb, np.hstack(rows)), self.evpi)
        out = []
        for n in sizes:
            stats = []
            for r in rows:
                used = r.mean(axis=0) > 0
                s = est.preposterior(r[:, used], n, rng)
                stats.append(s[:, :-1])  # they sum to 1: one column is redundant
            v = min(est.evppi(self._sample.nb, np.hstack(stats)), self.evpi)
            out.append((n, v / self.customers, v, v / whole if whole > 0 else np.nan))
        return pd.DataFrame(
            out,
            columns=[
                "customers studied",
                "value per customer",
                "value for the population",
                "share of EVPPI",
            ],
        ).set_index("customers studied")

    def plot(self, ax=None, top: int = 15):
        """Bars of each transition's EVPPI for the population, largest first,
        with the EVPI as a line: where better measurement pays."""
        return information_bars(
            self.table["value for the population"].head(top),
            self.evpi,
            customers=self.customers,
            units=self.units,
            ax=ax,
        )

    def to_text(self, top: int = 3) -> str:
        """The finding in words."""
        u = self.units
        lines = [
            f"On current information the best plan is {self.best!r} "
            f"({percent(self.decision.loc[self.best, 'P(best)'], u, decimals=0)} "
            f"of {number(self.draws, u)} posterior draws agree).",
            f"Perfect information about every transition is worth up to "
            f"{money(self.evpi, u)} for the population of "
            f"{_customers(self.customers, u)} "
            f"({money(self.evpi_per_customer, u)} per customer).",
        ]
        for name, row in self.table.head(top).iterrows():
            if row["value for the population"] <= 0:
                break
            lines.append(
                f"Measuring {name} better is worth up to "
                f"{money(row['value for the population'], u)} "
                f"({money(row['value per customer'], u)} per customer)."
            )
        if self.evpi <= 0:
            lines.append(
                "No draw changes the decision: more measurement would not change it."
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        u = self.units
        rows = [
            [
                name,
                money(r["value per customer"], u),
                money(r["value for the population"], u),
                percent(r["share of EVPI"], u, decimals=0),
            ]
            for name, r in self.table.iterrows()
        ]
        head = (
            f"Value of information: EVPI {money(self.evpi, u)} for "
            f"{_customers(self.customers, u)}; best plan {self.best!r}"
        )
        return table(
            ["transitions", "per customer", "population", "share of EVPI"],
            rows,
            title=head,
        )

    def __repr__(self) -> str:
        return (
            f"<ValueOfInformation: EVPI {money(self.evpi, self.units)} "
            f"(population), {len(self.table)} transitions, {self.draws} draws>"
        )


def _customers(n: float, units: Units) -> str:
    return f"{number(n, units)} customer{'' if n == 1 else 's'}"


def value_of_information(
    journey: Journey,
    plans: Sequence[Plan],
    *,
    uncertainty: Any,
    draws: int = 1000,
    metric: str = "net",
    periods: int = 36,
    groups: Mapping[str, Any] | None = None,
    seed: int | None = None,
    accrual: str = "start",
    discount_rate: float | None = None,
    client: Any = None,
) -> ValueOfInformation:
    """Where better measurement pays: the value of information of the choice
    between ``plans`` (and the baseline) under the fit's uncertainty.

    Every posterior draw of the transitions (``uncertainty``: a
    :class:`~journeysim.Fit`, or a list of journeys) is analysed exactly under
    every plan, as in ``compare(uncertainty=)``; the plan chosen now is the
    one with the largest mean incremental net value (``metric="net"``, for the
    population, after intervention costs).

    - EVPI = E[max_plan NB] − max_plan E[NB]: what knowing every transition
      would be worth before choosing.
    - EVPPI of a transition (or a group): the same when only it becomes
      known, E[max_plan E(NB | it)] − max_plan E[NB]. The inner expectation is
      estimated by regression on the draws (Strong, Oakley & Brennan 2014): each
      plan's net benefit (relative to the baseline) is regressed on the
      transition with a cubic regression spline, or on a group's transitions
      with a quadratic polynomial. No nested simulation, so every transition
      costs one least-squares fit.
    - EVSI of following n more customers in a stage:
      :meth:`ValueOfInformation.sample_information`.

    Parameters
    ----------
    journey : Journey
    plans : list of Plan
    uncertainty : Fit or list of Journey
        Where the draws of the transitions come from.
    draws : int, default 1000
        Posterior draws (with a fit). More draws, smaller Monte Carlo error.
    metric : str, default "net"
        The decision's net benefit: incremental net value after intervention
        costs.
    periods : int, default 36
        Horizon of each analysis.
    groups : dict, optional
        ``{name: [(from, to), ...] or a stage}``: transitions valued together (a
        stage stands for all its exits). Default: every transition that varies
        over the draws, on its own.
    seed : int, optional
        Seed of the draws (and of the study simulations of EVSI).
    accrual, discount_rate, client
        As in :func:`~journeysim.compare`.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "at_risk", "churned"],
    ...                {"active": {"at_risk": 0.1}, "at_risk": {"churned": 0.3,
    ...                 "active": 0.2}}, values={"revenue": {"active": 100.0}},
    ...                cohort_size=1000, time_unit="month", currency="USD")
    >>> log = j.simulate(300, 12, seed=1, record="events").stage_log()
    >>> f = js.fit(log, stages=j.stages, absorbing=["churned"], end=12)
    >>> save = js.Intervention("save desk", at=("at_risk", "churned"),
    ...                        relative_risk=0.7, cost_per_customer=60)
    >>> v = js.value_of_information(j, [js.Plan("save", [save])], uncertainty=f,
    ...                             draws=200, periods=24, seed=3)
    >>> bool(v.table["value for the population"].max() <= v.evpi)
    True
    """
    if not isinstance(journey, Journey):
        raise InputError(f"value_of_information needs a Journey, got {journey!r}")
    plans = check_plans(plans)
    if not plans:
        raise InputError("plans must name at least one plan to choose between")
    if metric != "net":
        raise InputError(
            f"metric must be 'net' (incremental net value after costs), got {metric!r}",
            key=("metric",),
        )
    periods = check_integer(periods, "periods", 1, 100_000)
    accrual_of(accrual)
    rate = cost_rate(journey, discount_rate)
    check_cost_discounting(rate, periods)
    if any(i.capacity for p in plans for i in p.interventions):
        raise InputError(
            "plans with capacity limits can only be simulated; the value of "
            "information needs exact analyses"
        )
    seed = secrets.randbits(63) if seed is None else seed
    samples = draw_journeys(journey, uncertainty, draws, seed)
    all_plans = [Plan("baseline", []), *plans]
    nb = _net_benefits(
        journey, samples, all_plans, periods, accrual, rate, client=client
    )
    sample = _parameters(samples, nb)
    grouped = _groups(groups, sample)
    return ValueOfInformation(
        sample,
        grouped,
        [p.name for p in all_plans],
        population_size(journey, periods, journey.resolved.cohort_size),
        journey.units,
        seed,
    )


def _net_benefits(journey, samples, all_plans, periods, accrual, rate, *, client):
    """Incremental net value for the population per draw and plan (baseline
    first, 0). The comparison's money only (no retention, scores or team
    tables): the same numbers as ``compare(uncertainty=)``'s draws. Plans with
    calendar windows on a journey with arrivals (each arriving cohort analysed
    on its own) and work on a cluster go through the sweep's engine."""
    scheduled = any(iv.calendar for p in all_plans for iv in p.scheduled)
    if client is not None or (journey.resolved.arrivals and scheduled):
        return psa_values(
            samples,
            all_plans[1:],
            periods=periods,
            horizons=[periods],
            accrual=accrual,
            discount_rate=rate,
            client=client,
        )
    out = np.empty((len(samples), len(all_plans)))
    with quiet_numpy():
        for d, s in enumerate(samples):
            for k, p in enumerate(all_plans):
                with about_plan(p):
                    out[d, k] = _money(s, p, periods, accrual, rate)
    return out - out[:, :1]


def _money(journey: Journey, plan: Plan, periods: int, accrual: str, rate: float):
    """A plan's population net value less its intervention costs, computed as
    the exact comparison computes them."""
    ap = apply_plan(journey, plan, cost_rate=rate)
    pj = ap.journey
    a = pj.analyze(periods, accrual=accrual)
    a_cost = a if accrual == "start" else pj.analyze(periods, accrual="start")
    n0 = pj.resolved.cohort_size
    c = pj.streams.index(COST_STREAM)
    r = reach(pj, plan, ap.once, periods, rate, n0)
    cost = (
        float(np.asarray(a_cost.raw.population_value_by_period)[:, c].sum())
        + float(r.once_by_period.sum())
        + plan.fixed_cost
    )
    return float(np.asarray(a.raw.population_value)[-1]) - cost


def _parameters(samples: list[Journey], nb: np.ndarray) -> _Draws:
    """Every draw's transition matrices, one per segment and tenure piece."""
    first = samples[0]
    labels = []
    for seg in first.resolved.segments:
        for piece in seg.transitions:
            labels.append(_matrix_label(first, seg.name, piece.start))
    theta = np.stack(
        [
            np.stack([p.value for seg in s.resolved.segments for p in seg.transitions])
            for s in samples
        ]
    )
    return _Draws(nb, theta, tuple(labels), tuple(first.stages))


def _matrix_label(j: Journey, segment: str, start: int) -> str:
    parts = []
    if len(j.segments) > 1:
        parts.append(f"segment {segment}")
    if any(len(seg.transitions) > 1 for seg in j.resolved.segments):
        parts.append(f"from tenure {start}")
    return ", ".join(parts)


def _groups(groups: Mapping[str, Any] | None, sample: _Draws) -> dict:
    """Each group's parameters as a mask over matrices x stages x stages."""
    theta = sample.theta
    varies = theta.std(axis=0) > 0
    if not varies.any():
        raise InputError(
            "the uncertainty draws do not vary: every transition is the same in "
            "each draw, so there is nothing to learn"
        )
    stages = list(sample.stages)
    if groups is None:
        out = {}
        pairs = varies.any(axis=0)
        for i, j in zip(*np.nonzero(pairs), strict=True):
            if i == j:
                continue  # staying is what the exits leave: measured with them
            mask = np.zeros_like(varies)
            mask[:, i, j] = varies[:, i, j]
            out[f"{stages[i]}{_ARROW}{stages[j]}"] = mask
        return out
    if not isinstance(groups, Mapping) or not groups:
        raise InputError(
            "groups must be a dict {name: [(from, to), ...] or a stage}",
            key=("groups",),
        )
    out = {}
    for name, spec in groups.items():
        mask = np.zeros_like(varies)
        items = [spec] if isinstance(spec, str) else spec
        try:
            items = list(items)
        except TypeError:
            items = [spec]
        if not items:
            raise InputError(f"group {name!r} is empty", key=("groups", name))
        for item in items:
            if isinstance(item, str):
                if item not in stages:
                    raise InputError(
                        f"group {name!r}: unknown stage {item!r}; the stages are "
                        f"{stages}",
                        key=("groups", name),
                    )
                mask[:, stages.index(item), :] = True
            elif (
                isinstance(item, tuple)
                and len(item) == 2
                and all(x in stages for x in item)
            ):
                mask[:, stages.index(item[0]), stages.index(item[1])] = True
            else:
                raise InputError(
                    f"group {name!r}: {item!r} is not a stage or a (from, to) "
                    f"pair of stages {stages}",
                    key=("groups", name),
                )
        mask &= varies
        if not mask.any():
            raise InputError(
                f"group {name!r}: its transitions do not vary over the draws",
                key=("groups", name),
            )
        out[str(name)] = mask
    return out
