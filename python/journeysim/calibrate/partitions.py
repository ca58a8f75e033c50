"""Calibration from a partitioned event log on a Dask cluster: the same counts,
and so the same fit, as one process reading every file.

Each file (or dask partition) is read once, on a worker:

1. *Prepare*: its rows are sorted by customer and period (ties by time, then
   row order) and reduced to the last row of each customer and period, as
   :func:`journeysim.fit` does; the arrays stay on the worker. The client gets
   a summary: stage names, the last period, segment values and 64-bit hashes
   of the customer ids. It puts together the stages, the end of the data and
   the segments, and finds the customers whose events span partitions (a hash
   seen in more than one).
2. *Count*: each partition's own customers are counted in the core (counts are
   additive). The rows of customers that span partitions are split by hash
   into buckets, which stay on the worker.
3. *Shuffle* (only if some customers span partitions): bucket ``k`` of every
   partition is gathered, in partition order, and counted: every such customer
   has all its rows in one bucket.

Counts and start counts are summed on the client and estimated exactly as by
:func:`journeysim.fit`. For :func:`journeysim.monitor`
(:func:`count_by_period_partitions`) the same steps count moves by calendar
period instead, with each window's start counts: the client lays the windows
out once the summaries give the log's first and last periods, and the
by-period counts add up like any others.

Ties within a period are broken by time, then by row
order across the files in sorted order, as in a single-process fit of the same
files (a partition keeps its last row of a period; the last of those over the
partitions is the last of all).
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._base import executor
from .._base.errors import FitError
from .._base.native import _core, core_errors
from .._base.units import Units
from .counting import (
    Counted,
    FitData,
    FitOptions,
    Return,
    check_one_segment,
    journeys,
    last_in_period,
    tenure_pieces,
    time_key,
)
from .eventlog import (
    check_no_bool_times,
    control_character_message,
    control_character_row,
)
from .events import (
    SUFFIXES,
    is_dask_frame,
    partition_paths,
    period_index,
    read_events,
)
from .fitted import Fit, estimate
from .windows import Windows, count_by_period, window_starts

__all__ = ["ByPeriod", "count_by_period_partitions", "fit_partitions"]


def _hash(values) -> np.ndarray:
    return pd.util.hash_array(np.asarray(values), categorize=False)


def _load(source: Any, label: str, cols: list[str]) -> pd.DataFrame:
    df = source if isinstance(source, pd.DataFrame) else read_events(source, cols)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise FitError(
            f"{label}: the events have no column(s) {missing}; columns are "
            f"{list(df.columns)}"
        )
    df = df[cols]
    nulls = df.isna()
    if nulls.any().any():
        bad = df[nulls.any(axis=1)]
        raise FitError(
            f"{label}: {len(bad)} rows have missing values, e.g. row "
            f"{bad.index[0]!r}: {bad.iloc[0].to_dict()}"
        )
    # As fit() checks a log in memory (files are checked as they are read).
    check_no_bool_times(df[cols[1]], cols[1], f"{label}: ")
    for c in cols[:1] + cols[2:]:
        i = control_character_row(df[c])
        if i is not None:
            raise FitError(
                f"{label}, row {df.index[i]!r}, "
                + control_character_message(df[c], i, c)
            )
    return df


@dataclass(frozen=True)
class _Reading:
    """How every partition is read: the columns to load and what each one is,
    and how times become periods (the same for all, so sent with each read)."""

    cols: list[str]
    customer: str
    time: str
    stage: str
    segment: str | None
    period: Any


@dataclass(frozen=True)
class _Part:
    """A partition's rows, sorted and reduced, with local codes (on a worker)."""

    label: str
    rows: int
    seen: dict  # stage name -> rows
    first: int | None  # first period
    last: int | None  # last period
    stage_names: list  # local stage code -> name
    customers: Any  # local customer code -> id
    hashes: np.ndarray  # local customer code -> 64-bit hash
    segments: list  # local segment code -> value
    customer: np.ndarray  # per row (sorted, one per customer and period)
    period: np.ndarray
    stage: np.ndarray
    segment: np.ndarray | None
    time: np.ndarray


