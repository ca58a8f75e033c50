"""The bar chart of removal effects: one bar per stage, touchpoint or channel,
in the metric's units (a share, money or periods)."""

from __future__ import annotations

import pandas as pd

from .._base.units import Units
from .numbers import duration, money, percent, points
from .plot import OTHER, _axes

__all__ = ["removal_bars"]

_WHAT = {
    "share": "share of the total removal effect",
    "change": "change when removed",
    "attributed": "credited",
}


def removal_bars(
    values: pd.Series,
    *,
    what: str,
    label: str,
    of: str,
    share: bool,
    difference: bool = False,
    money_axis: bool,
    time_axis: bool,
    units: Units,
    ax=None,
):
    """Horizontal bars of ``values`` (indexed by item, largest first), the
    axis written as percentages, money or durations; a ``difference`` of
    shares (the change when removed) in percentage points. Returns the Axes."""
    from matplotlib.ticker import FuncFormatter

    ax = _axes(ax, 7.5, 0.35 * len(values) + 1.4)
    names = [str(i) for i in values.index]
    ax.barh(names, values.to_numpy(dtype=float), color=OTHER)
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.8)
    pts = share and difference
    if pts:
        fmt = FuncFormatter(lambda v, _: points(v, units, decimals=0))
    elif share:
        fmt = FuncFormatter(lambda v, _: percent(v, units, decimals=0))
    elif money_axis:
        fmt = FuncFormatter(lambda v, _: money(v, units, compact=True))
    elif time_axis:
        fmt = FuncFormatter(lambda v, _: duration(v, units))
    else:
        fmt = None
    if fmt is not None:
        ax.xaxis.set_major_formatter(fmt)
    unit = " (percentage points)" if pts else ""
    ax.set_xlabel(f"{label}: {_WHAT.get(what, what)}{unit}")
    ax.set_ylabel(of[:-1])
    ax.set_title(f"Removal effects by {of[:-1]}")
    ax.grid(axis="x", alpha=0.3)
    return ax
