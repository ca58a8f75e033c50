"""The Journey: stages, transitions, value streams, segments and arrivals."""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base.calendar import check_start
from .._base.checks import stage_index
from .._base.conventions import (
    ACCRUALS,
    COST_STREAM,
    MAX_PERIOD,
    STAGE_METADATA,
    accrual_of,
)
from .._base.errors import InputError
from .._base.native import _core, core_errors
from .._base.pieces import is_tenure_dict
from .._base.resolved import Arrivals, CapacityRule, ResolvedJourney, Segment
from .._base.units import Units
from .._base.warnings import IllConditionedWarning, InfiniteLifetimeWarning
from ..results import chain
from ..results.analysis import Analysis
from ..results.chain import CommunicatingClass
from ..results.simulation import Simulation
from ..view.display import table
from ..view.plot import journey_diagram
from .coerce import resolve, stage_names
from .core_journey import build_core, normalised
from .map_editing import MapEditing
from .moments import rank_moments
from .simulate import run_simulation
from .spec_read import build_from_spec
from .spec_write import sparse_rows, write_journey
from .team_capacity import journey_budgets

__all__ = ["Journey"]


class Journey(MapEditing):
    """A customer journey: a Markov chain over stages, with value streams.

    Parameters
    ----------
    stages : list of str
        Stage names, in order. Absorbing (terminal) stages such as ``"churned"``
        are detected as the stages that never leave, or named in ``absorbing``.
    transitions : dict, array or DataFrame
        Per-period transition probabilities. Either a sparse dict
        ``{from: {to: p}}`` where whatever a row does not assign stays in its
        stage (a row that names its own stage must sum to 1), or a full
        row-stochastic matrix (numpy, nested lists, or a DataFrame labelled with
        the stages). Tenure-dependent: ``{0: spec, 3: spec}`` means "from tenure
        3 on"; a later dict piece replaces only the rows it names.
    values : dict, optional
        Value streams ``{stream: {stage: amount per customer per period}}``
        (stages not named earn 0), or ``{stream: {tenure: {stage: amount}}}``
        for tenure-dependent amounts.
    transition_values : dict, optional
        Amounts incurred on a move, ``{stream: {(from, to): amount}}``; ``"*"``
        stands for any other stage (``("*", "renewed")`` is a fee on entering
        ``renewed``). Incurred in the period of the move, discounted like
        ``accrual="end"``.
    start : dict or array, optional
        Distribution over stages at t = 0 (must sum to 1). Default: all in the
        first stage.
    discount_rate : float or dict, default 0.0
        Per-period discount rate, shared or ``{stream: rate}``; must be > -1.
    absorbing : list of str, optional
        The absorbing stages. Default: those that never leave in any tenure
        piece of any segment; ``[]`` for none at all (a stage that stays put
        is then still a stage customers are retained in). A declared absorbing
        stage may not have exits.
    value_stages : str or list of str, optional
        The stage(s) whose first reaching is "time to value".
    net : dict, optional
        Weights of the streams in net value (CLV), e.g.
        ``{"revenue": 1, "cost_to_serve": -1}``. Default: every stream with +1.
    segments : dict, optional
        ``{name: {"share": s, "transitions": ..., "values": ...,
        "transition_values": ..., "start": ...}}``. Shares must sum to 1. A
        segment's transitions and values apply on top of the journey's (a dict
        replaces only the rows/stages it names, a matrix replaces all); its
        start replaces the journey's.
    arrivals : float, sequence or Series, optional
        New customers joining at t = 1, 2, ...: one number for every period, or
        a sequence for periods 1..len (none after). They start like ``start``.
        A Series on a ``PeriodIndex`` (``pd.period_range("2026-01", periods=12,
        freq="M")``) gives them by signup period: the same numbers, with the
        first signup period as t = 0 of a calendar (docs/calendar.md).
    cohort_size : float, default 1.0
        Customers at t = 0, for population totals.
    metadata : dict, optional
        ``{stage: {"description", "owner", "channels", "touchpoints", "kpis"}}``.
    moments_of_truth : list, optional
        Stages or ``(from, to)`` transitions flagged as moments of truth.
    normalize : bool, default False
        Rescale rows, start and shares that do not sum to 1 instead of failing.
    time_unit : str, default "period"
        What one period is: ``"day"``, ``"week"``, ``"month"``, ``"quarter"``
        or ``"year"`` (labels only: "retention at 12 months").
    currency : str, optional
        ISO 4217 code of the money streams (``"USD"``, ``"EUR"``): figures are
        written as money ("$16,516"). Default: plain numbers.
    locale : str, default "en_US"
        How numbers and money are written (Babel locale name, e.g. ``"de_DE"``).
    scores : dict, optional
        Per-stage scores ``{score: {stage: number}}`` such as an NPS or CSAT:
        averaged over the customers present (stages without a score are left
        out), not discounted or summed over time like a value stream.
    team_capacity : dict, optional
        ``{team: customers per period}``: what each team of the map (a stage
        ``owner`` in ``metadata``) can handle per period, shared by every
        intervention it runs in any plan (a plan's own ``capacity`` overrides
        it). Makes plans with such interventions simulation only; see
        docs/capacity.md.
    name : str, optional

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(
    ...     stages=["active", "churned"],
    ...     transitions={"active": {"churned": 0.1}},
    ...     values={"revenue": {"active": 100.0}},
    ... )
    >>> round(j.analyze(periods=12).expected_lifetime, 6)
    10.0
    """

    def __init__(
        self,
        stages: Sequence[str],
        transitions: Any,
        *,
        values: Mapping | None = None,
        transition_values: Mapping | None = None,
        start: Any = None,
        discount_rate: float | Mapping = 0.0,
        absorbing: Iterable[str] | None = None,
        value_stages: str | Iterable[str] | None = None,
        net: Mapping | None = None,
        segments: Mapping | None = None,
        arrivals: float | Sequence[float] | None = None,
        cohort_size: float = 1.0,
        metadata: Mapping | None = None,
        moments_of_truth: Iterable | None = None,
        normalize: bool = False,
        time_unit: str = "period",
        currency: str | None = None,
        locale: str = "en_US",
        scores: Mapping | None = None,
        team_capacity: Mapping[str, int] | None = None,
        name: str | None = None,
    ) -> None:
        given = resolve(
            stages,
            transitions,
            values=values,
            transition_values=transition_values,
            start=start,
            discount_rate=discount_rate,
            absorbing=absorbing,
            value_stages=value_stages,
            net=net,
            segments=segments,
            arrivals=arrivals,
            cohort_size=cohort_size,
            metadata=metadata,
            moments_of_truth=moments_of_truth,
            normalize=normalize,
            time_unit=time_unit,
            currency=currency,
            locale=locale,
            scores=scores,
        )
        if team_capacity is not None:
            given = dataclasses.replace(
                given, team_capacity=journey_budgets(team_capacity, given.owners())
            )
        self._init(given, name)

    def _init(self, resolved: ResolvedJourney, name: Any) -> None:
        """The one place a journey is built: the core validates the resolved
        arrays (once), and the journey keeps them as the core normalised them."""
        self.name = name
        self._core = build_core(resolved)
        self._resolved = normalised(resolved, self._core)
        # Its arrays are the journey's: read-only, so that nothing can change
        # them behind the core's back (a derived journey copies what it changes).
        self._resolved.freeze_arrays()

    @classmethod
    def _from_resolved(cls, resolved: ResolvedJourney, name: Any) -> Journey:
        j = object.__new__(cls)
        j._init(resolved, name)
        return j

    def derive(
        self,
        *,
        segments: Sequence[Segment] | None = None,
        streams: Sequence[str] | None = None,
        rates: Mapping[str, float] | None = None,
        weights: Sequence[float] | None = None,
        absorbing: Sequence[int] | None = None,
        capacity: Sequence[CapacityRule] | None = None,
        arrivals: Arrivals | None = None,
        name: str | None = None,
    ) -> Journey:
        """A journey like this one with some resolved parts replaced: what a
        plan, a fitted draw or another discount rate makes of it (for use
        inside the package). Its numbers are taken as they are (no
        normalisation) and validated by the core like any journey's."""
        r = self._resolved
        new = dataclasses.replace(
            r,
            segments=r.segments if segments is None else tuple(segments),
            streams=r.streams if streams is None else tuple(streams),
            rates=r.rates if rates is None else dict(rates),
            weights=r.weights if weights is None else tuple(weights),
            absorbing=r.absorbing if absorbing is None else tuple(absorbing),
            capacity=r.capacity if capacity is None else tuple(capacity),
            arrivals=r.arrivals if arrivals is None else arrivals,
            normalize=False,
        )
        return type(self)._from_resolved(new, name or self.name)

    def with_transitions(
        self, other: Journey, *, what: str = "the other journey", mine: str = "this one"
    ) -> Journey:
        """This journey with ``other``'s transition matrices (a fitted or drawn
        journey): values, metadata, starts, shares and discounting stay this
        one's. One segment of ``other`` serves every segment; several are
        matched by name. For use inside the package: a mismatch is an
        InputError naming ``what`` (the other journey) and ``mine`` (this one)."""
        if other.stages != self.stages:
            raise InputError(f"{what} has stages {other.stages}, {mine} {self.stages}")
        theirs = {seg.name: seg for seg in other.resolved.segments}
        ours = self._resolved.segments
        if len(theirs) > 1 and set(theirs) != {seg.name for seg in ours}:
            raise InputError(
                f"{what} has segments {sorted(theirs)}, {mine} "
                f"{sorted(seg.name for seg in ours)}"
            )
        one = next(iter(theirs.values()))
        segments = [
            dataclasses.replace(
                seg,
                transitions=(theirs[seg.name] if len(theirs) > 1 else one).transitions,
            )
            for seg in ours
        ]
        return self.derive(segments=segments)

    @property
    def resolved(self) -> ResolvedJourney:
        """The validated, index-based form of the journey (for the package's
        own use: compare, fit, flows read it; never changed)."""
        return self._resolved

    @property
    def core(self) -> _core.Journey:
        """The core's journey object (for the package's own use)."""
        return self._core

    @property
    def is_plan_journey(self) -> bool:
        """Made by a plan: it carries the plan's cost stream or capacity rules."""
        return bool(self._resolved.capacity) or COST_STREAM in self._resolved.streams

    # -- construction -----------------------------------------------------------

    @classmethod
    def from_matrix(cls, matrix: Any, stages: Sequence[str] | None = None, **kwargs):
        """A journey from a full transition matrix.

        ``matrix`` is a square numpy array (then ``stages`` names its rows), a
        DataFrame labelled with stage names (``stages`` optional, to reorder),
        or ``{tenure: matrix}`` for tenure-dependent transitions. Other keyword
        arguments are those of :class:`Journey`.
        """
        first = matrix[min(matrix)] if is_tenure_dict(matrix) else matrix
        if stages is not None:
            stages = stage_names(stages)
        if stages is None:
            if not isinstance(first, pd.DataFrame):
                raise InputError(
                    "from_matrix: pass stages=[...] for an unlabelled matrix"
                )
            stages = [str(s) for s in first.index]
        return cls(list(stages), matrix, **kwargs)

    # -- the canonical spec: files and pickling -----------------------------------

    def to_spec(self) -> dict:
        """The journey as a canonical, human-readable dict of plain Python
        values: what a model file's ``journey:`` section holds.

        Everything the constructor takes is there, in a fixed order: ``name``,
        ``stages`` (a plain name, or ``{name, owner, description, channels,
        touchpoints, kpis, moment_of_truth}``), ``transitions`` as sparse rows
        ``{from: {to: p}}`` (the rest of a row stays; the stay is named whenever
        "the rest" would not give it bit for bit; tenure pieces as ``{0: rows,
        3: rows that change}``), ``values`` per stream (sparse ``{stage:
        amount}``, tenure pieces likewise), ``transition_values`` as ``{stream:
        {from: {to: amount}}}``, ``start``, ``discount_rate`` (one number, or
        ``{stream: rate}`` when they differ), ``net`` (when not every stream
        counts +1), ``value_stages``, ``absorbing`` (only when given: ``[]``
        means none, a missing key means detected), ``moments_of_truth`` (the
        ``[from, to]`` transitions; flagged stages carry ``moment_of_truth:
        true``), ``segments`` (``{name: {share, ...}}`` with only what differs
        from the journey's own transitions, values and start), ``arrivals`` and
        ``cohort_size`` (when not 1).

        Matrices, starts and shares are the ones the journey holds (after
        ``normalize``), so ``Journey.from_spec(j.to_spec())`` rebuilds them bit
        for bit and gives the same spec back. Numbers are Python floats, whose
        ``repr`` survives YAML and JSON text exactly.

        Raises
        ------
        ValueError
            For the journey a plan produces (it has the plan's cost stream and
            capacity rules): save the journey and the plan instead.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(
        ...     ["trial", "paying", "churned"],
        ...     {"trial": {"paying": 0.3, "churned": 0.2}, "paying": {"churned": 0.05}},
        ...     values={"revenue": {"paying": 50}},
        ...     discount_rate=0.01,
        ... )
        >>> spec = j.to_spec()
        >>> spec["transitions"]
        {'trial': {'paying': 0.3, 'churned': 0.2}, 'paying': {'churned': 0.05}}
        >>> spec["values"], spec["start"], spec["discount_rate"]
        ({'revenue': {'paying': 50.0}}, {'trial': 1.0}, 0.01)
        >>> js.Journey.from_spec(spec) == j
        True
        """
        if self.is_plan_journey:
            raise InputError(
                "this journey is what a plan makes of a journey (it carries the "
                f"plan's {COST_STREAM!r} stream): save the journey and the plan "
                "instead"
            )
        return write_journey(self._resolved, self.name)

    @classmethod
    def from_spec(cls, spec: Mapping) -> Journey:
        """A journey from the dict form of :meth:`to_spec` (or one a person
        wrote: the same keys as the constructor's, with stages that may carry
        their metadata, tenure keys as integers or digit strings, transition
        values as ``{stream: {from: {to: amount}}}`` with ``"*"`` for any stage,
        and an optional ``normalize: true``).

        Every part is checked before the journey is built, and a problem is a
        ValueError that names its key path, e.g. ``transitions.onboarding.
        churned: probability 1.3 is outside [0, 1]``; a wrong type (a string
        where a number belongs, a boolean for a number) is a ValueError too.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey.from_spec({
        ...     "stages": [{"name": "active", "owner": "CS"}, "churned"],
        ...     "transitions": {"active": {"churned": 0.1}},
        ...     "values": {"revenue": {"active": 100}},
        ... })
        >>> j.owner("active"), round(j.analyze(periods=12).expected_lifetime, 6)
        ('CS', 10.0)
        >>> try:
        ...     js.Journey.from_spec(
        ...         {"stages": ["a", "b"], "transitions": {"a": {"b": 1.5}}}
        ...     )
        ... except ValueError as err:
        ...     print(err)
        transitions.a.b: probability 1.5 is outside [0, 1]
        """
        return cls._from_spec(spec, strict=True)

    @classmethod
    def _from_spec(cls, spec: Mapping, *, strict: bool, sub_files=None) -> Journey:
        return build_from_spec(cls, spec, strict=strict, sub_files=sub_files)

    def __eq__(self, other: object) -> bool:
        """Equal when their canonical specs (:meth:`to_spec`) are equal: the same
        stages, matrices, values, starts, shares, metadata and name."""
        if not isinstance(other, Journey):
            return NotImplemented
        if self is other:
            return True
        try:
            return self.to_spec() == other.to_spec()
        except ValueError:  # a plan's journey: only equal to itself
            return False

    def __hash__(self) -> int:
        # Consistent with __eq__ (equal journeys have the same stages) and cheap.
        return hash(("Journey", tuple(self.stages)))

    def __reduce__(self):
        # Through the canonical spec, so that a pickle is the same plain data as
        # a model file; the journey a plan produces travels as its arrays.
        if self.is_plan_journey:
            return (type(self)._from_resolved, (self._resolved, self.name))
        return (_journey_from_spec, (type(self), self.to_spec()))

    # -- what it is -------------------------------------------------------------

    @property
    def stages(self) -> list[str]:
        """Stage names, in order."""
        return list(self._resolved.stages)

    @property
    def streams(self) -> list[str]:
        """Value stream names, in order."""
        return list(self._resolved.streams)

    @property
    def segments(self) -> list[str]:
        """Segment names (``["all"]`` for an unsegmented journey)."""
        return self._resolved.segment_names

    @property
    def absorbing(self) -> list[str]:
        """The absorbing (terminal) stages."""
        return [s for s, a in zip(self.stages, self._core.absorbing) if a]

    @property
    def transient(self) -> list[str]:
        """The stages that are not absorbing (a customer can leave them). Not
        the Markov sense, in which a closed class of stages customers cycle
        through for ever is recurrent: see :meth:`classification`."""
        return [s for s, a in zip(self.stages, self._core.absorbing) if not a]

    # -- the journey as a Markov chain (results/chain.py) -------------------------

    def communicating_classes(
        self, segment: str | None = None
    ) -> list[CommunicatingClass]:
        """The communicating classes of the long-run matrix (from the last
        tenure break on) of a segment (None: the only one), recurrent first:
        each a :class:`CommunicatingClass` with its stages, whether it is
        recurrent (closed) and its period."""
        return chain.communicating_classes(self, segment)

    def classification(self, segment: str | None = None) -> pd.DataFrame:
        """Per stage, in the Markov sense: its class (numbered as
        :meth:`communicating_classes`), ``kind`` (``"recurrent"`` or
        ``"transient"``), the class's period and whether it is absorbing.

        Examples
        --------
        >>> import journeysim as js
        >>> moves = {"a": {"b": 0.5}, "b": {"c": 1.0}, "c": {"b": 1.0}}
        >>> c = js.Journey(["a", "b", "c"], moves).classification()
        >>> c["kind"].tolist(), c["period"].tolist()
        (['transient', 'recurrent', 'recurrent'], [1, 2, 2])
        """
        return chain.classification(self, segment)

    def stationary_distribution(self, segment: str | None = None) -> pd.DataFrame:
        """The stationary distribution of each recurrent class of the long-run
        matrix (rows; columns: stages). Every stationary distribution of the
        journey is a mixture of these rows; an absorbing stage is a class of
        its own. Computed subtraction-free (GTH): tiny shares keep full
        relative precision."""
        return chain.stationary_distribution(self, segment)

    def hitting_probabilities(
        self, target: str | Iterable[str], avoid: str | Iterable[str] = ()
    ) -> pd.DataFrame:
        """For a customer in each stage at tenure 0: the probability of reaching
        ``target`` (a stage or stages) before ``avoid``, its complement
        ``never`` (computed on its own: exactly 0 when reaching is certain), and
        the mean periods to get there for those who do (``mean_periods``) and
        over everyone (``mean_periods_unconditional``, ``inf`` unless certain).
        Segments are mixed by their shares.

        Examples
        --------
        >>> import journeysim as js
        >>> moves = {"trial": {"paid": 0.3, "churned": 0.2}, "paid": {"churned": 0.05}}
        >>> j = js.Journey(["trial", "paid", "churned"], moves)
        >>> h = j.hitting_probabilities("paid").loc["trial"]
        >>> h.round(6).tolist()  # probability, never, mean_periods, unconditional
        [0.6, 0.4, 2.0, inf]
        """
        return chain.hitting_probabilities(self, target, avoid)

    def first_returns(self, segment: str | None = None) -> pd.DataFrame:
        """For each stage, in the long run: the probability of ever being there
        again one or more periods later (``probability``; staying counts),
        ``never`` its complement, and the mean periods until then for those who
        return (``mean_periods``; 1 / stationary share for a recurrent stage)
        and over everyone (``mean_periods_unconditional``)."""
        return chain.first_returns(self, segment)

    @property
    def units(self) -> Units:
        """What the journey counts in: ``time_unit``, ``currency``, ``locale``."""
        return self._resolved.units

    @property
    def scores(self) -> pd.DataFrame:
        """Per-stage scores (columns), ``nan`` where a stage has none."""
        r = self._resolved
        return pd.DataFrame(
            {s.name: list(s.values) for s in r.scores},
            index=pd.Index(self.stages, name="stage"),
            columns=pd.Index([s.name for s in r.scores], name="score"),
            dtype=float,
        )

    @property
    def value_stages(self) -> list[str]:
        """The stages whose first reaching is "time to value"."""
        return [self._resolved.stages[i] for i in self._resolved.value_stages]

    @property
    def shares(self) -> pd.Series:
        """Segment shares (after normalisation)."""
        return pd.Series(
            [self._core.share(i) for i in range(len(self.segments))],
            index=pd.Index(self.segments, name="segment"),
            name="share",
        )

    @property
    def start(self) -> pd.Series:
        """Start distribution over stages (share-weighted over segments)."""
        x = self._resolved.start_distribution()
        return pd.Series(x, index=self._stage_index(), name="start")

    @property
    def transition_matrix(self) -> pd.DataFrame:
        """The tenure-0 transition matrix, labelled; for a segmented journey the
        rows are indexed by (segment, from)."""
        frames = {s: self.transition_matrices(segment=s)[0] for s in self.segments}
        if len(frames) == 1:
            return next(iter(frames.values()))
        return pd.concat(frames, names=["segment", "from"])

    def transition_matrices(
        self, segment: str | None = None
    ) -> dict[int, pd.DataFrame]:
        """``{tenure start: matrix}`` for one segment (the only one by default)."""
        i = self.segment_position(segment)
        idx = self._stage_index()
        return {
            t: pd.DataFrame(
                np.array(m), index=idx.rename("from"), columns=idx.rename("to")
            )
            for t, m in zip(self._core.transition_starts(i), self._core.transitions(i))
        }

    def to_dict(self, segment: str | None = None) -> dict:
        """Sparse rows ``{from: {to: p}}`` of the tenure-0 matrix (moves only;
        what is left of a row stays put), or ``{tenure: rows}`` when tenure
        dependent, where a later piece lists only the rows that change.
        ``Journey(stages, j.to_dict())`` rebuilds the same matrices bit for bit."""
        mats = list(self.transition_matrices(segment).items())
        rows = {}
        prev = None
        for t, m in mats:
            rows[t] = sparse_rows(m, prev)
            prev = m
        return rows[0] if len(rows) == 1 else rows

    @property
    def stage_info(self) -> pd.DataFrame:
        """Journey-map metadata per stage, with absorbing and moment-of-truth flags."""
        records = []
        for s, a in zip(self.stages, self._core.absorbing):
            meta = self._resolved.metadata.get(s, {})
            records.append(
                {
                    **{k: meta.get(k) for k in STAGE_METADATA},
                    "absorbing": bool(a),
                    "moment_of_truth": s in self._resolved.moments,
                }
            )
        return pd.DataFrame.from_records(records, index=self._stage_index())

    @property
    def flagged_moments(self) -> list:
        """Stages and (from, to) transitions flagged as moments of truth."""
        return list(self._resolved.moments)

    def moments_of_truth(
        self,
        metric: str = "clv",
        horizon: int | None = None,
        *,
        to: str | Mapping | None = None,
        accrual: str = "start",
    ) -> pd.DataFrame:
        """Where a point of improvement pays most: every transition ranked by
        the exact sensitivity of ``metric`` to moving one percentage point of its
        probability.

        Parameters
        ----------
        metric : {"clv", "lifetime", "retention"}
            Net value per customer, expected lifetime (periods), or retention at
            ``horizon``.
        horizon : int, optional
            Periods; None is the whole lifetime (not for retention).
        to : str or dict, optional
            Where the moved probability goes (or comes from): a stage for every
            row, ``{from: stage}`` per row; default: staying in the row's stage.
        accrual : {"start", "end", "half-cycle", "life-table"}

        Returns
        -------
        DataFrame
            One row per transition ``(from, to)`` with a positive probability,
            best first: ``probability``, ``sensitivity`` (change of the metric
            per unit of probability moved from the destination to this
            transition), ``direction`` ("decrease" when lowering the transition
            helps, "increase" otherwise), ``gain_per_point`` (the metric gained
            by a one-point change in that direction) and ``moment_of_truth``
            (flagged in the journey). Derivatives are exact (backward
            recursion, and the fundamental matrix for the whole lifetime).
        """
        return rank_moments(self, metric, horizon, to=to, accrual=accrual)

    def owner(self, stage: str) -> str | None:
        stage_index(self._resolved.stages, stage, "owner")
        return self._resolved.metadata.get(stage, {}).get("owner")

    # -- analysis ---------------------------------------------------------------

    def analyze(
        self, periods: int = 36, *, accrual: str = "start", start: Any = None
    ) -> Analysis:
        """Exact expected outcomes of the journey over ``periods`` periods and over
        the whole customer lifetime.

        Conventions: x_0 is the start distribution; period k = 1..periods moves
        x_{k-1} to x_k with the matrix for tenure k-1. With ``accrual="start"``
        period k earns on x_{k-1}, discounted by (1+r)^-(k-1); ``"end"`` earns on
        x_k discounted by (1+r)^-k; ``"half-cycle"`` on (x_{k-1}+x_k)/2
        discounted by (1+r)^-(k-1/2); ``"life-table"`` on the same average
        discounted by (1+r)^-(k-1), which is what heemod's ``method =
        "life-table"`` with its ``discount(x, r)`` gives. Transition values
        accrue like ``"end"``.
        Expected lifetime counts periods started in a transient stage.

        Worked example: one stage "active" earning 100 per period, leaving to
        "churned" with p = 0.5, r = 0: "start" gives 100 + 50 + 25 + ... = 200,
        "end" gives 50 + 25 + ... = 100, "half-cycle" and "life-table" give 150
        (they differ only when r is not 0).

        ``start`` ("2026-01", a ``pd.Period``): the calendar period of t = 0;
        every time index is then a ``PeriodIndex`` (docs/calendar.md). Arrivals
        given by signup date set it themselves (the first signup period).

        Returns an :class:`~journeysim.Analysis` of labelled pandas objects.
        """
        calendar = self._calendar(start)
        if isinstance(periods, bool) or not isinstance(periods, numbers.Integral):
            raise InputError(f"periods must be an integer, got {periods!r}")
        if periods < 0:
            raise InputError(f"periods must be >= 0, got {periods}")
        if periods > MAX_PERIOD:
            raise InputError(f"periods must be at most {MAX_PERIOD:,}, got {periods}")
        if self._resolved.capacity:
            raise InputError(
                "this journey has capacity limits, which make effects nonlinear: "
                "they can only be simulated (use simulate())"
            )
        accrual_of(accrual)
        with core_errors():
            result = _core.analyze(self._core, int(periods), ACCRUALS[accrual])
        # The core's warnings, issued here (from the caller's line) rather than
        # by the bindings: ill-conditioning first, as the core finds it.
        for msg in result.condition_warnings:
            warnings.warn(msg, IllConditionedWarning, stacklevel=2)
        for msg in result.warnings:
            warnings.warn(msg, InfiniteLifetimeWarning, stacklevel=2)
        return Analysis(result, self, accrual, start=calendar)

    def _calendar(self, start: Any) -> pd.Period | None:
        """The calendar period of t = 0: ``start``, or the dated arrivals'."""
        dated = self._resolved.arrivals.start
        if start is None:
            return dated
        period = check_start(start, self.units)
        if dated is not None and period != dated:
            raise InputError(
                f"start {period} differs from the first signup period of the "
                f"journey's dated arrivals ({dated}): leave start out, or date "
                "the arrivals from it",
                key=("start",),
            )
        return period

    def simulate(
        self,
        customers: int,
        periods: int = 36,
        *,
        seed: int | None = None,
        replications: int = 1,
        threads: int | None = None,
        record: str | None = None,
        progress: bool | None = None,
        method: str = "individual",
        accrual: str = "start",
        engine: str = "sojourn",
    ) -> Simulation:
        """Monte Carlo simulation of ``customers`` customers (plus the journey's
        arrivals) over ``periods`` periods.

        Parameters
        ----------
        customers : int
            Size of the starting cohort (> 0). Arrivals follow the journey's
            ``arrivals`` (fractional numbers are rounded up with probability
            equal to the fraction).
        periods : int
            Horizon; the same time line and value conventions as :meth:`analyze`.
        seed : int, optional
            In [0, 2**64). The same seed gives bit-identical results whatever
            ``threads`` is. None draws one (kept as ``Simulation.seed``).
        replications : int
            Independent repetitions, for means and percentile bands.
        threads : int, optional
            Worker threads; None uses every core. The GIL is released.
        record : {None, "events", "totals"}
            None keeps per-customer arrays (first replication); "events" also
            keeps the event log (customer, period, from, to); "totals" keeps
            neither, for the smallest memory.
        progress : bool, optional
            Show a tqdm progress bar; None shows one for long runs only.
        method : {"individual", "aggregate"}
            "individual" moves each customer; "aggregate" moves the counts per
            stage by multinomial splitting, at a cost independent of the
            number of customers (no per-customer arrays).
        accrual : {"start", "end", "half-cycle", "life-table"}
        engine : {"sojourn", "period"}
            How the individual method draws a customer's path: "sojourn" draws
            how long each stay lasts and where the customer goes next (cost per
            move, fastest on sticky journeys); "period" draws every period. The
            same process, different random numbers for a given seed. Plans with
            a capacity or a calendar window always run period by period; the
            aggregate method has no engine. See docs/algorithms.md.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}})
        >>> s = j.simulate(customers=10_000, periods=12, seed=1)
        >>> bool(abs(s.retention[12] - 0.9**12) < 0.02)
        True
        """
        return run_simulation(
            self,
            customers,
            periods,
            seed=seed,
            replications=replications,
            threads=threads,
            record=record,
            progress=progress,
            method=method,
            accrual=accrual,
            engine=engine,
        )

    # -- plumbing ---------------------------------------------------------------

    def _stage_index(self) -> pd.Index:
        return pd.Index(self.stages, name="stage")

    def segment_position(self, segment: str | None) -> int:
        """The index of ``segment`` (None: the only one), for the package's use."""
        if segment is None:
            if len(self.segments) > 1:
                raise InputError(f"this journey has segments {self.segments}: name one")
            return 0
        if segment not in self.segments:
            raise InputError(
                f"unknown segment {segment!r}; the segments are {self.segments}"
            )
        return self.segments.index(segment)

    def plot(self, ax=None, min_probability: float = 0.01):
        """The journey as a map: stages in lanes by owner team, moves with their
        probabilities, moments of truth in red; returns the Axes."""
        return journey_diagram(self, ax=ax, min_probability=min_probability)

    def _repr_html_(self) -> str:
        info = self.stage_info
        P = self.transition_matrices(self.segments[0])[0]
        rows = []
        for s in self.stages:
            exits = {t: p for t, p in P.loc[s].items() if t != s and p > 0}
            moves = ", ".join(f"{t} {p:.3g}" for t, p in exits.items())
            rows.append(
                [
                    s,
                    info.loc[s, "owner"] or "",
                    "absorbing" if info.loc[s, "absorbing"] else moves,
                    bool(info.loc[s, "moment_of_truth"]),
                ]
            )
        title = f"Journey {self.name}" if self.name else "Journey"
        extra = []
        if self.streams:
            extra.append("streams: " + ", ".join(self.streams))
        if len(self.segments) > 1:
            extra.append("segments: " + ", ".join(self.segments))
        if self._core.stationary_from > 0:
            extra.append(f"tenure-dependent until {self._core.stationary_from}")
        note = (
            f"<div style='font-size:0.85em'>{'; '.join(extra)}</div>" if extra else ""
        )
        header = ["stage", "owner", "moves per period (tenure 0)", "moment of truth"]
        return table(header, rows, title) + note

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        parts = [f"{len(self.stages)} stages", f"absorbing={self.absorbing}"]
        if self.streams:
            parts.append(f"streams={self.streams}")
        if len(self.segments) > 1:
            parts.append(f"segments={self.segments}")
        if self._core.stationary_from > 0:
            parts.append(f"tenure-dependent until {self._core.stationary_from}")
        return f"<Journey{name}: " + ", ".join(parts) + ">"


def _journey_from_spec(cls, spec: dict):
    return cls._from_spec(spec, strict=False)
