"""Revenue retention of the starting cohort over spans of time: logo retention,
net and gross revenue retention (NRR, GRR), expansion, contraction and churned
revenue, computed exactly from the joint distribution of (stage at the span's
start, stage at its end).

For a span [t0, t1], the customers of one segment in stage i at t0 (share
x_i) are in stage j at t1 with probability M_ij, M = P(t0) P(t0+1) ... P(t1-1)
(each matrix the one in force at that tenure): the joint distribution is
J = diag(x) M. Nothing forms J: customers are grouped by their starting
revenue level c (the few distinct amounts of the stream at tenure t0), and each
group's occupancy is carried through the span, so a span costs levels x span
length x S² operations. Segments are computed on their own and mixed by their
shares before any ratio is taken.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.resolved import Segment, piece_at
from .._base.units import Units

__all__ = ["Part", "RevenueSums", "periods_per_year", "revenue_retention", "spans"]

#: Periods in a year for each time unit ("period" is taken as a month).
_YEAR = {"period": 12, "day": 365, "week": 52, "month": 12, "quarter": 4, "year": 1}


def periods_per_year(units: Units) -> int:
    """Periods in one year in the journey's time unit (12 for "period")."""
    return _YEAR.get(units.time_unit, 12)


@dataclass(frozen=True)
class Part:
    """One sub-population of the cohort: its weight in the mix, its resolved
    segment (transition and value pieces) and its occupancy at t = 0..T (as a
    share of the sub-population)."""

    weight: float
    segment: Segment
    occupancy: np.ndarray


@dataclass(frozen=True)
class RevenueSums:
    """Expectations per customer of the cohort over one span, before any
    ratio: ``retained_start`` / ``retained_end`` shares not absorbed (of those
    retained at the start), ``start`` / ``end`` revenue rates, ``capped`` the
    end rate with each customer capped at its start level, and the three
    movements."""

    retained_start: float = 0.0
    retained_end: float = 0.0
    start: float = 0.0
    end: float = 0.0
    capped: float = 0.0
    expansion: float = 0.0
    contraction: float = 0.0
    churned: float = 0.0

    def __add__(self, other: RevenueSums) -> RevenueSums:
        return RevenueSums(
            *(a + b for a, b in zip(self._values(), other._values(), strict=True))
        )

    def scaled(self, w: float) -> RevenueSums:
        return RevenueSums(*(w * a for a in self._values()))

    def _values(self) -> tuple[float, ...]:
        return (
            self.retained_start,
            self.retained_end,
            self.start,
            self.end,
            self.capped,
            self.expansion,
            self.contraction,
            self.churned,
        )

    def shares(self) -> dict[str, float]:
        """The ratios of the table (nan where the denominator is 0)."""

        def ratio(a: float, b: float) -> float:
            return a / b if b != 0 else float("nan")

        return {
            "logo_retention": ratio(self.retained_end, self.retained_start),
            "nrr": ratio(self.end, self.start),
            "grr": ratio(self.capped, self.start),
            "expansion": ratio(self.expansion, self.start),
            "contraction": ratio(self.contraction, self.start),
            "churned": ratio(self.churned, self.start),
        }


def span_sums(
    part: Part, stream: str, absorbing: np.ndarray, t0: int, t1: int
) -> RevenueSums:
    """The expectations over [t0, t1] for one sub-population (per customer of
    it). Revenue in an absorbing stage counts as none: a lost customer's
    revenue is lost."""
    seg = part.segment
    kept = ~absorbing
    v0 = np.where(kept, piece_at(seg.values[stream], t0), 0.0)
    v1 = np.where(kept, piece_at(seg.values[stream], t1), 0.0)
    x = np.where(kept, part.occupancy[t0], 0.0)
    present = x > 0
    if not present.any():
        return RevenueSums()
    levels = np.unique(v0[present])
    # One row per starting level: the occupancy of the customers who started
    # the span at that level, carried through the span.
    y = np.where(v0[None, :] == levels[:, None], x[None, :], 0.0)
    start_counts = y.sum(axis=1)
    for t in range(t0, t1):
        y = y @ piece_at(seg.transitions, t)
    stay = y[:, kept]
    up = np.maximum(v1[None, kept] - levels[:, None], 0.0)
    down = np.maximum(levels[:, None] - v1[None, kept], 0.0)
    capped = np.minimum(v1[None, kept], levels[:, None])
    return RevenueSums(
        retained_start=float(start_counts.sum()),
        retained_end=float(stay.sum()),
        start=float(levels @ start_counts),
        end=float((stay @ v1[kept]).sum()),
        capped=float((stay * capped).sum()),
        expansion=float((stay * up).sum()),
        contraction=float((stay * down).sum()),
        churned=float(levels @ y[:, absorbing].sum(axis=1)),
    )


def spans(every: object, periods: int) -> list[tuple[int, int]]:
    """The spans [k every, (k+1) every] that end within the horizon."""
    if isinstance(every, bool) or not isinstance(every, numbers.Integral):
        raise InputError(
            f"every must be a whole number of periods, got {every!r}", key=("every",)
        )
    if every <= 0:
        raise InputError(
            f"every must be at least 1 period, got {every}", key=("every",)
        )
    if every > periods:
        raise InputError(
            f"every ({every}) is longer than the horizon ({periods} periods): "
            f"analyze over at least {every} periods",
            key=("every",),
        )
    k = int(every)
    return [(s, s + k) for s in range(0, periods - k + 1, k)]


def revenue_retention(
    parts: Sequence[Part],
    stream: str,
    streams: Sequence[str],
    absorbing: np.ndarray,
    every: object,
    periods: int,
    units: Units,
) -> pd.DataFrame:
    """The table of :meth:`Analysis.revenue_retention` (see there)."""
    if not isinstance(stream, str) or stream not in streams:
        raise InputError(
            f"unknown stream {stream!r}; the journey's streams are {list(streams)}"
            + ("" if streams else " (it has none: give it values={'revenue': ...})"),
            key=("stream",),
        )
    rows = []
    for t0, t1 in spans(every, periods):
        total = RevenueSums()
        for p in parts:
            if p.weight > 0:
                total = total + span_sums(p, stream, absorbing, t0, t1).scaled(p.weight)
        rows.append({"start": t0, "end": t1, **total.shares()})
    index = pd.Index(
        [f"{units.plural} {r['start']}–{r['end']}" for r in rows], name="span"
    )
    return pd.DataFrame(rows, index=index)
