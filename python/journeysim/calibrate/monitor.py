"""Rates over calendar time: the journey fitted in rolling or expanding
windows of an event log (:func:`monitor`), with a posterior interval for every
transition in every window, drift alerts and forecast checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base.errors import FitError
from ..model.journey import Journey
from ..view.display import table
from ..view.numbers import percent
from . import dirichlet
from .backtest import Backtest, backtest
from .counting import RETURNS, Counted, FitOptions, code_rows, read_log
from .dirichlet import UNOBSERVED
from .drift import Drift, drift
from .fitted import Fit, estimate
from .partitions import count_by_period_partitions
from .windows import (
    WindowCounts,
    Windows,
    count_by_period,
    infer_period,
    lay_out,
    parse_span,
    period_of,
    window_counts,
    window_starts,
)

__all__ = ["Monitor", "monitor"]


def beta_interval(alpha: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed intervals of the Beta marginals of Dirichlet rows (as
    :meth:`Fit.interval`): a move with no parameter is 0 at both ends, a row
    with one possible move 1."""
    from scipy.special import betaincinv

    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    a = alpha
    b = a.sum(axis=-1, keepdims=True) - a
    with np.errstate(invalid="ignore"):
        low = np.where(a > 0, betaincinv(a, np.where(b > 0, b, 1), lo_q), 0.0)
        high = np.where(a > 0, betaincinv(a, np.where(b > 0, b, 1), hi_q), 0.0)
    one = (a > 0) & (b == 0)
    return np.where(one, 1.0, low), np.where(one, 1.0, high)


