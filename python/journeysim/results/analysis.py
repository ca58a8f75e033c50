"""Analysis: the exact outcomes of a journey, as labelled pandas objects."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._base.calendar import period_index
from .._base.conventions import COST_STREAM
from .._base.errors import InputError
from .._base.resolved import JourneyLike
from .._base.units import Units
from ..view.display import table
from ..view.numbers import duration, money
from ..view.plot import occupancy_area, retention_curve
from .chain import expected_visits
from .figures import Figure, Kind, as_series, as_text, as_texts, lines
from .flows import sankey
from .outcomes import Moves, exit_chances, outcomes, renewal_rate
from .revenue import Part, revenue_retention
from .scores import say_versus_do, score_averages

if TYPE_CHECKING:
    import matplotlib.axes

__all__ = ["Analysis"]


class Analysis:
    """Exact expected outcomes of a :class:`~journeysim.Journey`.

    Figures "per customer" are for one customer drawn from the start
    distribution (and the segment shares); "population" figures scale by the
    cohort size and add the arriving cohorts, each on its own tenure clock.
    Value columns are the journey's streams and ``"net"`` (their weighted sum,
    which is the CLV). Arrays are computed by the core on construction; the
    pandas objects are built on first access.

    Attributes
    ----------
    occupancy : DataFrame
        Share of the cohort in each stage at t = 0..periods.
    population : DataFrame
        Customers in each stage (cohort size plus arrivals).
    retention : Series
        Share not in an absorbing stage at t = 0..periods.
    hazard : Series
        Share of those retained at t-1 who are absorbed in period t = 1..periods
        (nan once no one is retained).
    value_by_period : DataFrame
        Expected discounted value per customer in each period 1..periods.
    value : Series
        Expected discounted value per customer over the horizon, per stream.
    clv : float
        ``value["net"]``.
    lifetime_value : Series
        Expected discounted value per customer over the whole lifetime
        (``inf`` or ``nan`` where it does not converge).
    lifetime_clv : float
        ``lifetime_value["net"]``.
    expected_lifetime : float
        Expected periods spent in transient stages before absorption.
    lifetime_within_horizon : float
        The same, counting only the first ``periods`` periods.
    absorption : Series
        Probability of ending in each absorbing stage.
    absorption_matrix : DataFrame
        The same from every non-absorbing stage (rows) at tenure 0.
    fundamental_matrix : DataFrame
        Expected periods in each non-absorbing stage (columns) for a customer
        in each (rows) at tenure 0: N = (I - Q)^-1; rows sum to the remaining
        lifetime.
    time_to_absorption : Series
        Mean periods until absorption from every stage (``inf`` where a
        customer may never be absorbed).
    time_to_value : Series
        ``reached`` (share that ever reaches a value stage), ``never`` (share
        that never does, computed on its own: exactly 0 when reaching is
        certain), ``mean_periods`` (expected first-passage periods of those
        who do), ``mean_periods_unconditional`` (the expectation over everyone:
        ``inf`` unless reaching is certain) and ``reached_within_horizon``.
    stages : DataFrame
        Per stage, for a customer in it at tenure 0: remaining lifetime and
        value, a health score of the stage.
    outcomes : DataFrame
        Share ending in each absorbing stage (churn by reason) at the horizon
        and over the lifetime, with a ``"retained"`` row.
    scores : DataFrame
        Each score's average by period over the customers present in scored
        stages.

    Customer-success metrics: :meth:`revenue_retention` (logo retention, NRR,
    GRR, expansion, contraction, churned revenue by span), :meth:`renewal_rate`
    and :meth:`say_versus_do`. Labels and displays use the journey's units
    (``journey.units``): :meth:`summary` gives numbers, :meth:`summary_text`
    the same figures written for people.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> a = j.analyze(periods=12)
    >>> round(a.retention_at(12), 4), round(a.clv, 2), round(a.expected_lifetime, 6)
    (0.2824, 717.57, 10.0)
    >>> a.absorption.round(6).to_dict()
    {'churned': 1.0}
    """

    def __init__(
        self,
        result,
        journey: JourneyLike,
        accrual: str,
        segment: str | None = None,
        start: pd.Period | None = None,
    ) -> None:
        #: The core's result object: the arrays behind every table here.
        self.raw = result
        #: The journey analysed.
        self.journey = journey
        self.accrual = accrual
        self.periods = int(result.periods)
        #: The segment this analysis is restricted to (None: the whole cohort).
        self.segment = segment
        #: The calendar period of t = 0 (None: time is counted in periods
        #: 0, 1, ...). With one, every time index is a PeriodIndex
        #: (docs/calendar.md).
        self.start = start

    @property
    def units(self) -> Units:
        """The journey's time unit, currency and locale."""
        return self.journey.resolved.units

    # -- labels -----------------------------------------------------------------

    @cached_property
    def _stages(self) -> pd.Index:
        return pd.Index(self.journey.stages, name="stage")

    @cached_property
    def _columns(self) -> pd.Index:
        return pd.Index([*self.journey.streams, "net"], name="stream")

    def _time(self, n: int, first: int = 0) -> pd.Index:
        """The index of ``n`` times from t = ``first`` (0: a state at t = 0..;
        1: what happens in periods 1..): integers, or the calendar periods
        from ``start`` (a state at t and period t + 1 share a label)."""
        if self.start is None:
            return pd.RangeIndex(first, first + n, name="period")
        return period_index(self.start, n)

    def _by_time(self, a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=self._time(len(a)), columns=self._stages)

    def _by_period(self, a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=self._time(len(a), 1), columns=self._columns)

    # -- curves -----------------------------------------------------------------

    @cached_property
    def occupancy(self) -> pd.DataFrame:
        return self._by_time(self.raw.occupancy)

    @cached_property
    def population(self) -> pd.DataFrame:
        return self._by_time(self.raw.population)

    @cached_property
    def retention(self) -> pd.Series:
        r = self.raw.retention
        return pd.Series(r, index=self._time(len(r)), name="retention")

    @cached_property
    def hazard(self) -> pd.Series:
        # The flow into the absorbing stages over those retained: no difference
        # of retentions, which would cancel in the tail.
        r = np.asarray(self.raw.retention)[:-1]
        out = np.asarray(self.raw.absorbed)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = np.where(r > 0, out / np.where(r > 0, r, 1), np.nan)
        return pd.Series(h, index=self._time(len(r), 1), name="hazard")

    @cached_property
    def value_by_period(self) -> pd.DataFrame:
        return self._by_period(self.raw.value_by_period)

    @cached_property
    def entries(self) -> pd.DataFrame:
        """Share of the cohort moving into each stage (from another) in each
        period 1..periods."""
        e = self.raw.entries
        return pd.DataFrame(e, index=self._time(len(e), 1), columns=self._stages)

    @cached_property
    def population_entries(self) -> pd.DataFrame:
        """Customers moving into each stage in each calendar period (cohort and
        arrivals): the workload a stage's team receives."""
        e = self.raw.population_entries
        return pd.DataFrame(e, index=self._time(len(e), 1), columns=self._stages)

    @cached_property
    def flows(self) -> pd.DataFrame:
        """Expected moves per customer from stage (rows) to stage (columns)
        over the horizon."""
        return pd.DataFrame(
            self.raw.flows,
            index=self._stages.rename("from"),
            columns=self._stages.rename("to"),
        )

    @cached_property
    def value_by_period_nominal(self) -> pd.DataFrame:
        """Undiscounted value per customer in each period."""
        return self._by_period(self.raw.value_by_period_nominal)

    @cached_property
    def population_value_by_period(self) -> pd.DataFrame:
        """Discounted value of the whole population (cohort and arrivals) by
        calendar period."""
        return self._by_period(self.raw.population_value_by_period)

    @cached_property
    def population_value_by_period_nominal(self) -> pd.DataFrame:
        """Undiscounted value of the whole population by calendar period (e.g.
        revenue per month)."""
        return self._by_period(self.raw.population_value_by_period_nominal)

    @cached_property
    def value_reached(self) -> pd.Series:
        """Share that has reached a value stage by t = 0..periods."""
        v = self.raw.value_reached
        return pd.Series(v, index=self._time(len(v)), name="value_reached")

    # -- totals -----------------------------------------------------------------

    @cached_property
    def value(self) -> pd.Series:
        return pd.Series(self.raw.value, index=self._columns, name="value")

    @property
    def clv(self) -> float:
        return float(self.raw.value[-1])

    @cached_property
    def lifetime_value(self) -> pd.Series:
        return pd.Series(
            self.raw.value_infinite, index=self._columns, name="lifetime_value"
        )

    @property
    def lifetime_clv(self) -> float:
        return float(self.raw.value_infinite[-1])

    @cached_property
    def population_value(self) -> pd.Series:
        """Discounted value of the population over the horizon, per stream."""
        return pd.Series(
            self.raw.population_value, index=self._columns, name="population_value"
        )

    @property
    def expected_lifetime(self) -> float:
        return float(self.raw.lifetime)

    @property
    def lifetime_within_horizon(self) -> float:
        return float(self.raw.lifetime_horizon)

    @property
    def condition_number(self) -> float:
        """Condition number (infinity norm) of the worst-conditioned fundamental
        matrix I - Q behind the whole-lifetime results: about twice the longest
        expected stay before absorption. Above 1e12 :meth:`Journey.analyze`
        warns (:class:`~journeysim.warnings.IllConditionedWarning`); see
        docs/reliability.md for the precision promised."""
        return float(self.raw.condition)

    @cached_property
    def absorption(self) -> pd.Series:
        mask = np.asarray(self.journey.core.absorbing)
        return pd.Series(
            np.asarray(self.raw.absorption)[mask],
            index=pd.Index(self.journey.absorbing, name="stage"),
            name="absorption",
        )

    @cached_property
    def absorption_matrix(self) -> pd.DataFrame:
        keep = [
            i
            for i, s in enumerate(self.journey.stages)
            if s not in self.journey.absorbing
        ]
        h = np.asarray(self.raw.absorption_by_stage)[keep]
        return pd.DataFrame(
            h,
            index=pd.Index([self.journey.stages[i] for i in keep], name="from"),
            columns=pd.Index(self.journey.absorbing, name="absorbed in"),
        )

    @cached_property
    def fundamental_matrix(self) -> pd.DataFrame:
        return expected_visits(self.journey)

    @cached_property
    def time_to_absorption(self) -> pd.Series:
        return pd.Series(
            np.asarray(self.raw.stage_lifetime),
            index=self._stages,
            name="time_to_absorption",
        )

    @cached_property
    def time_to_value(self) -> pd.Series:
        reached_h = float(self.raw.value_reached[-1])
        never = float(self.raw.ttv_never)
        mean = float(self.raw.ttv_mean)
        return pd.Series(
            {
                "reached": float(self.raw.ttv_reached),
                "never": never,
                "mean_periods": mean,
                "mean_periods_unconditional": np.inf if never > 0 else mean,
                "reached_within_horizon": reached_h,
            },
            name="time_to_value",
        )

    def retention_at(self, t: int) -> float:
        """Retention at period ``t`` (0 <= t <= periods)."""
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise InputError(f"t must be an integer period, got {t!r}")
        if not 0 <= t <= self.periods:
            raise InputError(f"t must be in [0, {self.periods}], got {t}")
        return float(self.raw.retention[t])

    # -- per stage --------------------------------------------------------------

    @cached_property
    def stages(self) -> pd.DataFrame:
        """Health of each stage: expected remaining lifetime (whole lifetime and
        within the horizon), remaining value per stream within the horizon, CLV
        within the horizon and over the whole lifetime, for a customer in that
        stage at tenure 0."""
        cols = {
            "remaining_lifetime": self.raw.stage_lifetime,
            "remaining_lifetime_within_horizon": self.raw.stage_lifetime_horizon,
        }
        sv = np.asarray(self.raw.stage_value)
        for k, s in enumerate(self.journey.streams):
            cols[s] = sv[:, k]
        cols["clv"] = sv[:, -1]
        cols["lifetime_clv"] = np.asarray(self.raw.stage_value_infinite)[:, -1]
        return pd.DataFrame(cols, index=self._stages)

    @cached_property
    def segments(self) -> dict[str, Analysis]:
        """Per-segment analyses (empty for an unsegmented journey)."""
        return {
            name: Analysis(
                part, self.journey, self.accrual, segment=name, start=self.start
            )
            for name, part in zip(self.journey.segments, self.raw.segments)
        }

    # -- customer success -------------------------------------------------------

    def _parts(self) -> list[Part]:
        """The sub-populations of this analysis' cohort, with their weights."""
        segs = self.journey.resolved.segments
        if self.segment is not None:
            seg = segs[self.journey.segments.index(self.segment)]
            return [Part(1.0, seg, np.asarray(self.raw.occupancy))]
        if len(segs) == 1:
            return [Part(1.0, segs[0], np.asarray(self.raw.occupancy))]
        return [
            Part(seg.share, seg, np.asarray(part.occupancy))
            for seg, part in zip(segs, self.raw.segments, strict=True)
        ]

    @cached_property
    def _moves(self) -> Moves:
        return Moves(
            stages=tuple(self.journey.stages),
            occupancy=np.asarray(self.raw.occupancy),
            flows=np.asarray(self.raw.flows),
            absorption=np.asarray(self.raw.absorption),
            absorbing=np.asarray(self.journey.core.absorbing, dtype=bool),
            lifetime_finite=bool(np.isfinite(self.raw.lifetime)),
        )

    def revenue_retention(self, stream: str = "revenue", every: int = 12):
        """Logo and revenue retention of the starting cohort, span by span.

        One row per span [k every, (k+1) every] that ends within the horizon
        (index "months 0–12", ...; columns ``start`` and ``end`` give the
        periods). For the customers of the starting cohort retained (not in an
        absorbing stage) at the span's start, with v0 a customer's revenue
        rate (the amount of ``stream`` per period in its stage, undiscounted,
        at the span's start tenure) and v1 its rate at the span's end (0 once
        absorbed: a lost customer's revenue is lost):

        - ``logo_retention``: the share of them still retained at the end;
        - ``nrr`` (net revenue retention): E[v1] / E[v0], the cohort's revenue
          rate at the end over its rate at the start;
        - ``grr`` (gross revenue retention): E[min(v1, v0)] / E[v0], the same
          with each customer's revenue capped at its starting level;
        - ``expansion``: E[max(v1 - v0, 0)] / E[v0];
        - ``contraction``: E[max(v0 - v1, 0); retained at the end] / E[v0];
        - ``churned``: E[v0; absorbed by the end] / E[v0].

        So ``nrr = 1 + expansion - contraction - churned`` and
        ``grr = 1 - contraction - churned``, exactly. The expectations are
        taken over the joint distribution of (stage at the start, stage at the
        end): J = diag(x_start) P(t0) P(t0+1) ... P(t1-1), with the transition
        matrix and the revenue of each tenure (tenure-dependent journeys) and
        per segment, mixed by the segments' shares. Arrivals are not part of
        the starting cohort; amounts on moves (one-off fees) are not a rate and
        are left out. A ratio is nan when the starting revenue is 0.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(
        ...     ["basic", "pro", "churned"],
        ...     {"basic": {"pro": 0.1, "churned": 0.05}, "pro": {"churned": 0.02}},
        ...     values={"revenue": {"basic": 100.0, "pro": 200.0}},
        ...     time_unit="month",
        ... )
        >>> r = j.analyze(periods=24).revenue_retention(every=12)
        >>> list(r.index)
        ['months 0–12', 'months 12–24']
        >>> r.loc["months 0–12", ["nrr", "grr"]].round(3).tolist()
        [1.131, 0.636]
        """
        return revenue_retention(
            self._parts(),
            stream,
            self.journey.streams,
            self._moves.absorbing,
            every,
            self.periods,
            self.units,
        )

    @cached_property
    def outcomes(self) -> pd.DataFrame:
        """Where customers end, per absorbing stage (churn by reason):
        ``horizon`` is the share in it at the end of the horizon and
        ``lifetime`` the share ever absorbed in it (``absorption``). The
        ``"retained"`` row is the share not absorbed (at the horizon:
        ``retention`` at its end; over the lifetime: those never absorbed), so
        both columns sum to 1."""
        return outcomes(self._moves)

    def renewal_rate(self, stage: str) -> pd.Series:
        """Where customers go when they leave ``stage`` (a renewal decision, or
        any stage that is not absorbing): for each next stage j, the share of
        the moves out of ``stage`` within the horizon that go to j,
        ``flows[stage, j] / sum over k != stage of flows[stage, k]``.

        Customers may stay in a stage several periods before they move on, so
        this counts each customer's eventual move, not the first period: with
        one transition matrix it is exactly P[i, j] / (1 - P[i, i]); with tenure
        pieces or segments it is the average of those shares weighted by the
        customers who leave the stage in each period of the horizon. Customers
        still in the stage at the horizon's end are not counted. The index
        lists every stage some segment can move to from ``stage``; all nan
        when no one leaves it within the horizon.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(
        ...     ["renewal", "renewed", "churned"],
        ...     {"renewal": {"renewed": 0.6, "churned": 0.2},
        ...      "renewed": {"churned": 0.05}},
        ... )
        >>> j.analyze(periods=12).renewal_rate("renewal").round(6).to_dict()
        {'renewed': 0.75, 'churned': 0.25}
        """
        return renewal_rate(self._moves, [p.segment for p in self._parts()], stage)

    @cached_property
    def scores(self) -> pd.DataFrame:
        """Each score's average by period t = 0..periods over the customers of
        the cohort present in a stage that has the score (``journey.scores``):
        sum over scored stages of occupancy x score, over their occupancy. Not
        discounted and not summed over time; nan in a period when no one is in
        a scored stage. An absorbing stage with a score is counted like any
        other (give none to leave lost customers out).

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(
        ...     ["happy", "unhappy", "churned"],
        ...     {"happy": {"unhappy": 0.5}, "unhappy": {"churned": 1.0}},
        ...     scores={"nps": {"happy": 60, "unhappy": -20}},
        ... )
        >>> j.analyze(periods=2).scores["nps"].tolist()
        [60.0, 20.0, 20.0]
        """
        scores = self.journey.resolved.scores
        avg = score_averages(np.asarray(self.raw.occupancy), scores)
        return pd.DataFrame(
            avg,
            index=self._time(len(avg)),
            columns=pd.Index([s.name for s in scores], name="score"),
        )

    def say_versus_do(self) -> pd.DataFrame:
        """What customers say beside what they do, per stage that is not
        absorbing: each score of the stage, the chance per period of leaving
        for an absorbing stage from it (moves to absorbing stages within the
        horizon over the periods customers started there: with one transition
        matrix, exactly the row's churn probability) and the expected
        remaining lifetime of a customer there now (tenure 0). A stage that
        says it is happy but loses customers fast is where listening and
        measuring disagree.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(
        ...     ["promoter", "passive", "churned"],
        ...     {"promoter": {"passive": 0.1, "churned": 0.02},
        ...      "passive": {"promoter": 0.05, "churned": 0.1}},
        ...     scores={"nps": {"promoter": 80, "passive": 10}},
        ...     time_unit="month",
        ... )
        >>> t = j.analyze(periods=24).say_versus_do()
        >>> list(t.columns)
        ['nps', 'chance of leaving per month', 'expected remaining lifetime (months)']
        >>> t.round(2).values.tolist()
        [[80.0, 0.02, 19.23], [10.0, 0.1, 13.08]]
        """
        m = self._moves
        return say_versus_do(
            m.stages,
            m.absorbing,
            self.journey.resolved.scores,
            exit_chances(m),
            np.asarray(self.raw.stage_lifetime),
            self.units,
        )

    # -- display ----------------------------------------------------------------

    def _figures(self, at: tuple[int, ...]) -> list[Figure]:
        u = self.units
        T = self.periods
        out = [
            Figure(f"retention at {u.periods(t)}", self.retention_at(t), Kind.SHARE)
            for t in at
            if 0 <= t <= T
        ]
        out.append(
            Figure(f"expected lifetime ({u.plural})", self.expected_lifetime, Kind.TIME)
        )
        out.append(
            Figure(
                f"lifetime within {u.periods(T)} ({u.plural})",
                self.lifetime_within_horizon,
                Kind.TIME,
            )
        )
        if self.journey.value_stages:
            ttv = self.time_to_value
            out.append(Figure("reached value", ttv["reached"], Kind.SHARE))
            out.append(
                Figure(f"time to value ({u.plural})", ttv["mean_periods"], Kind.TIME)
            )
        out.append(Figure(f"CLV over {u.periods(T)}", self.clv, Kind.MONEY))
        out.append(Figure("CLV over the lifetime", self.lifetime_clv, Kind.MONEY))
        out += self._first_year()
        return out

    def headline_stream(self) -> str | None:
        """The stream whose revenue retention headlines report: "revenue",
        else the first stream (never a plan's cost stream); None without one."""
        streams = [s for s in self.journey.streams if s != COST_STREAM]
        if not streams:
            return None
        return "revenue" if "revenue" in streams else streams[0]

    def first_year_retention(self) -> pd.Series | None:
        """The first year's row of :meth:`revenue_retention` for the
        :meth:`headline_stream`, or None when there is no stream or the
        horizon is shorter than a year."""
        stream = self.headline_stream()
        year = self.units.year
        if stream is None or self.periods < year:
            return None
        return self.revenue_retention(stream, every=year).iloc[0]

    def _first_year(self) -> list[Figure]:
        """NRR and GRR of the first year, of "revenue" (or the first stream),
        when the horizon covers a year."""
        row = self.first_year_retention()
        if row is None:
            return []
        stream = self.headline_stream()
        year = self.units.year
        of = "" if stream == "revenue" else f" of {stream}"
        span = self.units.periods(year)
        return [
            Figure(f"NRR{of} over {span}", row["nrr"], Kind.SHARE),
            Figure(f"GRR{of} over {span}", row["grr"], Kind.SHARE),
        ]

    def summary(self, at: tuple[int, ...] = (3, 12, 24, 36)) -> pd.Series:
        """Headline figures as numbers, labelled in the journey's units:
        retention at the given periods (those within the horizon), expected
        lifetime, time to value, CLV and, when the horizon covers a year (12
        months, 4 quarters, 52 weeks, 365 days; 12 periods), the first year's
        NRR and GRR of the "revenue" stream (or the first stream).

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
        ...                values={"revenue": {"active": 100.0}}, time_unit="month")
        >>> a = j.analyze(periods=12)
        >>> list(a.summary().index)  # doctest: +NORMALIZE_WHITESPACE
        ['retention at 3 months', 'retention at 12 months',
         'expected lifetime (months)', 'lifetime within 12 months (months)',
         'CLV over 12 months', 'CLV over the lifetime', 'NRR over 12 months',
         'GRR over 12 months']
        """
        return as_series(self._figures(at), "value")

    def summary_text(self, at: tuple[int, ...] = (3, 12, 24, 36)) -> pd.Series:
        """:meth:`summary` written for people ("86.2%", "30.2 months",
        "$16,516"): the same labels, strings for values (for printing)."""
        return as_texts(self._figures(at), self.units, "value")

    def plot_occupancy(self, ax: matplotlib.axes.Axes | None = None):
        """Stacked shares of the cohort by stage over time; returns the Axes."""
        return occupancy_area(self.occupancy, ax=ax, units=self.journey.units)

    def plot_retention(self, ax: matplotlib.axes.Axes | None = None):
        """Retention curve on ``ax`` (a new figure if None); returns the Axes."""
        return retention_curve(self.retention, ax=ax, units=self.journey.units)

    def sankey(self, **kwargs):
        """A Sankey diagram of this analysis' flows over its horizon (a plotly
        Figure, not shown); keyword arguments as :func:`journeysim.sankey`.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["a", "b", "c"], {"a": {"b": 0.5}, "b": {"c": 0.25}})
        >>> fig = j.analyze(periods=3).sankey(min_share=0.3)
        >>> list(fig.data[0].node.label)
        ['a', 'b']
        """
        return sankey(self, **kwargs)

    def _repr_html_(self) -> str:
        u = self.units
        title = f"Analysis over {u.periods(self.periods)} (accrual {self.accrual})"
        figures = self._figures((3, 12, 24, 36))
        head = table(
            ["figure", "value"], [(f.label, as_text(f, u)) for f in figures], title
        )
        st = self.stages
        rows = [
            [
                s,
                duration(r["remaining_lifetime"], u),
                money(r["clv"], u),
                money(r["lifetime_clv"], u),
            ]
            for s, r in st.iterrows()
        ]
        return head + table(
            [
                "stage",
                "remaining lifetime",
                f"CLV over {u.periods(self.periods)}",
                "CLV over the lifetime",
            ],
            rows,
            "Per stage: a customer there now",
        )

    def __repr__(self) -> str:
        u = self.units
        head = f"<Analysis over {u.periods(self.periods)}, accrual={self.accrual!r}>"
        return "\n".join([head, *lines(self._figures((3, 12, 24, 36)), u)])
