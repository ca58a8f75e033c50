"""Forecast checks: forecasts made at the end of each monitoring window with
that window's fit, compared with what the log shows happened next.

Method (docs/monitoring.md). The *cohort* of a cut-off ``c`` (a window's last
period) is the customers in a non-absorbing stage at the end of ``c``. For
each of ``draws`` transition matrices drawn from the window's Dirichlet
posterior, the cohort is run forward ``1 .. horizon`` periods with
multinomial moves (so the forecast holds both the uncertainty of the rates
and the chance in who moves). The interval at ``level`` is the equal-tailed
range of those draws; it *covers* when the observed value is inside it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.errors import FitError
from .._base.units import Units
from ..model.journey import Journey
from ..view.numbers import money, percent
from .windows import WindowCounts

__all__ = ["Backtest", "backtest", "draw_matrices", "stage_at"]


def draw_matrices(alpha: np.ndarray, fixed: np.ndarray, draws: int, rng) -> np.ndarray:
    """``draws`` matrices (D x S x S) from the rows' Dirichlet posteriors;
    fixed rows (absorbing, unobserved) are their values in every draw."""
    g = rng.standard_gamma(np.where(alpha > 0, alpha, 1.0), (draws, *alpha.shape))
    g = np.where(alpha > 0, g, 0.0)
    tot = g.sum(axis=-1, keepdims=True)
    P = g / np.where(tot > 0, tot, 1.0)
    a_tot = alpha.sum(axis=-1, keepdims=True)
    mean = np.where(
        a_tot > 0, alpha / np.where(a_tot > 0, a_tot, 1), np.eye(len(alpha))
    )
    return np.where(fixed[None, :, None], mean[None], P)


def stage_at(data, when: int, origin: int, changes: bool) -> np.ndarray:
    """Each customer's stage at the end of period ``when`` (-1: not seen yet,
    or for snapshots not observed then). Rows sorted by customer and period."""
    cust, period = data.customer, data.period
    J = int(cust.max()) + 1
    M = int(data.end - origin + 2)
    key = cust * M + (period - origin)
    q = np.arange(J, dtype=np.int64) * M + (when - origin)
    idx = np.searchsorted(key, q, side="right") - 1
    ok = idx >= 0
    ok[ok] = cust[idx[ok]] == np.arange(J)[ok]
    if not changes:
        ok[ok] &= period[idx[ok]] == when
    return np.where(ok, data.stage[np.clip(idx, 0, None)], -1)


@dataclass(frozen=True)
class _Quantity:
    name: str
    weights: np.ndarray  # per stage: what a customer there adds
    share: bool  # a share of the cohort (else a total)


class Backtest:
    """Forecasts against outcomes (see :meth:`Monitor.backtest`).

    Attributes
    ----------
    table : DataFrame
        One row per cut-off, horizon and quantity: ``cutoff`` (last day of
        the window fitted), ``horizon`` (periods ahead), ``quantity``
        ("retention", "occupancy: <stage>", and with model values the
        cohort's "revenue" per period), ``customers`` (the cohort at the
        cut-off), ``forecast`` (mean of the draws), ``low``, ``high``,
        ``observed``, ``inside`` (the observed value in the interval) and
        ``error`` (observed - forecast).
    coverage : DataFrame
        By quantity and horizon: the share of forecasts whose interval held
        the outcome (near ``level`` when the forecasts are calibrated), the
        mean absolute error and the number of forecasts.
    by_cohort : DataFrame
        The same by cut-off (each cut-off's cohort): coverage and mean
        absolute error of retention, over the horizons.
    level : float
    units : Units
        The model's units (else the period's): axis labels and money.
    """

    def __init__(self, table: pd.DataFrame, level: float, units: Units | None = None):
        self.table = table
        self.level = level
        self.units = Units() if units is None else units
        g = table.groupby(["quantity", "horizon"], sort=False)
        self.coverage = pd.DataFrame(
            {
                "coverage": g["inside"].mean(),
                "mean_abs_error": g["error"].apply(lambda e: e.abs().mean()),
                "forecasts": g.size(),
            }
        )
        r = table[table["quantity"] == "retention"].groupby("cutoff", sort=False)
        self.by_cohort = pd.DataFrame(
            {
                "customers": r["customers"].first(),
                "coverage": r["inside"].mean(),
                "mean_abs_error": r["error"].apply(lambda e: e.abs().mean()),
            }
        )

    def plot(self, quantity: str = "retention", horizon: int | None = None, ax=None):
        """Forecast (with its interval) against the observed value at each
        cut-off, ``horizon`` periods ahead (default the longest). Returns the
        Axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(8, 4))
        t = self.table[self.table["quantity"] == quantity]
        if not len(t):
            raise FitError(
                f"quantity {quantity!r} is not in the backtest; it has "
                f"{sorted(self.table['quantity'].unique())}"
            )
        h = int(t["horizon"].max()) if horizon is None else horizon
        t = t[t["horizon"] == h]
        x = t["cutoff"]
        ax.fill_between(
            x,
            t["low"],
            t["high"],
            alpha=0.25,
            label=f"{self.level:.0%} forecast interval",
        )
        ax.plot(x, t["forecast"], "-", label="forecast")
        ax.plot(x, t["observed"], "o", ms=4, color="black", label="what happened")
        ax.set_xlabel("forecast made at (end of window)")
        later = self.units.periods(h)
        what = quantity
        if quantity == "revenue":
            what = f"revenue per {self.units.time_unit}"
            if self.units.currency:
                what += f" ({self.units.currency})"
        ax.set_ylabel(f"{what}, {later} later")
        ax.set_title(f"Backtest: {quantity} {later} ahead")
        u = self.units
        ax.yaxis.set_major_formatter(
            (lambda v, pos=None: money(v, u, compact=True))
            if quantity == "revenue"
            else (lambda v, pos=None: percent(v, u))
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return ax

    def __repr__(self) -> str:
        r = self.coverage.xs("retention", level="quantity")["coverage"]
        return (
            f"<Backtest: {self.table['cutoff'].nunique()} cut-offs, retention "
            f"coverage {r.mean():.0%} at level {self.level:.0%}>"
        )


def backtest(
    wc: WindowCounts,
    model: Journey | None,
    *,
    horizon: int,
    level: float,
    draws: int,
    seed: int,
    stream: str,
) -> Backtest:
    """Forecast each window's cohort ``1 .. horizon`` periods ahead and
    compare (see :meth:`Monitor.backtest`)."""
    if (
        isinstance(horizon, bool)
        or not isinstance(horizon, numbers.Integral)
        or horizon < 1
    ):
        raise FitError(
            f"horizon must be a whole number of periods >= 1, got {horizon!r}"
        )
    if wc.data is None:
        raise FitError(
            "backtest needs each customer's stages, and a monitor counted on a "
            "cluster (client=) leaves the rows on the workers: monitor without "
            "client= (or on a sample of customers) to check forecasts"
        )
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 50:
        raise FitError(f"draws must be an integer >= 50, got {draws!r}")
    if not (isinstance(level, numbers.Real) and 0 < level < 1):
        raise FitError(f"level must be in (0, 1), got {level!r}")
    S = len(wc.stages)
    cut = np.flatnonzero(wc.windows.last + horizon <= wc.end)
    if not len(cut):
        raise FitError(
            f"no window ends {horizon} periods before the end of the data: "
            "shorten the horizon or the windows"
        )
    transient = np.array([s not in wc.absorbing for s in wc.stages])
    quantities = [_Quantity("retention", transient.astype(float), True)]
    quantities += [
        _Quantity(f"occupancy: {s}", np.eye(S)[k], True)
        for k, s in enumerate(wc.stages)
    ]
    if model is not None and stream in model.streams and model.stages == wc.stages:
        # The stream's value per stage at tenure 0 (first segment's).
        piece = model.resolved.segments[0].values[stream][0]
        quantities.append(
            _Quantity(stream, np.asarray(piece.value, dtype=float), False)
        )
    rng = np.random.default_rng(seed)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    rows = []
    for w in cut:
        c = int(wc.windows.last[w])
        now = stage_at(wc.data, c, wc.origin, wc.data.changes)
        cohort = (now >= 0) & transient[np.clip(now, 0, None)]
        N = int(cohort.sum())
        if N == 0:
            continue
        x0 = np.bincount(now[cohort], minlength=S)
        P = draw_matrices(
            wc.posterior.alpha[w, 0], wc.posterior.fixed[w, 0], int(draws), rng
        )
        P = P / P.sum(axis=-1, keepdims=True)
        x = np.broadcast_to(x0, (int(draws), S)).astype(np.int64)
        for h in range(1, int(horizon) + 1):
            x = rng.multinomial(x, P).sum(axis=1)
            later = stage_at(wc.data, c + h, wc.origin, wc.data.changes)[cohort]
            seen = later >= 0
            obs = np.bincount(later[seen], minlength=S)
            for q in quantities:
                if q.share:
                    f = (x @ q.weights) / N
                    o = float(obs @ q.weights) / max(int(seen.sum()), 1)
                else:
                    f = x @ q.weights
                    o = float(obs @ q.weights) * N / max(int(seen.sum()), 1)
                lo, hi = np.quantile(f, [lo_q, hi_q])
                rows.append(
                    {
                        "cutoff": wc.windows.end[w],
                        "horizon": h,
                        "quantity": q.name,
                        "customers": N,
                        "forecast": float(f.mean()),
                        "low": float(lo),
                        "high": float(hi),
                        "observed": o,
                        "inside": bool(lo <= o <= hi),
                        "error": o - float(f.mean()),
                    }
                )
    units = model.units if model is not None else wc.units
    return Backtest(pd.DataFrame(rows), level, units)