class Monitor:
    """A journey fitted in each window of calendar time (see
    :func:`journeysim.monitor`).

    Attributes
    ----------
    rates : DataFrame
        One row per window and transition out of a non-absorbing stage:
        ``window`` (0, 1, ...), ``start`` and ``end`` (first and last day of
        the window; first and last time for numeric times), ``from``, ``to``,
        ``rate`` (posterior mean probability per period), ``low``, ``high``
        (equal-tailed posterior interval at ``level``), ``count`` (moves
        from -> to counted in the window) and ``n`` (moves counted out of
        ``from``, staying included).
    windows : DataFrame
        One row per window: ``start``, ``end``, ``customers`` (customers in
        the window's rows) and ``transitions`` (moves counted).
    model : Journey or None
        The journey the log is compared with (values for CLV and revenue).
    level : float
        The intervals' level.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.05}})
    >>> log = j.simulate(2_000, 24, seed=2, record="events").stage_log()
    >>> m = js.monitor(log, window=12, every=12, stages=j.stages,
    ...                absorbing=["churned"], end=24)
    >>> m.windows["customers"].tolist()
    [2000, 1076]
    """

    def __init__(self, wc: WindowCounts, model: Journey | None, level: float):
        self._wc = wc
        self.model = model
        self.level = level
        self.stages = list(wc.stages)
        self.absorbing = list(wc.absorbing)
        self.rates = self._rates()
        w = wc.windows
        self.windows = pd.DataFrame(
            {
                "start": w.start,
                "end": w.end,
                "customers": wc.starts.sum(axis=1),
                "transitions": wc.counts.sum(axis=(1, 2)),
            },
            index=pd.RangeIndex(len(w.first), name="window"),
        )

    @property
    def units(self):
        """The time unit the rates are per (the model's, else the period's)."""
        return self.model.units if self.model is not None else self._wc.units

    def _rates(self) -> pd.DataFrame:
        wc = self._wc
        alpha = wc.posterior.alpha[:, 0]  # W x S x S
        mean = dirichlet.mean(alpha)
        low, high = beta_interval(alpha, self.level)
        fixed = np.broadcast_to(wc.posterior.fixed[:, 0, :, None], alpha.shape)
        low, high = np.where(fixed, mean, low), np.where(fixed, mean, high)
        S, W = len(self.stages), len(alpha)
        keep = np.zeros((S, S), dtype=bool)
        transient = [i for i, s in enumerate(self.stages) if s not in self.absorbing]
        keep[transient] = wc.allowed[transient]
        i, j = np.nonzero(keep)
        w = np.repeat(np.arange(W), len(i))
        ii, jj = np.tile(i, W), np.tile(j, W)
        stages = np.array(self.stages, dtype=object)
        return pd.DataFrame(
            {
                "window": w,
                "start": wc.windows.start[w],
                "end": wc.windows.end[w],
                "from": stages[ii],
                "to": stages[jj],
                "rate": mean[w, ii, jj],
                "low": low[w, ii, jj],
                "high": high[w, ii, jj],
                "count": wc.counts[w, ii, jj],
                "n": wc.counts.sum(axis=-1)[w, ii],
            }
        )

    def fit(self, window: int = -1) -> Fit:
        """The :class:`Fit` of one window (by position; -1 the latest): the
        same numbers as :func:`journeysim.fit` on the window's rows."""
        wc = self._wc
        W = len(wc.counts)
        if isinstance(window, bool) or not isinstance(window, int | np.integer):
            raise FitError(f"window must be a window number, got {window!r}")
        if not -W <= window < W:
            raise FitError(f"window must be in 0 .. {W - 1} (or -1), got {window}")
        w = int(window) % W
        counted = Counted(
            counts=wc.counts[w][None, None],
            starts=wc.starts[w][None],
            stages=self.stages,
            pieces=[0],
            segments=["all"],
            absorbing=self.absorbing,
            customers=int(wc.starts[w].sum()),
            data=None,
        )
        options = dataclasses.replace(wc.options, end=wc.windows.end[w])
        impossible = [
            (a, b)
            for i, a in enumerate(self.stages)
            for j, b in enumerate(self.stages)
            if not wc.allowed[i, j]
        ]
        return estimate(
            counted,
            options,
            wc.prior,
            impossible,
            unobserved=wc.unobserved,
            keep_data=False,
        )

    def drift(
        self,
        reference: Any = None,
        threshold: float = 0.02,
        probability: float = 0.95,
        *,
        draws: int = 4000,
        seed: int = 0,
        run_length: float = 24.0,
        periods: int = 36,
    ) -> Drift:
        """The transitions whose rate moved (method: docs/monitoring.md).

        Parameters
        ----------
        reference : None, int, Journey, Fit or (start, end)
            What "before" is: the first window (default), a window by number,
            a journey (its rates, taken as known), a one-piece Fit (its
            posterior), or the moves into the periods from ``start`` to
            ``end`` (dates, or numbers for numeric times).
        threshold : float
            The change that matters, in probability points per period (0.02:
            two points a month).
        probability : float
            How sure the change must be: a transition is flagged in a window
            when the posterior probability that its rate differs from the
            reference's by more than ``threshold`` is at least this.
        draws, seed : int
            Monte Carlo draws of the Beta posteriors (same seed, same result).
        run_length : float
            The change-point model's expected number of periods between
            changes (its hazard is ``1 / run_length``).
        periods : int
            The horizon of the CLV and NRR effects.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.05}})
        >>> log = j.simulate(3_000, 24, seed=1, record="events").stage_log()
        >>> m = js.monitor(log, window=6, every=3, stages=j.stages,
        ...                absorbing=["churned"], end=24)
        >>> m.drift().moved
        []
        """
        return drift(
            self._wc,
            self.model,
            reference=reference,
            threshold=threshold,
            probability=probability,
            draws=draws,
            seed=seed,
            run_length=run_length,
            periods=periods,
            level=self.level,
        )

    def backtest(
        self,
        horizon: int = 6,
        *,
        level: float | None = None,
        draws: int = 400,
        seed: int = 0,
        stream: str = "revenue",
    ) -> Backtest:
        """Forecasts made at the end of each window, checked against what
        happened: see :func:`journeysim.calibrate.backtest.backtest`.

        For each window that ends at least ``horizon`` periods before the end
        of the data, the customers in a non-absorbing stage at its end are
        forecast ``1 .. horizon`` periods ahead with the window's posterior
        (``draws`` journeys drawn, each run forward with multinomial moves),
        and the forecast's interval at ``level`` (default the monitor's)
        compared with their observed stages. With a model that has ``stream``
        values, their revenue is forecast too (stage values of the model)."""
        return backtest(
            self._wc,
            self.model,
            horizon=horizon,
            level=self.level if level is None else level,
            draws=draws,
            seed=seed,
            stream=stream,
        )

    def plot(self, transition: Any = None, ax=None):
        """Each rate over time (at the windows' last days) with its posterior
        band; ``transition`` a (from, to) pair or a list of them (default:
        every move out of a non-absorbing stage seen in the log, staying
        excluded). Returns the Axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(8, 4))
        r = self.rates
        pairs = self._pairs(transition)
        for frm, to in pairs:
            d = r[(r["from"] == frm) & (r["to"] == to)]
            line = ax.plot(d["end"], d["rate"], marker="o", ms=3, label=f"{frm} → {to}")
            ax.fill_between(
                d["end"], d["low"], d["high"], color=line[0].get_color(), alpha=0.2
            )
        unit = self.units.time_unit
        ax.set_xlabel("end of window" + ("" if self._dated else f" ({unit}s)"))
        ax.set_ylabel(f"probability per {unit}")
        ax.yaxis.set_major_formatter(
            _Percent(self.units if self.model is not None else None)
        )
        ax.set_title(f"Rates over time ({self.level:.0%} posterior bands)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if self._dated:
            ax.figure.autofmt_xdate()
        return ax

    @property
    def _dated(self) -> bool:
        return isinstance(self._wc.period, str)

    def _pairs(self, transition: Any) -> list[tuple[str, str]]:
        r = self.rates
        if transition is None:
            seen = r[(r["from"] != r["to"]) & (r["count"] > 0)]
            return list(dict.fromkeys(zip(seen["from"], seen["to"], strict=True)))
        if isinstance(transition, tuple) and len(transition) == 2:
            transition = [transition]
        out = []
        for pair in transition:
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise FitError(f"transition must be (from, to) pairs, got {pair!r}")
            frm, to = pair
            if not ((r["from"] == frm) & (r["to"] == to)).any():
                raise FitError(
                    f"transition {frm!r} -> {to!r} is not monitored; the stages "
                    f"are {self.stages} (moves out of absorbing stages are not)"
                )
            out.append((frm, to))
        return out

    def _repr_html_(self) -> str:
        last = self.rates[self.rates["window"] == self.rates["window"].max()]
        rows = [
            [
                f"{r['from']} → {r['to']}",
                percent(r["rate"], self.units),
                percent(r["low"], self.units),
                percent(r["high"], self.units),
                f"{int(r['count']):,}",
            ]
            for _, r in last.iterrows()
            if r["from"] != r["to"] and r["count"] > 0
        ]
        w = self.windows.iloc[-1]
        return table(
            ["move", "rate", "low", "high", "moves"],
            rows,
            f"Monitor: {len(self.windows)} windows; latest {w['start']} – {w['end']}",
        )

    def __repr__(self) -> str:
        w = self.windows
        return (
            f"<Monitor: {len(self.stages)} stages, {len(w)} windows from "
            f"{w['start'].iloc[0]} to {w['end'].iloc[-1]}>"
        )


class _Percent:
    """A matplotlib tick formatter writing shares as percentages."""

    def __init__(self, units):
        self.units = units

    def __call__(self, x, pos=None):
        return percent(x, self.units) if self.units else f"{x:.0%}"


def monitor(
    events: Any,
    *,
    window: Any = "3M",
    every: Any = None,
    expanding: bool = False,
    start: Any = None,
    end: Any = None,
    customer: str = "customer",
    time: str = "period",
    stage: str = "stage",
    period: Any = None,
    kind: str = "changes",
    stages: Sequence[str] | None = None,
    absorbing: Iterable[str] | None = None,
    prior: float | np.ndarray = 0.5,
    impossible: Iterable[tuple[str, str]] = (),
    returns: str = "error",
    unobserved: str = "stay",
    model: Journey | None = None,
    level: float = 0.95,
    segment: str | None = None,
    tenure: Sequence[int] | None = None,
    client: Any = None,
) -> Monitor:
    """The journey fitted in each window of calendar time, with a posterior
    interval for every transition: have our rates moved?

    The log is read and its moves counted once, by calendar period, in the
    core (as :func:`journeysim.fit` counts them); each window's counts are a
    sum of its periods' counts. A window covers the moves *into* its periods:
    from each customer's stage at the end of the period before the window to
    the end of its last period. So a window equals :func:`journeysim.fit` on
    the window's rows (with ``end=`` its last day and the same ``prior``):
    for stage changes, each customer's last row up to the end of the period
    before the window (unless in an absorbing stage) and the rows in the
    window; for snapshots, the rows from the period before the window on.

    Parameters
    ----------
    events : DataFrame, pyarrow Table, path(s) to CSV or Parquet files
        The log, as :func:`journeysim.fit` reads it.
    window : str or int
        Each window's length: "3M" (months), "1Q", "1Y", "12W", "90D", or a
        whole number of periods (numeric times).
    every : str or int, optional
        How far one window's start is from the next one's (default one
        period: "1M" for monthly windows).
    expanding : bool
        Windows that all start at ``start`` and grow by ``every`` (from
        ``window`` long), instead of rolling ones.
    start, end : date or number, optional
        The first window's first period (default: the log's second period, the
        first into which a move can be seen) and the end of the data (default:
        the last time in the log; customers still in a stage then are
        censored there).
    customer, time, stage, kind, stages, absorbing, impossible, returns, unobserved
        As for :func:`journeysim.fit`.
    period : {"M", "W", "D"} or int, optional
        The step of the journey; default the window's unit ("3M": months,
        "1Q" and "1Y": months too), or 1 for whole-number windows.
    prior : float or array
        Dirichlet pseudo-counts (default 0.5 a transition: every window's
        posterior is proper, even with few customers).
    model : Journey, optional
        The journey in use (for example read from ``journey.yaml``): its
        stages and absorbing stages by default, its values for the CLV and
        NRR effects of drift and the revenue of backtests, its units.
    level : float
        The level of the posterior intervals.
    client : dask.distributed.Client, optional
        Count on the cluster, as :func:`journeysim.fit` does with ``client=``:
        every file (or dask partition) is read and its moves counted by
        calendar period on a worker; the counts add up to exactly those of
        one process. The rows stay on the workers, so such a monitor has no
        :meth:`Monitor.backtest` (it needs each customer's stages).
    segment, tenure
        Not supported: a monitor fits one matrix per window. Given, they are
        refused with a FitError saying what to do instead (monitor each
        segment's rows on their own; for tenure, monitor the customers of one
        tenure band).

    Returns
    -------
    Monitor
        ``.rates`` (tidy: window, start, end, from, to, rate, low, high,
        count, n), ``.windows``, ``.plot()``, ``.fit(w)``, ``.drift()``,
        ``.backtest()``.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.05}})
    >>> log = j.simulate(2_000, 24, seed=2, record="events").stage_log()
    >>> m = js.monitor(log, window=6, every=6, stages=j.stages,
    ...                absorbing=["churned"], end=24)
    >>> m.windows["end"].tolist()
    [6, 12, 18, 24]
    >>> r = m.rates
    >>> r[(r["from"] == "active") & (r["to"] == "churned")]["rate"].round(3).tolist()
    [0.049, 0.052, 0.046, 0.049]
    """
    if segment is not None:
        raise FitError(
            f"monitor does not take segment= ({segment!r}): it fits one matrix per "
            "window. Monitor each segment on its own rows, e.g. "
            f"js.monitor(log[log[{segment!r}] == value], ...)"
        )
    if tenure is not None:
        raise FitError(
            f"monitor does not take tenure= ({tenure!r}): it counts moves by "
            "calendar period, not by tenure piece. Monitor a tenure band on its "
            "own rows (e.g. the customers who signed up in a range of months), "
            "or fit tenure pieces on a window's rows with js.fit(..., tenure=)"
        )
    if model is not None and not isinstance(model, Journey):
        raise FitError(f"model must be a Journey, got {type(model).__name__}")
    if model is not None:
        stages = model.stages if stages is None else stages
        absorbing = model.absorbing if absorbing is None else absorbing
    if kind not in ("changes", "snapshots"):
        raise FitError(f"kind must be 'changes' or 'snapshots', got {kind!r}")
    if returns not in RETURNS:
        raise FitError(f"returns must be one of {list(RETURNS)}, got {returns!r}")
    if unobserved not in UNOBSERVED:
        raise FitError(
            f"unobserved must be one of {list(UNOBSERVED)}, got {unobserved!r}"
        )
    if not isinstance(expanding, bool):
        raise FitError(f"expanding must be True or False, got {expanding!r}")
    if isinstance(level, bool) or not (
        isinstance(level, int | float) and 0 < level < 1
    ):
        raise FitError(f"level must be in (0, 1), got {level!r}")
    period = infer_period(window, period)
    length = parse_span(window, period, "window")
    step = 1 if every is None else parse_span(every, period, "every")
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

    def windows_of(origin: int, last: int) -> Windows:
        first = origin + 1 if start is None else period_of(start, period, "start")
        return lay_out(
            length=length,
            every=step,
            expanding=expanding,
            start=first,
            end=last,
            origin=origin,
            period=period,
        )

    if client is not None:  # counted on the workers, as fit(files, client=)
        bp = count_by_period_partitions(events, client, o, windows_of)
        names, absorbing, origin = bp.stages, bp.absorbing, bp.origin
        by_period, windows, starts = bp.by_period, bp.windows, bp.starts
        data, last = None, bp.end
        counts = window_counts(by_period, windows, origin)
    else:
        log = read_log(events, o)
        data = code_rows(log, o).data
        names, last = log.stages, data.end
        absorbing = [] if o.absorbing is None else list(o.absorbing)
        origin = int(data.period.min())
        if data.end <= origin:
            raise FitError(
                "the log covers a single period: monitoring needs moves between periods"
            )
        windows = windows_of(origin, data.end)
        by_period = count_by_period(data, names, absorbing, origin)
        counts = window_counts(by_period, windows, origin)
        transient = np.array([s not in absorbing for s in names])
        starts = window_starts(data, by_period, windows, origin, transient)
    # The whole log's estimate checks the prior and the structural zeros as
    # fit() does; each window's posterior is then the same rule on its counts.
    whole = estimate(
        Counted(
            counts=counts.sum(axis=0)[None, None],
            starts=starts.sum(axis=0)[None],
            stages=names,
            pieces=[0],
            segments=["all"],
            absorbing=absorbing,
            customers=1,
            data=None,
        ),
        o,
        prior,
        impossible,
        unobserved=unobserved,
        keep_data=False,
    )
    posterior = dirichlet.posterior(
        counts[:, None].astype(float),
        whole.prior,
        whole._allowed,
        [names.index(a) for a in absorbing],
        unobserved,
        names,
        [f"the window ending {e}" for e in windows.end],
    )
    wc = WindowCounts(
        stages=names,
        absorbing=absorbing,
        period=period,
        origin=origin,
        end=last,
        by_period=by_period,
        windows=windows,
        counts=counts,
        starts=starts,
        posterior=posterior,
        prior=whole.prior,
        allowed=whole._allowed,
        options=o,
        unobserved=unobserved,
        data=data,
    )
    return Monitor(wc, model, level)
