"""Writing a journey as its canonical spec: sparse rows, tenure pieces as
what changes, segments as what they change in the journey's own transitions,
values and start; numbers as Python floats whose repr survives YAML and JSON."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base.conventions import STAGE_METADATA_ORDER
from .._base.resolved import Piece, ResolvedJourney, Segment, piece_at

__all__ = ["sparse_rows", "write_journey"]


def sparse_rows(m: pd.DataFrame, prev: pd.DataFrame | None = None) -> dict:
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
        b, goal = piece_at(base, t), piece_at(target, t)
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
        b, goal = piece_at(base, t), piece_at(target, t)
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


def _segment_spec(stages, streams, seg: Segment, base: Segment) -> dict:
    """A segment as what it changes in ``base`` (the journey's own parts)."""
    vals, moves, start = seg.values, seg.moves, seg.start
    bv, bm, bs = base.values, base.moves, base.start
    out: dict[str, Any] = {"share": float(seg.share)}
    rows = _rows_pieces(stages, base.transitions, seg.transitions)
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


def write_journey(r: ResolvedJourney, name: Any) -> dict:
    """The canonical spec of a journey (see :meth:`journeysim.Journey.to_spec`)."""
    stages = list(r.stages)
    n = len(stages)
    streams = list(r.streams)
    first = r.segments[0]
    single = len(r.segments) == 1 and first.name == "all" and first.share == 1.0
    # Segments are written as what they change in the journey's own
    # transitions, values and start (kept as given, rescaled as the core
    # rescales); without those, as what they change in the first segment.
    base = first
    own = r.base
    if not single and own is not None and list(own.values) == streams:
        tol = r.tolerance
        own_p = [Piece(t, _normalized_rows(m, tol)) for t, m in own.transitions]
        own_s = _normalized_rows(own.start[None, :], tol)[0]
        stochastic = all(_stochastic(m, tol) for _, m in own_p)
        if stochastic and _stochastic(own_s[None, :], tol):
            base = dataclasses.replace(base, transitions=own_p, start=own_s)
        base = dataclasses.replace(base, values=own.values, moves=own.moves)
    out: dict[str, Any] = {}
    if name is not None:
        out["name"] = name if isinstance(name, str) else str(name)
    out["stages"] = _stage_entries(r)
    identity = [Piece(0, np.eye(n))]
    out["transitions"] = _journey_pieces(
        _rows_pieces(stages, identity, base.transitions)
    )
    zeros = [Piece(0, np.zeros(n))]
    values = {
        s: _journey_pieces(_vector_pieces(stages, zeros, base.values[s]))
        for s in streams
    }
    # A trailing stream with transition values only needs no entry here:
    # the streams keep their order (values first, then the others).
    for s in reversed(streams):
        if values[s] or base.moves[s] is None:
            break
        del values[s]
    if values:
        out["values"] = values
    moves = {
        s: _moves_spec(stages, base.moves[s])
        for s in streams
        if base.moves[s] is not None
    }
    if moves:
        out["transition_values"] = moves
    out["start"] = _amounts(stages, base.start)
    rates = [float(r.rates[s]) for s in streams]
    if rates:
        same = all(x == rates[0] for x in rates)
        out["discount_rate"] = rates[0] if same else dict(zip(streams, rates))
    if any(w != 1.0 for w in r.weights):
        out["net"] = {s: float(w) for s, w in zip(streams, r.weights)}
    if r.value_stages:
        out["value_stages"] = [stages[i] for i in r.value_stages]
    if r.absorbing is not None:
        out["absorbing"] = [stages[i] for i in r.absorbing]
    pairs = [list(m) for m in r.moments if isinstance(m, tuple)]
    if pairs:
        out["moments_of_truth"] = pairs
    if not single:
        out["segments"] = {
            seg.name: _segment_spec(stages, streams, seg, base) for seg in r.segments
        }
    if r.arrivals:
        amounts = r.arrivals.amounts
        out["arrivals"] = (
            float(amounts[0]) if r.arrivals.constant else [float(a) for a in amounts]
        )
        if r.arrivals.start is not None:  # by signup period, dates kept
            first = r.arrivals.start
            out["arrivals"] = {str(first + i): float(a) for i, a in enumerate(amounts)}
    if r.cohort_size != 1.0:
        out["cohort_size"] = float(r.cohort_size)
    if r.units.time_unit != "period":
        out["time_unit"] = r.units.time_unit
    if r.units.currency is not None:
        out["currency"] = r.units.currency
    if r.units.locale != "en_US":
        out["locale"] = r.units.locale
    if r.scores:
        out["scores"] = {
            sc.name: {s: v for s, v in zip(stages, sc.values) if v == v}
            for sc in r.scores
        }
    if r.team_capacity:
        out["team_capacity"] = {b.team: b.capacity for b in r.team_capacity}
    return out


def _stage_entries(r: ResolvedJourney) -> list:
    entries: list = []
    for s in r.stages:
        meta = r.metadata.get(s, {})
        entry = {
            k: _plain(meta[k]) for k in STAGE_METADATA_ORDER if meta.get(k) is not None
        }
        if s in r.moments:
            entry["moment_of_truth"] = True
        entries.append({"name": s, **entry} if entry else s)
    return entries
