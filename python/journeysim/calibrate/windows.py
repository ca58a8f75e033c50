"""Monitoring windows over calendar time: reading "3M" and "1M", laying out
rolling or expanding windows, and each window's transition counts as sums of
the counts of its calendar periods (counted once, in the core).

Conventions. Calendar periods are integer codes (months since 1970 for "M",
as pandas numbers them; ``time // period`` for numeric times). Period bin
``t`` holds the moves from period ``origin + t`` to ``origin + t + 1``. A
window ``[a, b]`` (first and last period, both included) holds the moves
*into* periods ``a .. b``: from the stage each customer was in at the end of
period ``a - 1`` to the end of ``b``. With ``P`` the prefix sums of the bins,
its counts are ``P[b - origin] - P[a - 1 - origin]``.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._base.errors import FitError
from .._base.native import _core, core_errors
from .._base.units import Units
from . import dirichlet
from .counting import FitData, FitOptions

__all__ = [
    "WindowCounts",
    "Windows",
    "count_by_period",
    "lay_out",
    "parse_span",
    "period_of",
    "period_unit",
]

_SPAN = re.compile(r"^\s*(\d+)\s*([DWMQY]?)\s*$")
#: Length of a unit in base periods, by the fit's period.
_IN = {
    "M": {"M": 1, "Q": 3, "Y": 12},
    "W": {"W": 1},
    "D": {"D": 1, "W": 7},
}
_UNIT = {"M": "month", "W": "week", "D": "day"}


def period_unit(period: Any) -> str:
    """The time unit a period is in ("month" for "M"; "period" for numbers)."""
    return _UNIT.get(period, "period") if isinstance(period, str) else "period"


def parse_span(value: Any, period: Any, name: str) -> int:
    """A window length or step ("3M", "1Q", "1Y", "12W", "90D", or a whole
    number of periods) as a number of periods of ``period``."""
    if isinstance(value, bool):
        raise FitError(f"{name} must be like '3M' or a whole number, got {value!r}")
    if isinstance(value, numbers.Integral):
        n, unit = int(value), ""
    elif isinstance(value, str) and _SPAN.match(value):
        m = _SPAN.match(value)
        n, unit = int(m.group(1)), m.group(2)
    else:
        raise FitError(
            f"{name} must be a number and a unit, like '3M', '1Q', '1Y', '12W' or "
            f"'90D' (or a whole number of periods), got {value!r}"
        )
    if n < 1:
        raise FitError(f"{name} must be at least one period, got {value!r}")
    if unit == "":
        return n
    if not isinstance(period, str):
        raise FitError(
            f"{name}={value!r} is in calendar units but the times are numbers "
            f"(period={period!r}): give {name} as a whole number of periods"
        )
    per = _IN[period].get(unit)
    if per is None:
        raise FitError(
            f"{name}={value!r} is not a whole number of periods of {period!r}: "
            f"with period={period!r}, use units {sorted(_IN[period])}"
        )
    return n * per


def infer_period(window: Any, period: Any) -> Any:
    """The fit's period: as given, or the window's unit (quarters and years of
    months are months); whole-number windows count integer periods."""
    if period is not None:
        return period
    if isinstance(window, str) and _SPAN.match(window):
        unit = _SPAN.match(window).group(2)
        return {"Q": "M", "Y": "M"}.get(unit, unit) if unit else 1
    return 1


def period_of(value: Any, period: Any, name: str) -> int:
    """The calendar period code of a date (or a number, for numeric times)."""
    if isinstance(period, str):
        try:
            return int(pd.Period(pd.Timestamp(value), freq=period).ordinal)
        except (ValueError, TypeError) as err:
            raise FitError(f"{name} must be a date, got {value!r} ({err})") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise FitError(
            f"{name} must be a number (the times are numbers), got {value!r}"
        )
    return int(np.floor_divide(int(np.floor(value)), int(period)))


@dataclass(frozen=True)
class Windows:
    """First and last calendar period of each window (both included), with
    their dates (or numbers) for people."""

    first: np.ndarray
    last: np.ndarray
    start: pd.Index  # first day (or first time) of each window
    end: pd.Index  # last day (or last time) of each window


def labels(codes: np.ndarray, period: Any, last: bool) -> pd.Index:
    """Dates of period codes: first days, or last days with ``last``; for
    numeric times the first (or last) time of the period."""
    if isinstance(period, str):
        idx = pd.PeriodIndex.from_ordinals(codes, freq=period)
        return (idx.end_time.normalize() if last else idx.start_time).rename(None)
    p = int(period)
    return pd.Index(codes * p + (p - 1 if last else 0))


def lay_out(
    *,
    length: int,
    every: int,
    expanding: bool,
    start: int,
    end: int,
    origin: int,
    period: Any,
) -> Windows:
    """Rolling windows ``[start + w every, start + w every + length - 1]``, or
    expanding ones ``[start, start + length - 1 + w every]``, while they end
    by ``end``. A FitError when not one fits."""
    if start <= origin:
        start = origin + 1  # no move is seen into the log's first period
    if start + length - 1 > end:
        span = max(end - start + 1, 0)
        unit = Units(period_unit(period))
        first = labels(np.array([start]), period, False)[0]
        last = labels(np.array([end]), period, True)[0]
        raise FitError(
            f"the window ({unit.periods(length)}) is longer than the data: moves "
            f"are seen from {_show(first)} to {_show(last)} "
            f"({unit.periods(span)}); pass a shorter window"
        )
    n = (end - (start + length - 1)) // every + 1
    w = np.arange(n, dtype=np.int64)
    if expanding:
        first = np.full(n, start, dtype=np.int64)
        last = start + length - 1 + w * every
    else:
        first = start + w * every
        last = first + length - 1
    return Windows(
        first, last, labels(first, period, False), labels(last, period, True)
    )


def _show(x: Any) -> str:
    return str(x.date()) if isinstance(x, pd.Timestamp) else f"{x:,}"


def count_by_period(
    data: FitData, stages: list[str], absorbing: list[str], origin: int
) -> np.ndarray:
    """Moves by calendar period (periods x stages x stages): bin ``t`` the
    moves from period ``origin + t``, counted by the core in one pass."""
    with core_errors():
        counts = _core.count_transitions_by_period(
            data.customer,
            data.period,
            data.stage,
            len(stages),
            [s in absorbing for s in stages],
            data.changes,
            origin,
            data.end,
        )
    return np.asarray(counts)


@dataclass(frozen=True)
class WindowCounts:
    """Everything monitoring reads: the moves by calendar period, the windows
    with their counts and start counts, the posterior of each window
    (windows x 1 x stages x stages, as a fit's segments x pieces), and the
    options the log was read with."""

    stages: list[str]
    absorbing: list[str]
    period: Any
    origin: int
    end: int
    by_period: np.ndarray  # T x S x S
    windows: Windows
    counts: np.ndarray  # W x S x S
    starts: np.ndarray  # W x S
    posterior: dirichlet.Posterior  # alpha and fixed, W x 1 x S (x S)
    prior: np.ndarray  # S x S
    allowed: np.ndarray  # S x S
    options: FitOptions
    unobserved: str
    data: FitData | None  # None when counted on a cluster (rows on the workers)

    @property
    def units(self) -> Units:
        return Units(period_unit(self.period))

    def window_sum(self, first: int, last: int) -> np.ndarray:
        """Moves into periods ``first .. last`` (S x S)."""
        lo, hi = max(first - 1 - self.origin, 0), max(last - self.origin, 0)
        return self.by_period[lo:hi].sum(axis=0)


def window_counts(by_period: np.ndarray, windows: Windows, origin: int) -> np.ndarray:
    """Each window's counts as a difference of prefix sums of the bins."""
    S = by_period.shape[-1]
    prefix = np.zeros((len(by_period) + 1, S, S), dtype=np.int64)
    np.cumsum(by_period, axis=0, out=prefix[1:])
    return prefix[windows.last - origin] - prefix[windows.first - 1 - origin]


def window_starts(
    data: FitData,
    by_period: np.ndarray,
    windows: Windows,
    origin: int,
    transient: np.ndarray,
) -> np.ndarray:
    """Each window's start counts: the stage of each customer's first row in
    the window's rows (see :func:`journeysim.monitor`). For stage changes,
    the customers in a transient stage at the end of the period before the
    window (the row sums of that period's moves) and those first seen in
    the window; for snapshots, the first row in periods ``a - 1 .. b`` of
    each customer seen there."""
    S = by_period.shape[-1]
    cust, period, stage = data.customer, data.period, data.stage
    new = np.ones(len(cust), dtype=bool)
    new[1:] = cust[1:] != cust[:-1]
    out = np.zeros((len(windows.first), S), dtype=np.int64)
    if data.changes:
        T = data.end - origin + 1
        firsts = np.zeros((T + 1, S), dtype=np.int64)
        np.add.at(firsts, (period[new] - origin + 1, stage[new]), 1)
        np.cumsum(firsts, axis=0, out=firsts)
        carried = by_period[windows.first - 1 - origin].sum(axis=-1) * transient
        seen = firsts[windows.last - origin + 1] - firsts[windows.first - origin]
        return carried + seen
    prev = np.where(new, np.iinfo(np.int64).min, np.r_[0, period[:-1]])
    for w, (a, b) in enumerate(zip(windows.first, windows.last, strict=True)):
        first = (period >= a - 1) & (period <= b) & (prev < a - 1)
        out[w] = np.bincount(stage[first], minlength=S)
    return out
