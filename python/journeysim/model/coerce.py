"""The constructor's arguments checked and turned into arrays: stage names
and metadata, value streams, rates, net weights, starts, arrivals, segments.

Stage names are checked here; numbers (probabilities, sums, shapes) are checked
by the core, once, when the journey is built."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base.calendar import dated_amounts
from .._base.checks import stage_index
from .._base.conventions import COST_STREAM, STAGE_METADATA, TOLERANCE
from .._base.errors import InputError, about
from .._base.pieces import resolve_pieces, to_matrix, to_vector
from .._base.resolved import Arrivals, ResolvedJourney, Segment
from .._base.units import Units, check_scores, check_units

__all__ = ["moves_matrix", "rates", "resolve", "stage_names"]


def resolve(
    stages: Sequence[str],
    transitions: Any,
    *,
    values: Mapping | None,
    transition_values: Mapping | None,
    start: Any,
    discount_rate: float | Mapping,
    absorbing: Iterable[str] | None,
    value_stages: str | Iterable[str] | None,
    net: Mapping | None,
    segments: Mapping | None,
    arrivals: float | Sequence[float] | None,
    cohort_size: float,
    metadata: Mapping | None,
    moments_of_truth: Iterable | None,
    normalize: bool,
    time_unit: str = "period",
    currency: str | None = None,
    locale: str = "en_US",
    scores: Mapping | None = None,
) -> ResolvedJourney:
    """The :class:`~journeysim.Journey` constructor's arguments, checked, as a
    resolved journey (before the core validates and normalises its numbers)."""
    with about("stages"):
        stages = stage_names(stages)
        # Stage metadata is written in a model file's stages.
        meta = _check_metadata(metadata, stages)
    normalize = bool(normalize)
    with about("moments_of_truth"):
        moments = _check_moments(moments_of_truth, stages)
    with about("transitions"):
        base_p = resolve_pieces(
            transitions,
            stages,
            "transitions",
            base=None,
            kind="matrix",
            tol=TOLERANCE,
            normalize=normalize,
        )
    with about("values"):
        streams = _stream_names(values, transition_values)
    if COST_STREAM in streams:
        raise InputError(
            f"the value stream name {COST_STREAM!r} is reserved for the costs of plans",
            key=("values",),
        )
    with about("discount_rate"):
        stream_rates = rates(discount_rate, streams)
    base_v = {}
    for s in streams:
        with about("values", s):
            base_v[s] = resolve_pieces(
                (values or {}).get(s, {}),
                stages,
                f"values[{s!r}]",
                base=None,
                kind="vector",
            )
    base_moves = {}
    for s in streams:
        with about("transition_values", s):
            base_moves[s] = moves_matrix((transition_values or {}).get(s), stages, s)
    with about("start"):
        base_start = _start(start, stages, "start")
    own = Segment("all", 1.0, base_p, base_v, base_moves, base_start)
    if segments is None:
        parts = [own]
    else:
        if not isinstance(segments, Mapping) or not segments:
            raise InputError(
                "segments must be a non-empty dict {name: {...}}", key=("segments",)
            )
        parts = []
        for sname, seg in segments.items():
            with about("segments", sname):
                parts.append(_segment(sname, seg, stages, streams, own, normalize))
    declared = None
    if absorbing is not None:
        with about("absorbing"):
            names = _names(absorbing, "absorbing")
            declared = tuple(stage_index(stages, a, "absorbing") for a in names)
    with about("value_stages"):
        vstages = [] if value_stages is None else _names(value_stages, "value_stages")
        value_idx = tuple(stage_index(stages, v, "value_stages") for v in vstages)
    if isinstance(cohort_size, bool) or not isinstance(cohort_size, numbers.Real):
        raise InputError(
            f"cohort_size must be a number, got {cohort_size!r}", key=("cohort_size",)
        )
    with about("net"):
        weights = tuple(_net(net, streams))
    units = check_units(time_unit, currency, locale)
    with about("arrivals"):
        arriving = _arrivals(arrivals, units)
    score_list = check_scores(scores, stages)
    return ResolvedJourney(
        stages=tuple(stages),
        streams=tuple(streams),
        segments=tuple(parts),
        rates=stream_rates,
        weights=weights,
        absorbing=declared,
        value_stages=value_idx,
        arrivals=arriving,
        cohort_size=float(cohort_size),
        tolerance=TOLERANCE,
        normalize=normalize,
        base=own,
        metadata=meta,
        moments=tuple(moments),
        units=units,
        scores=score_list,
    )


def stage_names(stages: Any) -> list[str]:
    """The stage names as a list: a sequence of strings. A mapping is refused
    rather than read as its keys: its values (a stage's owner, description,
    ...) would be lost without a word."""
    if isinstance(stages, Mapping):
        raise InputError(
            f"stages must be a list of names, got a mapping ({type(stages).__name__} "
            f"with keys {list(stages)[:5]!r}): only its keys would be read; pass "
            "the names as a list, and stage metadata (owner, description, ...) as "
            "metadata={stage: {...}}",
            key=("stages",),
        )
    if isinstance(stages, str) or not isinstance(stages, Iterable):
        raise InputError(f"stages must be a list of names, got {stages!r}")
    stages = list(stages)
    if not stages:
        raise InputError("a journey needs at least one stage")
    for s in stages:
        if not isinstance(s, str):
            raise InputError(f"stage names must be strings, got {s!r}")
        if s == "*":
            raise InputError(
                "'*' cannot be a stage name: it stands for any stage in "
                "interventions and transition values"
            )
    return stages


def _names(obj: str | Iterable[str], what: str) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if not isinstance(obj, Iterable) or isinstance(obj, Mapping):
        raise InputError(f"{what} must be a stage name or a list of them, got {obj!r}")
    return list(obj)


def _stream_names(values: Mapping | None, moves: Mapping | None) -> list[str]:
    for what, obj in (("values", values), ("transition_values", moves)):
        if obj is not None and not isinstance(obj, Mapping):
            raise InputError(
                f"{what} must be a dict {{stream: ...}}, got {obj!r}", key=(what,)
            )
    names = list(values or {})
    names += [s for s in (moves or {}) if s not in names]
    for s in names:
        if not isinstance(s, str) or not s:
            raise InputError(f"value stream names must be non-empty strings, got {s!r}")
    return names


def rates(rate: float | Mapping, streams: list[str]) -> dict[str, float]:
    """Per-stream discount rates from one rate or ``{stream: rate}``."""
    if isinstance(rate, Mapping):
        for s in rate:
            if s not in streams:
                raise InputError(
                    f"discount_rate: unknown stream {s!r}; the streams are {streams}"
                )
        out = {}
        for s in streams:
            r = rate.get(s, 0.0)
            if isinstance(r, bool) or not isinstance(r, numbers.Real):
                raise InputError(f"discount_rate[{s!r}] must be a number, got {r!r}")
            out[s] = float(r)
        return out
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise InputError(f"discount_rate must be a number or a dict, got {rate!r}")
    if not rate > -1:
        raise InputError(f"discount_rate must be > -1, got {rate}")
    return {s: float(rate) for s in streams}


def moves_matrix(spec: Mapping | None, stages: list[str], stream: str):
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
            raise InputError(f"{what}: keys must be (from, to) pairs, got {key!r}")
        frm, to = key
        if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
            raise InputError(f"{what}[{key!r}] must be a number, got {amount!r}")
        rows = range(len(stages)) if frm == "*" else [stage_index(stages, frm, what)]
        cols = range(len(stages)) if to == "*" else [stage_index(stages, to, what)]
        if frm == "*" and to == "*":
            raise InputError(f"{what}: ('*', '*') names no stage")
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
        raise InputError(f"net must be a dict {{stream: weight}}, got {net!r}")
    for s, w in net.items():
        if s not in streams:
            raise InputError(f"net: unknown stream {s!r}; the streams are {streams}")
        if isinstance(w, bool) or not isinstance(w, numbers.Real):
            raise InputError(f"net[{s!r}] must be a number, got {w!r}")
    return [float(net.get(s, 0.0)) for s in streams]


def _arrivals(arrivals: Any, units: Units) -> Arrivals:
    if arrivals is None:
        return Arrivals()
    if isinstance(arrivals, pd.Series) and isinstance(
        arrivals.index, (pd.PeriodIndex, pd.DatetimeIndex)
    ):
        if isinstance(arrivals.index, pd.DatetimeIndex):
            raise InputError(
                "arrivals by date need a PeriodIndex of signup periods: "
                "arrivals.to_period('M') (or pd.period_range(...))"
            )
        amounts, first = dated_amounts(arrivals, units)
        return Arrivals(tuple(amounts), start=first)
    if isinstance(arrivals, bool):
        raise InputError(f"arrivals must be a number or a sequence, got {arrivals!r}")
    if isinstance(arrivals, numbers.Real):
        return Arrivals((float(arrivals),), constant=True)
    try:
        a = np.asarray(arrivals, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"arrivals must be a number or a sequence of numbers, got {arrivals!r}"
        ) from None
    if a.ndim != 1:
        raise InputError(f"arrivals must be one-dimensional, got shape {a.shape}")
    return Arrivals(tuple(a.tolist()))


def _segment(
    name: Any,
    seg: Any,
    stages: list[str],
    streams: list[str],
    own: Segment,
    normalize: bool,
) -> Segment:
    """A segment of ``segments=``: what it names applies on top of ``own``."""
    base_p, base_v, base_moves, base_start = (
        own.transitions,
        own.values,
        own.moves,
        own.start,
    )
    if not isinstance(name, str) or not name:
        raise InputError(f"segment names must be non-empty strings, got {name!r}")
    what = f"segment {name!r}"
    if not isinstance(seg, Mapping):
        raise InputError(f"{what} must be a dict with a share, got {seg!r}")
    unknown = set(seg) - {
        "share",
        "transitions",
        "values",
        "transition_values",
        "start",
    }
    if unknown:
        raise InputError(f"{what}: unknown keys {sorted(unknown)}")
    if "share" not in seg:
        raise InputError(f"{what} needs a share")
    share = seg["share"]
    if isinstance(share, bool) or not isinstance(share, numbers.Real):
        raise InputError(f"{what}: share must be a number, got {share!r}")
    pieces = base_p
    if "transitions" in seg:
        pieces = resolve_pieces(
            seg["transitions"],
            stages,
            f"{what} transitions",
            base=base_p,
            kind="matrix",
            tol=TOLERANCE,
            normalize=normalize,
        )
    for key in ("values", "transition_values"):
        if seg.get(key) is not None and not isinstance(seg[key], Mapping):
            raise InputError(
                f"{what} {key} must be a dict {{stream: ...}}, got {seg[key]!r}"
            )
    vals = dict(base_v)
    for s, spec in (seg.get("values") or {}).items():
        if s not in streams:
            raise InputError(
                f"{what} values: unknown stream {s!r}; the journey's streams are "
                f"{streams} (declare it in the journey's values)"
            )
        vals[s] = resolve_pieces(
            spec, stages, f"{what} values[{s!r}]", base=base_v[s], kind="vector"
        )
    moves = dict(base_moves)
    for s, spec in (seg.get("transition_values") or {}).items():
        if s not in streams:
            raise InputError(f"{what} transition_values: unknown stream {s!r}")
        moves[s] = moves_matrix(spec, stages, s)
    start = (
        _start(seg["start"], stages, f"{what} start") if "start" in seg else base_start
    )
    return Segment(name, float(share), pieces, vals, moves, start)


def _check_metadata(metadata: Mapping | None, stages: list[str]) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InputError("metadata must be a dict {stage: {key: value}}")
    out = {}
    for stage, meta in metadata.items():
        stage_index(stages, stage, "metadata")
        if not isinstance(meta, Mapping):
            raise InputError(f"metadata[{stage!r}] must be a dict, got {meta!r}")
        unknown = set(meta) - set(STAGE_METADATA)
        if unknown:
            raise InputError(
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
        raise InputError(
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
            raise InputError(
                f"moments_of_truth: expected a stage or a (from, to) pair, got {m!r}"
            )
        out.append(m)
    return out
