"""Analysis: the exact outcomes of a journey, as labelled pandas objects."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.resolved import JourneyLike
from ..view.display import table
from ..view.plot import occupancy_area, retention_curve
from .chain import expected_visits
from .flows import sankey

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

    def __init__(self, result, journey: JourneyLike, accrual: str) -> None:
        #: The core's result object: the arrays behind every table here.
        self.raw = result
        #: The journey analysed.
        self.journey = journey
        self.accrual = accrual
        self.periods = int(result.periods)

    # -- labels -----------------------------------------------------------------

    @cached_property
    def _stages(self) -> pd.Index:
        return pd.Index(self.journey.stages, name="stage")

    @cached_property
    def _columns(self) -> pd.Index:
        return pd.Index([*self.journey.streams, "net"], name="stream")

    def _by_time(self, a: np.ndarray, name: str = "period") -> pd.DataFrame:
        return pd.DataFrame(
            a, index=pd.RangeIndex(len(a), name=name), columns=self._stages
        )

    def _by_period(self, a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            a, index=pd.RangeIndex(1, len(a) + 1, name="period"), columns=self._columns
        )

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
        return pd.Series(
            r, index=pd.RangeIndex(len(r), name="period"), name="retention"
        )

    @cached_property
    def hazard(self) -> pd.Series:
        # The flow into the absorbing stages over those retained: no difference
        # of retentions, which would cancel in the tail.
        r = np.asarray(self.raw.retention)[:-1]
        out = np.asarray(self.raw.absorbed)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = np.where(r > 0, out / np.where(r > 0, r, 1), np.nan)
        return pd.Series(
            h, index=pd.RangeIndex(1, len(r) + 1, name="period"), name="hazard"
        )

    @cached_property
    def value_by_period(self) -> pd.DataFrame:
        return self._by_period(self.raw.value_by_period)

    @cached_property
    def entries(self) -> pd.DataFrame:
        """Share of the cohort moving into each stage (from another) in each
        period 1..periods."""
        e = self.raw.entries
        return pd.DataFrame(
            e, index=pd.RangeIndex(1, len(e) + 1, name="period"), columns=self._stages
        )

    @cached_property
    def population_entries(self) -> pd.DataFrame:
        """Customers moving into each stage in each calendar period (cohort and
        arrivals): the workload a stage's team receives."""
        e = self.raw.population_entries
        return pd.DataFrame(
            e, index=pd.RangeIndex(1, len(e) + 1, name="period"), columns=self._stages
        )

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
        return pd.Series(
            v, index=pd.RangeIndex(len(v), name="period"), name="value_reached"
        )

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
            name: Analysis(part, self.journey, self.accrual)
            for name, part in zip(self.journey.segments, self.raw.segments)
        }

    # -- display ----------------------------------------------------------------

    def summary(self, at: tuple[int, ...] = (3, 12, 24, 36)) -> pd.Series:
        """Headline figures: retention at the given periods (those within the
        horizon), expected lifetime, time to value and CLV."""
        out: dict[str, float] = {}
        for t in at:
            if 0 <= t <= self.periods:
                out[f"retention at {t}"] = self.retention_at(t)
        out["expected lifetime"] = self.expected_lifetime
        out[f"lifetime within {self.periods}"] = self.lifetime_within_horizon
        if self.journey.value_stages:
            ttv = self.time_to_value
            out["reached value"] = ttv["reached"]
            out["time to value"] = ttv["mean_periods"]
        out[f"CLV over {self.periods}"] = self.clv
        out["CLV over lifetime"] = self.lifetime_clv
        return pd.Series(out, name="value")

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
        head = table(
            ["figure", "value"],
            self.summary().items(),
            f"Analysis over {self.periods} periods (accrual {self.accrual})",
        )
        st = self.stages
        rows = [
            [s, r["remaining_lifetime"], r["clv"], r["lifetime_clv"]]
            for s, r in st.iterrows()
        ]
        return head + table(
            ["stage", "remaining lifetime", f"CLV {self.periods}", "CLV lifetime"],
            rows,
            "Per stage: a customer there now",
        )

    def __repr__(self) -> str:
        s = self.summary()
        lines = [f"<Analysis over {self.periods} periods, accrual={self.accrual!r}>"]
        lines += [f"  {k}: {v:.6g}" for k, v in s.items()]
        return "\n".join(lines)
