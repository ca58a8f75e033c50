"""Calibrating a journey from an event log: transition counts (in the core),
maximum likelihood and Dirichlet posterior estimates with their uncertainty."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base.checks import finite_number
from .._base.errors import FitError
from .._base.units import Units
from .counting import RETURNS, FitOptions, Log, Return, count_log, journeys, read_log
from .dirichlet import UNOBSERVED
from .fit_units import fit_units
from .fitted import Fit, estimate
from .generator import DAYS, GeneratorFit
from .partitions import fit_partitions
from .values import UNVALUED, estimate_values

__all__ = ["fit"]


def _fit_continuous(
    log: Log, o: FitOptions, absorbing: list[str], prior: float, units: Units
) -> GeneratorFit:
    """A generator fit from exact change times, with the stage codes the log
    was read with."""
    df, stages = log.frame, log.stages
    time, period, end = o.time, o.period, o.end
    times = df[time]
    if pd.api.types.is_numeric_dtype(times):
        t = times.to_numpy(dtype=float)
        if (
            isinstance(period, bool)
            or not isinstance(period, numbers.Real)
            or (period <= 0)
        ):
            raise FitError(
                f"with numeric times, period must be a positive length, got {period!r}"
            )
        length = float(period)
        end_t = None if end is None else float(end)
    else:
        try:
            stamps = pd.to_datetime(times)
        except (ValueError, TypeError) as err:
            raise FitError(
                f"column {time!r} has values that are not dates: {err}"
            ) from None
        if period not in DAYS:
            raise FitError(
                f"with dates, period must be 'M', 'W' or 'D', got {period!r}"
            )
        origin = stamps.min()
        t = ((stamps - origin).dt.total_seconds() / 86400.0).to_numpy()
        length = DAYS[period]
        end_t = (
            None
            if end is None
            else (pd.Timestamp(end) - origin).total_seconds() / 86400
        )
    S = len(stages)
    code = log.code.astype(np.int64)
    cust = log.customer
    order = np.lexsort((np.arange(len(df)), t, cust))
    cust, t, code = cust[order], t[order], code[order]
    end_t = float(t.max()) if end_t is None else end_t
    if end_t < t.max():
        raise FitError("end is before the last time in the log")
    absorbing_idx = [stages.index(a) for a in absorbing]

    def describe(k: int) -> Return:
        return Return(
            customer=log.ids[cust[k]],
            stage=stages[code[k - 1]],
            time=times.iloc[order[k - 1]],
            to=stages[code[k]],
            to_time=times.iloc[order[k]],
        )

    flags = np.isin(np.arange(S), absorbing_idx)
    cust = journeys(cust, code, flags, o.returns, describe)
    same = cust[1:] == cust[:-1]
    dt = (t[1:] - t[:-1])[same]
    frm, to = code[:-1][same], code[1:][same]
    at_risk = ~np.isin(frm, absorbing_idx)
    exposure = np.bincount(frm[at_risk], weights=dt[at_risk], minlength=S)
    moved = at_risk & (frm != to)
    counts = np.bincount(frm[moved] * S + to[moved], minlength=S * S).reshape(S, S)
    last = np.ones(len(cust), dtype=bool)
    last[:-1] = ~same
    tail = last & ~np.isin(code, absorbing_idx)
    exposure += np.bincount(code[tail], weights=end_t - t[tail], minlength=S)
    first = np.ones(len(cust), dtype=bool)
    first[1:] = ~same
    starts = np.bincount(code[first], minlength=S).astype(float)
    return GeneratorFit(
        stages, counts, exposure, starts, absorbing, length, prior, units=units
    )


def fit(
    events: Any,
    *,
    customer: str = "customer",
    time: str = "period",
    stage: str = "stage",
    period: str | int = 1,
    kind: str = "changes",
    stages: Sequence[str] | None = None,
    absorbing: Iterable[str] | None = None,
    segment: str | None = None,
    tenure: Sequence[int] | None = None,
    prior: float | np.ndarray = 0.0,
    impossible: Iterable[tuple[str, str]] = (),
    end: Any = None,
    returns: str = "error",
    unobserved: str = "stay",
    model: str = "discrete",
    client: Any = None,
    values: Any = None,
    value_columns: dict[str, str] | None = None,
    score_columns: dict[str, str] | None = None,
    unvalued: str = "error",
    net: dict[str, float] | None = None,
    time_unit: str | None = None,
    currency: str | None = None,
    locale: str | None = None,
) -> Fit | GeneratorFit:
    """Estimate a journey's transition probabilities from an event log.

    Parameters
    ----------
    events : DataFrame, pyarrow Table, path(s) to CSV or Parquet files
        One row per observation: a customer, a time and a stage. Several files
        (a list of paths, a glob such as ``"events/*.parquet"`` or a
        directory) are one log, read in sorted order; so are the partitions
        of a dask DataFrame.
    customer, time, stage : str
        Column names.
    period : {"M", "W", "D"} or int
        How times are bucketed into periods: calendar months, weeks or days of
        dates, or integer times divided by this number.
    kind : {"changes", "snapshots"}
        "changes": each row says the customer moved to a stage at that time; the
        stage holds until the next row. "snapshots": each row is the stage
        observed in that period; only consecutive periods count (gaps are
        skipped). Several rows of a customer in one period: the last one, in
        time order then row order, is the stage of that period.
    stages : list of str, optional
        The stages, in order (default: as they appear, sorted). A stage in the
        log that is not in it is a ValueError.
    absorbing : list of str, optional
        Stages nobody leaves: their rows are not estimated.
    segment : str, optional
        A column with each customer's segment: one journey segment each.
    tenure : list of int, optional
        Tenure pieces to estimate separately, e.g. ``[0, 3]``.
    prior : float or array
        Dirichlet pseudo-counts added to every allowed transition (or a stages
        x stages array); 0 gives maximum likelihood. A row never observed in a
        tenure piece borrows its counts pooled over the pieces; a row never
        observed at all is what ``unobserved`` says.
    impossible : list of (from, to)
        Structural zeros: transitions that stay at probability zero.
    end : optional
        The time the data ends (default: the last time in the log). Customers
        still in a non-absorbing stage then are right-censored: they count as
        staying until ``end``, and no churn is invented.
    returns : {"error", "new_customer"}
        A customer seen in another stage after an absorbing one (churned,
        then active again) contradicts ``absorbing``: "error" (the default)
        refuses the log, naming the customer, the stages and the times;
        "new_customer" counts each return as the start of a new customer's
        journey (the id's history is split at the absorbing stage: the first
        journey ends absorbed, the second starts at tenure 0), so
        ``customers`` counts journeys. Nothing is ever dropped silently.
    unobserved : {"stay", "uniform", "prior"}
        What a row with no observed transition (a stage nobody was seen in
        before the end of the data) becomes. "stay" (the default): customers
        stay put there. "uniform": they move to each allowed stage (itself
        included; not those in ``impossible``) with equal probability. Both
        are assumptions, not estimates: no spread, never drawn by
        :meth:`Fit.sample`. "prior": the prior alone, with its spread (needs a
        positive ``prior`` in that row). Discrete model only: the continuous
        model's unobserved stages have no rates out (they stay).
    model : {"discrete", "continuous"}
        "continuous": times are exact (numbers, or dates in days); moves out of
        each stage over the time at risk there estimate a generator Q, and the
        period matrix is expm(Q * period), with ``period`` a length in the
        times' unit (or "M", "W", "D" for dates). Returns a
        :class:`GeneratorFit` (``kind`` must be "changes").
    client : dask.distributed.Client, optional
        Count on the cluster: every file (or dask partition) is read and its
        transitions counted in the core on a worker, and the counts are summed
        (they are additive). Customers whose events span partitions are found
        (by 64-bit hashes of their ids) and only their rows are shuffled, by
        customer, before counting. The result is identical to a fit in one
        process; partitioning by customer avoids the shuffle. The event
        arrays stay on the workers, so such a fit has no bootstrap intervals
        and no ``check()`` of its own log. The paths must be readable on the
        workers. Discrete model only.
    values : DataFrame, optional
        Rows keyed like the log (``customer`` and ``time`` columns, e.g. one
        row per account and month of an export) with the columns named in
        ``value_columns`` and ``score_columns``. Default: the log's own
        DataFrame carries them. Each row is given its account's stage in
        that period by the log (snapshots: the log's row of that period;
        changes: the last change at or before it); a row with no stage, or
        of an account not in the log, is an error.
    value_columns : dict, optional
        ``{stream: column}``, e.g. ``{"revenue": "mrr", "cost_to_serve":
        "support_cost"}``: each stream per stage is the mean amount per
        account-period spent there (rows of one account in one period add
        up). The fitted journey carries them as value streams; intervals
        (accounts as clusters) in :meth:`Fit.value_summary`, and
        :meth:`Fit.sample` draws them. Missing amounts are an error. With
        ``segment=``, each stream is also measured per segment (on its own
        accounts; a stage a segment has no rows in takes the estimate over
        all accounts) and the journey's segments carry their own amounts.
        Not with ``tenure=``, ``client=`` or ``model="continuous"`` (each an
        error saying what to do instead).
    score_columns : dict, optional
        ``{score: column}``, e.g. ``{"nps": "nps"}``: each score per stage is
        the mean answer over the account-periods that have one (NaN: no
        answer); the journey carries them as ``scores``.
    unvalued : {"error", "zero"}
        A transient stage with no value rows (or no answers) is an error
        naming it; "zero" sets its value streams to 0 and leaves its score
        out. Absorbing stages without rows earn 0 and have no score.
    net : dict, optional
        Weights of the fitted value streams in the journey's net value, e.g.
        ``{"revenue": 1, "cost_to_serve": -1}`` (streams not named weigh 0).
        Default: every stream +1, as in :class:`Journey`. See
        docs/fit_values.md.
    time_unit : {"day", "week", "month", "quarter", "year", "period"}, optional
        What one period of the fitted journey is, so that its summaries say
        "12 months". Default: the calendar unit of ``period`` for dates ("M"
        month, "W" week, "D" day), else "period". Given with a calendar
        ``period``, it must be that period's unit.
    currency : str, optional
        ISO 4217 code (``"USD"``, ``"EUR"``) of the fitted value streams.
    locale : str, optional
        How the fitted journey writes numbers and money (``"de_DE"``;
        default ``"en_US"``). A bad ``time_unit``, ``currency`` or ``locale``
        is an InputError naming it.

    Examples
    --------
    >>> import journeysim as js
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "account_id": [1, 1, 2, 2, 3],
    ...     "date": pd.to_datetime(["2025-01-05", "2025-02-10", "2025-01-20",
    ...                             "2025-03-02", "2025-01-11"]),
    ...     "stage": ["trial", "paying", "trial", "churned", "trial"],
    ... })
    >>> f = js.fit(log, customer="account_id", time="date", stage="stage",
    ...            period="M", absorbing=["churned"])
    >>> f.stages
    ['churned', 'paying', 'trial']
    >>> f.counts.loc["trial"].to_dict()
    {'churned': 1, 'paying': 1, 'trial': 3}
    >>> f.journey.units.time_unit   # monthly periods of dates: months
    'month'
    """
    if kind not in ("changes", "snapshots"):
        raise FitError(f"kind must be 'changes' or 'snapshots', got {kind!r}")
    if model not in ("discrete", "continuous"):
        raise FitError(f"model must be 'discrete' or 'continuous', got {model!r}")
    if model == "continuous" and kind != "changes":
        raise FitError("model='continuous' needs exact change times (kind='changes')")
    if returns not in RETURNS:
        raise FitError(f"returns must be one of {list(RETURNS)}, got {returns!r}")
    if unobserved not in UNOBSERVED:
        raise FitError(
            f"unobserved must be one of {list(UNOBSERVED)}, got {unobserved!r}"
        )
    if model == "continuous" and unobserved != "stay":
        raise FitError(
            "model='continuous' supports unobserved='stay' only: a stage never "
            "left has no rates out"
        )
    o = FitOptions(
        customer=customer,
        time=time,
        stage=stage,
        period=period,
        kind=kind,
        stages=stages,
        absorbing=absorbing,
        segment=segment,
        tenure=tenure,
        end=end,
        returns=returns,
    )
    wants_values = bool(
        value_columns or score_columns or values is not None or net is not None
    )
    if unvalued not in UNVALUED:
        raise FitError(f"unvalued must be one of {list(UNVALUED)}, got {unvalued!r}")
    units = fit_units(period, time_unit, currency, locale)
    if wants_values:
        _values_supported(model, client, tenure)
    if client is not None:
        if model != "discrete":
            raise FitError("client= fits the discrete model only")
        return fit_partitions(
            events, client, o, prior, impossible, unobserved, units=units
        )
    log = read_log(events, o)
    stages = log.stages
    if model == "continuous":
        absorbing = [] if absorbing is None else list(absorbing)
        for a in absorbing:
            if a not in stages:
                raise FitError(
                    f"absorbing: unknown stage {a!r}; the stages are {stages}"
                )
        if (
            isinstance(prior, bool)
            or not isinstance(prior, numbers.Real)
            or not (finite_number(prior) and prior >= 0)
        ):
            raise FitError(f"prior must be a finite number >= 0, got {prior!r}")
        for name, given in (
            ("segment", segment),
            ("tenure", tenure),
            ("impossible", list(impossible)),
        ):
            if given:
                raise FitError(f"model='continuous' does not support {name}= yet")
        return _fit_continuous(log, o, absorbing, prior, units)
    counted = count_log(log, o)
    measured = estimate_values(
        events,
        log,
        o,
        values=values,
        value_columns=value_columns,
        score_columns=score_columns,
        unvalued=unvalued,
        net=net,
    )
    return estimate(
        counted,
        o,
        prior,
        impossible,
        unobserved=unobserved,
        values=measured,
        units=units,
    )


def _values_supported(model: str, client: Any, tenure: Any) -> None:
    """Value streams are measured per stage (and segment) by the discrete
    model in this process: the other combinations are refused, each with
    what to do instead."""
    if model != "discrete":
        raise FitError(
            "values with model='continuous': value streams are amounts per "
            "period spent in a stage, which the discrete model measures. Fit them "
            "with model='discrete' (kind='snapshots' for an account export)"
        )
    if client is not None:
        raise FitError(
            "values with client=: the values frame is read in this process. Fit "
            "without client= (the counts, so the rates, are the same), or fit "
            "the rates with client= and the values in a second fit without it"
        )
    if tenure:
        raise FitError(
            "values with tenure=: value streams are measured per stage (and "
            "segment), not per tenure piece. Fit the values without tenure=, "
            "then give that journey the tenure-dependent rates of a second fit: "
            "values_fit.journey.with_transitions(rates_fit.journey) (see "
            "docs/fit_values.md)"
        )
