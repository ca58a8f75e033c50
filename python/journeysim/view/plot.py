"""Plots. Each function draws on the Axes it is given (a new figure otherwise)
and returns it; none calls ``plt.show()``. Axes say what they count in: the
journey's time unit ("months"), its currency, and whether a figure is per
customer or for all customers."""

from __future__ import annotations

import babel.numbers as bn
import pandas as pd

from .._base.units import Units
from .journey_map import journey_diagram
from .numbers import money, percent

__all__ = [
    "band_plot",
    "band_ylabel",
    "currency",
    "figure",
    "journey_diagram",
    "occupancy_area",
    "plot_formats",
    "retention_curve",
    "tornado",
]

_PLAIN = Units()
MOMENT = "#d62728"
OTHER = "#1f77b4"


def plot_formats() -> list[str]:
    """The file suffixes (without the dot) matplotlib can save a figure as:
    ``png``, ``svg``, ``pdf``, ..."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def figure(width: float = 7.0, height: float = 4.0):
    """A new ``(Figure, Axes)`` outside pyplot: no global state, so it is safe
    in scripts, servers and threads (the command line and the HTML report draw
    on these); save it with ``fig.savefig``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


def _axes(ax, width: float, height: float):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return ax


def _share_axis(ax, units: Units) -> None:
    """Ticks of a share axis as percentages ("80%")."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: percent(v, units, decimals=0))
    )


def _time_axis(ax, units: Units, span: float) -> None:
    """Month axes over two years or more get a tick each year (12, 24, ...),
    where renewals fall."""
    from matplotlib.ticker import MultipleLocator

    if units.time_unit == "month" and span >= 24:
        ax.xaxis.set_major_locator(MultipleLocator(12 if span <= 120 else 24))


def retention_curve(
    retention: pd.Series,
    ax=None,
    label: str | None = None,
    units: Units = _PLAIN,
):
    """Retention (share of the starting cohort not yet churned) against time,
    in ``units`` (the journey's: ``journey.units``)."""
    ax = _axes(ax, 7, 4)
    if isinstance(retention.index, pd.PeriodIndex):  # calendar time: dates
        ax.plot(retention.index.to_timestamp(), retention.to_numpy(), lw=2, label=label)
        ax.set_ylabel("retention (share of customers)")
        ax.set_ylim(0, 1.02)
        _share_axis(ax, units)
        ax.grid(alpha=0.3)
        if label:
            ax.legend()
        return ax
    ax.plot(retention.index, retention.to_numpy(), lw=2, label=label)
    ax.set_xlabel(units.plural)
    ax.set_ylabel("retention (share of customers)")
    ax.set_ylim(0, 1.02)
    _share_axis(ax, units)
    if len(retention) > 1:
        ax.set_xlim(retention.index[0], retention.index[-1])
        _time_axis(ax, units, retention.index[-1] - retention.index[0])
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    return ax


def _band_name(lo: str, hi: str, units: Units) -> str:
    """ "5%–95% of replications" from the band's column names q0.05, q0.95."""
    try:
        a, b = float(lo.lstrip("q")), float(hi.lstrip("q"))
    except ValueError:
        return f"{lo} to {hi}"
    return f"{percent(a, units, decimals=0)}–{percent(b, units, decimals=0)} band"


def band_ylabel(of: str, stages, units: Units = _PLAIN) -> str:
    """The y label of ``Simulation.plot_band(of=...)``: what is counted, in
    which unit, and for whom."""
    if of == "retention":
        return "retention (share of the starting cohort)"
    if of in stages:
        return f"customers in {of} (all simulated customers)"
    return (
        f"discounted {of} per {units.time_unit}{currency(units)}, "
        "all simulated customers"
    )


def band_plot(
    band: pd.DataFrame,
    ax=None,
    ylabel: str = "",
    label: str | None = None,
    units: Units = _PLAIN,
    *,
    share: bool = False,
):
    """A mean line with a shaded percentile band (``Simulation.band`` output):
    the band is the spread over replications. ``ylabel`` should say what is
    counted and for whom ("revenue ($), all simulated customers"); ``share``
    writes the y ticks as percentages."""
    ax = _axes(ax, 7, 4)
    mean, lo, hi = (band[c].to_numpy() for c in band.columns[:3])
    name = label or "mean"
    line = ax.plot(band.index, mean, lw=2, label=name)[0]
    spread = _band_name(str(band.columns[1]), str(band.columns[2]), units)
    ax.fill_between(
        band.index,
        lo,
        hi,
        color=line.get_color(),
        alpha=0.3,
        lw=0.8,
        edgecolor=line.get_color(),
        label=f"{label + ': ' if label else ''}{spread} over replications",
    )
    ax.set_xlabel(units.plural)
    ax.set_ylabel(ylabel)
    if len(band) > 1:
        _time_axis(ax, units, band.index[-1] - band.index[0])
    if share:
        _share_axis(ax, units)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", framealpha=0.9)
    return ax


def occupancy_area(occupancy: pd.DataFrame, ax=None, units: Units = _PLAIN):
    """Stacked shares of the cohort in each stage over time."""
    ax = _axes(ax, 8, 4.5)
    shares = occupancy.div(occupancy.sum(axis=1), axis=0).fillna(0.0)
    if isinstance(shares.index, pd.PeriodIndex):  # calendar time: in periods
        shares = shares.reset_index(drop=True)
    ax.stackplot(
        shares.index, shares.to_numpy().T, labels=list(shares.columns), alpha=0.85
    )
    ax.set_xlabel(units.plural)
    ax.set_ylabel("share of customers")
    ax.set_ylim(0, 1)
    _share_axis(ax, units)
    ax.set_xlim(shares.index[0], shares.index[-1])
    _time_axis(ax, units, shares.index[-1] - shares.index[0])
    ax.legend(
        loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", title="stage"
    )
    return ax


def currency(units: Units) -> str:
    """ " ($)" for a journey in US dollars, "" for one without a currency."""
    if units.currency is None:
        return ""
    return f" ({bn.get_currency_symbol(units.currency, locale=units.locale)})"


def _gain_label(metric: str, units: Units) -> str:
    if metric == "lifetime":
        return f"lifetime gained per customer ({units.plural})"
    if metric == "retention":
        return "retention gained (share of customers)"
    return f"net value gained per customer{currency(units)}"


def tornado(
    moments: pd.DataFrame,
    top: int = 12,
    ax=None,
    *,
    metric: str = "clv",
    units: Units = _PLAIN,
):
    """Bars of ``Journey.moments_of_truth`` output: the ``metric`` gained by a
    one-point change of each transition, best first; flagged moments of truth
    in red, the others in blue, as the legend says."""
    from matplotlib.patches import Patch

    m = moments.head(top)
    ax = _axes(ax, 7.5, 0.35 * len(m) + 1.4)
    labels = [f"{a} → {b} ({d})" for (a, b), d in zip(m.index, m["direction"])]
    colors = [MOMENT if f else OTHER for f in m["moment_of_truth"]]
    ax.barh(labels, m["gain_per_point"].to_numpy(), color=colors)
    ax.invert_yaxis()
    ax.set_xlabel(f"{_gain_label(metric, units)}, from a one-point change")
    if metric == "clv" and units.currency:
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: money(v, units)))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        handles=[
            Patch(color=MOMENT, label="flagged moment of truth"),
            Patch(color=OTHER, label="other move"),
        ],
        loc="lower right",
        fontsize="small",
    )
    return ax
