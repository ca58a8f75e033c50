"""Each account's history, for stage rules: rows sorted by (account, time) once,
then every history function (previous value, change, rolling mean, periods
since an event, first value) is a whole-array operation over the sorted rows,
never a loop over accounts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.errors import InputError

__all__ = ["Accounts"]


@dataclass(frozen=True, eq=False)
class Accounts:
    """The sorted rows' accounts and periods, and where each account starts.

    ``period`` is the row's period index (calendar periods since 1970 for
    dates, time // period for numbers); ``freq`` is the pandas period code for
    dates ("M", "W", "D") or None for numeric times; ``length`` the number of
    time units per period for numeric times."""

    period: np.ndarray  # int64, ascending within each account
    first: np.ndarray  # int64: the row index of the account's first row
    pos: np.ndarray  # int64: the row's position within its account (0, 1, ...)
    group: np.ndarray  # int64: the account's number, 0.., ascending
    freq: str | None
    length: int

    @classmethod
    def of(cls, account: np.ndarray, period: np.ndarray, freq, length) -> Accounts:
        """From account codes and periods already sorted by (account, period)."""
        n = len(account)
        start = np.ones(n, dtype=bool)
        start[1:] = account[1:] != account[:-1]
        group = np.cumsum(start, dtype=np.int64) - 1
        first = np.flatnonzero(start)[group]
        pos = np.arange(n, dtype=np.int64) - first
        return cls(period, first, pos, group, freq, length)

    def __len__(self) -> int:
        return len(self.period)

    # -- history functions ---------------------------------------------------------

    def previous(self, values: pd.Series, k: int) -> pd.Series:
        """The value ``k`` observed periods earlier (missing before that)."""
        return values.shift(k).where(self.pos >= k)

    def first_value(self, values: pd.Series) -> pd.Series:
        if isinstance(values.dtype, np.dtype):  # plain numpy: a direct gather
            return pd.Series(values.to_numpy()[self.first])
        return values.take(self.first).reset_index(drop=True)

    @staticmethod
    def running_sums(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative sums of the known values and of their count, from 0:
        what every rolling mean of these values is computed from."""
        valid = ~np.isnan(values)
        c = np.empty(len(values) + 1)
        c[0] = 0.0
        np.cumsum(np.where(valid, values, 0.0), out=c[1:])
        m = np.empty(len(values) + 1, dtype=np.int64)
        m[0] = 0
        np.cumsum(valid, out=m[1:])
        return c, m

    def rolling_mean(self, sums: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
        """Mean over this and up to k - 1 earlier observed periods, skipping
        missing values (missing if all are), from :meth:`running_sums`. The
        window's start is a shifted slice, clipped to the account's first row
        only where the account has fewer than k rows so far."""
        c, m = sums
        n = len(c) - 1
        lo_c, lo_m = np.empty(n), np.empty(n, dtype=np.int64)
        lo_c[k - 1 :], lo_m[k - 1 :] = c[: n - k + 1], m[: n - k + 1]
        young = np.flatnonzero(self.pos < k - 1)
        lo_c[young], lo_m[young] = c[self.first[young]], m[self.first[young]]
        count = m[1:] - lo_m
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, (c[1:] - lo_c) / count, np.nan)

    def since_true(self, flag: np.ndarray) -> np.ndarray:
        """Periods since the account's latest row (this one included) where
        ``flag`` holds; missing if it never has. A running maximum of
        (account, period) keys, so that it restarts with each account."""
        base = int(self.period.min()) if len(self.period) else 0
        rel = self.period - base + 1  # >= 1
        key = (self.group << 32) | np.where(flag, rel, 0)
        latest = np.maximum.accumulate(key) & 0xFFFFFFFF
        return np.where(latest > 0, (rel - latest).astype(float), np.nan)

    def since_dates(self, values: pd.Series, column: str) -> np.ndarray:
        """Periods from the period of each row's date (or time, for numeric
        times) to the row's period; missing where the date is."""
        if self.freq is None:
            if not pd.api.types.is_numeric_dtype(values):
                raise InputError(
                    f"periods_since({column}): with numeric times, an event column "
                    "holds times in the same unit, or true/false"
                )
            t = values.to_numpy(dtype=float, na_value=np.nan)
            return self.period - np.floor(t / self.length)
        stamps = values
        if not pd.api.types.is_datetime64_any_dtype(stamps):
            raise InputError(
                f"periods_since({column}): the column holds neither dates nor "
                "true/false"
            )
        if stamps.dt.tz is not None:
            stamps = stamps.dt.tz_localize(None)
        known = stamps.notna().to_numpy()
        out = np.full(len(stamps), np.nan)
        ordinal = stamps[known].dt.to_period(self.freq).array.asi8
        out[known] = self.period[known] - ordinal
        return out

    def tenure(self) -> np.ndarray:
        """Periods since the account's first row."""
        return (self.period - self.period[self.first]).astype(float)

    def bounds(self, end: bool) -> pd.Series:
        """The first (or last) instant of each row's period, for comparing
        date columns with the row's period."""
        if self.freq is None:
            raise InputError(
                "period_start and period_end need dates in the time column "
                "(period 'M', 'W' or 'D')"
            )
        lo = int(self.period.min())
        span = pd.PeriodIndex.from_ordinals(
            np.arange(lo, int(self.period.max()) + 1), freq=self.freq
        )
        times = span.end_time if end else span.start_time
        return pd.Series(times.to_numpy()[self.period - lo])
