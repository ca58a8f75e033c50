"""The Journey: stages, transitions, value streams, segments and arrivals."""

from __future__ import annotations

import difflib
import math
import numbers
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _core
from ._spec import is_tenure_dict, resolve_pieces, stage_index, to_matrix, to_vector
from .analysis import Analysis
from .simulation import Simulation
from .warnings import InfiniteLifetimeWarning

__all__ = ["ACCRUALS", "STAGE_METADATA", "Journey"]

#: Stage metadata a journey map carries (not used by the math).
STAGE_METADATA = ("description", "owner", "channels", "touchpoints", "kpis")

#: When the value of a period accrues; see :meth:`Journey.analyze`.
ACCRUALS = {
    "start": _core.Accrual.start,
    "end": _core.Accrual.end,
    "half-cycle": _core.Accrual.half_cycle,
}

Pieces = list  # [(tenure start, np.ndarray)]


class Journey:
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
    arrivals : float or sequence, optional
        New customers joining at t = 1, 2, ...: one number for every period, or
        a sequence for periods 1..len (none after). They start like ``start``.
    cohort_size : float, default 1.0
        Customers at t = 0, for population totals.
    metadata : dict, optional
        ``{stage: {"description", "owner", "channels", "touchpoints", "kpis"}}``.
    moments_of_truth : list, optional
        Stages or ``(from, to)`` transitions flagged as moments of truth.
    normalize : bool, default False
        Rescale rows, start and shares that do not sum to 1 instead of failing.
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
        name: str | None = None,
    ) -> None:
        if isinstance(stages, str) or not isinstance(stages, Iterable):
            raise ValueError(f"stages must be a list of names, got {stages!r}")
        stages = list(stages)
        if not stages:
            raise ValueError("a journey needs at least one stage")
        for s in stages:
            if not isinstance(s, str):
                raise ValueError(f"stage names must be strings, got {s!r}")
            if s == "*":
                raise ValueError(
                    "'*' cannot be a stage name: it stands for any stage in "
                    "interventions and transition values"
                )
        self._stages = stages
        self.name = name
        self._normalize = bool(normalize)
        self._metadata = _check_metadata(metadata, stages)
        self._moments = _check_moments(moments_of_truth, stages)

        tol = 1e-9
        base_p = resolve_pieces(
            transitions,
            stages,
            "transitions",
            base=None,
            kind="matrix",
            tol=tol,
            normalize=self._normalize,
        )
        streams = _stream_names(values, transition_values)
        if "intervention_cost" in streams:
            raise ValueError(
                "the value stream name 'intervention_cost' is reserved for the "
                "costs of plans"
            )
        self._streams = streams
        rates = _rates(discount_rate, streams)
        base_v = {
            s: resolve_pieces(
                (values or {}).get(s, {}),
                stages,
                f"values[{s!r}]",
                base=None,
                kind="vector",
            )
            for s in streams
        }
        base_moves = {
            s: _moves((transition_values or {}).get(s), stages, s) for s in streams
        }
        base_start = _start(start, stages, "start")

        seg_specs = []
        if segments is None:
            seg_specs.append(("all", 1.0, base_p, base_v, base_moves, base_start))
        else:
            if not isinstance(segments, Mapping) or not segments:
                raise ValueError("segments must be a non-empty dict {name: {...}}")
            for sname, seg in segments.items():
                seg_specs.append(
                    _segment(
                        sname,
                        seg,
                        stages,
                        streams,
                        base_p,
                        base_v,
                        base_moves,
                        base_start,
                        tol,
                        self._normalize,
                    )
                )
        absorbing_idx = (
            []
            if absorbing is None
            else [
                stage_index(stages, a, "absorbing")
                for a in _names(absorbing, "absorbing")
            ]
        )
        if absorbing is not None and not absorbing_idx:
            absorbing_idx = [-1]  # an empty list: no absorbing stage at all
        vstages = [] if value_stages is None else _names(value_stages, "value_stages")
        self._value_stages = vstages
        value_idx = [stage_index(stages, v, "value_stages") for v in vstages]
        weights = _net(net, streams)
        arr, constant = _arrivals(arrivals)
        if isinstance(cohort_size, bool) or not isinstance(cohort_size, numbers.Real):
            raise ValueError(f"cohort_size must be a number, got {cohort_size!r}")
        self._resolved = {
            "segments": seg_specs,
            "rates": rates,
            "absorbing": absorbing_idx,
            "value_stages": value_idx,
            "weights": weights,
            "arrivals": (arr, constant),
            "cohort_size": float(cohort_size),
            "tolerance": tol,
            # What segments apply on top of: kept so that to_spec() can write a
            # segment as the few things it changes.
            "base": (base_p, base_v, base_moves, base_start),
        }
        self._build()

    def _build(self) -> None:
        """Hand the resolved arrays to the core, which validates them."""
        r = self._resolved
        self._segment_names = [seg[0] for seg in r["segments"]]
        self._arrivals = r["arrivals"]
        core_segments = []
        for sname, share, pieces, vals, moves, st in r["segments"]:
            core_streams = [
                (
                    s,
                    r["rates"][s],
                    [t for t, _ in vals[s]],
                    [v for _, v in vals[s]],
                    moves[s],
                )
                for s in self._streams
            ]
            core_segments.append(
                (
                    sname,
                    share,
                    [t for t, _ in pieces],
                    [m for _, m in pieces],
                    core_streams,
                    st,
                )
            )
        self._core = _core.Journey(
            self._stages,
            core_segments,
            r["absorbing"],
            r["value_stages"],
            r["weights"],
            r["cohort_size"],
            r["arrivals"][0],
            r["arrivals"][1],
            self._normalize,
            r["tolerance"],
        )

    def _segment_specs(self) -> list[tuple]:
        """Per segment (name, share, [(tenure, matrix)], {stream: [(tenure,
        values)]}, {stream: moves or None}, start), with the core's normalised
        matrices, starts and shares."""
        out = []
        for i, (name, _, _, vals, moves, _) in enumerate(self._resolved["segments"]):
            pieces = list(
                zip(
                    self._core.transition_starts(i),
                    [np.array(m) for m in self._core.transitions(i)],
                    strict=True,
                )
            )
            out.append(
                (
                    name,
                    self._core.share(i),
                    pieces,
                    vals,
                    moves,
                    np.array(self._core.start(i)),
                )
            )
        return out

    def _derived(
        self,
        segments: list[tuple],
        *,
        streams: list[str] | None = None,
        rates: Mapping | None = None,
        weights: list[float] | None = None,
        absorbing: list[int] | None = None,
        name: str | None = None,
    ) -> Journey:
        """A journey like this one with other segments (and possibly extra value
        streams), built from resolved arrays: what a plan applied to it gives."""
        j = object.__new__(type(self))
        j.__dict__.update(
            {k: v for k, v in self.__dict__.items() if k not in ("_core", "_resolved")}
        )
        j._normalize = False
        if streams is not None:
            j._streams = list(streams)
        j._resolved = dict(self._resolved)
        j._resolved["segments"] = segments
        if rates is not None:
            j._resolved["rates"] = dict(rates)
        if weights is not None:
            j._resolved["weights"] = list(weights)
        if absorbing is not None:
            j._resolved["absorbing"] = list(absorbing)
        j.name = name or self.name
        j._build()
        return j

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
        if stages is not None and (
            isinstance(stages, str) or not isinstance(stages, Iterable)
        ):
            raise ValueError(f"stages must be a list of names, got {stages!r}")
        if stages is None:
            if not isinstance(first, pd.DataFrame):
                raise ValueError(
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
        if hasattr(self, "_capacity") or _COST_STREAM in self._streams:
            raise ValueError(
                "this journey is what a plan makes of a journey (it carries the "
                f"plan's {_COST_STREAM!r} stream): save the journey and the plan "
                "instead"
            )
        r = self._resolved
        stages = self._stages
        n = len(stages)
        streams = self._streams
        specs = self._segment_specs()
        single = len(specs) == 1 and specs[0][0] == "all" and specs[0][1] == 1.0
        # Segments are written as what they change in the journey's own
        # transitions, values and start (kept as given, rescaled as the core
        # rescales); without those, as what they change in the first segment.
        _, _, bp, bv, bm, bs = specs[0]
        base = r.get("base")
        if not single and base is not None and list(base[1]) == streams:
            tol = r["tolerance"]
            own_p = [(t, _normalized_rows(m, tol)) for t, m in base[0]]
            own_s = _normalized_rows(base[3][None, :], tol)[0]
            if all(_stochastic(m, tol) for _, m in own_p) and _stochastic(
                own_s[None, :], tol
            ):
                bp, bs = own_p, own_s
            bv, bm = base[1], base[2]
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name if isinstance(self.name, str) else str(self.name)
        out["stages"] = self._stage_entries()
        out["transitions"] = _journey_pieces(_rows_pieces(stages, [(0, np.eye(n))], bp))
        values = {
            s: _journey_pieces(_vector_pieces(stages, [(0, np.zeros(n))], bv[s]))
            for s in streams
        }
        # A trailing stream with transition values only needs no entry here:
        # the streams keep their order (values first, then the others).
        for s in reversed(streams):
            if values[s] or bm[s] is None:
                break
            del values[s]
        if values:
            out["values"] = values
        moves = {s: _moves_spec(stages, bm[s]) for s in streams if bm[s] is not None}
        if moves:
            out["transition_values"] = moves
        out["start"] = _amounts(stages, bs)
        rates = [float(r["rates"][s]) for s in streams]
        if rates:
            same = all(x == rates[0] for x in rates)
            out["discount_rate"] = rates[0] if same else dict(zip(streams, rates))
        if any(w != 1.0 for w in r["weights"]):
            out["net"] = {s: float(w) for s, w in zip(streams, r["weights"])}
        if self._value_stages:
            out["value_stages"] = list(self._value_stages)
        if r["absorbing"] == [-1]:
            out["absorbing"] = []
        elif r["absorbing"]:
            out["absorbing"] = [stages[i] for i in r["absorbing"]]
        pairs = [list(m) for m in self._moments if isinstance(m, tuple)]
        if pairs:
            out["moments_of_truth"] = pairs
        if not single:
            out["segments"] = {
                name: _segment_spec(stages, streams, spec, (bp, bv, bm, bs))
                for name, *spec in specs
            }
        arr, constant = r["arrivals"]
        if arr:
            out["arrivals"] = float(arr[0]) if constant else [float(a) for a in arr]
        if r["cohort_size"] != 1.0:
            out["cohort_size"] = float(r["cohort_size"])
        return out

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
    def _from_spec(cls, spec: Mapping, *, strict: bool) -> Journey:
        kwargs = _read_journey_spec(spec, strict=strict)
        try:
            return cls(**kwargs)
        except SpecError:
            raise
        except ValueError as err:
            raise SpecError(_guess_journey_path(str(err), spec), str(err)) from None

    def _stage_entries(self) -> list:
        entries: list = []
        for s in self._stages:
            meta = self._metadata.get(s, {})
            entry = {
                k: _plain(meta[k])
                for k in _STAGE_METADATA_ORDER
                if meta.get(k) is not None
            }
            if s in self._moments:
                entry["moment_of_truth"] = True
            entries.append({"name": s, **entry} if entry else s)
        return entries

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
        return hash(("Journey", tuple(self._stages)))

    def __reduce__(self):
        # Through the canonical spec, so that a pickle is the same plain data as
        # a model file; the journey a plan produces travels as its arrays.
        if hasattr(self, "_capacity") or _COST_STREAM in self._streams:
            state = {k: v for k, v in self.__dict__.items() if k != "_core"}
            return (_journey_from_state, (type(self), state))
        return (_journey_from_spec, (type(self), self.to_spec()))

    # -- what it is -------------------------------------------------------------

    @property
    def stages(self) -> list[str]:
        """Stage names, in order."""
        return list(self._stages)

    @property
    def streams(self) -> list[str]:
        """Value stream names, in order."""
        return list(self._streams)

    @property
    def segments(self) -> list[str]:
        """Segment names (``["all"]`` for an unsegmented journey)."""
        return list(self._segment_names)

    @property
    def absorbing(self) -> list[str]:
        """The absorbing (terminal) stages."""
        return [s for s, a in zip(self._stages, self._core.absorbing) if a]

    @property
    def transient(self) -> list[str]:
        """The stages a customer can leave."""
        return [s for s, a in zip(self._stages, self._core.absorbing) if not a]

    @property
    def value_stages(self) -> list[str]:
        return list(self._value_stages)

    @property
    def shares(self) -> pd.Series:
        """Segment shares (after normalisation)."""
        return pd.Series(
            [self._core.share(i) for i in range(len(self._segment_names))],
            index=pd.Index(self._segment_names, name="segment"),
            name="share",
        )

    @property
    def start(self) -> pd.Series:
        """Start distribution over stages (share-weighted over segments)."""
        x = sum(
            self._core.share(i) * self._core.start(i)
            for i in range(len(self._segment_names))
        )
        return pd.Series(x, index=self._stage_index(), name="start")

    @property
    def transition_matrix(self) -> pd.DataFrame:
        """The tenure-0 transition matrix, labelled; for a segmented journey the
        rows are indexed by (segment, from)."""
        frames = {
            s: self.transition_matrices(segment=s)[0] for s in self._segment_names
        }
        if len(frames) == 1:
            return next(iter(frames.values()))
        return pd.concat(frames, names=["segment", "from"])

    def transition_matrices(
        self, segment: str | None = None
    ) -> dict[int, pd.DataFrame]:
        """``{tenure start: matrix}`` for one segment (the only one by default)."""
        i = self._segment_position(segment)
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
            rows[t] = _sparse_rows(m, prev)
            prev = m
        return rows[0] if len(rows) == 1 else rows

    @property
    def stage_info(self) -> pd.DataFrame:
        """Journey-map metadata per stage, with absorbing and moment-of-truth flags."""
        records = []
        for s, a in zip(self._stages, self._core.absorbing):
            meta = self._metadata.get(s, {})
            records.append(
                {
                    **{k: meta.get(k) for k in STAGE_METADATA},
                    "absorbing": bool(a),
                    "moment_of_truth": s in self._moments,
                }
            )
        return pd.DataFrame.from_records(records, index=self._stage_index())

    @property
    def flagged_moments(self) -> list:
        """Stages and (from, to) transitions flagged as moments of truth."""
        return list(self._moments)

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
        accrual : {"start", "end", "half-cycle"}

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
        metrics = {
            "clv": _core.Sensitivity.value,
            "lifetime": _core.Sensitivity.lifetime,
            "retention": _core.Sensitivity.retention,
        }
        if not isinstance(metric, str) or metric not in metrics:
            raise ValueError(f"metric must be one of {sorted(metrics)}, got {metric!r}")
        if horizon is not None and (
            isinstance(horizon, bool)
            or not isinstance(horizon, numbers.Integral)
            or not 1 <= horizon <= 1_000_000
        ):
            raise ValueError(
                f"horizon must be an integer >= 1 or None, got {horizon!r}"
            )
        if metric == "retention" and horizon is None:
            raise ValueError("metric='retention' needs a horizon")
        if not isinstance(accrual, str) or accrual not in ACCRUALS:
            raise ValueError(
                f"accrual must be one of {sorted(ACCRUALS)}, got {accrual!r}"
            )
        n = len(self._stages)
        dest = list(range(n))
        if isinstance(to, str):
            k = stage_index(self._stages, to, "to")
            dest = [k] * n
        elif isinstance(to, Mapping):
            for frm, t in to.items():
                dest[stage_index(self._stages, frm, "to")] = stage_index(
                    self._stages, t, "to"
                )
        elif to is not None:
            raise ValueError(f"to must be a stage or a dict, got {to!r}")
        D = np.asarray(
            _core.sensitivities(
                self._core,
                -1 if horizon is None else int(horizon),
                ACCRUALS[accrual],
                metrics[metric],
                dest,
            )
        )
        P = (
            self.transition_matrices(self._segment_names[0])
            if len(self._segment_names) == 1
            else None
        )
        probs = (
            P[0].to_numpy()
            if P is not None
            else sum(
                self._core.share(i) * np.asarray(self._core.transitions(i)[0])
                for i in range(len(self._segment_names))
            )
        )
        # Listed: every move possible in some tenure piece of some segment.
        possible = sum(
            np.asarray(m)
            for i in range(len(self._segment_names))
            for m in self._core.transitions(i)
        )
        flagged = set(m for m in self._moments if isinstance(m, tuple))
        flagged_stages = set(m for m in self._moments if isinstance(m, str))
        records = []
        absorbing = set(self.absorbing)
        for i, frm in enumerate(self._stages):
            if frm in absorbing:
                continue
            for j, t in enumerate(self._stages):
                if j == dest[i] or possible[i, j] <= 0:
                    continue
                s = float(D[i, j])
                records.append(
                    {
                        "from": frm,
                        "to": t,
                        "probability": float(probs[i, j]),
                        "sensitivity": s,
                        "direction": (
                            "undefined"
                            if not np.isfinite(s)
                            else ("decrease" if s < 0 else "increase")
                        ),
                        "gain_per_point": abs(s) * 0.01,
                        "moment_of_truth": (frm, t) in flagged
                        or frm in flagged_stages
                        or t in flagged_stages,
                    }
                )
        out = pd.DataFrame.from_records(
            records,
            columns=[
                "from",
                "to",
                "probability",
                "sensitivity",
                "direction",
                "gain_per_point",
                "moment_of_truth",
            ],
        )
        out = out.sort_values("gain_per_point", ascending=False, kind="stable")
        return out.set_index(["from", "to"])

    def owner(self, stage: str) -> str | None:
        stage_index(self._stages, stage, "owner")
        return self._metadata.get(stage, {}).get("owner")

    # -- analysis ---------------------------------------------------------------

    def analyze(self, periods: int = 36, *, accrual: str = "start") -> Analysis:
        """Exact expected outcomes of the journey over ``periods`` periods and over
        the whole customer lifetime.

        Conventions: x_0 is the start distribution; period k = 1..periods moves
        x_{k-1} to x_k with the matrix for tenure k-1. With ``accrual="start"``
        period k earns on x_{k-1}, discounted by (1+r)^-(k-1); ``"end"`` earns on
        x_k discounted by (1+r)^-k; ``"half-cycle"`` on (x_{k-1}+x_k)/2
        discounted by (1+r)^-(k-1/2). Transition values accrue like ``"end"``.
        Expected lifetime counts periods started in a transient stage.

        Worked example: one stage "active" earning 100 per period, leaving to
        "churned" with p = 0.5, r = 0: "start" gives 100 + 50 + 25 + ... = 200,
        "end" gives 50 + 25 + ... = 100, "half-cycle" gives 150.

        Returns an :class:`~journeysim.Analysis` of labelled pandas objects.
        """
        if isinstance(periods, bool) or not isinstance(periods, numbers.Integral):
            raise ValueError(f"periods must be an integer, got {periods!r}")
        if periods < 0:
            raise ValueError(f"periods must be >= 0, got {periods}")
        if periods > 1_000_000:
            raise ValueError(f"periods must be at most 1,000,000, got {periods}")
        if getattr(self, "_capacity", None):
            raise ValueError(
                "this journey has capacity limits, which make effects nonlinear: "
                "they can only be simulated (use simulate())"
            )
        if not isinstance(accrual, str) or accrual not in ACCRUALS:
            raise ValueError(
                f"accrual must be one of {sorted(ACCRUALS)}, got {accrual!r}"
            )
        result = _core.analyze(self._core, int(periods), ACCRUALS[accrual])
        for msg in result.warnings:
            warnings.warn(msg, InfiniteLifetimeWarning, stacklevel=2)
        return Analysis(result, self, accrual)

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
        accrual : {"start", "end", "half-cycle"}

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}})
        >>> s = j.simulate(customers=10_000, periods=12, seed=1)
        >>> bool(abs(s.retention[12] - 0.9**12) < 0.02)
        True
        """
        from .simulation import run_simulation

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
        )

    # -- plumbing ---------------------------------------------------------------

    def _arrivals_total(self, periods: int) -> int:
        arr, constant = self._arrivals
        if not arr:
            return 0
        a = arr * periods if constant else arr[:periods]
        return int(sum(np.ceil(a)))

    def _stage_index(self) -> pd.Index:
        return pd.Index(self._stages, name="stage")

    def _segment_position(self, segment: str | None) -> int:
        if segment is None:
            if len(self._segment_names) > 1:
                raise ValueError(
                    f"this journey has segments {self._segment_names}: name one"
                )
            return 0
        if segment not in self._segment_names:
            raise ValueError(
                f"unknown segment {segment!r}; the segments are {self._segment_names}"
            )
        return self._segment_names.index(segment)

    def plot(self, ax=None, min_probability: float = 0.01):
        """The journey as a map: stages in lanes by owner team, moves with their
        probabilities, moments of truth in red; returns the Axes."""
        from .plot import journey_diagram

        return journey_diagram(self, ax=ax, min_probability=min_probability)

    def _repr_html_(self) -> str:
        from .display import table

        info = self.stage_info
        P = self.transition_matrices(self._segment_names[0])[0]
        rows = []
        for s in self._stages:
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
        if self._streams:
            extra.append("streams: " + ", ".join(self._streams))
        if len(self._segment_names) > 1:
            extra.append("segments: " + ", ".join(self._segment_names))
        if self._core.stationary_from > 0:
            extra.append(f"tenure-dependent until {self._core.stationary_from}")
        note = (
            f"<div style='font-size:0.85em'>{'; '.join(extra)}</div>" if extra else ""
        )
        header = ["stage", "owner", "moves per period (tenure 0)", "moment of truth"]
        return table(header, rows, title) + note

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        parts = [f"{len(self._stages)} stages", f"absorbing={self.absorbing}"]
        if self._streams:
            parts.append(f"streams={self._streams}")
        if len(self._segment_names) > 1:
            parts.append(f"segments={self._segment_names}")
        if self._core.stationary_from > 0:
            parts.append(f"tenure-dependent until {self._core.stationary_from}")
        return f"<Journey{name}: " + ", ".join(parts) + ">"


# -- helpers ------------------------------------------------------------------


def _names(obj: str | Iterable[str], what: str) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if not isinstance(obj, Iterable) or isinstance(obj, Mapping):
        raise ValueError(f"{what} must be a stage name or a list of them, got {obj!r}")
    return list(obj)


def _stream_names(values: Mapping | None, moves: Mapping | None) -> list[str]:
    for what, obj in (("values", values), ("transition_values", moves)):
        if obj is not None and not isinstance(obj, Mapping):
            raise ValueError(f"{what} must be a dict {{stream: ...}}, got {obj!r}")
    names = list(values or {})
    names += [s for s in (moves or {}) if s not in names]
    for s in names:
        if not isinstance(s, str) or not s:
            raise ValueError(f"value stream names must be non-empty strings, got {s!r}")
    return names


def _rates(rate: float | Mapping, streams: list[str]) -> dict[str, float]:
    if isinstance(rate, Mapping):
        for s in rate:
            if s not in streams:
                raise ValueError(
                    f"discount_rate: unknown stream {s!r}; the streams are {streams}"
                )
        out = {}
        for s in streams:
            r = rate.get(s, 0.0)
            if isinstance(r, bool) or not isinstance(r, numbers.Real):
                raise ValueError(f"discount_rate[{s!r}] must be a number, got {r!r}")
            out[s] = float(r)
        return out
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise ValueError(f"discount_rate must be a number or a dict, got {rate!r}")
    if not rate > -1:
        raise ValueError(f"discount_rate must be > -1, got {rate}")
    return {s: float(rate) for s in streams}


def _moves(spec: Mapping | None, stages: list[str], stream: str):
    if spec is None:
        return None
    what = f"transition_values[{stream!r}]"
    if not isinstance(spec, Mapping):
        return to_matrix(spec, stages, what)
    m = np.zeros((len(stages), len(stages)))
    # Wildcards first, so that a named (from, to) pair always wins.
    items = sorted(
        spec.items(), key=lambda kv: not (isinstance(kv[0], tuple) and "*" in kv[0])
    )
    for key, amount in items:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"{what}: keys must be (from, to) pairs, got {key!r}")
        frm, to = key
        if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
            raise ValueError(f"{what}[{key!r}] must be a number, got {amount!r}")
        rows = range(len(stages)) if frm == "*" else [stage_index(stages, frm, what)]
        cols = range(len(stages)) if to == "*" else [stage_index(stages, to, what)]
        if frm == "*" and to == "*":
            raise ValueError(f"{what}: ('*', '*') names no stage")
        for i in rows:
            for j in cols:
                if i != j:
                    m[i, j] = float(amount)
    return m


def _start(spec: Any, stages: list[str], what: str) -> np.ndarray:
    if spec is None:
        v = np.zeros(len(stages))
        v[0] = 1.0
        return v
    if isinstance(spec, str):
        v = np.zeros(len(stages))
        v[stage_index(stages, spec, what)] = 1.0
        return v
    return to_vector(spec, stages, what)


def _net(net: Mapping | None, streams: list[str]) -> list[float]:
    if net is None:
        return [1.0] * len(streams)
    if not isinstance(net, Mapping):
        raise ValueError(f"net must be a dict {{stream: weight}}, got {net!r}")
    for s, w in net.items():
        if s not in streams:
            raise ValueError(f"net: unknown stream {s!r}; the streams are {streams}")
        if isinstance(w, bool) or not isinstance(w, numbers.Real):
            raise ValueError(f"net[{s!r}] must be a number, got {w!r}")
    return [float(net.get(s, 0.0)) for s in streams]


def _arrivals(arrivals: Any) -> tuple[list[float], bool]:
    if arrivals is None:
        return [], False
    if isinstance(arrivals, bool):
        raise ValueError(f"arrivals must be a number or a sequence, got {arrivals!r}")
    if isinstance(arrivals, numbers.Real):
        return [float(arrivals)], True
    try:
        a = np.asarray(arrivals, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"arrivals must be a number or a sequence of numbers, got {arrivals!r}"
        ) from None
    if a.ndim != 1:
        raise ValueError(f"arrivals must be one-dimensional, got shape {a.shape}")
    return a.tolist(), False


def _segment(
    name, seg, stages, streams, base_p, base_v, base_moves, base_start, tol, normalize
):
    if not isinstance(name, str) or not name:
        raise ValueError(f"segment names must be non-empty strings, got {name!r}")
    what = f"segment {name!r}"
    if not isinstance(seg, Mapping):
        raise ValueError(f"{what} must be a dict with a share, got {seg!r}")
    unknown = set(seg) - {
        "share",
        "transitions",
        "values",
        "transition_values",
        "start",
    }
    if unknown:
        raise ValueError(f"{what}: unknown keys {sorted(unknown)}")
    if "share" not in seg:
        raise ValueError(f"{what} needs a share")
    share = seg["share"]
    if isinstance(share, bool) or not isinstance(share, numbers.Real):
        raise ValueError(f"{what}: share must be a number, got {share!r}")
    pieces = base_p
    if "transitions" in seg:
        pieces = resolve_pieces(
            seg["transitions"],
            stages,
            f"{what} transitions",
            base=base_p,
            kind="matrix",
            tol=tol,
            normalize=normalize,
        )
    for key in ("values", "transition_values"):
        if seg.get(key) is not None and not isinstance(seg[key], Mapping):
            raise ValueError(
                f"{what} {key} must be a dict {{stream: ...}}, got {seg[key]!r}"
            )
    vals = dict(base_v)
    for s, spec in (seg.get("values") or {}).items():
        if s not in streams:
            raise ValueError(
                f"{what} values: unknown stream {s!r}; the journey's streams are "
                f"{streams} (declare it in the journey's values)"
            )
        vals[s] = resolve_pieces(
            spec, stages, f"{what} values[{s!r}]", base=base_v[s], kind="vector"
        )
    moves = dict(base_moves)
    for s, spec in (seg.get("transition_values") or {}).items():
        if s not in streams:
            raise ValueError(f"{what} transition_values: unknown stream {s!r}")
        moves[s] = _moves(spec, stages, s)
    start = (
        _start(seg["start"], stages, f"{what} start") if "start" in seg else base_start
    )
    return (name, float(share), pieces, vals, moves, start)


def _check_metadata(metadata: Mapping | None, stages: list[str]) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValueError("metadata must be a dict {stage: {key: value}}")
    out = {}
    for stage, meta in metadata.items():
        stage_index(stages, stage, "metadata")
        if not isinstance(meta, Mapping):
            raise ValueError(f"metadata[{stage!r}] must be a dict, got {meta!r}")
        unknown = set(meta) - set(STAGE_METADATA)
        if unknown:
            raise ValueError(
                f"metadata[{stage!r}]: unknown keys {sorted(unknown)}; "
                f"known: {list(STAGE_METADATA)}"
            )
        out[stage] = dict(meta)
    return out


def _check_moments(moments: Iterable | None, stages: list[str]) -> list:
    out: list = []
    if moments is None:
        return out
    if isinstance(moments, str):
        moments = [moments]
    if not isinstance(moments, Iterable) or isinstance(moments, Mapping):
        raise ValueError(
            f"moments_of_truth must be a list of stages or (from, to) pairs, "
            f"got {moments!r}"
        )
    for m in moments:
        if isinstance(m, str):
            stage_index(stages, m, "moments_of_truth")
        elif isinstance(m, (tuple, list)) and len(m) == 2:
            stage_index(stages, m[0], "moments_of_truth")
            stage_index(stages, m[1], "moments_of_truth")
            m = (m[0], m[1])
        else:
            raise ValueError(
                f"moments_of_truth: expected a stage or a (from, to) pair, got {m!r}"
            )
        out.append(m)
    return out


def _sparse_rows(m: pd.DataFrame, prev: pd.DataFrame | None = None) -> dict:
    """Rows of ``m`` as sparse dicts; with ``prev``, only the rows that differ."""
    stages = [str(s) for s in m.index]
    a = m.to_numpy()
    rows = {}
    for i, frm in enumerate(stages):
        if prev is not None and np.array_equal(a[i], prev.loc[frm].to_numpy()):
            continue
        row = _sparse_row(stages, i, a[i])
        if prev is not None or row != {frm: 1.0}:
            rows[frm] = row
    return rows


# -- the canonical spec ---------------------------------------------------------

#: The value stream a plan adds (see journeysim.intervention.COST_STREAM).
_COST_STREAM = "intervention_cost"
_STAGE_METADATA_ORDER = ("owner", "description", "channels", "touchpoints", "kpis")
#: The keys of a journey spec, in the order to_spec() writes them.
SPEC_KEYS = (
    "name",
    "stages",
    "transitions",
    "values",
    "transition_values",
    "start",
    "discount_rate",
    "net",
    "value_stages",
    "absorbing",
    "moments_of_truth",
    "segments",
    "arrivals",
    "cohort_size",
    "normalize",
)
_STAGE_KEYS = ("name", *_STAGE_METADATA_ORDER, "moment_of_truth")
_SEGMENT_KEYS = ("share", "transitions", "values", "transition_values", "start")
_SPEC_TOL = 1e-9
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")
_DIGITS = re.compile(r"[0-9]+\Z")


class SpecError(ValueError):
    """A ValueError about one place in a journey spec, an intervention or plan
    dict, or a model file: ``path`` is the key path from the top of that
    document (keys and list indices), ``message`` what is wrong there."""

    def __init__(self, path: Sequence = (), message: str = "") -> None:
        self.path = tuple(path)
        self.message = message
        where = spec_path(self.path)
        super().__init__(f"{where}: {message}" if where else message)

    def within(self, *prefix) -> SpecError:
        """The same error, one level down in a larger document."""
        return SpecError(prefix + self.path, self.message)


def spec_path(path: Sequence) -> str:
    """``("plans", 1, "interventions", 0)`` -> ``plans[1].interventions[0]``."""
    out = ""
    for p in path:
        if isinstance(p, str) and _IDENT.match(p):
            out += ("." if out else "") + p
        elif isinstance(p, int) and not isinstance(p, bool):
            out += f"[{p}]"
        else:
            out += f"[{p!r}]"
    return out


def describe(x: Any) -> str:
    """A short description of a value for an error message."""
    if isinstance(x, bool):
        return f"{x} (a boolean)"
    if x is None:
        return "nothing (null)"
    if isinstance(x, str):
        r = repr(x)
        return "the string " + (r if len(r) <= 60 else r[:56] + "...'")
    if isinstance(x, Mapping):
        return "a mapping"
    if isinstance(x, (list, tuple)):
        return "a list"
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."


def check_keys(d: Mapping, path: tuple, known: Sequence[str], what: str) -> None:
    """Every key of ``d`` is one of ``known``, or a SpecError at that key."""
    for k in d:
        if k not in known:
            near = difflib.get_close_matches(str(k), list(known), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise SpecError(
                (*path, k),
                f"unknown key {k!r} in {what}{hint} (known: {', '.join(known)})",
            )


def spec_number(
    x: Any,
    path: tuple,
    *,
    low: float | None = None,
    above: float | None = None,
    what: str = "a number",
) -> float:
    """A finite number (not a boolean) as a float, at least ``low``, more than
    ``above``; otherwise a SpecError at ``path``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise SpecError(path, f"expected {what}, got {describe(x)}")
    try:
        v = float(x)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise SpecError(path, f"expected {what} (finite), got {describe(x)}")
    if low is not None and v < low:
        raise SpecError(path, f"expected {what} >= {low:g}, got {v!r}")
    if above is not None and not v > above:
        raise SpecError(path, f"expected {what} > {above:g}, got {v!r}")
    return v


