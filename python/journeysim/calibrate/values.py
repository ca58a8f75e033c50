"""Value streams and scores per stage, estimated from the same accounts as the
transitions: ``fit(..., values=frame, value_columns=..., score_columns=...)``.

Each row of the values frame is given the stage its account was in during
that period (by the stage log), the rows of one account in one period are
combined (amounts add up; survey answers are averaged), and each stage's
estimate is the mean over the account-periods spent there. Its standard error
treats accounts as clusters: the months of one account are not independent
observations (an account's MRR barely moves from one month to the next), so
intervals that counted them as such would be far too narrow.

With a segment column (``fit(segment=...)``) each value stream is also
estimated per segment, the same way on that segment's accounts; a stage a
segment has no rows in borrows the estimate over all segments (``pooled``).
Scores stay over all segments (a journey's scores are not per segment).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .._base.errors import FitError
from .counting import FitOptions, Log, time_key
from .events import period_index

__all__ = [
    "ALL",
    "UNVALUED",
    "SegmentValues",
    "StageEstimate",
    "ValueEstimates",
    "estimate_values",
    "value_table",
]

#: What fit(unvalued=) may be: what a stage with no value rows gets.
UNVALUED = ("error", "zero")
#: The segment label of estimates over all accounts (as a fit without a
#: segment column names its one segment).
ALL = "all"


@dataclass(frozen=True)
class StageEstimate:
    """One value stream or score, per stage (arrays in the fit's stage order).

    ``estimate`` is the mean per account-period (NaN for a score a stage has
    none of); ``std_error`` its cluster-robust standard error (NaN with fewer
    than two accounts); ``accounts`` and ``periods`` the accounts and
    account-periods it rests on; ``fixed`` marks a stage set rather than
    estimated (an absorbing stage, or ``unvalued="zero"``). Of one segment,
    ``pooled`` marks the stages it has no rows in, which take the estimate
    over all segments (None: an estimate over all accounts)."""

    name: str
    column: str
    score: bool
    estimate: np.ndarray
    std_error: np.ndarray
    accounts: np.ndarray
    periods: np.ndarray
    fixed: np.ndarray
    pooled: np.ndarray | None = None

    def draw(self, rng: np.random.Generator) -> StageEstimate:
        """The estimate with each estimated stage drawn from its sampling
        distribution: estimate + std_error x Student t (accounts - 1 degrees
        of freedom)."""
        ok = ~self.fixed & np.isfinite(self.std_error) & (self.accounts >= 2)
        t = rng.standard_t(np.maximum(self.accounts - 1, 1))
        drawn = np.where(ok, self.estimate + self.std_error * t, self.estimate)
        return replace(self, estimate=drawn)

    def by_stage(self, stages: list[str]) -> dict[str, float]:
        """``{stage: estimate}`` for the stages that have one."""
        return {
            s: float(v)
            for s, v in zip(stages, self.estimate, strict=True)
            if np.isfinite(v)
        }


@dataclass(frozen=True)
class SegmentValues:
    """The value streams of one segment, in the order of the fit's streams."""

    segment: str
    values: tuple[StageEstimate, ...]

    def draw(
        self, rng: np.random.Generator, overall: tuple[StageEstimate, ...]
    ) -> SegmentValues:
        """Drawn as the estimates over all accounts are, each borrowed stage
        the draw over all accounts (``overall``, drawn once for the journey)."""
        out = []
        for v, o in zip(self.values, overall, strict=True):
            d = v.draw(rng)
            out.append(replace(d, estimate=np.where(v.pooled, o.estimate, d.estimate)))
        return replace(self, values=tuple(out))


@dataclass(frozen=True)
class ValueEstimates:
    """The value streams and scores a fit estimated (over all accounts), and
    the value streams per segment when the fit has a segment column."""

    values: tuple[StageEstimate, ...]
    scores: tuple[StageEstimate, ...]
    #: The streams' weights in net value (None: +1 each).
    net: tuple[tuple[str, float], ...] | None = None
    segments: tuple[SegmentValues, ...] = ()

    def draw(self, rng: np.random.Generator) -> ValueEstimates:
        values = tuple(v.draw(rng) for v in self.values)
        return replace(
            self,
            values=values,
            scores=tuple(s.draw(rng) for s in self.scores),
            segments=tuple(g.draw(rng, values) for g in self.segments),
        )

    def segment_values(
        self, segment: str, stages: list[str]
    ) -> dict[str, dict[str, float]] | None:
        """``values=`` of a journey segment: the segment's own streams (None
        when the fit measured none per segment)."""
        for g in self.segments:
            if g.segment == segment:
                return {v.name: v.by_stage(stages) for v in g.values}
        return None

    def journey_kwargs(self, stages: list[str]) -> dict[str, Any]:
        """``values=`` and ``scores=`` of a Journey with these estimates."""
        out: dict[str, Any] = {}
        if self.values:
            out["values"] = {v.name: v.by_stage(stages) for v in self.values}
            if self.net is not None:
                out["net"] = dict(self.net)
        scores = {s.name: s.by_stage(stages) for s in self.scores}
        scores = {k: v for k, v in scores.items() if v}
        if scores:
            out["scores"] = scores
        return out


def _columns(given: Any, what: str) -> dict[str, str]:
    if given is None:
        return {}
    if not isinstance(given, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in given.items()
    ):
        raise FitError(
            f"{what} must be a dict {{name: column}} of strings, got {given!r}"
        )
    return dict(given)


def _numbers(df: pd.DataFrame, column: str, label: str, score: bool) -> np.ndarray:
    """The column as floats: numeric, finite, and for a value stream
    complete (a missing amount is not zero; a missing answer is no answer)."""
    col = df[column]
    if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(
        col.dtype
    ):
        bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
        example = (
            f", e.g. row {col.index[int(np.argmax(bad.to_numpy()))]!r}: "
            f"{col[bad].iloc[0]!r}"
            if bad.any()
            else ""
        )
        raise FitError(
            f"{label}: column {column!r} is not numeric (dtype {col.dtype}){example}; "
            "convert it with pd.to_numeric first"
        )
    x = col.to_numpy(dtype=float, na_value=np.nan)
    inf = np.isinf(x)
    if inf.any():
        raise FitError(
            f"{label}: column {column!r} has {int(inf.sum()):,} infinite value(s), "
            f"e.g. row {col.index[int(np.argmax(inf))]!r}"
        )
    missing = np.isnan(x)
    if not score and missing.any():
        raise FitError(
            f"{label}: column {column!r} has {int(missing.sum()):,} missing "
            f"value(s), e.g. row {col.index[int(np.argmax(missing))]!r}: a missing "
            "amount is not zero; fill what it should be (fillna(0) if nothing was "
            "earned or spent) or drop those rows"
        )
    return x


def _stage_of(
    log: Log, o: FitOptions, df: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of ``df``: its account code, period and stage code by the
    log (snapshots: the log's row of that period; changes: the last change at
    or before it). Rows the log gives no stage are a FitError."""
    for c in (o.customer, o.time):
        if df[c].isna().any():
            i = int(np.argmax(df[c].isna().to_numpy()))
            raise FitError(f"values: column {c!r} is missing in row {df.index[i]!r}")
    cust = pd.Index(log.ids).get_indexer(df[o.customer])
    unknown = cust < 0
    if unknown.any():
        i = int(np.argmax(unknown))
        raise FitError(
            f"values: {int(unknown.sum()):,} row(s) are for accounts not in the "
            f"stage log, e.g. {df[o.customer].iloc[i]!r} (row {df.index[i]!r}): "
            "give values for the log's accounts only"
        )
    period = period_index(df[o.time], o.period, o.time)
    lf = log.frame
    lp = period_index(lf[o.time], o.period, o.time)
    order = np.lexsort((np.arange(len(lf)), time_key(lf[o.time]), lp, log.customer))
    lc, lp, ls = log.customer[order], lp[order], log.code[order]
    last = np.ones(len(lc), dtype=bool)  # the stage of a period: its last row
    last[:-1] = (lc[1:] != lc[:-1]) | (lp[1:] != lp[:-1])
    lc, lp, ls = lc[last], lp[last], ls[last]
    low = min(int(lp.min()), int(period.min()))
    span = max(int(lp.max()), int(period.max())) - low + 1
    lkey = lc * span + (lp - low)
    qkey = cust * span + (period - low)
    at = np.searchsorted(lkey, qkey, side="right") - 1
    found = at >= 0
    found[found] &= lc[at[found]] == cust[found]
    if o.kind == "snapshots":
        found[found] &= lp[at[found]] == period[found]
    if not found.all():
        i = int(np.argmax(~found))
        rule = (
            "the log's row for that account and period"
            if o.kind == "snapshots"
            else "a stage change of that account at or before it"
        )
        raise FitError(
            f"values: {int((~found).sum()):,} row(s) have no stage in the log, e.g. "
            f"account {df[o.customer].iloc[i]!r} at {df[o.time].iloc[i]!r} (row "
            f"{df.index[i]!r}): each needs {rule} (kind={o.kind!r})"
        )
    return cust, period, ls[at]


def _per_stage(
    name: str,
    column: str,
    score: bool,
    x: np.ndarray,
    cust: np.ndarray,
    group: np.ndarray,
    stage: np.ndarray,
    n_stages: int,
) -> StageEstimate:
    """Account-periods (``group``: each row's account-period) combined, then
    per stage the mean and its cluster-robust standard error."""
    keep = ~np.isnan(x)
    S = n_stages
    if not keep.any():  # a score nobody answered
        nothing = np.zeros(S, dtype=np.int64)
        return StageEstimate(
            name,
            column,
            score,
            np.full(S, np.nan),
            np.full(S, np.nan),
            nothing,
            nothing,
            np.zeros(S, dtype=bool),
        )
    x, cust, group, stage = x[keep], cust[keep], group[keep], stage[keep]
    ids, first, inv = np.unique(group, return_index=True, return_inverse=True)
    total = np.bincount(inv, weights=x, minlength=len(ids))
    if score:  # answers in one period are averaged; amounts add up
        total = total / np.bincount(inv, minlength=len(ids))
    acc, st = cust[first], stage[first]
    n = np.bincount(st, minlength=S).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(st, weights=total, minlength=S) / n
    # Cluster-robust (accounts) variance of a ratio mean: G / (G - 1) x
    # sum over accounts of (their total - mean x their periods)^2 / n^2.
    _, cl = np.unique(st * (int(acc.max()) + 1) + acc, return_inverse=True)
    cl_stage = np.zeros(cl.max() + 1, dtype=np.int64)
    cl_stage[cl] = st
    cl_total = np.bincount(cl, weights=total)
    cl_n = np.bincount(cl).astype(float)
    G = np.bincount(cl_stage, minlength=S)
    resid = cl_total - np.where(n > 0, mean, 0.0)[cl_stage] * cl_n
    ss = np.bincount(cl_stage, weights=resid**2, minlength=S)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(G >= 2, np.sqrt(G / np.maximum(G - 1, 1) * ss) / n, np.nan)
    return StageEstimate(
        name=name,
        column=column,
        score=score,
        estimate=mean,
        std_error=se,
        accounts=G.astype(np.int64),
        periods=n.astype(np.int64),
        fixed=np.zeros(S, dtype=bool),
    )


def _unvalued(
    e: StageEstimate, stages: list[str], absorbing: list[str], unvalued: str
) -> StageEstimate:
    """Stages without rows: absorbing ones earn 0 (and have no score); others
    are a FitError naming them unless ``unvalued="zero"``."""
    empty = e.periods == 0
    if not empty.any():
        return e
    is_abs = np.array([s in absorbing for s in stages])
    missing = [s for s, m, a in zip(stages, empty, is_abs, strict=True) if m and not a]
    if missing and unvalued != "zero":
        what = "score" if e.score else "value stream"
        raise FitError(
            f"{what} {e.name!r} (column {e.column!r}): no rows in stage(s) "
            f"{missing}, so nothing to estimate there. Give rows for them, or pass "
            "unvalued='zero' to set "
            + ("no score" if e.score else "0 per period")
            + " there"
        )
    set_to = np.nan if e.score else 0.0
    return replace(
        e,
        estimate=np.where(empty, set_to, e.estimate),
        std_error=np.where(empty, np.where(e.score, np.nan, 0.0), e.std_error),
        fixed=e.fixed | empty,
    )


def estimate_values(
    events: Any,
    log: Log,
    o: FitOptions,
    *,
    values: Any,
    value_columns: Any,
    score_columns: Any,
    unvalued: str,
    net: Any = None,
) -> ValueEstimates | None:
    """The value streams and scores per stage (None when none are asked for).
    ``values`` is a DataFrame keyed like the log (None: the log's own
    DataFrame carries the columns)."""
    streams = _columns(value_columns, "value_columns")
    scores = _columns(score_columns, "score_columns")
    if unvalued not in UNVALUED:
        raise FitError(f"unvalued must be one of {list(UNVALUED)}, got {unvalued!r}")
    if net is not None:
        if not streams:
            raise FitError("net= weighs fitted value streams: give value_columns= too")
        if not isinstance(net, Mapping):
            raise FitError(f"net must be a dict {{stream: weight}}, got {net!r}")
        unknown = [s for s in net if s not in streams]
        if unknown:
            raise FitError(
                f"net: {unknown} are not value streams of value_columns= "
                f"({list(streams)})"
            )
        for s, w in net.items():
            if isinstance(w, bool) or not isinstance(w, numbers.Real):
                raise FitError(f"net[{s!r}] must be a number, got {w!r}")
    if not streams and not scores:
        if values is not None:
            raise FitError(
                "values= needs value_columns= and/or score_columns= naming its "
                "columns, e.g. value_columns={'revenue': 'mrr'}"
            )
        return None
    both = sorted(set(streams) & set(scores))
    if both:
        raise FitError(f"{both} named both as value streams and as scores")
    frame = events if values is None else values
    if not isinstance(frame, pd.DataFrame):
        where = "the events" if values is None else "values="
        raise FitError(
            f"{where} must be a pandas DataFrame to estimate values from, got "
            f"{type(frame).__name__}"
            + (
                ": pass values=<DataFrame> with the value columns"
                if values is None
                else ""
            )
        )
    wanted = [o.customer, o.time, *streams.values(), *scores.values()]
    missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing:
        raise FitError(
            f"values: no column(s) {missing}; the columns are {list(frame.columns)}"
        )
    if len(frame) == 0:
        raise FitError("values: the frame is empty")
    amounts = {
        name: _numbers(frame, col, f"value stream {name!r}", False)
        for name, col in streams.items()
    }
    answers = {
        name: _numbers(frame, col, f"score {name!r}", True)
        for name, col in scores.items()
    }
    cust, period, stage = _stage_of(log, o, frame)
    # One key per account-period (periods offset to start at 0).
    group = cust * (int(period.max() - period.min()) + 1) + (period - period.min())
    S = len(log.stages)
    absorbing = [] if o.absorbing is None else list(o.absorbing)

    def one(name: str, col: str, x: np.ndarray, score: bool) -> StageEstimate:
        e = _per_stage(name, col, score, x, cust, group, stage, S)
        return _unvalued(e, log.stages, absorbing, unvalued)

    out_values = tuple(
        one(name, streams[name], x, False) for name, x in amounts.items()
    )
    out_scores = tuple(one(name, scores[name], x, True) for name, x in answers.items())
    for s in out_scores:
        if not np.isfinite(s.estimate).any():
            raise FitError(f"score {s.name!r} (column {s.column!r}) has no answers")
    weights = (
        None if net is None else tuple((s, float(net.get(s, 0.0))) for s in streams)
    )
    by_segment: tuple[SegmentValues, ...] = ()
    if o.segment and out_values:
        seg, names = _segment_of(log, o, cust)
        by_segment = tuple(
            SegmentValues(
                name,
                tuple(
                    _borrowing(
                        _per_stage(
                            e.name,
                            e.column,
                            False,
                            np.where(seg == g, amounts[e.name], np.nan),
                            cust,
                            group,
                            stage,
                            S,
                        ),
                        e,
                    )
                    for e in out_values
                ),
            )
            for g, name in enumerate(names)
        )
    return ValueEstimates(out_values, out_scores, weights, by_segment)


def _segment_of(log: Log, o: FitOptions, cust: np.ndarray) -> tuple[np.ndarray, list]:
    """Each values row's segment code (by its account's rows in the log) and
    the segment names, coded as the transition counts code them (sorted,
    as text). The log has one segment per account (checked by the count)."""
    codes, names = pd.factorize(log.frame[o.segment], sort=True)
    of_account = np.zeros(len(log.ids), dtype=np.int64)
    of_account[log.customer] = codes
    return of_account[cust], [str(s) for s in names]


def _borrowing(e: StageEstimate, overall: StageEstimate) -> StageEstimate:
    """One segment's estimate, each stage it has no rows in taking the
    estimate over all segments (set there: an absorbing 0 stays fixed)."""
    empty = e.periods == 0
    return replace(
        e,
        estimate=np.where(empty, overall.estimate, e.estimate),
        std_error=np.where(empty, overall.std_error, e.std_error),
        fixed=empty & overall.fixed,
        pooled=empty & ~overall.fixed,
    )


def value_table(
    estimates: ValueEstimates, stages: list[str], level: float
) -> pd.DataFrame:
    """Every value stream and score per stage: ``kind`` ("value" or
    "score"), ``column``, ``estimate``, ``std_error``, the t-interval at
    ``level`` (``low``, ``high``), ``accounts``, ``periods`` (account-periods)
    and ``fixed``; rows (name, stage). With values per segment: rows (name,
    segment, stage), the estimates over all accounts as segment "all", and a
    ``pooled`` column (a segment's stage that took the estimate over all)."""
    from scipy.stats import t as student_t

    if not (isinstance(level, numbers.Real) and 0 < level < 1):
        raise FitError(f"level must be in (0, 1), got {level!r}")
    # Each stream over all accounts, then per segment; then the scores.
    rows = [
        (segment, e)
        for k, v in enumerate(estimates.values)
        for segment, e in [
            (ALL, v),
            *((g.segment, g.values[k]) for g in estimates.segments),
        ]
    ]
    rows += [(ALL, e) for e in estimates.scores]
    frames = []
    for segment, e in rows:
        df = np.maximum(e.accounts - 1, 1)
        q = student_t.ppf(0.5 + level / 2, df)
        half = np.where(e.accounts >= 2, q * e.std_error, np.nan)
        half = np.where(e.fixed, 0.0, half)
        frames.append(
            pd.DataFrame(
                {
                    "kind": "score" if e.score else "value",
                    "column": e.column,
                    "estimate": e.estimate,
                    "std_error": e.std_error,
                    "low": e.estimate - half,
                    "high": e.estimate + half,
                    "accounts": e.accounts,
                    "periods": e.periods,
                    "fixed": e.fixed,
                    "pooled": np.zeros(len(stages), dtype=bool)
                    if e.pooled is None
                    else e.pooled,
                },
                index=pd.MultiIndex.from_product(
                    [[e.name], [segment], stages], names=["name", "segment", "stage"]
                ),
            )
        )
    out = pd.concat(frames)
    if not estimates.segments:
        return out.droplevel("segment").drop(columns="pooled")
    return out