@dataclass(frozen=True)
class _Summary:
    """What the client needs of a partition to plan the counting: small, so
    the rows themselves stay on the worker."""

    label: str
    rows: int
    seen: dict[str, int]  # stage name -> rows
    first: int | None  # first period
    last: int | None  # last period
    hashes: np.ndarray  # the partition's distinct customer hashes
    segments: list  # segment values


@dataclass(frozen=True)
class _Plan:
    """The log as a whole, put together from the summaries and sent to every
    worker: its stages, segments, pieces and end, and which customers span
    partitions, into how many buckets they are shuffled."""

    stages: list[str]
    stage_index: dict[str, int]  # stage name -> code
    segment_values: list  # segment code -> value
    segment_names: list[str]
    pieces: list[int]
    absorbing: list[str]
    absorbing_flags: list[bool]  # per stage
    changes: bool  # a row is a change of stage (else a snapshot)
    returns: str  # fit(returns=): a return from an absorbing stage
    end_period: int
    spanning: np.ndarray  # hashes of the customers seen in several partitions
    buckets: int
    calendar: _Calendar | None = None  # monitoring: count by calendar period

    def zeros(self, customers: int = 0) -> _Counts:
        """No counts: what a partition or bucket without customers gives."""
        S, G, P = len(self.stages), len(self.segment_names), len(self.pieces)
        if self.calendar is not None:
            T = self.end_period - self.calendar.origin
            return _Counts(
                counts=np.zeros((T, S, S), np.int64),
                starts=np.zeros((len(self.calendar.windows.first), S), np.int64),
                customers=customers,
            )
        return _Counts(
            counts=np.zeros((G, P, S, S), np.int64),
            starts=np.zeros((G, S), np.int64),
            customers=customers,
        )


@dataclass(frozen=True)
class _Calendar:
    """Counting for monitoring: moves by calendar period from ``origin`` (the
    log's first period), and the start counts of each of ``windows``."""

    origin: int
    windows: Windows


@dataclass(frozen=True)
class ByPeriod:
    """A partitioned log counted for monitoring: its stages and absorbing
    stages, first and last periods, moves by calendar period (periods x
    stages x stages, bin ``t`` the moves from period ``origin + t``), the
    windows and each window's start counts (windows x stages)."""

    stages: list[str]
    absorbing: list[str]
    origin: int
    end: int
    by_period: np.ndarray
    windows: Windows
    starts: np.ndarray


@dataclass(frozen=True)
class _Counts:
    """Transition counts (segments x pieces x stages x stages), start counts
    (segments x stages) and customers counted: additive, so the client sums
    them over partitions and buckets."""

    counts: np.ndarray
    starts: np.ndarray
    customers: int


@dataclass(frozen=True)
class _Rows:
    """Rows of customers that span partitions, one per customer and period,
    with their ids and global stage (and segment) codes: what a bucket of the
    shuffle holds."""

    customer: np.ndarray  # customer ids
    period: np.ndarray
    stage: np.ndarray
    segment: np.ndarray | None
    time: np.ndarray

    def select(self, mask: np.ndarray) -> _Rows:
        """The rows where ``mask`` holds."""
        return _Rows(
            customer=self.customer[mask],
            period=self.period[mask],
            stage=self.stage[mask],
            segment=None if self.segment is None else self.segment[mask],
            time=self.time[mask],
        )

    @staticmethod
    def concatenate(parts: list[_Rows]) -> _Rows:
        """The rows of ``parts``, one after another."""
        first = parts[0]
        return _Rows(
            customer=np.concatenate([p.customer for p in parts]),
            period=np.concatenate([p.period for p in parts]),
            stage=np.concatenate([p.stage for p in parts]),
            segment=(
                None
                if first.segment is None
                else np.concatenate([p.segment for p in parts])
            ),
            time=np.concatenate([p.time for p in parts]),
        )


