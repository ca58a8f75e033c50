"""Current versus optimised journey: both analysed side by side (exactly, or
by Monte Carlo with common random numbers), the differences, and the exact
attribution of a difference to each change (:mod:`.attribution`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._base import interrupt
from .._base.checks import check_horizons, check_integer
from .._base.conventions import accrual_of
from .._base.errors import InputError
from ..model.apply_plan import apply_plan
from ..model.intervention import Plan
from ..model.journey import Journey
from ..model.simulate import MAX_CUSTOMERS, MAX_REPLICATIONS
from ..view.display import table
from .alignment import Aligned, align
from .attribution import (
    Attribution,
    attribute,
    check_groups,
    metric_of,
    metric_value,
)
from .compare import Comparison
from .evaluate import exact_rows
from .simulated import simulated_rows

__all__ = ["JourneyComparison", "compare_journeys"]

#: Figures of a plan comparison that mean nothing between two journeys
#: without interventions.
_PLAN_ONLY = (
    "intervention cost",
    "intervention cost per customer",
    "ROI",
    "payback",
    "customers reached",
    "share reached",
    "capacity limited",
)
NAMES = ("current", "optimised")


def _journey_column(c: str) -> bool:
    base = c.removesuffix(" low").removesuffix(" high").removesuffix(" diff")
    return (base not in _PLAN_ONLY and not c.startswith("reached ")) or (
        c.startswith("reached value")
    )


class JourneyComparison(Comparison):
    """The result of :func:`compare_journeys`: a :class:`Comparison` of two
    rows, ``current`` and ``optimised``, and the differences.

    Attributes
    ----------
    per_customer, population : DataFrame
        As for :func:`compare`, with rows ``current``, ``optimised`` and
        ``difference`` (optimised less current; by Monte Carlo the paired
        differences and their 95% intervals are the "... diff" columns and
        "incremental net value low/high").
    changes : DataFrame
        Every input that differs between the journeys (on the optimised
        journey's stages): ``kind`` ("transitions" for a row, "value",
        "moves", "start", "shares", "arrivals", "cohort size"), ``segment``,
        ``tenure`` (the tenure piece's start), ``stage`` and ``stream``.
    changed_transitions : list of (str, str)
        The moves whose probability differs (first segment, any tenure), for
        maps that highlight them.
    mapping : dict
        ``{optimised stage: current stage or None}`` as used.
    current, optimised : Journey

    Examples
    --------
    >>> import journeysim as js
    >>> now = js.Journey(["active", "churned"], {"active": {"churned": 0.10}},
    ...                  values={"revenue": {"active": 100.0}})
    >>> better = js.Journey(["active", "churned"], {"active": {"churned": 0.05}},
    ...                     values={"revenue": {"active": 100.0}})
    >>> d = js.compare_journeys(now, better, periods=12)
    >>> list(d.per_customer.index), list(d.changes.index)
    (['current', 'optimised', 'difference'], ['transitions from active'])
    >>> d.changed_transitions
    [('active', 'churned')]
    """

    _DIFFERENCE_ROWS = ("difference",)

    def __init__(
        self,
        summary: pd.DataFrame,
        journeys: dict,
        results: dict,
        method: str,
        periods: int,
        *,
        aligned: Aligned,
        accrual: str,
        current: Journey,
        optimised: Journey,
    ) -> None:
        super().__init__(
            summary, journeys, results, method, periods, units=current.units
        )
        self.per_customer = _with_difference(self.per_customer)
        self.population = _with_difference(self.population)
        self.current = current
        self.optimised = optimised
        self.mapping = dict(aligned.mapping)
        self.accrual = accrual
        self._aligned = aligned
        stages = optimised.stages
        self.changes = pd.DataFrame(
            {
                "kind": [c.kind for c in aligned.changes],
                "segment": [
                    None if c.segment is None else optimised.segments[c.segment]
                    for c in aligned.changes
                ],
                "tenure": [c.tenure for c in aligned.changes],
                "stage": [
                    None if c.stage is None else stages[c.stage]
                    for c in aligned.changes
                ],
                "stream": [c.stream for c in aligned.changes],
            },
            index=pd.Index([c.name for c in aligned.changes], name="change"),
        )

    @property
    def changed_transitions(self) -> list[tuple[str, str]]:
        seg_c = self._aligned.current.segments[0]
        seg_o = self._aligned.optimised.segments[0]
        stages = self.optimised.stages
        out: set[tuple[str, str]] = set()
        for pc, po in zip(seg_c.transitions, seg_o.transitions, strict=True):
            diff = (pc.value != po.value) & ~np.eye(len(stages), dtype=bool)
            out |= {(stages[i], stages[j]) for i, j in zip(*np.nonzero(diff))}
        return sorted(out)

    def _customers(self) -> float:
        return float(self.summary["customers"].iloc[0])

    def attribution(
        self, metric: str = "clv", *, groups: Mapping | None = None
    ) -> Attribution:
        """The difference in ``metric`` split exactly among the changes.

        Each change (or each group of changes in ``groups={name: [changes]}``;
        changes left out form a group "other changes") receives its Shapley
        value: the average, over every order of making the changes one after
        another, of what it adds to the metric. The contributions add up to
        the total difference (checked to 1e-9 relative), a change that alters
        nothing receives 0, and changes that act alike receive equal shares.
        Exact for up to 12 changes or groups (2**12 exact analyses of the
        mixed journeys); group them beyond that.

        Parameters
        ----------
        metric : str
            "clv" (per customer, the default), "population net value",
            "retention at <h>" (or "retention": at the horizon), "lifetime"
            (within the horizon), "expected lifetime", "time to value",
            "nrr" or "grr" (first year), or a value stream (per customer).
        groups : dict, optional
            ``{group: [change names]}``, names as in :attr:`changes`.

        Returns
        -------
        Attribution
            ``.contributions``, ``.table``, ``.total``, ``.plot()`` (waterfall).
        """
        m = metric_of(metric, self.periods, self.optimised.streams)
        names = [c.name for c in self._aligned.changes]
        chosen = check_groups(groups, names)
        ends = []
        for j in (self.current, self.optimised):
            a = j.analyze(self.periods, accrual=self.accrual)
            ends.append(metric_value(a, m))
        return attribute(
            self._aligned,
            m,
            chosen,
            periods=self.periods,
            accrual=self.accrual,
            units=self.units,
            current_value=ends[0],
            optimised_value=ends[1],
        )

    def _tables(self) -> list[tuple[str, pd.DataFrame]]:
        per_title, pop_title = self._titles()
        return [(per_title, self.per_customer), (pop_title, self.population)]

    def _repr_html_(self) -> str:
        out = ""
        for title, t in self._tables():
            out += table(["", *t.index], self._shown(t), title)
        if len(self.changes):
            out += table(
                ["change", "kind"],
                [[k, r["kind"]] for k, r in self.changes.iterrows()],
                "What differs between the journeys",
            )
        return out

    def to_text(self) -> str:
        """The per-customer and population tables (current, optimised,
        difference) written for people, for printing."""
        parts: list[str] = []
        for title, t in self._tables():
            rows = self._shown(t)
            frame = pd.DataFrame(
                [r[1:] for r in rows], index=[r[0] for r in rows], columns=list(t.index)
            )
            parts += [title + ":", frame.to_string()]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return (
            f"<JourneyComparison current vs optimised ({self.method})>\n"
            + self.to_text()
        )


def _with_difference(t: pd.DataFrame) -> pd.DataFrame:
    """The table with a row "difference": optimised less current, for every
    figure (interval and paired columns are left empty there)."""
    diff = {}
    for c in t.columns:
        if c.endswith((" low", " high", " diff")) or not pd.api.types.is_numeric_dtype(
            t[c]
        ):
            diff[c] = np.nan
        else:
            diff[c] = float(t.at["optimised", c]) - float(t.at["current", c])
    out = pd.concat([t, pd.DataFrame([diff], index=["difference"])])
    out.index.name = t.index.name
    return out


def compare_journeys(
    current: Journey,
    optimised: Journey,
    periods: int = 36,
    *,
    mapping: Mapping | None = None,
    method: str = "exact",
    customers: int | None = None,
    seed: int | None = None,
    replications: int = 1,
    horizons: Sequence[int] | None = None,
    accrual: str = "start",
    threads: int | None = None,
    progress: bool | None = None,
) -> JourneyComparison:
    """Compare the current (as-is) journey with an optimised (to-be) one: every
    outcome side by side and the differences, and what each change is worth
    (:meth:`JourneyComparison.attribution`).

    The two journeys may differ in transition probabilities, values, tenure
    pieces, segment shares and arrivals. When their stages differ, ``mapping``
    says how they correspond: ``{optimised stage: current stage or None}``
    (None: a new stage; stages with the same name map to themselves). Each
    current stage is represented by the first optimised stage mapped to it;
    the other optimised stages (new ones, or a second stage split from an old
    one) are unreached in the current journey. What cannot be compared is an
    InputError that says why: different time units or currencies, value
    streams, net weights, discount rates or segments; stages that differ
    without a mapping; a mapping to unknown stages, or leaving a current stage
    unmapped; a stage absorbing in one journey and not in the other.

    Parameters
    ----------
    current, optimised : Journey
    periods : int
        The horizon, in the journeys' time unit.
    mapping : dict, optional
    method : {"exact", "simulate"}
        Exact analysis, or Monte Carlo with common random numbers (both
        journeys simulated with the same seed, ``customers`` each, default
        100,000): figures come with the 95% interval of their paired
        difference.
    customers, seed, replications, threads, progress
        For ``method="simulate"``, as in :func:`compare`.
    horizons : list of int, optional
        Periods at which retention is shown (default: ``periods``).
    accrual : {"start", "end", "half-cycle", "life-table"}

    Returns
    -------
    JourneyComparison
        ``per_customer`` and ``population`` tables (rows current, optimised,
        difference), ``changes``, ``attribution(metric=...)``, ``plot()``,
        ``to_text()``.

    Examples
    --------
    >>> import journeysim as js
    >>> now = js.Journey(["active", "churned"], {"active": {"churned": 0.10}},
    ...                  values={"revenue": {"active": 100.0}}, cohort_size=1000)
    >>> better = js.Journey(["active", "churned"], {"active": {"churned": 0.05}},
    ...                     values={"revenue": {"active": 110.0}}, cohort_size=1000)
    >>> d = js.compare_journeys(now, better, periods=12)
    >>> d.per_customer["CLV"].round(2).tolist()
    [717.57, 1011.21, 293.64]
    >>> a = d.attribution("clv")
    >>> a.contributions.round(2).to_dict()
    {'transitions from active': 211.79, 'revenue in active': 81.84}
    >>> bool(abs(a.contributions.sum() - a.total) < 1e-9 * a.total)
    True
    """
    horizons = check_horizons(periods, horizons)
    if method not in ("exact", "simulate"):
        raise InputError(
            f"method must be 'exact' or 'simulate', got {method!r}", key=("method",)
        )
    if method == "exact" and customers is not None:
        raise InputError("customers= is for method='simulate'", key=("customers",))
    accrual_of(accrual)
    aligned = align(current, optimised, mapping)
    plans = [Plan(NAMES[0], []), Plan(NAMES[1], [])]
    applied = {
        p.name: apply_plan(j, p, cost_rate=0.0, simulate=method == "simulate")
        for p, j in zip(plans, (current, optimised), strict=True)
    }
    streams = list(optimised.streams)
    shared = dict(
        periods=periods, horizons=horizons, accrual=accrual, rate=0.0, streams=streams
    )
    with interrupt.session():
        if method == "exact":
            evaluated = exact_rows(plans, applied, journey=current, **shared)
        else:
            customers = check_integer(
                100_000 if customers is None else customers,
                "customers",
                1,
                MAX_CUSTOMERS,
            )
            check_integer(replications, "replications", 1, MAX_REPLICATIONS)
            evaluated = simulated_rows(
                plans,
                applied,
                customers=customers,
                seed=seed,
                replications=replications,
                threads=threads,
                progress=progress,
                **shared,
            )
    summary = pd.DataFrame(evaluated.rows).set_index("plan")
    summary = summary[[c for c in summary.columns if _journey_column(c)]]
    summary.index.name = "journey"
    journeys = {n: a.journey for n, a in applied.items()}
    return JourneyComparison(
        summary,
        journeys,
        evaluated.results,
        "exact" if method == "exact" else "monte carlo",
        periods,
        aligned=aligned,
        accrual=accrual,
        current=current,
        optimised=optimised,
    )
