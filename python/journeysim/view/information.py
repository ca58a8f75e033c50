"""The bar chart of a value-of-information result: what better measurement of
each transition is worth to the plan decision, beside the value of knowing
everything (EVPI)."""

from __future__ import annotations

import pandas as pd

from .._base.units import Units
from .numbers import money, number
from .plot import currency

__all__ = ["information_bars"]


def information_bars(
    values: pd.Series,
    evpi: float,
    *,
    customers: float,
    units: Units,
    ax=None,
):
    """Horizontal bars of ``values`` (EVPPI for the population by transition,
    largest first) with the EVPI as a dashed line; money on the axis in the
    journey's currency."""
    from matplotlib.ticker import FuncFormatter

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(
            figsize=(7.5, 0.35 * len(values) + 1.6), layout="constrained"
        )
    ax.barh([str(k) for k in values.index], values.to_numpy(), color="#1f77b4")
    ax.invert_yaxis()
    ax.axvline(evpi, color="#d62728", ls="--", lw=1.5, label="all transitions (EVPI)")
    ax.set_xlabel(
        f"value of perfect information{currency(units)}, population of "
        f"{number(customers, units)} customers"
    )
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _: money(v, units, compact=True))
    )
    ax.set_xlim(0, max(evpi, float(values.max()) if len(values) else 0.0) * 1.08 or 1)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return ax
