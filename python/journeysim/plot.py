"""Plots. Each function draws on the Axes it is given (a new figure otherwise)
and returns it; none calls ``plt.show()``."""

from __future__ import annotations

import pandas as pd

__all__ = ["retention_curve"]


def retention_curve(retention: pd.Series, ax=None, label: str | None = None):
    """Retention (share not yet churned) against period."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    ax.plot(retention.index, retention.to_numpy(), lw=2, label=label)
    ax.set_xlabel("period")
    ax.set_ylabel("retention")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(retention.index[0], retention.index[-1])
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    return ax
