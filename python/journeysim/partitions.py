"""Calibration from a partitioned event log on a Dask cluster: the same counts,
and so the same fit, as one process reading every file.

Three steps, each file handled where it is read (a worker):

1. *Scan*: stage names, the last period, segment values, and 64-bit hashes of
   the customer ids of each partition; the client puts them together (the
   stages, the end of the data, the segments) and finds the customers whose
   events span partitions (a hash seen in more than one).
2. *Count*: each partition is read again and the transitions of its own
   customers are counted in the core (counts are additive). The rows of
   customers that span partitions are split by hash into buckets and stay on
   the worker.
3. *Shuffle* (only if some customers span partitions): bucket ``k`` of every
   partition is gathered, in partition order, and counted; every such customer
   has all its rows in one bucket.

Counts and start counts are summed on the client and estimated exactly as by
:func:`journeysim.fit`. Ties within a period are broken by row order across
the files in sorted order, as in a single-process fit of the same files.
"""

from __future__ import annotations

import glob
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fit_partitions", "is_dask_frame", "partition_paths"]

SUFFIXES = (".parquet", ".pq", ".csv")


def is_dask_frame(obj: Any) -> bool:
    """A dask DataFrame (without importing dask when it is not one)."""
    return type(obj).__module__.startswith("dask") and hasattr(obj, "to_delayed")


def partition_paths(events: Any) -> list[str] | None:
    """The files of a partitioned log, sorted: a list of paths, a glob pattern
    or a directory (its .parquet, .pq and .csv files). None for anything else
    (one file, a DataFrame)."""
    if isinstance(events, list | tuple):
        if not events or not all(isinstance(e, str | os.PathLike) for e in events):
            raise ValueError("events: a list of files must name one or more paths")
        return [str(e) for e in events]
    if not isinstance(events, str | os.PathLike):
        return None
    text = str(events)
    if glob.has_magic(text):
        paths = sorted(glob.glob(text))
        if not paths:
            raise ValueError(f"events: no file matches {text!r}")
        return paths
    if Path(text).is_dir():
        paths = sorted(
            str(p) for p in Path(text).iterdir() if p.suffix.lower() in SUFFIXES
        )
        if not paths:
            raise ValueError(f"events: the directory {text!r} has no .parquet or .csv")
        return paths
    return None


def _hash(values) -> np.ndarray:
    return pd.util.hash_array(np.asarray(values), categorize=False)


def _load(source: Any, label: str, cols: list[str]) -> pd.DataFrame:
    from .fit import _read

    df = source if isinstance(source, pd.DataFrame) else _read(source, cols)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(
            f"{label}: the events have no column(s) {missing}; columns are "
            f"{list(df.columns)}"
        )
    df = df[cols]
    nulls = df.isna()
    if nulls.any().any():
        bad = df[nulls.any(axis=1)]
        raise ValueError(
            f"{label}: {len(bad)} rows have missing values, e.g. row "
            f"{bad.index[0]!r}: {bad.iloc[0].to_dict()}"
        )
    return df


def _scan(source: Any, label: str, o: dict) -> dict:
    """What the client needs to know of a partition before counting."""
    from .fit import _bucket

    df = _load(source, label, o["cols"])
    out: dict[str, Any] = {"rows": len(df), "label": label}
    if not len(df):
        out.update(seen={}, last=None, hashes=np.empty(0, np.uint64), segments=[])
        return out
    raw, uniques = pd.factorize(df[o["stage"]])
    rows = np.bincount(raw, minlength=len(uniques))
    seen: dict[str, int] = {}
    for u, n in zip(uniques, rows, strict=True):
        seen[str(u)] = seen.get(str(u), 0) + int(n)
    out["seen"] = seen
    out["last"] = int(_bucket(df[o["time"]], o["period"], o["time"]).max())
    out["hashes"] = np.unique(_hash(pd.unique(df[o["customer"]])))
    seg = o["segment"]
    out["segments"] = list(pd.unique(df[seg])) if seg else []
    return out


