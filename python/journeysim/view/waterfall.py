"""A waterfall chart: a starting level, the steps that add to it or take from
it, and the level they reach (what each change between two journeys
contributes to a metric)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._base.units import Units
from .numbers import duration, money, number, percent

__all__ = ["waterfall"]

UP = "#2ca02c"
DOWN = "#d62728"
LEVEL = "#7f7f7f"


def _formatter(kind: str, units: Units, compact: bool = True):
    if kind == "money":
        return lambda v: money(v, units, compact=compact)
    if kind == "share":
        return lambda v: percent(v, units, decimals=1)
    if kind == "duration":
        return lambda v: duration(v, units)
    return lambda v: number(v, units)


def waterfall(
    names: Sequence[str],
    steps: Sequence[float] | np.ndarray,
    *,
    start: float,
    end: float,
    kind: str = "money",
    units: Units | None = None,
    label: str = "",
    ax=None,
    title: str | None = None,
    start_name: str = "current",
    end_name: str = "optimised",
):
    """Bars from ``start`` through each of ``steps`` (green up, red down,
    labelled with the step) to ``end``, horizontal, one per row, read top to
    bottom. ``kind`` ("money", "share", "duration", "count") says how the
    axis and the labels are written in ``units``; ``label`` names the axis
    (with its unit). Returns the Axes."""
    from matplotlib.ticker import FuncFormatter

    units = units if units is not None else Units()
    steps = np.asarray(steps, dtype=float)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(
            figsize=(8, 0.45 * (len(steps) + 2) + 1.4), layout="constrained"
        )
    fmt = _formatter(kind, units)
    rows = [start_name, *names, end_name]
    y = np.arange(len(rows))
    before = start + np.concatenate([[0.0], np.cumsum(steps)[:-1]]) if len(steps) else []
    ax.barh(y[0], start, color=LEVEL)
    ax.barh(y[-1], end, color=LEVEL)
    for k, (b, s) in enumerate(zip(before, steps)):
        ax.barh(y[k + 1], s, left=b, color=UP if s >= 0 else DOWN)
    span = max(abs(start), abs(end), 1e-300)
    for k, v in enumerate([start, *steps, end]):
        inner = k in (0, len(rows) - 1)
        text = fmt(v) if inner else ("+" if v >= 0 else "") + fmt(v)
        x = v if inner else before[k - 1] + max(v, 0.0)
        ax.text(x + 0.01 * span, y[k], text, va="center", fontsize=8.5)
    # Join each bar's end to the next bar's start.
    levels = [start, *(start + np.cumsum(steps))]
    for k, lv in enumerate(levels):
        ax.plot([lv, lv], [y[k] + 0.4, y[k + 1] - 0.4], color="#444", lw=0.7)
    ax.set_yticks(y, rows)
    ax.invert_yaxis()
    lo = min(0.0, *levels, end)
    hi = max(0.0, *levels, end)
    ax.set_xlim(lo - 0.02 * (hi - lo), hi + 0.18 * (hi - lo))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(label)
    if title:
        ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return ax
