"""Plots. Each function draws on the Axes it is given (a new figure otherwise)
and returns it; none calls ``plt.show()``."""

from __future__ import annotations

import pandas as pd

__all__ = [
    "band_plot",
    "figure",
    "journey_diagram",
    "occupancy_area",
    "plot_formats",
    "retention_curve",
    "tornado",
]


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


def occupancy_area(occupancy: pd.DataFrame, ax=None):
    """Stacked shares of the cohort in each stage over time."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4.5))
    shares = occupancy.div(occupancy.sum(axis=1), axis=0).fillna(0.0)
    ax.stackplot(
        shares.index, shares.to_numpy().T, labels=list(shares.columns), alpha=0.85
    )
    ax.set_xlabel("period")
    ax.set_ylabel("share of the cohort")
    ax.set_ylim(0, 1)
    ax.set_xlim(shares.index[0], shares.index[-1])
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return ax


def tornado(moments: pd.DataFrame, top: int = 12, ax=None):
    """Bars of ``Journey.moments_of_truth`` output: the metric gained by a
    one-point change of each transition, best first; flagged moments of truth
    in a darker colour."""
    m = moments.head(top)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 0.35 * len(m) + 1.2))
    labels = [f"{a} → {b} ({d})" for (a, b), d in zip(m.index, m["direction"])]
    colors = ["#d62728" if f else "#1f77b4" for f in m["moment_of_truth"]]
    ax.barh(labels, m["gain_per_point"].to_numpy(), color=colors)
    ax.invert_yaxis()
    ax.set_xlabel("gain from a one-point change")
    ax.grid(axis="x", alpha=0.3)
    return ax


def journey_diagram(journey, ax=None, min_probability: float = 0.01):
    """The journey as a map: stages as boxes in lanes by owner team (one lane
    per team, in order of first appearance), arrows for moves with their
    probability (tenure 0, first segment), moments of truth in red."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    stages = journey.stages
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 * len(stages) + 2, 1.1 * 6))
    owners = [journey.owner(s) or "(no owner)" for s in stages]
    lanes = list(dict.fromkeys(owners))
    lane_y = {team: len(lanes) - 1 - k for k, team in enumerate(lanes)}
    step = 1.6  # horizontal room per stage
    pos = {s: (step * k, lane_y[o]) for k, (s, o) in enumerate(zip(stages, owners))}
    flagged = journey.flagged_moments
    P = journey.transition_matrices(journey.segments[0])[0]
    for team, y in lane_y.items():
        ax.axhspan(
            y - 0.45, y + 0.45, color="#f2f2f2" if y % 2 else "#e8eef7", zorder=0
        )
        ax.text(-1.0, y, team, va="center", ha="right", fontsize=9, color="#555")
    # Limits first: labels are placed on the arcs in display coordinates.
    ax.set_xlim(-1.8, step * (len(stages) - 1) + 0.9)
    ax.set_ylim(-0.6, len(lanes) - 0.4)

    def on_arc(p0, p1, rad):
        """The middle of matplotlib's arc3 curve from p0 to p1 (a quadratic
        Bezier whose control point is offset by rad x the chord, turned)."""
        (x0, y0), (x1, y1) = ax.transData.transform([p0, p1])
        dx, dy = x1 - x0, y1 - y0
        mid = ((x0 + x1) / 2 + rad * dy / 2, (y0 + y1) / 2 - rad * dx / 2)
        return ax.transData.inverted().transform(mid)

    for a in stages:
        for b in stages:
            p = P.loc[a, b]
            if a == b or p < min_probability:
                continue
            (x0, y0), (x1, y1) = pos[a], pos[b]
            bend = 0.25 if x1 > x0 else -0.25
            mot = (a, b) in flagged
            arrow = FancyArrowPatch(
                (x0, y0),
                (x1, y1),
                connectionstyle=f"arc3,rad={bend}",
                arrowstyle="-|>",
                mutation_scale=12,
                shrinkA=18,
                shrinkB=18,
                color="#d62728" if mot else "#777",
                lw=0.6 + 3 * p,
                zorder=1,
            )
            ax.add_patch(arrow)
            if p >= 0.05:  # label the larger moves only, to keep the map legible
                ax.text(
                    *on_arc((x0, y0), (x1, y1), bend),
                    f"{p:.2f}",
                    fontsize=7,
                    ha="center",
                    va="center",
                    color="#333",
                    zorder=3,
                    bbox={
                        "boxstyle": "round,pad=0.1",
                        "fc": "white",
                        "ec": "none",
                        "alpha": 0.7,
                    },
                )
    absorbing = set(journey.absorbing)
    for s, (x, y) in pos.items():
        edge = "#d62728" if s in flagged else "#333"
        face = "#fbe3e3" if s in absorbing else "white"
        ax.text(
            x,
            y,
            s,
            ha="center",
            va="center",
            fontsize=9,
            zorder=4,
            bbox={
                "boxstyle": "round,pad=0.4",
                "fc": face,
                "ec": edge,
                "lw": 2 if s in flagged else 1,
            },
        )
    ax.axis("off")
    ax.set_title(journey.name or "journey")
    return ax