@dataclass(frozen=True)
class _PartCount:
    """A partition counted: the counts of its own customers, and the rows of
    those that span partitions split into buckets (empty when there are none),
    kept on the worker for the shuffle."""

    totals: _Counts
    buckets: list[_Rows]


def _order(cust: np.ndarray, period: np.ndarray, time: np.ndarray):
    """The stable sort by customer, period and time, as :func:`journeysim.fit`
    sorts; None when the rows are in that order already (a log written by
    customer and time usually is: checking takes one pass, sorting several)."""
    if len(cust) < 2:
        return None
    dc, dp, dt = np.diff(cust), np.diff(period), np.diff(time)
    if ((dc > 0) | ((dc == 0) & ((dp > 0) | ((dp == 0) & (dt >= 0))))).all():
        return None
    return np.lexsort((np.arange(len(cust)), time, period, cust))


def _prepare(source: Any, label: str, o: _Reading) -> _Part:
    df = _load(source, label, o.cols)
    n = len(df)
    raw, uniques = pd.factorize(df[o.stage])
    names = [str(u) for u in uniques]
    seen: dict[str, int] = {}
    for name, k in zip(names, np.bincount(raw, minlength=len(names)), strict=True):
        seen[name] = seen.get(name, 0) + int(k)
    period = period_index(df[o.time], o.period, o.time)
    cust, ids = pd.factorize(df[o.customer])
    cust = cust.astype(np.int64)
    seg, seg_values = None, []
    if o.segment:
        seg, seg_index = pd.factorize(df[o.segment])
        seg, seg_values = seg.astype(np.int32), list(seg_index)
    time = time_key(df[o.time])
    stage = raw.astype(np.int32)
    order = _order(cust, period, time)
    if order is not None:
        cust, period, time, stage = (
            cust[order],
            period[order],
            time[order],
            stage[order],
        )
    last = last_in_period(cust, period)
    if seg is not None:
        seg = (seg if order is None else seg[order])[last]
    return _Part(
        label=label,
        rows=n,
        seen=seen,
        first=int(period.min()) if n else None,
        last=int(period.max()) if n else None,
        stage_names=names,
        customers=ids,
        hashes=_hash(ids),
        segments=seg_values,
        customer=cust[last],
        period=period[last],
        stage=stage[last],
        segment=seg,
        time=time[last],
    )


def _summary(part: _Part) -> _Summary:
    return _Summary(
        label=part.label,
        rows=part.rows,
        seen=part.seen,
        first=part.first,
        last=part.last,
        hashes=np.unique(part.hashes),
        segments=part.segments,
    )


def _shown_time(key) -> Any:
    """A time as the user wrote it, from its sort key (time_key): dates are
    nanoseconds in int64, numbers floats."""
    if np.issubdtype(np.asarray(key).dtype, np.integer):
        return pd.Timestamp(int(key))
    return int(key) if float(key).is_integer() else float(key)


