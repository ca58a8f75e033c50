"""Plots. Each function draws on the Axes it is given (a new figure otherwise)
and returns it; none calls ``plt.show()``."""

from __future__ import annotations

import pandas as pd

__all__ = ["band_plot", "retention_curve"]


def retention_curve(retention: pd.Series, ax=None, label: str | None = None):
    """Retention (share not yet churned) against period."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    ax.plot(retention.index, retention.to_numpy(), lw=2, label=label)
    ax.set_xlabel("period")
    ax.set_ylabel("retention")
    ax.set_ylim(0, 1.02)
    if len(retention) > 1:
        ax.set_xlim(retention.index[0], retention.index[-1])
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    return ax


def band_plot(band: pd.DataFrame, ax=None, ylabel: str = "", label: str | None = None):
    """A mean line with a shaded percentile band (``Simulation.band`` output)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    mean, lo, hi = (band[c].to_numpy() for c in band.columns[:3])
    line = ax.plot(band.index, mean, lw=2, label=label or "mean")[0]
    ax.fill_between(
        band.index,
        lo,
        hi,
        color=line.get_color(),
        alpha=0.25,
        label=f"{band.columns[1]}-{band.columns[2]}",
    )
    ax.set_xlabel("period")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
