"""An event log read and coded for calibration, and its transitions counted
in the core: what a fit estimates from, and what a check of a fit reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._base.checks import check_integer
from .._base.conventions import MAX_PERIOD
from .._base.errors import FitError
from .._base.native import _core, core_errors
from .eventlog import (
    check_no_bool_times,
    control_character_code_row,
    control_character_message,
    control_character_row,
    customer_codes,
    value_codes,
)
from .events import period_index, read_events

__all__ = [
    "RETURNS",
    "Coded",
    "Counted",
    "FitData",
    "FitOptions",
    "Log",
    "Return",
    "check_one_segment",
    "code_rows",
    "count_log",
    "customer_time_order",
    "journeys",
    "last_in_period",
    "read_log",
    "tenure_pieces",
    "time_key",
]

#: What fit(returns=) may be: how a customer seen again after an absorbing
#: stage is read.
RETURNS = ("error", "new_customer")


@dataclass(frozen=True)
class FitOptions:
    """How a log is read: its columns, how times become periods, what a row
    means (``kind``), and the stages, absorbing stages, segment column, tenure
    pieces and end of the data asked for, and how a customer who leaves an
    absorbing stage is read (``returns``: see :func:`journeysim.fit`)."""

    customer: str = "customer"
    time: str = "period"
    stage: str = "stage"
    period: Any = 1
    kind: str = "changes"
    stages: tuple[str, ...] | None = None
    absorbing: tuple[str, ...] | None = None
    segment: str | None = None
    tenure: tuple[int, ...] | None = None
    end: Any = None
    returns: str = "error"

    def __post_init__(self) -> None:
        # Callers pass the user's sequences as given: kept as tuples (not
        # shared with the caller, hashable).
        for name in ("stages", "absorbing", "tenure"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class FitData:
    """A log's rows as the core counts them: one per customer and period, in
    customer then period order, with stage (and segment) codes."""

    customer: np.ndarray
    period: np.ndarray
    stage: np.ndarray
    segment: np.ndarray | None
    changes: bool
    end: int


@dataclass(frozen=True)
class Log:
    """A log read and checked: its rows, the stages and each row's stage code,
    each row's customer code and the customer ids (code -> id)."""

    frame: pd.DataFrame
    stages: list[str]
    code: np.ndarray
    customer: np.ndarray
    ids: Any


@dataclass(frozen=True)
class Return:
    """A customer seen in another stage after an absorbing one."""

    customer: Any
    stage: str
    time: Any
    to: str
    to_time: Any

    def error(self, returns: int, where: str = "the log") -> FitError:
        who = self.customer
        who = who.item() if isinstance(who, np.generic) else who
        return FitError(
            f"customer {who!r} is in absorbing stage {self.stage!r} at time "
            f"{_show(self.time)} and in {self.to!r} at time {_show(self.to_time)} "
            f"({returns:,} such return(s) in {where}): an absorbing stage is never "
            "left. Pass returns='new_customer' to count each return as a new "
            f"customer's journey, or leave {self.stage!r} out of absorbing= if "
            "customers do come back"
        )


def _show(time: Any) -> str:
    if isinstance(time, pd.Timestamp):
        return str(time.date()) if time == time.normalize() else str(time)
    return str(time)


def journeys(
    cust: np.ndarray,
    code: np.ndarray,
    absorbing: np.ndarray,
    returns: str,
    describe: Callable[[int], Return],
    where: str = "the log",
) -> np.ndarray:
    """Customer codes (rows sorted by customer and time) with every return from
    an absorbing stage (``absorbing``: a flag per stage code) a new customer,
    or a FitError naming the first return (``describe(k)``: the return at row
    ``k``) when ``returns`` is "error" (``where``: the rows' place in the
    log). Codes stay 0 .. customers - 1."""
    if len(cust) < 2 or not absorbing.any():
        return cust
    same = cust[1:] == cust[:-1]
    back = np.flatnonzero(same & absorbing[code[:-1]] & (code[1:] != code[:-1])) + 1
    if not back.size:
        return cust
    if returns != "new_customer":
        raise describe(int(back[0])).error(len(back), where)
    new = np.ones(len(cust), dtype=bool)
    new[1:] = ~same
    new[back] = True
    return np.cumsum(new, dtype=np.int64) - 1


