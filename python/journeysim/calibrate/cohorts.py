"""Cohort tables: each signup cohort's retention by periods since signup,
counted from an event log (read as :func:`journeysim.fit` reads it) or
projected by a journey with arrivals."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base.checks import check_integer
from .._base.conventions import MAX_PERIOD
from .._base.errors import FitError, InputError
from .._base.units import Units
from ..model.journey import Journey
from ..results.cohorts import Cohorts
from .counting import FitOptions, Return, journeys, last_in_period, read_log, time_key
from .events import PERIODS, period_index
from .fit_units import fit_units

__all__ = ["cohort_table"]


def cohort_table(
    data: Any,
    *,
    customer: str = "customer",
    time: str = "period",
    stage: str = "stage",
    period: str | int = 1,
    kind: str = "changes",
    stages: Sequence[str] | None = None,
    absorbing: Iterable[str] | None = None,
    end: Any = None,
    returns: str = "error",
    periods: int = 24,
    time_unit: str | None = None,
) -> Cohorts:
    """Retention of each signup cohort by periods since signup.

    From an event log (the same columns and reading as :func:`journeysim.fit`):
    a customer's signup period is the period of its first row; at age k it is
    retained when its stage at the end of period signup + k is not one of
    ``absorbing``. With ``kind="changes"`` a stage holds until the next row,
    and every customer is known up to ``end`` (default: the log's last
    period); with ``kind="snapshots"`` a customer not lost is known only up to
    its last row, and retention at k is over the customers known at k. Ages
    past the end of the log are nan. The ages and signup periods are labelled
    in ``time_unit``: by default the calendar unit of ``period`` for dates
    ("M": months), else "period" (give ``time_unit="month"`` for integer
    months); as in :func:`journeysim.fit`, it must agree with a calendar
    ``period``.

    From a :class:`~journeysim.Journey` with arrivals: the projected table
    over ``periods`` periods. The starting cohort (t = 0) and each period's
    arrivals (joining at t) follow the journey's retention curve on their own
    tenure clock, known while t + age <= periods. With dated arrivals the rows
    are signup periods (the starting cohort's is the period before the first
    arrivals); otherwise the period each cohort joins (0 for the starting
    cohort).

    Returns
    -------
    Cohorts
        ``.retention`` (cohorts x ages), ``.customers``, ``.observed``,
        ``.sizes`` and ``.plot()`` (the cohort heat map).

    Examples
    --------
    >>> import journeysim as js
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer": ["a", "a", "b", "b", "c"],
    ...     "date": ["2026-01-05", "2026-03-02", "2026-01-20", "2026-02-11",
    ...              "2026-02-03"],
    ...     "stage": ["active", "churned", "active", "churned", "active"]})
    >>> t = js.cohort_table(log, time="date", period="M", absorbing=["churned"])
    >>> t.retention.round(2)
    months since signup    0    1    2
    signup month
    2026-01              1.0  0.5  0.0
    2026-02              1.0  1.0  NaN
    """
    if isinstance(data, Journey):
        return _projected(data, periods)
    units = fit_units(period, time_unit)
    if absorbing is None:
        raise FitError(
            "cohort_table needs absorbing=: the stages that mean a customer is lost"
        )
    if kind not in ("changes", "snapshots"):
        raise FitError(f"kind must be 'changes' or 'snapshots', got {kind!r}")
    o = FitOptions(
        customer=customer,
        time=time,
        stage=stage,
        period=period,
        kind=kind,
        stages=stages,
        absorbing=absorbing,
        end=end,
        returns=returns,
    )
    log = read_log(data, o)
    lost = [a for a in o.absorbing if a not in log.stages]
    if lost:  # a misspelt stage would leave everyone retained
        raise FitError(
            f"absorbing: unknown stage(s) {lost}; the stages are {log.stages} "
            "(pass stages= to name one the log never shows)"
        )
    df = log.frame
    per = period_index(df[time], period, time)
    order = np.lexsort((np.arange(len(df)), time_key(df[time]), per, log.customer))
    cust, per, code = log.customer[order], per[order], log.code[order]
    last = last_in_period(cust, per)
    cust, per, code, rows = cust[last], per[last], code[last], order[last]
    flags = np.array([s in o.absorbing for s in log.stages])

    def describe(k: int) -> Return:
        return Return(
            customer=log.ids[cust[k]],
            stage=log.stages[code[k - 1]],
            time=df[time].iloc[rows[k - 1]],
            to=log.stages[code[k]],
            to_time=df[time].iloc[rows[k]],
        )

    cust = journeys(cust, code, flags, returns, describe)
    end_period = (
        int(per.max())
        if end is None
        else int(period_index(pd.Series([end]), period, "end")[0])
    )
    if end_period < int(per.max()):
        raise FitError("end is before the last time in the log")
    first = np.ones(len(cust), dtype=bool)
    first[1:] = cust[1:] != cust[:-1]
    n = int(cust.max()) + 1
    signup = per[first]  # customers are 0 .. n - 1 in row order
    big = np.iinfo(np.int64).max // 4
    lost_at = np.full(n, big, dtype=np.int64)
    hit = flags[code]
    # The first absorbing row of each customer (rows are in period order).
    np.minimum.at(lost_at, cust[hit], per[hit])
    last_seen = np.full(n, end_period, dtype=np.int64)
    if kind == "snapshots":
        last_seen = np.zeros(n, dtype=np.int64)
        np.maximum.at(last_seen, cust, per)
    churn_age = lost_at - signup  # big when never lost
    seen_age = last_seen - signup
    cohorts, which = np.unique(signup, return_inverse=True)
    ages = int(end_period - cohorts.min()) + 1
    if ages > MAX_PERIOD:
        raise FitError(f"the log spans {ages:,} periods: use a longer period")
    # Known retained up to age min(churn_age - 1, seen_age); known lost from
    # churn_age on. Histograms per cohort, summed from the top or the bottom.
    known = np.minimum(churn_age - 1, seen_age)
    retained = _at_least(which, known, len(cohorts), ages)
    gone = _at_most(which, churn_age, len(cohorts), ages)
    observed = retained + gone
    too_late = np.arange(ages)[None, :] > (end_period - cohorts)[:, None]
    index = _labels(cohorts, period, units)
    columns = pd.RangeIndex(ages, name=f"{units.plural} since signup")
    cust_df = pd.DataFrame(
        np.where(too_late, np.nan, retained), index=index, columns=columns
    )
    obs_df = pd.DataFrame(
        np.where(too_late, np.nan, observed), index=index, columns=columns
    )
    sizes = pd.Series(
        np.bincount(which, minlength=len(cohorts)), index=index, name="customers"
    )
    return Cohorts(cust_df, obs_df, sizes.astype(float), units, "observed")


def _at_least(which: np.ndarray, age: np.ndarray, rows: int, ages: int) -> np.ndarray:
    """Per cohort and age k, customers whose ``age`` >= k."""
    h = np.zeros((rows, ages + 1))
    np.add.at(h, (which, np.clip(age, -1, ages - 1) + 1), 1.0)
    # h[:, a + 1] counts age a (a = -1 .. ages - 1): count of age >= k.
    return np.cumsum(h[:, ::-1], axis=1)[:, ::-1][:, 1:]


def _at_most(which: np.ndarray, age: np.ndarray, rows: int, ages: int) -> np.ndarray:
    """Per cohort and age k, customers whose ``age`` <= k."""
    h = np.zeros((rows, ages + 1))
    np.add.at(h, (which, np.clip(age, 0, ages)), 1.0)
    return np.cumsum(h, axis=1)[:, :ages]


def _labels(cohorts: np.ndarray, period: Any, units: Units) -> pd.Index:
    name = f"signup {units.time_unit}"
    if isinstance(period, str) and period in PERIODS:
        return pd.PeriodIndex.from_ordinals(cohorts, freq=PERIODS[period]).rename(name)
    if isinstance(period, numbers.Integral):
        return pd.Index(cohorts, name=name)
    return pd.Index(cohorts, name=name)  # pragma: no cover - period checked above


def _projected(journey: Journey, periods: int) -> Cohorts:
    periods = check_integer(periods, "periods", 1, MAX_PERIOD)
    arrivals = journey.resolved.arrivals
    if not arrivals:
        raise InputError(
            "a projected cohort table needs a journey with arrivals (new "
            "customers by period)",
            key=("arrivals",),
        )
    r = np.asarray(journey.analyze(periods).raw.retention)  # t = 0..periods
    joining = np.concatenate(
        [[journey.resolved.cohort_size], arrivals.per_period(periods)]
    )
    t = np.arange(periods + 1)
    size = joining > 0
    t, joining = t[size], joining[size]
    ages = np.arange(periods + 1)
    known = (t[:, None] + ages[None, :]) <= periods
    customers = np.where(known, joining[:, None] * r[None, :], np.nan)
    observed = np.where(known, joining[:, None], np.nan)
    units = journey.units
    name = f"signup {units.time_unit}"
    start = arrivals.start
    if start is None:
        index = pd.Index(t, name=name)
    else:
        index = pd.PeriodIndex([start + int(k) - 1 for k in t], name=name)
    columns = pd.RangeIndex(periods + 1, name=f"{units.plural} since signup")
    return Cohorts(
        pd.DataFrame(customers, index=index, columns=columns),
        pd.DataFrame(observed, index=index, columns=columns),
        pd.Series(joining, index=index, name="customers"),
        units,
        "projected",
    )
