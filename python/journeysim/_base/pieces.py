"""Turning the user's forms of a journey (sparse dicts, matrices, DataFrames,
tenure pieces) into the dense, piecewise arrays the core takes.

Every check that needs stage *names* lives here (the core sees indices); every
numeric check (probabilities, sums, shapes) is the core's, done once on
construction.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .checks import stage_index
from .conventions import MAX_PERIOD, TOLERANCE
from .errors import InputError
from .resolved import Piece, piece_at

__all__ = ["is_tenure_dict", "resolve_pieces", "to_matrix", "to_vector"]


def is_tenure_dict(obj: Any) -> bool:
    """A dict keyed by integer tenures ({0: ..., 3: ...}) rather than by stages."""
    if not isinstance(obj, Mapping) or not obj:
        return False
    keys = list(obj)
    ints = [isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in keys]
    if all(ints):
        return True
    if any(ints):
        raise InputError(
            f"a dict mixes tenure keys (integers) and stage keys: {keys!r}"
        )
    return False


def _as_array(obj: Any, what: str) -> np.ndarray:
    try:
        return np.array(obj, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what}: cannot be read as numbers ({err})") from None


def to_matrix(obj: Any, stages: Sequence[str], what: str) -> np.ndarray:
    """A full matrix from a numpy array, nested lists or a labelled DataFrame."""
    if isinstance(obj, pd.DataFrame):
        obj = obj.set_axis([str(r) for r in obj.index], axis=0).set_axis(
            [str(c) for c in obj.columns], axis=1
        )
        rows, cols = list(obj.index), list(obj.columns)
        if sorted(rows) != sorted(stages) or sorted(cols) != sorted(stages):
            unknown = sorted((set(rows) | set(cols)) - set(stages))
            missing = sorted(set(stages) - set(rows) - set(cols))
            raise InputError(
                f"{what}: DataFrame labels must be the stages; "
                f"unknown {unknown}, missing {missing}"
            )
        obj = obj.loc[list(stages), list(stages)].to_numpy(dtype=float)
    m = _as_array(obj, what)
    n = len(stages)
    if m.shape != (n, n):
        raise InputError(
            f"{what}: matrix has shape {m.shape}, expected ({n}, {n}) for {n} stages"
        )
    return np.ascontiguousarray(m)


def to_vector(obj: Any, stages: Sequence[str], what: str, fill: float = 0.0):
    """A per-stage vector from {stage: x}, a Series or an array."""
    n = len(stages)
    if isinstance(obj, pd.Series):
        obj = obj.to_dict()
    if isinstance(obj, Mapping):
        v = np.full(n, fill, dtype=float)
        for name, x in obj.items():
            v[stage_index(stages, name, what)] = _number(x, f"{what}[{name!r}]")
        return v
    v = _as_array(obj, what)
    if v.shape != (n,):
        raise InputError(f"{what}: has shape {v.shape}, expected ({n},), one per stage")
    return v


def _number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise InputError(f"{what}: expected a number, got {x!r}")
    return float(x)


def apply_rows(
    m: np.ndarray,
    rows: Mapping,
    stages: Sequence[str],
    what: str,
    tol: float,
    normalize: bool = False,
) -> None:
    """Replace the rows named in ``rows`` ({from: {to: p}}). A row that does not
    name its own stage keeps the rest of its probability there; with
    ``normalize``, exits summing to more than 1 are left for the core to rescale
    (nothing stays)."""
    for frm, exits in rows.items():
        i = stage_index(stages, frm, what)
        if not isinstance(exits, Mapping):
            raise InputError(
                f"{what}: row {frm!r} must be a dict {{stage: probability}}, "
                f"got {exits!r}"
            )
        row = np.zeros(len(stages))
        given: list[float] = []
        for to, p in exits.items():
            x = _number(p, f"{what}[{frm!r}][{to!r}]")
            if x < 0:
                raise InputError(
                    f"{what}: transition {frm!r} -> {to!r} is negative ({x:.12g})"
                )
            row[stage_index(stages, to, f"{what}, row {frm!r}")] = x
            given.append(x)
        if frm not in exits:
            total = math.fsum(given)
            if np.isfinite(total) and total > 1.0 + tol and not normalize:
                raise InputError(
                    f"{what}: exits from {frm!r} sum to {total:.12g}, more than 1"
                )
            row[i] = max(0.0, 1.0 - total) if np.isfinite(total) else 0.0
        m[i] = row


def resolve_pieces(
    spec: Any,
    stages: Sequence[str],
    what: str,
    *,
    base: list[Piece] | None,
    kind: str,
    tol: float = TOLERANCE,
    normalize: bool = False,
) -> list[Piece]:
    """Resolve a possibly tenure-keyed spec into [(start, dense array)].

    ``kind`` is "matrix" (rows dicts / matrices) or "vector" ({stage: x} / arrays).
    Pieces apply in tenure order on top of ``base`` (the journey's pieces, for a
    segment) or of identity / zeros: a full matrix or array replaces, a dict
    replaces only the rows or stages it names and the rest carry over.
    """
    if is_tenure_dict(spec):
        pieces = sorted(spec.items())
        for t, _ in pieces:
            if t < 0:
                raise InputError(f"{what}: tenure {t} is negative")
            if t > MAX_PERIOD:
                raise InputError(f"{what}: tenure {t} is beyond {MAX_PERIOD:,} periods")
        if pieces[0][0] != 0 and base is None:
            raise InputError(
                f"{what}: the first tenure piece must start at 0, not {pieces[0][0]}"
            )
    else:
        pieces = [(0, spec)]
    n = len(stages)
    if base is None:
        empty = np.eye(n) if kind == "matrix" else np.zeros(n)
        base = [Piece(0, empty)]
    starts = sorted({t for t, _ in base} | {int(t) for t, _ in pieces})
    out = []
    for t in starts:
        current = piece_at(base, t).copy()
        for s, piece in pieces:
            if s > t:
                break
            label = f"{what} (tenure {s})" if len(pieces) > 1 else what
            if isinstance(piece, Mapping):
                if kind == "matrix":
                    apply_rows(current, piece, stages, label, tol, normalize)
                else:
                    for name, x in piece.items():
                        current[stage_index(stages, name, label)] = _number(
                            x, f"{label}[{name!r}]"
                        )
            elif kind == "matrix":
                current = to_matrix(piece, stages, label)
            else:
                current = to_vector(piece, stages, label)
        out.append(Piece(int(t), current))
    # Merge neighbours that came out equal, so that stationarity starts early.
    merged = [out[0]]
    for t, m in out[1:]:
        if not np.array_equal(m, merged[-1][1]):
            merged.append(Piece(t, m))
    return merged
