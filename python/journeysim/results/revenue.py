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

__all__ = [
    "Part",
    "Paths",
    "RevenueSums",
    "path_retention",
    "revenue_retention",
    "spans",
]


#: Periods in a year for each time unit ("period" is taken as a month).
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


def check_stream(stream: object, streams: Sequence[str]) -> str:
    if not isinstance(stream, str) or stream not in streams:
        raise InputError(
            f"unknown stream {stream!r}; the journey's streams are {list(streams)}"
            + ("" if streams else " (it has none: give it values={'revenue': ...})"),
            key=("stream",),
        )
    return stream


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
    check_stream(stream, streams)
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


@dataclass(frozen=True)
class Paths:
    """Simulated customers of the starting cohort: start stage and segment per
    customer, and their moves (customer, period, new stage) in any order."""

    start: np.ndarray
    segment: np.ndarray
    customer: np.ndarray
    period: np.ndarray
    to: np.ndarray

    def stage_at(self, t: int) -> np.ndarray:
        """Each customer's stage at period t: the last move at or before t."""
        stage = self.start.astype(np.int64).copy()
        keep = (self.period <= t) & (self.customer < len(self.start))
        cust, per, to = self.customer[keep], self.period[keep], self.to[keep]
        order = np.lexsort((per, cust))
        cust, to = cust[order], to[order]
        # The last row of each customer in (customer, period) order.
        last = np.r_[cust[1:] != cust[:-1], True] if len(cust) else cust.astype(bool)
        stage[cust[last]] = to[last]
        return stage


def _sample_shares(v0: np.ndarray, v1: np.ndarray, lost: np.ndarray) -> dict:
    """The ratios of the table from customers' own start and end rates (those
    retained at the start), with the standard errors of NRR and GRR."""
    nan = float("nan")
    m0 = float(v0.mean()) if v0.size else 0.0
    held = ~lost
    cap = np.where(held, np.minimum(v1, v0), 0.0)
    sums = {
        "nrr": v1,
        "grr": cap,
        "expansion": np.where(held, np.maximum(v1 - v0, 0.0), 0.0),
        "contraction": np.where(held, np.maximum(v0 - v1, 0.0), 0.0),
        "churned": np.where(lost, v0, 0.0),
    }
    out = {"logo_retention": float(held.mean()) if held.size else nan}
    out.update({k: float(y.mean()) / m0 if m0 != 0 else nan for k, y in sums.items()})
    for k in ("nrr", "grr"):
        # Delta method for a ratio of means: sd(y - r v0) / (sqrt(n) |mean v0|).
        dev = sums[k] - out[k] * v0
        out[f"{k}_se"] = float(dev.std() / (np.sqrt(v0.size) * abs(m0))) if m0 else nan
    return out


def path_retention(
    paths: Paths,
    segments: Sequence[Segment],
    stream: str,
    streams: Sequence[str],
    absorbing: np.ndarray,
    every: object,
    periods: int,
    units: Units,
) -> pd.DataFrame:
    """The table of :meth:`Simulation.revenue_retention` (see there): the
    same definitions over the simulated customers' own (start, end) pairs,
    with standard errors of NRR and GRR (delta method for a ratio of means)."""
    check_stream(stream, streams)

    def rate(t: int) -> np.ndarray:
        """Revenue by (segment, stage) at tenure t, 0 in absorbing stages."""
        v = np.array([piece_at(seg.values[stream], t) for seg in segments])
        return np.where(absorbing[None, :], 0.0, v)

    seg = paths.segment.astype(np.int64)
    rows = []
    for t0, t1 in spans(every, periods):
        s0, s1 = paths.stage_at(t0), paths.stage_at(t1)
        kept = ~absorbing[s0]
        row = _sample_shares(
            rate(t0)[seg, s0][kept], rate(t1)[seg, s1][kept], absorbing[s1][kept]
        )
        rows.append({"start": t0, "end": t1, **row})
    index = pd.Index(
        [f"{units.plural} {r['start']}–{r['end']}" for r in rows], name="span"
    )
    return pd.DataFrame(rows, index=index)
