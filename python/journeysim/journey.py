"""The Journey: stages, transitions, value streams, segments and arrivals."""

from __future__ import annotations

import math
import numbers
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
        >>> abs(s.retention[12] - 0.9**12) < 0.02
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
    rows = {}
    for frm in m.index:
        if prev is not None and np.array_equal(
            m.loc[frm].to_numpy(), prev.loc[frm].to_numpy()
        ):
            continue
        exits = {to: float(p) for to, p in m.loc[frm].items() if to != frm and p != 0}
        stay = float(m.loc[frm, frm])
        # Name the stay probability whenever "the rest stays" would not give it
        # bit for bit, so that dict -> matrix -> dict and back are exact.
        if 1.0 - math.fsum(exits.values()) != stay:
            exits[frm] = stay
        if exits or prev is not None:
            rows[frm] = exits or {frm: stay}
    return rows
