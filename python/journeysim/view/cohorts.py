"""The cohort heat map: retention of each signup cohort (rows) by periods
since signup (columns), the triangle a customer-success team reads first."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._base.units import Units
from .numbers import percent

__all__ = ["cohort_heatmap"]


def cohort_heatmap(retention: pd.DataFrame, units: Units, ax=None, title: str = ""):
    """Cells coloured by retention (share of the cohort still a customer),
    written as percentages while the table is small enough to read; cells not
    yet observed are blank."""
    if ax is None:
        import matplotlib.pyplot as plt

        rows, cols = retention.shape
        _, ax = plt.subplots(
            figsize=(min(2 + 0.55 * cols, 16), min(1.2 + 0.35 * rows, 12)),
            layout="constrained",
        )
    values = retention.to_numpy(dtype=float)
    image = ax.imshow(
        np.ma.masked_invalid(values), cmap="viridis", vmin=0, vmax=1, aspect="auto"
    )
    ax.set_xticks(range(values.shape[1]), [str(c) for c in retention.columns])
    ax.set_yticks(range(values.shape[0]), [str(r) for r in retention.index])
    ax.set_xlabel(f"{units.plural} since signup")
    ax.set_ylabel(f"signup {units.time_unit}")
    if values.size <= 400:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    percent(v, units, decimals=0),
                    ha="center",
                    va="center",
                    fontsize="x-small",
                    color="white" if v < 0.6 else "black",
                )
    bar = ax.figure.colorbar(image, ax=ax)
    bar.set_label("retention (share of the cohort)")
    if title:
        ax.set_title(title)
    return ax
