"""Where customers end and where they go next: the share ending in each
absorbing stage (churn by reason), the next stage after a renewal decision,
and the chance per period of leaving from each stage, all from the exact
occupancy and flows of an analysis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.checks import stage_index
from .._base.errors import InputError
from .._base.resolved import Segment

__all__ = ["Moves", "exit_chances", "outcomes", "renewal_rate"]


@dataclass(frozen=True)
class Moves:
    """What an analysis says about moves over its horizon: the occupancy at
    t = 0..T, the expected moves from (rows) to (columns) in periods 1..T, the
    lifetime absorption per stage and which stages are absorbing."""

    stages: tuple[str, ...]
    occupancy: np.ndarray
    flows: np.ndarray
    absorption: np.ndarray
    absorbing: np.ndarray
    lifetime_finite: bool = True

    def periods_in(self) -> np.ndarray:
        """Customer-periods started in each stage over periods 1..T (the
        denominators of per-period chances)."""
        return self.occupancy[:-1].sum(axis=0)


def outcomes(m: Moves) -> pd.DataFrame:
    """Per absorbing stage, the share there at the horizon and over the
    lifetime, and a ``"retained"`` row (not absorbed) so that each column
    sums to 1."""
    idx = np.flatnonzero(m.absorbing)
    horizon = m.occupancy[-1, idx]
    lifetime = m.absorption[idx]
    retained_h = float(m.occupancy[-1, ~m.absorbing].sum())
    # Never absorbed over the lifetime: exactly 0 when the expected lifetime
    # is finite (not 1 - sum, which leaves rounding dust such as 1e-16).
    retained_l = 0.0 if m.lifetime_finite else max(0.0, 1.0 - float(lifetime.sum()))
    names = [m.stages[i] for i in idx]
    return pd.DataFrame(
        {
            "horizon": [*horizon.tolist(), retained_h],
            "lifetime": [*lifetime.tolist(), retained_l],
        },
        index=pd.Index([*names, "retained"], name="outcome"),
    )


def _possible_exits(segments: Sequence[Segment], i: int) -> np.ndarray:
    """Stages some segment can move to from stage ``i`` in some tenure piece."""
    can = np.zeros(len(segments[0].start), dtype=bool)
    for seg in segments:
        for p in seg.transitions:
            can |= np.asarray(p.value[i]) > 0
    can[i] = False
    return can


def renewal_rate(m: Moves, segments: Sequence[Segment], stage: str) -> pd.Series:
    """The next-stage shares of :meth:`Analysis.renewal_rate` (see there)."""
    i = stage_index(list(m.stages), stage, "renewal_rate")
    if m.absorbing[i]:
        raise InputError(
            f"renewal_rate: {stage!r} is absorbing: no customer leaves it",
            key=("stage",),
        )
    out = m.flows[i].copy()
    out[i] = 0.0
    total = out.sum()
    share = out / total if total > 0 else np.full_like(out, np.nan)
    keep = _possible_exits(segments, i) | (out > 0)
    return pd.Series(
        share[keep],
        index=pd.Index([m.stages[j] for j in np.flatnonzero(keep)], name="next stage"),
        name=f"after {stage}",
    )


def exit_chances(m: Moves) -> np.ndarray:
    """Per stage, the chance per period of moving to an absorbing stage,
    averaged over the periods customers spend there within the horizon (nan
    for a stage no one is in before the horizon)."""
    lost = m.flows[:, m.absorbing].sum(axis=1)
    time = m.periods_in()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(time > 0, lost / np.where(time > 0, time, 1.0), np.nan)
