"""A waterfall chart: a starting level, the steps that add to it or take from
it, and the level they reach (what each change between two journeys
contributes to a metric)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._base.units import Units
from .numbers import duration, money, number, percent, points

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


def _step_formatter(kind: str, units: Units, fmt):
    """A step's label, signed: a step of a share in percentage points ("+3.0
    pts": "+3.0%" would read as a relative change)."""
    if kind == "share":
        return lambda v: points(v, units)
    return lambda v: ("+" if v >= 0 else "") + fmt(v)


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
    axis and the labels are written in ``units`` (the steps of a share in
    percentage points, "+3.0 pts"); ``label`` names the axis
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
    step = _step_formatter(kind, units, fmt)
    rows = [start_name, *names, end_name]
    y = np.arange(len(rows))
    before = (
        start + np.concatenate([[0.0], np.cumsum(steps)[:-1]]) if len(steps) else []
    )
    levels = [start, *(start + np.cumsum(steps))]
    lo, hi = min(*levels, end), max(*levels, end)
    spread = hi - lo if hi > lo else max(abs(start), 1.0) * 0.05
    # The axis starts near the levels (not at zero) so that the steps show;
    # the level bars start at the axis' left edge.
    left = lo - 1.2 * spread
    if (lo >= 0 and left < 0) or (hi - lo) > 0.5 * max(abs(lo), abs(hi)):
        left = min(0.0, lo)
    right = hi + 0.35 * spread
    ax.barh(y[0], start - left, left=left, color=LEVEL)
    ax.barh(y[-1], end - left, left=left, color=LEVEL)
    for k, (b, s) in enumerate(zip(before, steps)):
        ax.barh(y[k + 1], s, left=b, color=UP if s >= 0 else DOWN)
    pad = 0.01 * (right - left)
    for k, v in enumerate([start, *steps, end]):
        inner = k in (0, len(rows) - 1)
        text = fmt(v) if inner else step(v)
        x = v if inner else before[k - 1] + max(v, 0.0)
        ax.text(x + pad, y[k], text, va="center", fontsize=8.5)
    # Join each bar's end to the next bar's start.
    for k, lv in enumerate(levels):
        ax.plot([lv, lv], [y[k] + 0.4, y[k + 1] - 0.4], color="#444", lw=0.7)
    ax.set_yticks(y, rows)
    ax.invert_yaxis()
    ax.set_xlim(left, right)
    if left != 0:
        label = f"{label} (axis not from zero)" if label else "axis not from zero"
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    if left <= 0 <= right:
        ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(label)
    if title:
        ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return ax