def _arrays(df: pd.DataFrame, o: dict) -> dict:
    """A partition's rows as the arrays counting needs (customer ids as they
    are: codes are given per counting unit)."""
    from .fit import _bucket

    raw, uniques = pd.factorize(df[o["stage"]])
    index = o["stage_index"]
    code = np.array([index[str(u)] for u in uniques], dtype=np.int32)[raw]
    time = df[o["time"]]
    raw_time = (
        time.to_numpy(dtype=float)
        if pd.api.types.is_numeric_dtype(time)
        else pd.to_datetime(time).to_numpy("datetime64[ns]").view(np.int64)
    )
    seg = None
    if o["segment"]:
        seg = pd.Index(o["segment_values"]).get_indexer(df[o["segment"]])
        seg = seg.astype(np.int32)
    return {
        "customer": df[o["customer"]].to_numpy(),
        "period": _bucket(time, o["period"], o["time"]),
        "stage": code,
        "segment": seg,
        "time": raw_time,
    }


def _count_arrays(a: dict, o: dict, label: str) -> tuple:
    """Counts, start counts and customers of complete customer histories,
    exactly as :func:`journeysim.fit` counts them."""
    from . import _core

    S, G, P = len(o["stages"]), len(o["segment_names"]), len(o["pieces"])
    if len(a["customer"]) == 0:
        return (np.zeros((G, P, S, S), np.int64), np.zeros((G, S), np.int64), 0)
    cust = pd.factorize(a["customer"])[0].astype(np.int64)
    periods, code, seg = a["period"], a["stage"], a["segment"]
    order = np.lexsort((np.arange(len(cust)), a["time"], periods, cust))
    cust, periods, code = cust[order], periods[order], code[order]
    if seg is not None:
        seg = seg[order]
    last = np.ones(len(cust), dtype=bool)
    last[:-1] = (cust[1:] != cust[:-1]) | (periods[1:] != periods[:-1])
    cust, periods, code = cust[last], periods[last], code[last]
    if seg is not None:
        seg = seg[last]
        change = (cust[1:] == cust[:-1]) & (seg[1:] != seg[:-1])
        if change.any():
            raise ValueError(
                f"{int(change.sum())} customers change segment within the log ({label})"
            )
    counts, starts = _core.count_transitions(
        cust,
        periods,
        code,
        seg,
        S,
        G,
        o["pieces"],
        o["absorbing_flags"],
        o["changes"],
        o["end_period"],
    )
    return np.asarray(counts), np.asarray(starts), int(cust.max()) + 1


def _take(a: dict, mask: np.ndarray) -> dict:
    return {k: (None if v is None else v[mask]) for k, v in a.items()}


def _count(source: Any, label: str, o: dict) -> dict:
    """Count the customers wholly in this partition; split the others' rows by
    hash into buckets (kept on the worker for the shuffle)."""
    df = _load(source, label, o["cols"])
    a = _arrays(df, o)
    spanning = o["spanning"]
    buckets: list = []
    if len(spanning):
        h = _hash(a["customer"])
        shared = np.isin(h, spanning)
        if shared.any():
            which = h[shared] % np.uint64(o["buckets"])
            rows = _take(a, shared)
            buckets = [_take(rows, which == k) for k in range(o["buckets"])]
        a = _take(a, ~shared)
    counts, starts, customers = _count_arrays(a, o, label)
    return {
        "counts": counts,
        "starts": starts,
        "customers": customers,
        "buckets": buckets,
    }


def _totals(result: dict) -> tuple:
    return result["counts"], result["starts"], result["customers"]


def _bucket_of(result: dict, k: int):
    return result["buckets"][k] if result["buckets"] else None


def _count_bucket(parts: list, o: dict, k: int) -> tuple:
    parts = [p for p in parts if p is not None and len(p["customer"])]
    if not parts:
        return _count_arrays({"customer": []}, o, f"bucket {k}")
    a = {
        key: (
            None if parts[0][key] is None else np.concatenate([p[key] for p in parts])
        )
        for key in parts[0]
    }
    return _count_arrays(a, o, f"customers spanning partitions, bucket {k}")


