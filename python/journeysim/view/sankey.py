"""Drawing a Sankey diagram with plotly (the ``journeysim[plotly]`` extra): node
positions, colours and the figure, from flows computed by
:mod:`journeysim.results.flows`."""

from __future__ import annotations

import numpy as np

from .._base.optional import optional

__all__ = [
    "COLORS",
    "MOMENT_OUTLINE",
    "PLAIN_OUTLINE",
    "figure",
    "number",
    "plotly_objects",
    "positions",
    "rgba",
]


#: Stage colours in the Sankey: transient, absorbing (churn), value stage,
#: moment of truth (stage flagged in the journey).
COLORS = {
    "transient": "#1f77b4",
    "absorbing": "#d62728",
    "value": "#2ca02c",
    "moment": "#ff7f0e",
}


#: Outline of stages flagged as moments of truth (other stages: thin grey).
MOMENT_OUTLINE = ("#7a3b00", 3.0)


PLAIN_OUTLINE = ("#444444", 0.5)


def plotly_objects():
    return optional("plotly.graph_objects", "the Sankey diagram", "plotly")


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[k : k + 2], 16) for k in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def positions(
    columns: list[int],
    values: list[float],
    n_columns: int,
    band: tuple[float, float] = (0.0, 1.0),
    pad: float = 0.04,
):
    """Node centres: x by column, y stacked within a column in the order given,
    heights proportional to value on a scale shared by every column, within
    ``band`` (top, bottom) of the plot (the rest left for loops back)."""
    heights: dict[int, float] = {}
    counts: dict[int, int] = {}
    for c, v in zip(columns, values):
        heights[c] = heights.get(c, 0.0) + v
        counts[c] = counts.get(c, 0) + 1
    total = max(heights.values(), default=0.0) or 1.0
    room = 1.0 - pad * (max(counts.values(), default=1) - 1) - 0.02
    xs, ys, used = [], [], dict.fromkeys(heights, 0.01)
    for c, v in zip(columns, values):
        h = room * v / total
        xs.append(0.001 + 0.998 * (c / max(n_columns - 1, 1)))
        y = band[0] + (band[1] - band[0]) * (used[c] + h / 2)
        ys.append(min(max(y, 0.001), 0.999))
        used[c] += h + pad
    return xs, ys


def figure(go, labels, columns, styles, node_text, links, title, n_columns, notes):
    """links: (source, target, value, color, hover text); notes: (x, text) above
    the columns."""
    src = [s for s, *_ in links]
    tgt = [t for _, t, *_ in links]
    val = [v for _, _, v, *_ in links]
    into = np.zeros(len(labels))
    out = np.zeros(len(labels))
    for s, t, v in zip(src, tgt, val):
        out[s] += v
        into[t] += v
    sizes = np.maximum(into, out).tolist()
    # Links back (right to left, or loops) are drawn below the nodes: room.
    back = any(columns[t] <= columns[s] for s, t in zip(src, tgt))
    band = (0.1, 0.9) if back else (0.0, 1.0)
    x, y = positions(columns, sizes, n_columns, band=band)
    tallest = max(map(columns.count, set(columns)), default=1)
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            domain={"y": [0.3 if back else 0.0, 1.0]},
            valueformat=",.4g",
            node={
                "label": labels,
                "x": x,
                "y": y,
                "pad": 12,
                "thickness": 16,
                "color": [f for f, _, _ in styles],
                "line": {
                    "color": [c for _, c, _ in styles],
                    "width": [w for _, _, w in styles],
                },
                "customdata": node_text,
                "hovertemplate": "%{customdata}<extra></extra>",
            },
            link={
                "source": src,
                "target": tgt,
                "value": val,
                "color": [c for *_, c, _ in links],
                "customdata": [h for *_, h in links],
                "hovertemplate": "%{customdata}<extra></extra>",
            },
        )
    )
    fig.update_layout(
        title={"text": title},
        font={"size": 12},
        margin={"l": 20, "r": 20, "t": 60 if not notes else 80, "b": 20},
        height=max(540 if back else 400, (120 if back else 60) * tallest),
    )
    for x_note, text in notes:
        fig.add_annotation(
            x=x_note,
            y=1.02,
            xref="paper",
            yref="paper",
            text=text,
            showarrow=False,
            yanchor="bottom",
            font={"size": 11, "color": "#555555"},
        )
    return fig


def number(x: float) -> str:
    """A count in hover text."""
    return f"{x:,.4g}"
