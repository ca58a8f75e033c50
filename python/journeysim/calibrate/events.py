"""Reading an event log for calibration, whatever its form (a DataFrame, a
pyarrow Table, CSV or Parquet files, a directory or glob of them, a dask
DataFrame), and bucketing its times into periods."""

from __future__ import annotations

import glob
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._base.errors import FitError
from . import eventlog

#: The files a log may be made of.
SUFFIXES = (".parquet", ".pq", ".csv")

__all__ = [
    "PERIODS",
    "SUFFIXES",
    "is_dask_frame",
    "partition_paths",
    "period_index",
    "read_events",
    "whole_times",
]


PERIODS = {"M": "M", "W": "W", "D": "D"}


def read_events(events: Any, columns: list[str]) -> pd.DataFrame:
    if isinstance(events, pd.DataFrame):
        return events
    if is_dask_frame(events):
        return events[columns].compute()
    paths = partition_paths(events)
    if paths is not None:  # several files: one log, in the files' sorted order
        frames = [read_events(path, columns) for path in paths]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if isinstance(events, str | Path):
        path = Path(events)
        if not path.exists():
            raise FitError(f"events file {str(path)!r} does not exist")
        # Checked as read (eventlog): each problem named with file and location.
        time = columns[1] if len(columns) > 1 else None
        if path.suffix.lower() in (".parquet", ".pq"):
            return eventlog.read_parquet(path, columns, time)
        if path.suffix.lower() == ".csv":
            return eventlog.read_csv(path, columns, time)
        raise FitError(f"events file {str(path)!r}: expected .csv or .parquet")
    try:
        import pyarrow as pa

        if isinstance(events, pa.Table):
            return events.select(columns).to_pandas()
    except ImportError:  # pragma: no cover - pyarrow is optional
        pass
    raise FitError(
        f"events must be a DataFrame, a pyarrow Table or a CSV/Parquet path, got "
        f"{type(events).__name__}"
    )


def period_index(times: pd.Series, period: Any, column: str) -> np.ndarray:
    """Period index of each timestamp."""
    if isinstance(period, bool):
        raise FitError(f"period must be 'M', 'W', 'D' or an integer, got {period!r}")
    if isinstance(period, numbers.Integral):
        if not 0 < period < 2**63:  # times are int64
            raise FitError(
                f"period must be a positive integer below 2**63, got {period}"
            )
        if not pd.api.types.is_numeric_dtype(times):
            raise FitError(
                f"column {column!r} must be numeric for period={period} "
                f"(got {times.dtype}); use 'M', 'W' or 'D' for dates"
            )
        return np.floor_divide(whole_times(times, column), int(period))
    if period not in PERIODS:
        raise FitError(f"period must be 'M', 'W', 'D' or an integer, got {period!r}")
    if pd.api.types.is_numeric_dtype(times):
        raise FitError(
            f"column {column!r} is numeric: period={period!r} needs dates "
            "(use an integer period for numeric times)"
        )
    if period == "D" and pd.api.types.is_datetime64_dtype(times.dtype):
        # Naive date-times: numpy's days since 1970 are pandas' period
        # ordinals, 3x faster than a PeriodArray (for months pandas is faster).
        return times.to_numpy().astype("datetime64[D]").view(np.int64)
    try:
        stamps = pd.to_datetime(times)
    except (ValueError, TypeError) as err:
        raise FitError(
            f"column {column!r} has values that are not dates: {err}"
        ) from None
    return stamps.dt.to_period(PERIODS[period]).array.asi8.astype(np.int64, copy=False)


def whole_times(times: pd.Series, column: str) -> np.ndarray:
    """Numeric times as int64, refusing what a cast would change without a word:
    fractions (-0.5 would truncate to period 0, -1.0 is period -1), infinities
    and values beyond int64. Booleans are no times."""
    if pd.api.types.is_bool_dtype(times.dtype):
        raise FitError(eventlog.type_refused(column, "bool", True))
    if pd.api.types.is_integer_dtype(times.dtype):
        return times.to_numpy(dtype=np.int64)
    values = times.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (np.floor(values) != values)
        bad |= np.abs(values) >= 2.0**63
    if bad.any():
        i = int(np.argmax(bad))
        raise FitError(
            f"column {column!r}: time {float(values[i])!r} (row {times.index[i]!r}; "
            f"{int(bad.sum()):,} such row(s)) is not a whole number: with an integer "
            "period, times are whole numbers of time units (floor or round them "
            "first, or use model='continuous' for exact times)"
        )
    return values.astype(np.int64)


def is_dask_frame(obj: Any) -> bool:
    """A dask DataFrame (without importing dask when it is not one)."""
    return type(obj).__module__.startswith("dask") and hasattr(obj, "to_delayed")


def partition_paths(events: Any) -> list[str] | None:
    """The files of a partitioned log, sorted: a list of paths, a glob pattern
    or a directory (its .parquet, .pq and .csv files). None for anything else
    (one file, a DataFrame)."""
    if isinstance(events, list | tuple):
        if not events or not all(isinstance(e, str | os.PathLike) for e in events):
            raise FitError("events: a list of files must name one or more paths")
        return [str(e) for e in events]
    if not isinstance(events, str | os.PathLike):
        return None
    text = str(events)
    if glob.has_magic(text):
        paths = sorted(glob.glob(text))
        if not paths:
            raise FitError(f"events: no file matches {text!r}")
        return paths
    if Path(text).is_dir():
        paths = sorted(
            str(p) for p in Path(text).iterdir() if p.suffix.lower() in SUFFIXES
        )
        if not paths:
            raise FitError(f"events: the directory {text!r} has no .parquet or .csv")
        return paths
    return None