def _counts(
    cust, period, code, seg, o: _Plan, label: str, customers: int, ids, time
) -> _Counts:
    """Counts and start counts of whole customer histories, sorted by customer
    and period with one row per customer and period (``ids``: customer code
    -> id; ``time``: each row's time key), and the ``customers`` counted, plus
    one for each return from an absorbing stage read as a new customer."""
    if seg is not None:
        check_one_segment(cust, seg, f" ({label})")
    flags = np.array(o.absorbing_flags, dtype=bool)

    def describe(k: int) -> Return:
        return Return(
            customer=ids[cust[k]],
            stage=o.stages[code[k - 1]],
            time=_shown_time(time[k - 1]),
            to=o.stages[code[k]],
            to_time=_shown_time(time[k]),
        )

    split = journeys(cust, code, flags, o.returns, describe, label)
    if split is not cust:  # returns became customers of their own
        customers += int(split[-1]) + 1 - (int(np.count_nonzero(np.diff(cust))) + 1)
        cust = split
    if o.calendar is not None:  # monitoring: by calendar period, as monitor()
        data = FitData(cust, period, code, None, o.changes, o.end_period)
        c = o.calendar
        by = count_by_period(data, o.stages, o.absorbing, c.origin)
        transient = ~np.array(o.absorbing_flags, dtype=bool)
        starts = window_starts(data, by, c.windows, c.origin, transient)
        return _Counts(by, starts, customers)
    with core_errors():
        counts, starts = _core.count_transitions(
            cust,
            period,
            code,
            seg,
            len(o.stages),
            len(o.segment_names),
            o.pieces,
            o.absorbing_flags,
            o.changes,
            o.end_period,
        )
    return _Counts(np.asarray(counts), np.asarray(starts), customers)


def _count(part: _Part, o: _Plan) -> _PartCount:
    """Count the customers wholly in this partition; split the others' rows by
    hash into buckets (kept on the worker for the shuffle)."""
    index = o.stage_index
    table = np.array([index[s] for s in part.stage_names], dtype=np.int32)
    code = table[part.stage] if len(table) else part.stage
    seg = part.segment
    if seg is not None and len(seg):
        table = pd.Index(o.segment_values).get_indexer(part.segments)
        seg = table.astype(np.int32)[seg]
    cust, period, time = part.customer, part.period, part.time
    buckets: list[_Rows] = []
    customers = len(part.customers)
    spanning = o.spanning
    if len(spanning) and part.rows:
        shared_customer = np.isin(part.hashes, spanning)
        if shared_customer.any():
            shared = shared_customer[cust]
            which = part.hashes[cust[shared]] % np.uint64(o.buckets)
            rows = _Rows(
                customer=np.asarray(part.customers)[cust[shared]],
                period=period[shared],
                stage=code[shared],
                segment=None if seg is None else seg[shared],
                time=time[shared],
            )
            buckets = [rows.select(which == b) for b in range(o.buckets)]
            keep = ~shared
            cust, period, code = cust[keep], period[keep], code[keep]
            time = time[keep]
            seg = None if seg is None else seg[keep]
            customers -= int(shared_customer.sum())
    if len(cust):
        totals = _counts(
            cust, period, code, seg, o, part.label, customers, part.customers, time
        )
    else:
        totals = o.zeros(customers)
    return _PartCount(totals=totals, buckets=buckets)


def _totals(result: _PartCount) -> _Counts:
    return result.totals


def _bucket_of(result: _PartCount, k: int) -> _Rows | None:
    return result.buckets[k] if result.buckets else None


def _count_bucket(parts: list[_Rows | None], o: _Plan, k: int) -> _Counts:
    """The customers of bucket ``k``, their rows from every partition in
    partition order: sorted and reduced again across partitions, counted."""
    parts = [p for p in parts if p is not None and len(p.customer)]
    if not parts:
        return o.zeros()
    a = _Rows.concatenate(parts)
    cust, ids = pd.factorize(a.customer)
    cust = cust.astype(np.int64)
    period, time = a.period, a.time
    order = np.lexsort((np.arange(len(cust)), time, period, cust))
    cust, period, code = cust[order], period[order], a.stage[order]
    time = time[order]
    seg = None if a.segment is None else a.segment[order]
    last = last_in_period(cust, period)
    cust, period, code, time = cust[last], period[last], code[last], time[last]
    seg = None if seg is None else seg[last]
    label = f"customers spanning partitions, bucket {k}"
    customers = int(cust.max()) + 1
    return _counts(cust, period, code, seg, o, label, customers, ids, time)