def fit_partitions(events: Any, client: Any, options: dict, prior, impossible):
    """:func:`journeysim.fit` on a cluster (see the module's notes)."""
    from .fit import _bucket, _estimate
    from .sweep import _check_client

    _check_client(client)
    customer, time, stage = options["customer"], options["time"], options["stage"]
    segment = options["segment"]
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
                raise ValueError(
                    "client= counts files on the workers: pass their paths (a "
                    "list, a glob such as 'events/*.parquet', or a directory) or "
                    "a dask DataFrame; a log already in memory is fitted here, "
                    "without client="
                )
        for p in paths:
            if Path(p).suffix.lower() not in SUFFIXES:
                raise ValueError(f"events file {p!r}: expected .csv or .parquet")
        sources, labels = paths, [f"file {p!r}" for p in paths]
    o: dict[str, Any] = {
        "cols": cols,
        "customer": customer,
        "time": time,
        "stage": stage,
        "segment": segment,
        "period": options["period"],
    }
    scans = client.gather(
        [
            client.submit(_scan, s, lab, o, key=f"journeysim-scan-{token}-{k}")
            for k, (s, lab) in enumerate(zip(sources, labels, strict=True))
        ]
    )
    if sum(s["rows"] for s in scans) == 0:
        raise ValueError("the event log is empty")
    seen: dict[str, int] = {}
    for s in scans:
        for name, n in s["seen"].items():
            seen[name] = seen.get(name, 0) + n
    stages = options["stages"]
    if stages is None:
        stages = sorted(seen)
    else:
        stages = list(stages)
        bad = sorted(u for u in seen if u not in stages)
        if bad:
            n = sum(seen[u] for u in bad)
            where = next(s["label"] for s in scans if set(s["seen"]) & set(bad))
            raise ValueError(
                f"{n} rows have stages not in stages=: {bad[:5]}, e.g. in {where}"
            )
    absorbing = [] if options["absorbing"] is None else list(options["absorbing"])
    for a in absorbing:
        if a not in stages:
            raise ValueError(f"absorbing: unknown stage {a!r}; the stages are {stages}")
    if segment:
        values = [v for s in scans for v in s["segments"]]
        segment_values = list(pd.factorize(pd.Series(values), sort=True)[1])
        segment_names = [str(v) for v in segment_values]
    else:
        segment_values, segment_names = [], ["all"]
    tenure = options["tenure"]
    pieces = [0] if tenure is None else sorted({0, *(int(t) for t in tenure)})
    last = max(s["last"] for s in scans if s["last"] is not None)
    end = options["end"]
    end_period = (
        last
        if end is None
        else int(_bucket(pd.Series([end]), options["period"], "end")[0])
    )
    if end_period < last:
        raise ValueError("end is before the last time in the log")
    hashes = np.concatenate([s["hashes"] for s in scans])
    ids, times_seen = np.unique(hashes, return_counts=True)
    spanning = ids[times_seen > 1]
    o.update(
        stages=stages,
        stage_index={name: k for k, name in enumerate(stages)},
        segment_values=segment_values,
        segment_names=segment_names,
        pieces=pieces,
        absorbing_flags=[s in absorbing for s in stages],
        changes=options["kind"] == "changes",
        end_period=end_period,
        spanning=spanning,
        buckets=max(1, min(len(spanning), sum(client.nthreads().values()) or 1)),
    )
    shared = client.scatter(o, broadcast=True, hash=False)
    counted = [
        client.submit(_count, s, lab, shared, key=f"journeysim-count-{token}-{k}")
        for k, (s, lab) in enumerate(zip(sources, labels, strict=True))
    ]
    every = [shared, *counted]
    totals = [
        client.submit(_totals, f, key=f"journeysim-totals-{token}-{k}")
        for k, f in enumerate(counted)
    ]
    if len(spanning):
        for k in range(o["buckets"]):
            parts = [
                client.submit(_bucket_of, f, k, key=f"journeysim-part-{token}-{k}-{i}")
                for i, f in enumerate(counted)
            ]
            every += parts
            totals.append(
                client.submit(
                    _count_bucket,
                    parts,
                    shared,
                    k,
                    key=f"journeysim-bucket-{token}-{k}",
                )
            )
    every += totals
    try:
        results = client.gather(totals)
    except BaseException:
        client.cancel(every)  # nothing left running on the cluster
        raise
    # Dropping the futures releases the partitions' data on the workers.
    del every, counted, totals, shared
    if is_dask_frame(events):
        del sources
    counts = sum(r[0] for r in results)
    starts = sum(r[1] for r in results)
    customers = sum(r[2] for r in results)
    result, _, _ = _estimate(
        counts,
        starts,
        stages,
        pieces,
        segment_names,
        absorbing,
        prior,
        impossible,
        customers,
    )
    result._data = None  # the event arrays stay on the workers
    result._options = {
        **options,
        "stages": stages,
        "absorbing": absorbing or None,
    }
    return result