@dataclass(frozen=True)
class Counted:
    """Transition counts (segments x pieces x stages x stages), start counts
    (segments x stages) and the log they came from."""

    counts: np.ndarray
    starts: np.ndarray
    stages: list[str]
    pieces: list[int]
    segments: list[str]
    absorbing: list[str]
    customers: int
    data: FitData | None


def time_key(time: pd.Series) -> np.ndarray:
    """The order of rows within a period: numbers as they are, dates as
    nanoseconds (one rule for fit() here and on a cluster)."""
    if pd.api.types.is_numeric_dtype(time):
        return time.to_numpy(dtype=float)
    return pd.to_datetime(time).to_numpy("datetime64[ns]").view(np.int64)


def customer_time_order(cust: np.ndarray, time: np.ndarray) -> np.ndarray | None:
    """The stable order of rows by customer, then time (then row order), or
    None when the rows are in it already. A period is a monotone function of
    the time, so this is also the order by customer, period and time.

    Logs usually come ordered by customer and time (no sort at all) or by
    time alone (one stable sort by customer then keeps each customer's
    rows in time order); only a log with a customer's rows out of time order
    pays for the two-key sort."""
    if len(cust) < 2:
        return None
    same = cust[1:] == cust[:-1]
    back = time[1:] < time[:-1]
    if not (cust[1:] < cust[:-1]).any() and not (same & back).any():
        return None
    order = np.argsort(cust, kind="stable")
    c, t = cust[order], time[order]
    if not ((c[1:] == c[:-1]) & (t[1:] < t[:-1])).any():
        return order
    return np.lexsort((time, cust))