def fit_partitions(
    events: Any,
    client: Any,
    options: FitOptions,
    prior: Any,
    impossible: Any,
    unobserved: str = "stay",
    *,
    units: Units | None = None,
) -> Fit:
    """:func:`journeysim.fit` on a cluster (see the module's notes)."""
    plan, results = _run(events, client, options, None)
    counts = sum(r.counts for r in results)
    starts = sum(r.starts for r in results)
    customers = sum(r.customers for r in results)
    counted = Counted(
        counts=np.asarray(counts),
        starts=np.asarray(starts),
        stages=plan.stages,
        pieces=plan.pieces,
        segments=plan.segment_names,
        absorbing=plan.absorbing,
        customers=customers,
        data=None,  # the event arrays stay on the workers
    )
    return estimate(
        counted,
        options,
        prior,
        impossible,
        unobserved=unobserved,
        keep_data=False,
        units=units,
    )


def count_by_period_partitions(
    events: Any,
    client: Any,
    options: FitOptions,
    lay_out: Callable[[int, int], Windows],
) -> ByPeriod:
    """:func:`journeysim.monitor`'s counts on a cluster: moves by calendar
    period and each window's start counts, summed over the partitions (and
    the shuffled customers who span them). ``lay_out(origin, end)`` gives the
    windows from the log's first and last periods (known once every
    partition is read)."""
    if options.segment is not None or options.tenure is not None:
        raise FitError("monitoring counts one journey: no segment= or tenure=")
    plan, results = _run(events, client, options, lay_out)
    cal = plan.calendar
    return ByPeriod(
        stages=plan.stages,
        absorbing=plan.absorbing,
        origin=cal.origin,
        end=plan.end_period,
        by_period=np.asarray(sum(r.counts for r in results)),
        windows=cal.windows,
        starts=np.asarray(sum(r.starts for r in results)),
    )


def _run(
    events: Any,
    client: Any,
    options: FitOptions,
    lay_out: Callable[[int, int], Windows] | None,
) -> tuple[_Plan, list[_Counts]]:
    """Read, plan and count every partition (by calendar period when
    ``lay_out`` is given); the plan and the additive counts."""
    executor.check_client(client)
    customer, time, stage = options.customer, options.time, options.stage
    segment = options.segment
    cols = [customer, time, stage] + ([segment] if segment else [])
    token = uuid.uuid4().hex[:12]
    if is_dask_frame(events):
        sources = client.compute(events[cols].to_delayed())
        labels = [f"partition {k}" for k in range(len(sources))]
    else:
        paths = partition_paths(events)
        if paths is None:
            if isinstance(events, str | os.PathLike):
                paths = [str(events)]
            else:
                raise FitError(
                    "client= counts files on the workers: pass their paths (a "
                    "list, a glob such as 'events/*.parquet', or a directory) or "
                    "a dask DataFrame; a log already in memory is fitted here, "
                    "without client="
                )
        for p in paths:
            if Path(p).suffix.lower() not in SUFFIXES:
                raise FitError(f"events file {p!r}: expected .csv or .parquet")
        sources, labels = paths, [f"file {p!r}" for p in paths]
    reading = _Reading(
        cols=cols,
        customer=customer,
        time=time,
        stage=stage,
        segment=segment,
        period=options.period,
    )
    prepared = [
        client.submit(_prepare, s, lab, reading, key=f"journeysim-prepare-{token}-{k}")
        for k, (s, lab) in enumerate(zip(sources, labels, strict=True))
    ]
    every = list(prepared)
    try:
        summaries = [
            client.submit(_summary, f, key=f"journeysim-summary-{token}-{k}")
            for k, f in enumerate(prepared)
        ]
        every += summaries
        scans = client.gather(summaries)
        plan = _combine(scans, options, client)
        if lay_out is not None:
            origin = min(s.first for s in scans if s.first is not None)
            if plan.end_period <= origin:
                raise FitError(
                    "the log covers a single period: monitoring needs moves "
                    "between periods"
                )
            cal = _Calendar(origin, lay_out(origin, plan.end_period))
            plan = dataclasses.replace(plan, calendar=cal)
        results = _count_all(client, prepared, plan, token, every)
    except BaseException:
        client.cancel(every)  # nothing left running or held on the cluster
        raise
    # Dropping the futures releases the partitions' data on the workers.
    del every, prepared, summaries
    if is_dask_frame(events):
        del sources
    return plan, results


