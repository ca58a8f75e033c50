"""The results of a Monte Carlo simulation, as labelled pandas objects (the
run itself is :mod:`journeysim.model.simulate`)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.resolved import JourneyLike
from .._base.units import Units
from ..view.display import table
from ..view.plot import band_plot, band_ylabel
from .figures import Figure, Kind, as_series, as_text, as_texts
from .revenue import Paths, path_retention
from .scores import mean_over_replications, quantile_over_replications, score_averages

if TYPE_CHECKING:
    from .._base.native import _core

__all__ = ["Simulation"]


class Simulation:
    """Results of :meth:`Journey.simulate`.

    Population figures (``occupancy``, ``value_by_period``) count everyone: the
    starting cohort and the customers who arrived. Per-customer figures
    (``value``, ``lifetime_within_horizon``, ``retention``) are for the starting
    cohort, so they estimate the same quantities as :meth:`Journey.analyze`.
    With several replications the tables are means over replications and
    :meth:`band` gives percentile bands; per-customer arrays and the event log
    are those of the first replication.
    ``scores`` and :meth:`score_band` give the scores' averages by period and
    their spread over replications; :meth:`revenue_retention` (with
    ``record="events"``) NRR and GRR of the simulated customers' own paths,
    with standard errors.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> s = j.simulate(10_000, periods=12, seed=1)
    >>> round(float(s.retention[12]), 3)  # exact: 0.9**12 = 0.282
    0.294
    >>> s.customers, s.periods
    (10000, 12)
    """

    def __init__(
        self,
        raw: _core.SimulationResult,
        journey: JourneyLike,
        *,
        seed: int,
        method: str,
        accrual: str,
        customers: int,
        events: bool = False,
    ) -> None:
        self._has_events = events
        self._raw = raw
        self._journey = journey
        self.seed = seed
        self.method = method
        self.accrual = accrual
        self.customers = customers
        self.replications = raw.replications
        self.periods = raw.periods

    @property
    def raw(self) -> Any:
        """The core's result object: the read-only arrays behind every table
        here (for the package's own use, as ``Analysis.raw``)."""
        return self._raw

    def with_journey(self, journey: JourneyLike) -> Simulation:
        """The same results labelled by ``journey`` (an equal journey: the one
        this process holds rather than a copy that travelled from a worker)."""
        return Simulation(
            self._raw,
            journey,
            seed=self.seed,
            method=self.method,
            accrual=self.accrual,
            customers=self.customers,
            events=self._has_events,
        )

    # -- labels -----------------------------------------------------------------

    @cached_property
    def _weights(self) -> np.ndarray:
        return np.asarray(self._journey.core.net_weights, dtype=float)

    def _with_net(self, a: np.ndarray) -> np.ndarray:
        """Append the net column (weighted sum of streams) on the last axis."""
        net = a @ self._weights if a.shape[-1] else np.zeros(a.shape[:-1])
        return np.concatenate([a, net[..., None]], axis=-1)

    @cached_property
    def _columns(self) -> pd.Index:
        return pd.Index([*self._journey.streams, "net"], name="stream")

    @cached_property
    def _stages(self) -> pd.Index:
        return pd.Index(self._journey.stages, name="stage")

    def _times(self) -> pd.RangeIndex:
        return pd.RangeIndex(self.periods + 1, name="period")

    def _periods(self) -> pd.RangeIndex:
        return pd.RangeIndex(1, self.periods + 1, name="period")

    # -- per replication arrays -------------------------------------------------

    @cached_property
    def _retention(self) -> np.ndarray:
        """R x (T+1) share of the starting cohort not absorbed: the count in
        the retained stages over the cohort (not 1 - absorbed, which rounds)."""
        coh = self._raw.cohort_occupancy
        mask = np.asarray(self._journey.core.absorbing)
        return coh[:, :, ~mask].sum(axis=2) / self.customers

    @cached_property
    def _values(self) -> np.ndarray:
        return self._with_net(self._raw.value_by_period)

    # -- tables -----------------------------------------------------------------

    @cached_property
    def occupancy(self) -> pd.DataFrame:
        """Customers in each stage at t = 0..periods (everyone; mean over
        replications)."""
        occ = self._raw.occupancy
        data = occ[0] if self.replications == 1 else occ.mean(axis=0)
        return pd.DataFrame(data, index=self._times(), columns=self._stages)

    @cached_property
    def cohort_occupancy(self) -> pd.DataFrame:
        """Customers of the starting cohort in each stage at t = 0..periods."""
        occ = self._raw.cohort_occupancy
        data = occ[0] if self.replications == 1 else occ.mean(axis=0)
        return pd.DataFrame(data, index=self._times(), columns=self._stages)

    @cached_property
    def retention(self) -> pd.Series:
        """Share of the starting cohort not in an absorbing stage."""
        return pd.Series(
            self._retention.mean(axis=0), index=self._times(), name="retention"
        )

    @cached_property
    def value_by_period(self) -> pd.DataFrame:
        """Discounted value of everyone by calendar period (streams and net)."""
        return pd.DataFrame(
            self._values.mean(axis=0), index=self._periods(), columns=self._columns
        )

    @cached_property
    def value_by_period_nominal(self) -> pd.DataFrame:
        """Undiscounted value of everyone by calendar period."""
        v = self._with_net(self._raw.value_by_period_nominal).mean(axis=0)
        return pd.DataFrame(v, index=self._periods(), columns=self._columns)

    @cached_property
    def capacity(self) -> pd.DataFrame:
        """Per period (first replication) and capacity-limited intervention:
        customers who met it (``eligible``), were treated, and were treated for
        the first time. Empty without capacity limits."""
        names = [rule.intervention for rule in self._journey.resolved.capacity]
        frames = {}
        for x, name in enumerate(names):
            frames[name] = pd.DataFrame(
                {
                    "eligible": self._raw.capacity_eligible[0, :, x],
                    "treated": self._raw.capacity_treated[0, :, x],
                    "first treated": self._raw.capacity_first_treated[0, :, x],
                },
                index=self._periods(),
            )
        if not frames:
            return pd.DataFrame(index=self._periods())
        return pd.concat(frames, axis=1, names=["intervention", "count"])

    @cached_property
    def arrivals(self) -> pd.Series:
        """Customers who joined at t = 1..periods (first replication)."""
        return pd.Series(self._raw.arrivals[0], index=self._periods(), name="arrivals")

    @cached_property
    def value(self) -> pd.Series:
        """Mean discounted value per customer of the starting cohort over the
        horizon (streams and net): estimates ``analyze().value``."""
        v = self._with_net(self._raw.cohort_value).mean(axis=0) / self.customers
        return pd.Series(v, index=self._columns, name="value")

    @property
    def clv(self) -> float:
        return float(self.value["net"])

    @property
    def lifetime_within_horizon(self) -> float:
        """Mean periods the starting cohort spent in transient stages."""
        return float(self._raw.cohort_lifetime.mean() / self.customers)

    @cached_property
    def standard_errors(self) -> pd.Series:
        """Monte Carlo standard errors of ``value`` (per stream and net),
        ``lifetime_within_horizon`` and the final ``retention``; individual
        method only (per-customer variances pooled over replications)."""
        n = self.customers * self.replications
        out: dict[str, float] = {}
        if self.method == "individual":
            s1 = self._with_net(self._raw.cohort_value).sum(axis=0)
            s2 = self._raw.cohort_value_sq.sum(axis=0)
            for k, s in enumerate(self._columns):
                var = s2[k] / n - (s1[k] / n) ** 2
                out[s] = float(np.sqrt(max(var, 0.0) / n))
            l1 = self._raw.cohort_lifetime.sum()
            l2 = self._raw.cohort_lifetime_sq.sum()
            var = l2 / n - (l1 / n) ** 2
            out["lifetime_within_horizon"] = float(np.sqrt(max(var, 0.0) / n))
        r = float(self._retention[:, -1].mean())
        out["retention"] = float(np.sqrt(r * (1 - r) / n))
        return pd.Series(out, name="standard_error")

    # -- per customer -----------------------------------------------------------

    def _per_customer(self, key: str) -> np.ndarray:
        a = getattr(self._raw, key)
        # kept or not as a whole: the lifetimes say which (customer values have
        # no columns for a journey without value streams)
        kept = self._raw.lifetime.size > 0 or self.customers == 0
        if self.method != "individual" or not kept:
            raise InputError(
                "per-customer arrays need method='individual' and record other "
                "than 'totals'"
            )
        return a

    @property
    def lifetime(self) -> np.ndarray:
        """Periods each customer spent in transient stages within the horizon."""
        return self._per_customer("lifetime")

    @property
    def outcome(self) -> np.ndarray:
        """Absorbing stage index per customer, -1 if still active at the end."""
        return self._per_customer("outcome")

    @property
    def start_stage(self) -> np.ndarray:
        """Stage index each customer started in."""
        return self._per_customer("start_stage")

    def stage_log(self) -> pd.DataFrame:
        """The event log as stage changes, the start included: one row per
        customer joining (its start stage) and per move (the new stage), with
        the period from which the customer is there: what :func:`fit` reads
        (``kind="changes"``, censored at ``periods``)."""
        ev = self.events
        cats = pd.CategoricalDtype(self._journey.stages)
        start = pd.DataFrame(
            {
                "customer": np.arange(len(self.joined), dtype=np.int64),
                "period": self.joined,
                "stage": pd.Categorical.from_codes(self.start_stage, dtype=cats),
            }
        )
        moves = pd.DataFrame(
            {"customer": ev["customer"], "period": ev["period"], "stage": ev["to"]}
        )
        log = pd.concat([start, moves], ignore_index=True)
        return log.sort_values(["customer", "period"], kind="stable").reset_index(
            drop=True
        )

    @property
    def first_value(self) -> np.ndarray:
        """First period (from the customer's own start) in a value stage, -1 if
        never within the horizon."""
        return self._per_customer("first_value")

    @property
    def segment(self) -> np.ndarray:
        """Segment index per customer."""
        return self._per_customer("segment")

    @cached_property
    def customer_value(self) -> np.ndarray:
        """Discounted value per customer (customers x streams+net), discounted to
        the customer's own start."""
        return self._with_net(self._per_customer("customer_value"))

    @cached_property
    def joined(self) -> np.ndarray:
        """Period at which each customer joined (0 for the starting cohort)."""
        counts = np.concatenate([[self.customers], self._raw.arrivals[0]])
        return np.repeat(np.arange(self.periods + 1, dtype=np.int32), counts)

    @cached_property
    def customers_table(self) -> pd.DataFrame:
        """One row per customer: joined, segment, lifetime, outcome, first
        value period and value per stream."""
        stages = np.array([*self._journey.stages, "active"], dtype=object)
        df = pd.DataFrame(
            {
                "joined": self.joined,
                "segment": pd.Categorical.from_codes(
                    self.segment.astype(int), self._journey.segments
                ),
                "lifetime": self.lifetime,
                "outcome": stages[self.outcome],
                "first_value": self.first_value,
            }
        )
        for k, s in enumerate(self._columns):
            df[s] = self.customer_value[:, k]
        df.index.name = "customer"
        return df

    @cached_property
    def events(self) -> pd.DataFrame:
        """The event log (first replication): one row per change of stage, with
        the period at which the customer is in the new stage."""
        raw = self._raw
        if not self._has_events:
            raise InputError("no event log: simulate with record='events'")
        cats = pd.CategoricalDtype(self._journey.stages)
        return pd.DataFrame(
            {
                "customer": raw.event_customer,
                "period": raw.event_period,
                "from": pd.Categorical.from_codes(raw.event_from, dtype=cats),
                "to": pd.Categorical.from_codes(raw.event_to, dtype=cats),
            }
        )

    def revenue_retention(self, stream: str = "revenue", every: int = 12):
        """Revenue retention of the simulated starting cohort (first
        replication; needs ``record="events"``): the columns and definitions
        of :meth:`Analysis.revenue_retention`, over each simulated customer's
        own stages at a span's start and end, plus ``nrr_se`` and ``grr_se``,
        the Monte Carlo standard errors of NRR and GRR (delta method for a
        ratio of means)."""
        if not self._has_events:
            raise InputError(
                "revenue retention of a simulation follows each customer: "
                "simulate with record='events'"
            )
        raw = self._raw
        paths = Paths(
            start=np.asarray(self.start_stage[: self.customers]),
            segment=np.asarray(self.segment[: self.customers]),
            customer=np.asarray(raw.event_customer),
            period=np.asarray(raw.event_period),
            to=np.asarray(raw.event_to),
        )
        return path_retention(
            paths,
            self._journey.resolved.segments,
            stream,
            self._journey.streams,
            np.asarray(self._journey.core.absorbing, dtype=bool),
            every,
            self.periods,
            self.units,
        )

    # -- scores ---------------------------------------------------------------

    @cached_property
    def _scores(self) -> np.ndarray:
        """R x (T+1) x scores: each replication's average of each score over
        the starting cohort's customers in a scored stage."""
        occ = np.asarray(self._raw.cohort_occupancy, dtype=float)
        return score_averages(occ, self._journey.resolved.scores)

    @cached_property
    def scores(self) -> pd.DataFrame:
        """Each score's average by period over the starting cohort's customers
        present in a stage that has it (as ``Analysis.scores``), the mean over
        replications (leaving out a replication with no one to average)."""
        names = [s.name for s in self._journey.resolved.scores]
        return pd.DataFrame(
            mean_over_replications(self._scores),
            index=self._times(),
            columns=pd.Index(names, name="score"),
        )

    def score_band(self, score: str, lo: float = 0.05, hi: float = 0.95):
        """Mean and [lo, hi] quantiles over replications of a score's average
        by period: the spread a cohort of this size gives a survey that asks
        everyone. Columns as :meth:`band`."""
        names = [s.name for s in self._journey.resolved.scores]
        if score not in names:
            raise InputError(
                f"unknown score {score!r}; the journey's scores are {names}",
                key=("score",),
            )
        if not (0.0 <= lo < hi <= 1.0):
            raise InputError(f"need 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")
        data = self._scores[:, :, names.index(score)]
        return pd.DataFrame(
            {
                "mean": mean_over_replications(data),
                f"q{lo:g}": quantile_over_replications(data, lo),
                f"q{hi:g}": quantile_over_replications(data, hi),
            },
            index=self._times(),
        )

    # -- spread over replications -----------------------------------------------

    def band(self, lo: float = 0.05, hi: float = 0.95, of: str = "retention"):
        """Mean and percentile band over replications, by period.

        ``of`` is ``"retention"`` (starting cohort), a stage name (customers in
        that stage), or a stream name or ``"net"`` (discounted value of everyone
        by period). Returns a DataFrame with columns ``mean``, ``lo`` quantile
        and ``hi`` quantile.
        """
        if not (0.0 <= lo < hi <= 1.0):
            raise InputError(f"need 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")
        if of == "retention":
            data, index = self._retention, self._times()
        elif of in self._journey.stages:
            data = self._raw.occupancy[:, :, self._journey.stages.index(of)]
            index = self._times()
        elif of in self._columns:
            data, index = (
                self._values[:, :, list(self._columns).index(of)],
                self._periods(),
            )
        else:
            raise InputError(f"of must be 'retention', a stage or a stream, got {of!r}")
        data = np.asarray(data, dtype=float)
        return pd.DataFrame(
            {
                "mean": data.mean(axis=0),
                f"q{lo:g}": np.quantile(data, lo, axis=0),
                f"q{hi:g}": np.quantile(data, hi, axis=0),
            },
            index=index,
        )

    def plot_band(
        self, lo: float = 0.05, hi: float = 0.95, of: str = "retention", ax=None
    ):
        """The mean and the [lo, hi] band over replications; returns the Axes."""
        units = self._journey.units
        return band_plot(
            self.band(lo, hi, of),
            ax=ax,
            ylabel=band_ylabel(of, self._journey.stages, units),
            units=units,
            share=of == "retention",
        )

    @property
    def units(self) -> Units:
        """The journey's time unit, currency and locale."""
        return self._journey.resolved.units

    def _figures(self) -> list[Figure]:
        u = self.units
        span = u.periods(self.periods)
        out = [
            Figure(f"retention at {span}", float(self.retention.iloc[-1]), Kind.SHARE),
            Figure(
                f"lifetime within {span} ({u.plural})",
                self.lifetime_within_horizon,
                Kind.TIME,
            ),
        ]
        for s, v in self.value.items():
            label = f"CLV over {span}" if s == "net" else f"{s} over {span}"
            out.append(Figure(label, float(v), Kind.MONEY))
        return out

    def _error_figures(self) -> list[Figure]:
        """The standard errors, each written like the figure it belongs to."""
        kinds = {"lifetime_within_horizon": Kind.TIME, "retention": Kind.SHARE}
        names = {
            "lifetime_within_horizon": "lifetime within the horizon",
            "net": "CLV",
        }
        return [
            Figure(f"standard error of {names.get(k, k)}", v, kinds.get(k, Kind.MONEY))
            for k, v in self.standard_errors.items()
        ]

    def summary(self) -> pd.Series:
        """Headline figures as numbers, labelled in the journey's units:
        retention and lifetime within the horizon, value per customer of each
        stream and the CLV (the starting cohort; means over replications)."""
        return as_series(self._figures(), "simulated")

    def summary_text(self) -> pd.Series:
        """:meth:`summary` written for people, with the standard errors of the
        individual method: the same labels, strings for values."""
        figures = self._figures()
        if self.method == "individual":
            figures += self._error_figures()
        return as_texts(figures, self.units, "simulated")

    def _repr_html_(self) -> str:
        u = self.units
        figures = self._figures()
        if self.method == "individual":
            figures += self._error_figures()
        title = (
            f"Simulation ({self.method}): {self.customers:,} customers x "
            f"{u.periods(self.periods)} x {self.replications} replication(s), "
            f"seed {self.seed}"
        )
        return table(
            ["figure", "value"], [(f.label, as_text(f, u)) for f in figures], title
        )

    def __repr__(self) -> str:
        return (
            f"<Simulation {self.method}: {self.customers:,} customers x "
            f"{self.units.periods(self.periods)} x {self.replications} "
            f"replication(s), seed={self.seed}>"
        )
