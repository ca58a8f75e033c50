"""Calendar time: the dates a journey's periods fall on.

A journey counts in periods of its ``time_unit``; with a start period (given
to ``analyze(start=)``, or the first date of dated arrivals) period t = 0 is
that calendar period and every time index becomes a ``pandas.PeriodIndex``.
The conventions, so that every table counts alike:

- occupancy, retention, population at t are labelled ``start + t`` (the
  customers as the calendar period ``start + t`` begins);
- what happens in period k = 1..T (value earned, entries, hazard) is
  labelled ``start + k - 1``, the calendar period it happens in;
- arrivals dated P sign up during P and join at t = P - start + 1, so
  arrivals dated from ``start`` on are the integer arrivals 1, 2, ...
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .units import Units

__all__ = ["FREQ", "check_start", "dated_amounts", "period_index"]

#: The pandas period frequency of each time unit ("period" has none).
FREQ = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


def _freq(units: Units, what: str) -> str:
    if units.time_unit not in FREQ:
        raise InputError(
            f"{what} needs a calendar time unit: give the journey time_unit="
            f"'month' (or 'day', 'week', 'quarter', 'year'), not "
            f"{units.time_unit!r}",
            key=("time_unit",),
        )
    return FREQ[units.time_unit]


def _same_freq(freqstr: str, freq: str) -> bool:
    # "W-SUN", "Q-DEC", "Y-DEC" (or "A-DEC") carry an anchor after the dash.
    base = freqstr.split("-")[0]
    return base == freq or (freq == "Y" and base in ("A", "Y"))


def check_start(start: Any, units: Units) -> pd.Period:
    """``start`` ("2026-01", a ``pd.Period`` or a date) as the calendar period
    of t = 0, in the journey's time unit."""
    freq = _freq(units, "start")
    if isinstance(start, bool) or isinstance(start, numbers.Number):
        raise InputError(
            f"start must be a date or period such as '2026-01', got {start!r}",
            key=("start",),
        )
    if isinstance(start, pd.Period):
        if not _same_freq(start.freqstr, freq):
            raise InputError(
                f"start {start} is a {start.freqstr!r} period but the journey "
                f"counts in {units.plural} ({freq!r})",
                key=("start",),
            )
        return start
    try:
        return pd.Period(start, freq=freq)
    except (TypeError, ValueError):
        raise InputError(
            f"start must be a date or period such as '2026-01', got {start!r}",
            key=("start",),
        ) from None


def dated_amounts(arrivals: pd.Series, units: Units) -> tuple[list[float], pd.Period]:
    """Arrivals by signup period (a Series on a PeriodIndex) as the amounts
    joining at t = 1, 2, ... and the calendar period of t = 0 (the first
    signup period). The periods must be in the journey's time unit, sorted,
    without duplicates or gaps."""
    idx = arrivals.index
    freq = _freq(units, "arrivals by date")
    if not _same_freq(idx.freqstr, freq):
        raise InputError(
            f"arrivals are indexed by {idx.freqstr!r} periods but the journey "
            f"counts in {units.plural}: use pd.period_range(..., freq={freq!r})",
            key=("arrivals",),
        )
    if idx.hasnans:
        raise InputError(
            "arrivals: a signup period is missing (NaT)", key=("arrivals",)
        )
    if len(idx) == 0:
        raise InputError("arrivals: the Series is empty", key=("arrivals",))
    steps = np.diff(idx.asi8)
    if idx.has_duplicates:
        dup = idx[idx.duplicated()][0]
        raise InputError(
            f"arrivals: the signup period {dup} appears more than once",
            key=("arrivals",),
        )
    if (steps < 0).any():
        at = idx[1:][steps < 0][0]
        raise InputError(
            f"arrivals: the signup periods are not in order (at {at}): sort the "
            "Series (arrivals.sort_index())",
            key=("arrivals",),
        )
    if (steps > 1).any():
        k = int(np.nonzero(steps > 1)[0][0])
        raise InputError(
            f"arrivals: no entry between {idx[k]} and {idx[k + 1]}: give every "
            "period (0 where no one signs up)",
            key=("arrivals",),
        )
    try:
        amounts = np.asarray(arrivals.to_numpy(), dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            "arrivals must be numbers of customers", key=("arrivals",)
        ) from None
    return amounts.tolist(), idx[0]


def period_index(start: pd.Period, n: int, first: int = 0) -> pd.PeriodIndex:
    """``n`` calendar periods from ``start + first``, named "period"."""
    return pd.period_range(start + first, periods=n, name="period")