def _combine(scans: list[_Summary], options: FitOptions, client) -> _Plan:
    """The log's stages, segments, end and spanning customers, from the
    partitions' summaries (checked as :func:`journeysim.fit` checks them)."""
    segment = options.segment
    if sum(s.rows for s in scans) == 0:
        raise FitError("the event log is empty")
    seen: dict[str, int] = {}
    for s in scans:
        for name, n in s.seen.items():
            seen[name] = seen.get(name, 0) + n
    stages = options.stages
    if stages is None:
        stages = sorted(seen)
    else:
        stages = list(stages)
        bad = sorted(u for u in seen if u not in stages)
        if bad:
            n = sum(seen[u] for u in bad)
            where = next(s.label for s in scans if set(s.seen) & set(bad))
            raise FitError(
                f"{n} rows have stages not in stages=: {bad[:5]}, e.g. in {where}"
            )
    absorbing = [] if options.absorbing is None else list(options.absorbing)
    for a in absorbing:
        if a not in stages:
            raise FitError(f"absorbing: unknown stage {a!r}; the stages are {stages}")
    if segment:
        values = [v for s in scans for v in s.segments]
        segment_values = list(pd.factorize(pd.Series(values), sort=True)[1])
        segment_names = [str(v) for v in segment_values]
    else:
        segment_values, segment_names = [], ["all"]
    tenure = options.tenure
    pieces = tenure_pieces(tenure)
    last = max(s.last for s in scans if s.last is not None)
    end = options.end
    end_period = (
        last
        if end is None
        else int(period_index(pd.Series([end]), options.period, "end")[0])
    )
    if end_period < last:
        raise FitError("end is before the last time in the log")
    hashes = np.concatenate([s.hashes for s in scans])
    ids, times_seen = np.unique(hashes, return_counts=True)
    spanning = ids[times_seen > 1]
    threads = sum(client.nthreads().values()) or 1
    return _Plan(
        stages=stages,
        stage_index={name: k for k, name in enumerate(stages)},
        segment_values=segment_values,
        segment_names=segment_names,
        pieces=pieces,
        absorbing=absorbing,
        absorbing_flags=[s in absorbing for s in stages],
        changes=options.kind == "changes",
        returns=options.returns,
        end_period=end_period,
        spanning=spanning,
        buckets=max(1, min(len(spanning), threads)),
    )


def _count_all(
    client, prepared: list, plan: _Plan, token: str, every: list
) -> list[_Counts]:
    """Counts, start counts and customers: per partition, then per bucket of
    the customers that span partitions."""
    # One copy of the plan on every worker, under a key of this fit's own.
    key = f"journeysim-plan-{token}"
    shared = client.scatter({key: plan}, broadcast=True, hash=False)[key]
    counted = [
        client.submit(_count, f, shared, key=f"journeysim-count-{token}-{k}")
        for k, f in enumerate(prepared)
    ]
    every += [shared, *counted]
    totals = [
        client.submit(_totals, f, key=f"journeysim-totals-{token}-{k}")
        for k, f in enumerate(counted)
    ]
    every += totals
    for k in range(plan.buckets if len(plan.spanning) else 0):
        parts = [
            client.submit(_bucket_of, f, k, key=f"journeysim-part-{token}-{k}-{i}")
            for i, f in enumerate(counted)
        ]
        every += parts
        totals.append(
            client.submit(
                _count_bucket, parts, shared, k, key=f"journeysim-bucket-{token}-{k}"
            )
        )
        every.append(totals[-1])
    return client.gather(totals)