def spec_name(x: Any, path: tuple, what: str = "a name") -> str:
    if not isinstance(x, str) or not x:
        raise SpecError(
            path, f"expected {what} (a non-empty string), got {describe(x)}"
        )
    return x


def spec_names(x: Any, path: tuple, what: str = "names") -> list[str]:
    """A name or a list of names."""
    if isinstance(x, str):
        return [spec_name(x, path)]
    if not isinstance(x, (list, tuple)):
        raise SpecError(path, f"expected {what} (a name or a list), got {describe(x)}")
    return [spec_name(v, (*path, i)) for i, v in enumerate(x)]


def spec_mapping(x: Any, path: tuple, what: str) -> Mapping:
    if not isinstance(x, Mapping):
        raise SpecError(path, f"expected {what}, got {describe(x)}")
    return x


def _known_stage(name: Any, path: tuple, stages: list[str], wildcard=False) -> str:
    if wildcard and name == "*":
        return name
    if not isinstance(name, str) or name not in stages:
        near = difflib.get_close_matches(str(name), stages, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise SpecError(
            path, f"unknown stage {name!r}; {hint}the stages are {', '.join(stages)}"
        )
    return name


def _tenure_keys(m: Mapping, path: tuple, stages: list[str], first_zero: bool):
    """[(tenure, key, value)] in tenure order when ``m`` is keyed by tenures
    (integers, or digit strings that are not stage names), else None."""

    def tenure(k):
        if isinstance(k, bool):
            return None
        if isinstance(k, numbers.Integral):
            return int(k)
        if isinstance(k, str) and _DIGITS.match(k):
            return int(k)
        return None

    keys = list(m)
    ts = [tenure(k) for k in keys]
    # Keyed by tenures when a key is an integer, or a digit string that is not
    # a stage (JSON keys are strings: {"0": ..., "3": ...}).
    if not any(
        t is not None and not (isinstance(k, str) and k in stages)
        for k, t in zip(keys, ts)
    ):
        return None
    if any(t is None for t in ts):
        k = next(k for k, t in zip(keys, ts) if t is None)
        raise SpecError(
            (*path, k),
            "a mapping keyed by tenures (whole numbers) also has the key "
            f"{k!r}; use {{0: ..., 3: ...}} with every piece under its tenure",
        )
    seen: dict[int, Any] = {}
    for k, t in zip(keys, ts):
        if t < 0 or t > 1_000_000:
            raise SpecError((*path, k), f"tenure {t} is outside [0, 1,000,000]")
        if t in seen:
            raise SpecError(
                (*path, k), f"tenure {t} is given twice (also as {seen[t]!r})"
            )
        seen[t] = k
    pieces = sorted(zip(ts, keys, (m[k] for k in keys)), key=lambda p: p[0])
    if first_zero and pieces[0][0] != 0:
        raise SpecError(
            (*path, pieces[0][1]),
            f"the first tenure piece must start at 0, not {pieces[0][0]}",
        )
    return pieces


def _read_rows(obj, path, stages, normalize, strict) -> dict:
    rows = spec_mapping(obj, path, "rows {from: {to: probability}}")
    out = {}
    for frm, exits in rows.items():
        p = (*path, frm)
        _known_stage(frm, p, stages)
        exits = spec_mapping(exits, p, f"the moves from {frm!r}, {{to: probability}}")
        row = {}
        for to, prob in exits.items():
            q = (*p, to)
            _known_stage(to, q, stages)
            x = spec_number(prob, q, what="a probability")
            if x < 0 or (x > 1.0 + _SPEC_TOL and not normalize):  # the core's
                raise SpecError(q, f"probability {x:.12g} is outside [0, 1]")
            row[to] = x
        if strict and not normalize:
            total = math.fsum(row.values())
            if frm in row and abs(total - 1.0) > _SPEC_TOL:
                raise SpecError(
                    p,
                    f"the row sums to {total:.12g}, not 1 (a row that names its "
                    "own stage gives all of it; leave the stay out to mean the rest)",
                )
            if frm not in row and total > 1.0 + _SPEC_TOL:
                raise SpecError(p, f"the moves sum to {total:.12g}, more than 1")
        out[frm] = row
    return out


def _read_amounts(obj, path, stages, low=None) -> dict:
    amounts = spec_mapping(obj, path, "amounts {stage: number}")
    return {
        _known_stage(s, (*path, s), stages): spec_number(x, (*path, s), low=low)
        for s, x in amounts.items()
    }


def _read_pieces(obj, path, stages, kind, first_zero, normalize=False, strict=True):
    what = "rows {from: {to: probability}}" if kind == "rows" else "{stage: amount}"
    m = spec_mapping(obj, path, what)
    pieces = _tenure_keys(m, path, stages, first_zero)

    def one(x, p):
        if kind == "rows":
            return _read_rows(x, p, stages, normalize, strict)
        return _read_amounts(x, p, stages)

    if pieces is None:
        return one(m, path)
    return {t: one(v, (*path, k)) for t, k, v in pieces}


def _read_moves(obj, path, stages):
    """{from: {to: amount}} ("*" for any stage) -> what the constructor takes:
    {(from, to): amount}, or a matrix when a stage's own stay has a value."""
    if obj is None:
        return None
    m = spec_mapping(obj, path, "amounts on moves {from: {to: amount}}")
    pairs: dict = {}
    stays = []
    for frm, tos in m.items():
        p = (*path, frm)
        _known_stage(frm, p, stages, wildcard=True)
        tos = spec_mapping(tos, p, f"amounts on the moves from {frm!r}, {{to: amount}}")
        for to, amount in tos.items():
            q = (*p, to)
            _known_stage(to, q, stages, wildcard=True)
            if frm == "*" and to == "*":
                raise SpecError(q, "'*' to '*' names no move")
            x = spec_number(amount, q, what="an amount")
            if frm == to:
                stays.append((stages.index(frm), x))
            else:
                pairs[(frm, to)] = x
    if not stays:
        return pairs
    matrix = _moves(pairs, stages, spec_path(path))
    for i, x in stays:
        matrix[i, i] = x
    return matrix


def _read_start(obj, path, stages, normalize, strict):
    if isinstance(obj, str):
        return _known_stage(obj, path, stages)
    start = _read_amounts(obj, path, stages, low=0.0)
    total = math.fsum(start.values())
    if strict and not normalize and abs(total - 1.0) > _SPEC_TOL:
        raise SpecError(path, f"the start shares sum to {total:.12g}, not 1")
    return start


def _read_stages(obj, strict):
    path = ("stages",)
    if not isinstance(obj, (list, tuple)) or not obj:
        raise SpecError(
            path, f"expected a list of one or more stages, got {describe(obj)}"
        )
    stages: list[str] = []
    metadata: dict[str, dict] = {}
    flagged: list[str] = []
    where: dict[str, int] = {}
    for i, entry in enumerate(obj):
        p = (*path, i)
        if isinstance(entry, Mapping):
            check_keys(entry, p, _STAGE_KEYS, "a stage")
            if "name" not in entry:
                raise SpecError(p, "a stage given as a mapping needs a name")
            name = spec_name(entry["name"], (*p, "name"), "a stage name")
            meta = {}
            for k in _STAGE_METADATA_ORDER:
                if k not in entry:
                    continue
                v = entry[k]
                if strict and k in ("owner", "description"):
                    spec_name(v, (*p, k), f"the stage's {k}")
                elif strict:
                    if isinstance(v, (list, tuple)):
                        v = spec_names(v, (*p, k), f"the stage's {k}")
                    else:
                        spec_name(v, (*p, k), f"the stage's {k} (a name or a list)")
                meta[k] = v
            if meta:
                metadata[name] = meta
            mot = entry.get("moment_of_truth", False)
            if not isinstance(mot, bool):
                raise SpecError(
                    (*p, "moment_of_truth"),
                    f"expected true or false, got {describe(mot)}",
                )
            if mot:
                flagged.append(name)
        else:
            name = spec_name(entry, p, "a stage name or a mapping with a name")
        if name in where:
            raise SpecError(
                p, f"stage {name!r} is listed twice (also stages[{where[name]}])"
            )
        where[name] = i
        stages.append(name)
    return stages, metadata, flagged


def _read_journey_spec(spec: Any, *, strict: bool) -> dict:
    """The constructor's keyword arguments from a spec, every part checked."""
    if not isinstance(spec, Mapping):
        raise SpecError(
            (),
            "a journey must be a mapping (stages, transitions, ...), got "
            + describe(spec),
        )
    check_keys(spec, (), SPEC_KEYS, "a journey")
    for key in ("stages", "transitions"):
        if key not in spec:
            raise SpecError((), f"a journey needs {key!r}")
    normalize = spec.get("normalize", False)
    if not isinstance(normalize, bool):
        raise SpecError(
            ("normalize",), f"expected true or false, got {describe(normalize)}"
        )
    kw: dict[str, Any] = {"normalize": normalize}
    if spec.get("name") is not None:
        kw["name"] = spec["name"]
        if strict:
            spec_name(spec["name"], ("name",), "the journey's name")
    stages, metadata, flagged = _read_stages(spec["stages"], strict)
    kw["stages"] = stages
    if metadata:
        kw["metadata"] = metadata
    kw["transitions"] = _read_pieces(
        spec["transitions"], ("transitions",), stages, "rows", True, normalize, strict
    )

    streams: list[str] = []
    values = spec.get("values")
    if values is not None:
        values = spec_mapping(
            values, ("values",), "value streams {stream: {stage: amount}}"
        )
        kw["values"] = {}
        for s, v in values.items():
            p = ("values", s)
            spec_name(s, p, "a value stream name")
            if s == _COST_STREAM:
                raise SpecError(
                    p, f"the stream name {s!r} is reserved for plans' costs"
                )
            kw["values"][s] = _read_pieces(v, p, stages, "amounts", True)
            streams.append(s)
    moves = spec.get("transition_values")
    if moves is not None:
        moves = spec_mapping(
            moves, ("transition_values",), "{stream: {from: {to: amount}}}"
        )
        kw["transition_values"] = {}
        for s, v in moves.items():
            p = ("transition_values", s)
            spec_name(s, p, "a value stream name")
            if s == _COST_STREAM:
                raise SpecError(
                    p, f"the stream name {s!r} is reserved for plans' costs"
                )
            kw["transition_values"][s] = _read_moves(v, p, stages)
            if s not in streams:
                streams.append(s)

    def known_stream(s, p):
        if s not in streams:
            raise SpecError(
                p,
                f"unknown value stream {s!r}; the streams are "
                + (", ".join(streams) or "none"),
            )

    if "start" in spec and spec["start"] is not None:
        kw["start"] = _read_start(spec["start"], ("start",), stages, normalize, strict)
    if "discount_rate" in spec:
        rate = spec["discount_rate"]
        if isinstance(rate, Mapping):
            for s, x in rate.items():
                known_stream(s, ("discount_rate", s))
                spec_number(x, ("discount_rate", s), above=-1, what="a discount rate")
            kw["discount_rate"] = {s: float(x) for s, x in rate.items()}
        else:
            kw["discount_rate"] = spec_number(
                rate,
                ("discount_rate",),
                above=-1,
                what="a discount rate (or {stream: rate})",
            )
    if spec.get("net") is not None:
        net = spec_mapping(spec["net"], ("net",), "weights {stream: weight}")
        for s, w in net.items():
            known_stream(s, ("net", s))
            spec_number(w, ("net", s), what="a weight")
        kw["net"] = {s: float(w) for s, w in net.items()}
    if spec.get("value_stages") is not None:
        one = isinstance(spec["value_stages"], str)
        names = spec_names(spec["value_stages"], ("value_stages",), "stage names")
        for i, v in enumerate(names):
            _known_stage(v, ("value_stages",) if one else ("value_stages", i), stages)
        kw["value_stages"] = names
    if "absorbing" in spec:
        one = isinstance(spec["absorbing"], str)
        names = spec_names(spec["absorbing"], ("absorbing",), "stage names")
        for i, a in enumerate(names):
            _known_stage(a, ("absorbing",) if one else ("absorbing", i), stages)
            if a in names[:i]:
                raise SpecError(("absorbing", i), f"stage {a!r} is listed twice")
        kw["absorbing"] = names
    moments: list = list(flagged)
    if spec.get("moments_of_truth") is not None:
        mots = spec["moments_of_truth"]
        if not isinstance(mots, (list, tuple)):
            raise SpecError(
                ("moments_of_truth",),
                f"expected a list of stages or [from, to] pairs, got {describe(mots)}",
            )
        for i, m in enumerate(mots):
            p = ("moments_of_truth", i)
            if isinstance(m, str):
                item: Any = _known_stage(m, p, stages)
            elif isinstance(m, (list, tuple)) and len(m) == 2:
                item = (
                    _known_stage(m[0], (*p, 0), stages),
                    _known_stage(m[1], (*p, 1), stages),
                )
            else:
                raise SpecError(
                    p, f"expected a stage or a [from, to] pair, got {describe(m)}"
                )
            if item not in moments:
                moments.append(item)
    if moments:
        kw["moments_of_truth"] = moments
    if spec.get("segments") is not None:
        kw["segments"] = _read_segments(
            spec["segments"], stages, streams, normalize, strict
        )
    if spec.get("arrivals") is not None:
        arr = spec["arrivals"]
        if isinstance(arr, (list, tuple)):
            kw["arrivals"] = [
                spec_number(a, ("arrivals", i), low=0.0, what="a number of customers")
                for i, a in enumerate(arr)
            ]
        else:
            kw["arrivals"] = spec_number(
                arr, ("arrivals",), low=0.0, what="a number of customers (or a list)"
            )
    if spec.get("cohort_size") is not None:
        kw["cohort_size"] = spec_number(
            spec["cohort_size"], ("cohort_size",), low=0.0, what="a number of customers"
        )
    return kw


def _read_segments(obj, stages, streams, normalize, strict) -> dict:
    path = ("segments",)
    segs = spec_mapping(obj, path, "segments {name: {share: ..., ...}}")
    if not segs:
        raise SpecError(path, "segments, when given, must name one or more")
    out = {}
    for name, seg in segs.items():
        p = (*path, name)
        spec_name(name, p, "a segment name")
        seg = spec_mapping(seg, p, "a segment {share: ..., ...}")
        check_keys(seg, p, _SEGMENT_KEYS, "a segment")
        if "share" not in seg:
            raise SpecError(p, "a segment needs a share")
        one: dict[str, Any] = {
            "share": spec_number(seg["share"], (*p, "share"), low=0.0)
        }
        if "transitions" in seg:
            one["transitions"] = _read_pieces(
                seg["transitions"],
                (*p, "transitions"),
                stages,
                "rows",
                False,
                normalize,
                strict,
            )
        if seg.get("values") is not None:
            vals = spec_mapping(
                seg["values"], (*p, "values"), "{stream: {stage: amount}}"
            )
            one["values"] = {}
            for s, v in vals.items():
                q = (*p, "values", s)
                if s not in streams:
                    raise SpecError(
                        q,
                        f"unknown value stream {s!r}; the journey's streams are "
                        + (", ".join(streams) or "none")
                        + " (declare it in the journey's values)",
                    )
                one["values"][s] = _read_pieces(v, q, stages, "amounts", False)
        if seg.get("transition_values") is not None:
            moves = spec_mapping(
                seg["transition_values"],
                (*p, "transition_values"),
                "{stream: {from: {to: amount}}}",
            )
            one["transition_values"] = {}
            for s, v in moves.items():
                q = (*p, "transition_values", s)
                if s not in streams:
                    raise SpecError(q, f"unknown value stream {s!r}")
                one["transition_values"][s] = _read_moves(v, q, stages)
        if seg.get("start") is not None:
            one["start"] = _read_start(
                seg["start"], (*p, "start"), stages, normalize, strict
            )
        out[name] = one
    total = math.fsum(s["share"] for s in out.values())
    if strict and not normalize and abs(total - 1.0) > _SPEC_TOL:
        raise SpecError(path, f"the segment shares sum to {total:.12g}, not 1")
    return out


def _guess_journey_path(msg: str, spec: Mapping) -> tuple:
    """The key path a constructor (or core) error is most likely about."""
    m = re.match(r"segment '([^']*)'", msg)
    if (
        m
        and isinstance(spec.get("segments"), Mapping)
        and m.group(1) in spec["segments"]
    ):
        return ("segments", m.group(1))
    if msg.startswith("metadata"):
        return ("stages",)
    m = re.match(r"(transition_values|values)\['([^']*)'\]", msg)
    if m:
        return (m.group(1), m.group(2))
    for key in SPEC_KEYS:
        if msg.startswith(key):
            return (key,)
    core = (
        ("row '", "transitions"),
        ("transition '", "transitions"),
        ("absorbing stage", "absorbing" if "absorbing" in spec else "transitions"),
        ("start distribution", "start"),
        ("segment shares", "segments"),
        ("duplicate segment", "segments"),
        ("duplicate stage", "stages"),
        ("stage names", "stages"),
        ("value stream", "values"),
        ("the value stream", "values"),
        ("net weight", "net"),
        ("cohort size", "cohort_size"),
        ("arrivals at period", "arrivals"),
        ("discount rate", "discount_rate"),
    )
    for prefix, key in core:
        if msg.startswith(prefix):
            return (key,)
    return ()


def _plain(v: Any) -> Any:
    """Metadata as plain YAML/JSON-friendly values."""
    if isinstance(v, str):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    return v


def _at(pieces: list, t: int):
    return next(m for s, m in reversed(pieces) if s <= t)


def _sparse_row(stages: Sequence[str], i: int, row: np.ndarray) -> dict:
    """Row ``i`` as ``{to: p}``: its moves, and its stay whenever "the rest
    stays" would not give it bit for bit (so dict -> matrix -> dict is exact)."""
    exits = {stages[j]: float(p) for j, p in enumerate(row) if j != i and p != 0}
    stay = float(row[i])
    if 1.0 - math.fsum(exits.values()) != stay:
        exits[stages[i]] = stay
    return exits or {stages[i]: stay}


def _rows_pieces(stages, base: list, target: list) -> dict:
    """``{tenure: {from: {to: p}}}`` that, applied on top of ``base`` pieces
    the way resolve_pieces does (a named row replaces the row from its tenure
    on), gives the ``target`` pieces exactly."""
    starts = sorted({t for t, _ in base} | {t for t, _ in target})
    named: dict[int, np.ndarray] = {}
    out = {}
    for t in starts:
        b, goal = _at(base, t), _at(target, t)
        rows = {}
        for i in range(len(stages)):
            if not np.array_equal(named.get(i, b[i]), goal[i]):
                rows[stages[i]] = _sparse_row(stages, i, goal[i])
                named[i] = goal[i]
        if rows:
            out[t] = rows
    return out


def _vector_pieces(stages, base: list, target: list) -> dict:
    """``{tenure: {stage: amount}}`` likewise, for per-stage amounts."""
    starts = sorted({t for t, _ in base} | {t for t, _ in target})
    named: dict[int, float] = {}
    out = {}
    for t in starts:
        b, goal = _at(base, t), _at(target, t)
        d = {}
        for i in range(len(stages)):
            if named.get(i, b[i]) != goal[i]:
                d[stages[i]] = float(goal[i])
                named[i] = goal[i]
        if d:
            out[t] = d
    return out


def _journey_pieces(pieces: dict) -> dict:
    """The journey's own pieces: plain when there is one, and always from 0."""
    if not pieces:
        return {}
    if list(pieces) == [0]:
        return pieces[0]
    return pieces if 0 in pieces else {0: {}, **pieces}


def _segment_pieces(pieces: dict) -> dict:
    return pieces[0] if list(pieces) == [0] else pieces


def _amounts(stages, v: np.ndarray) -> dict:
    return {s: float(x) for s, x in zip(stages, v) if x != 0}


def _moves_spec(stages, m: np.ndarray) -> dict:
    out = {}
    for i, frm in enumerate(stages):
        row = {stages[j]: float(x) for j, x in enumerate(m[i]) if x != 0}
        if row:
            out[frm] = row
    return out


def _same_moves(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(a, b)


def _segment_spec(stages, streams, seg: list, base: tuple) -> dict:
    share, pieces, vals, moves, start = seg
    bp, bv, bm, bs = base
    out: dict[str, Any] = {"share": float(share)}
    rows = _rows_pieces(stages, bp, pieces)
    if rows:
        out["transitions"] = _segment_pieces(rows)
    values = {}
    for s in streams:
        d = _vector_pieces(stages, bv[s], vals[s])
        if d:
            values[s] = _segment_pieces(d)
    if values:
        out["values"] = values
    changed = {
        s: None if moves[s] is None else _moves_spec(stages, moves[s])
        for s in streams
        if not _same_moves(bm[s], moves[s])
    }
    if changed:
        out["transition_values"] = changed
    if not np.array_equal(start, bs):
        out["start"] = _amounts(stages, start)
    return out


def _normalized_rows(m: np.ndarray, tol: float) -> np.ndarray:
    """Rows rescaled to sum to 1 the way the core does it (normalize=True)."""
    m = np.array(m, dtype=float)
    for i in range(len(m)):
        total = 0.0
        for x in m[i]:
            total += float(x)
        if abs(total - 1.0) > tol and total > 0.0:
            m[i] = m[i] / total
    return m


def _stochastic(m: np.ndarray, tol: float) -> bool:
    """Rows the core would accept as they are."""
    return bool(
        np.isfinite(m).all()
        and (m >= 0).all()
        and (m <= 1.0 + tol).all()
        and all(abs(sum(float(x) for x in row) - 1.0) <= tol for row in m)
    )


def _journey_from_spec(cls, spec: dict):
    return cls._from_spec(spec, strict=False)


def _journey_from_state(cls, state: dict):
    j = object.__new__(cls)
    j.__dict__.update(state)
    j._build()
    return j