def last_in_period(cust: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Of rows sorted by customer, period and time, the last one of each
    customer and period (the stage of that period)."""
    last = np.ones(len(cust), dtype=bool)
    last[:-1] = (cust[1:] != cust[:-1]) | (period[1:] != period[:-1])
    return last


def check_one_segment(cust: np.ndarray, seg: np.ndarray, where: str = "") -> None:
    """A FitError when a customer's segment changes (rows sorted by customer)."""
    change = (cust[1:] == cust[:-1]) & (seg[1:] != seg[:-1])
    if change.any():
        raise FitError(
            f"{int(change.sum())} customers change segment within the log{where}"
        )


def read_log(events: Any, o: FitOptions) -> Log:
    """The log's columns, without missing values, with its stages coded."""
    cols = [o.customer, o.time, o.stage] + ([o.segment] if o.segment else [])
    df = read_events(events, cols)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise FitError(
            f"the events have no column(s) {missing}; columns are {list(df.columns)}"
        )
    df = df[cols]
    if len(df) == 0:
        raise FitError("the event log is empty")
    nulls = df.isna()
    if nulls.any().any():
        bad = df[nulls.any(axis=1)]
        raise FitError(
            f"{len(bad)} rows have missing values, e.g. row {bad.index[0]!r}: "
            f"{bad.iloc[0].to_dict()}"
        )
    check_no_bool_times(df[o.time], o.time)
    cust, ids = customer_codes(df[o.customer])
    _printable(df, o.customer, cust, ids)
    # Factorise once (hashing each value), then work with the few distinct names.
    raw, uniques = value_codes(df[o.stage])
    _printable(df, o.stage, raw, uniques)
    if o.segment:
        i = control_character_row(df[o.segment])
        if i is not None:
            raise FitError(
                f"row {df.index[i]!r}, "
                + control_character_message(df[o.segment], i, o.segment)
            )
    seen = [str(u) for u in uniques]
    if o.stages is None:
        stages = sorted(set(seen))
    else:
        stages = list(o.stages)
        bad_names = [u for u in seen if u not in stages]
        if bad_names:
            unknown = np.isin(raw, [seen.index(u) for u in bad_names])
            raise FitError(
                f"{int(unknown.sum())} rows have stages not in stages=: "
                f"{sorted(bad_names)[:5]}, e.g. row {df.index[np.argmax(unknown)]!r}"
            )
    code = np.array([stages.index(u) for u in seen], dtype=np.int32)[raw]
    return Log(df, stages, code, cust, ids)


def _printable(df: pd.DataFrame, column: str, codes: np.ndarray, uniques) -> None:
    i = control_character_code_row(codes, uniques)
    if i is not None:
        raise FitError(
            f"row {df.index[i]!r}, " + control_character_message(df[column], i, column)
        )


@dataclass(frozen=True)
class Coded:
    """A log's rows as the core counts them (``data``), with the segment
    names of its segment codes."""

    data: FitData
    segments: list[str]


def count_log(log: Log, o: FitOptions) -> Counted:
    """The log's transitions counted in the core (one pass), as the discrete
    model needs them."""
    coded = code_rows(log, o)
    d, stages = coded.data, log.stages
    absorbing = [] if o.absorbing is None else list(o.absorbing)
    pieces = tenure_pieces(o.tenure)
    with core_errors():
        counts, starts = _core.count_transitions(
            d.customer,
            d.period,
            d.stage,
            d.segment,
            len(stages),
            len(coded.segments),
            pieces,
            [s in absorbing for s in stages],
            d.changes,
            d.end,
        )
    return Counted(
        counts=np.asarray(counts),
        starts=np.asarray(starts),
        stages=stages,
        pieces=pieces,
        segments=coded.segments,
        absorbing=absorbing,
        # factorised codes are 0 .. customers - 1
        customers=int(d.customer.max()) + 1,
        data=d,
    )


def code_rows(log: Log, o: FitOptions) -> Coded:
    """The log's rows sorted by customer and period, one per customer and
    period (the last), each return from an absorbing stage a new customer as
    ``returns`` says, and the period the data ends."""
    df, stages, code = log.frame, log.stages, log.code
    absorbing = [] if o.absorbing is None else list(o.absorbing)
    periods = period_index(df[o.time], o.period, o.time)
    cust = log.customer
    for a in absorbing:
        if a not in stages:
            raise FitError(f"absorbing: unknown stage {a!r}; the stages are {stages}")
    if o.segment:
        seg_codes, seg_names = pd.factorize(df[o.segment], sort=True)
        seg_codes = seg_codes.astype(np.int32)
        seg_names = [str(s) for s in seg_names]
    else:
        seg_codes, seg_names = None, ["all"]
    tenure_pieces(o.tenure)  # checked before the sort
    # Sort by customer and period (stable: row order breaks ties), keep the last
    # row of each customer and period.
    # Within a period, rows in time order (then row order): the last one wins.
    order = customer_time_order(cust, time_key(df[o.time]))
    if order is not None:
        cust, periods, code = cust[order], periods[order], code[order]
        if seg_codes is not None:
            seg_codes = seg_codes[order]
    last = last_in_period(cust, periods)
    cust, periods, code = cust[last], periods[last], code[last]
    if seg_codes is not None:
        seg_codes = seg_codes[last]
        check_one_segment(cust, seg_codes)
    times = df[o.time]

    def describe(k: int) -> Return:
        # The log's row of each period kept: only an error needs them.
        rows = np.flatnonzero(last) if order is None else order[last]
        return Return(
            customer=log.ids[cust[k]],
            stage=stages[code[k - 1]],
            time=times.iloc[rows[k - 1]],
            to=stages[code[k]],
            to_time=times.iloc[rows[k]],
        )

    flags = np.array([s in absorbing for s in stages])
    cust = journeys(cust, code, flags, o.returns, describe)
    end_period = (
        int(periods.max())
        if o.end is None
        else int(period_index(pd.Series([o.end]), o.period, "end")[0])
    )
    if end_period < int(periods.max()):
        raise FitError("end is before the last time in the log")
    return Coded(
        FitData(cust, periods, code, seg_codes, o.kind == "changes", end_period),
        seg_names,
    )


def tenure_pieces(tenure: Any) -> list[int]:
    """The tenure pieces' starts, from 0: each start an integer the core can
    hold (an InputError naming ``tenure`` otherwise)."""
    if tenure is None:
        return [0]
    return sorted({0, *(check_integer(t, "tenure", 0, MAX_PERIOD) for t in tenure)})
