"""The journey drawn as a map: stages left to right in journey order, one lane
per owner team, absorbing outcomes in a lane of their own, arrows for the
moves of one month (or whatever the journey's period is) labelled with their
share, and a legend for moments of truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._base.units import Units
from .numbers import percent

__all__ = ["journey_diagram", "move_label", "share"]

MOMENT = "#d62728"
MOVE = "#8c8c8c"
#: Moves that differ from another journey's (a current versus optimised map).
CHANGED = "#ff7f0e"
OUTCOME_FACE = "#fbe3e3"
LANE_FACES = ("#eef2f8", "#f6f6f6")
#: A stage box's size in data units: a column is 1 wide, a lane 1 high.
BOX_W, BOX_H = 0.6, 0.42
#: Room under the lanes for the legend, in lanes.
LEGEND_ROOM = 0.45


@dataclass(frozen=True)
class Layout:
    """Where each stage goes: its column and lane, and the lanes' names
    (top to bottom)."""

    x: dict[str, float]
    y: dict[str, float]
    lanes: tuple[str, ...]
    columns: int


def share(p: float, units: Units) -> str:
    """A share as a percentage, with a decimal only where it matters: "12%",
    "2.5%"."""
    whole = round(p * 100) == round(p * 100, 1)
    return percent(p, units, decimals=0 if whole else 1)


def move_label(p: float, units: Units) -> str:
    """A move's share per period: "12%/month", "2.5%/month"."""
    return f"{share(p, units)}/{units.time_unit}"


def _layout(journey, matrices) -> Layout:
    stages = journey.stages
    absorbing = set(journey.absorbing)
    transient = [s for s in stages if s not in absorbing]
    owners = {s: journey.owner(s) or "no owner" for s in transient}
    lanes = list(dict.fromkeys(owners[s] for s in transient))
    outcome_lane = "outcome" if len(absorbing) == 1 else "outcomes"
    while outcome_lane in lanes:  # a team that happens to share the name
        outcome_lane += " "
    if absorbing:
        lanes.append(outcome_lane)
    y_of = {lane: float(len(lanes) - 1 - k) for k, lane in enumerate(lanes)}
    x = {s: float(k) for k, s in enumerate(transient)}
    y = {s: y_of[owners[s]] for s in transient}
    # An outcome sits under the stages that lead to it (weighted by how much
    # flows in, over every tenure piece), kept a column apart from the next.
    wanted = []
    for s in (s for s in stages if s in absorbing):
        j = stages.index(s)
        weight = np.zeros(len(transient))
        for m in matrices:
            weight += np.array([m[stages.index(t), j] for t in transient])
        centre = (
            float(np.average(np.arange(len(transient)), weights=weight))
            if weight.sum() > 0
            else float(len(transient) - 1)
        )
        wanted.append((centre, s))
    last = -1.0
    right = max(len(transient) - 1, len(wanted) - 1, 0)
    for k, (centre, s) in enumerate(sorted(wanted)):
        # at least a column from the previous one, and room for those after
        place = min(max(round(centre), last + 1), right - (len(wanted) - 1 - k))
        x[s], y[s] = float(max(place, last + 1)), y_of[outcome_lane]
        last = x[s]
    columns = int(max(x.values(), default=0.0)) + 1
    return Layout(x, y, tuple(lanes), columns)


def _bend(layout: Layout, a: str, b: str, both_ways: bool) -> float:
    """arc3 curvature: straight unless the straight line would cross another
    stage's box (then bend away from it) or the move goes both ways (then a
    slight bend keeps the two arrows apart)."""
    (x0, y0), (x1, y1) = (layout.x[a], layout.y[a]), (layout.x[b], layout.y[b])
    t = np.linspace(0.1, 0.9, 41)
    xs, ys = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    for s in layout.x:
        if s in (a, b):
            continue
        ox, oy = layout.x[s], layout.y[s]
        if np.any((np.abs(xs - ox) < BOX_W / 2 + 0.05) & (np.abs(ys - oy) < BOX_H)):
            cross = (x1 - x0) * (oy - y0) - (y1 - y0) * (ox - x0)
            # A long move bends less: its bulge (rad / 2 x its length) stays
            # under about half a lane, so it does not leave the map.
            rad = 0.3 * min(1.0, 2.5 / max(np.hypot(x1 - x0, y1 - y0), 1e-9))
            return rad if cross >= 0 else -rad
    return 0.15 if both_ways else 0.0


def _stage_text(name: str) -> str:
    """Long stage names go on two lines at an underscore."""
    if len(name) <= 11 or "_" not in name:
        return name
    cut = min(
        (k for k, c in enumerate(name) if c == "_"),
        key=lambda k: abs(k - len(name) / 2),
    )
    return name[:cut] + "\n" + name[cut + 1 :]


def journey_diagram(
    journey,
    ax=None,
    min_probability: float = 0.01,
    *,
    label_min: float = 0.02,
    tenure: int = 0,
    highlight=(),
):
    """The journey as a map: stages as boxes left to right in journey order, in
    one lane per owner team (in order of first appearance) and the absorbing
    outcomes in a lane of their own; an arrow for each move of at least
    ``min_probability`` per period at ``tenure`` (first segment), its width
    growing with the share and labelled ("12%/month") from ``label_min`` up;
    moments of truth in red, explained by a legend under the lanes.

    ``tenure`` picks the month drawn (its tenure piece): 0 is the first
    period; in a journey with renewal decisions at tenure 11, ``tenure=11``
    draws the renewal month. ``highlight``: ``(from, to)`` moves drawn in
    orange, thicker, as "changed" (those whose share differs from another
    journey's). Returns the Axes.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    units = getattr(journey, "units", Units())
    segment = journey.segments[0]
    pieces = journey.transition_matrices(segment)
    starts = sorted(pieces)
    drawn = pieces[max([s for s in starts if s <= tenure] or [starts[0]])]
    P = drawn.to_numpy()
    layout = _layout(journey, [m.to_numpy() for m in pieces.values()])
    n_lanes = len(layout.lanes)
    if ax is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(
            figsize=(max(8.0, 1.8 * layout.columns + 0.6), 1.1 * n_lanes + 1.2)
        )
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.92))
    stages = journey.stages
    flagged = journey.flagged_moments
    absorbing = set(journey.absorbing)

    # The legend goes under the lanes: on one row when the map is wide enough.
    legend_rows = 1 if layout.columns >= 6 else 2
    left, right = -0.62, layout.columns - 1 + 0.62
    ax.set_xlim(left, right)
    ax.set_ylim(-0.5 - LEGEND_ROOM * legend_rows, n_lanes - 0.5)
    for k, lane in enumerate(layout.lanes):
        y = n_lanes - 1 - k
        ax.axhspan(y - 0.5, y + 0.5, color=LANE_FACES[k % 2], zorder=0, lw=0)
        ax.text(
            left + 0.04,
            y + 0.46,
            lane.strip(),
            ha="left",
            va="top",
            fontsize=8.5,
            fontweight="bold",
            color="#444",
            zorder=5,
        )

    boxes = {}
    for s in stages:
        x, y = layout.x[s], layout.y[s]
        mot = s in flagged
        box = FancyBboxPatch(
            (x - BOX_W / 2, y - BOX_H / 2),
            BOX_W,
            BOX_H,
            boxstyle="round,pad=0,rounding_size=0.08",
            fc=OUTCOME_FACE if s in absorbing else "white",
            ec=MOMENT if mot else "#333",
            lw=2.2 if mot else 1.0,
            zorder=4,
            mutation_aspect=0.5,
        )
        ax.add_patch(box)
        boxes[s] = box
        ax.text(x, y, _stage_text(s), ha="center", va="center", fontsize=9, zorder=5)

    def on_arc(p0, p1, rad):
        """Where a move's label goes: the middle of matplotlib's arc3 curve
        from p0 to p1 (a quadratic Bezier whose control point is offset by
        rad x the chord, turned), a little further out on a bent arrow so that
        the labels of a move and its reverse do not sit on each other."""
        (x0, y0), (x1, y1) = ax.transData.transform([p0, p1])
        dx, dy = x1 - x0, y1 - y0
        out = 0.0
        if rad:
            out = np.sign(rad) * 6 * ax.figure.dpi / 72 / max(np.hypot(dx, dy), 1e-9)
        mid = (
            (x0 + x1) / 2 + (rad / 2 + out) * dy,
            (y0 + y1) / 2 - (rad / 2 + out) * dx,
        )
        return ax.transData.inverted().transform(mid)

    n = len(stages)
    moves = [
        (i, j)
        for i in range(n)
        for j in range(n)
        if i != j and P[i, j] >= min_probability
    ]
    pairs = set(moves)
    changed = {(str(a), str(b)) for a, b in highlight}
    for i, j in moves:
        a, b, p = stages[i], stages[j], float(P[i, j])
        rad = _bend(layout, a, b, (j, i) in pairs)
        mot = (a, b) in flagged
        hot = (a, b) in changed
        p0, p1 = (layout.x[a], layout.y[a]), (layout.x[b], layout.y[b])
        ax.add_patch(
            FancyArrowPatch(
                p0,
                p1,
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>",
                mutation_scale=11,
                patchA=boxes[a],
                patchB=boxes[b],
                shrinkA=1,
                shrinkB=1,
                color=CHANGED if hot else MOMENT if mot else MOVE,
                lw=min(0.8 + 6 * p, 4.0) + (1.2 if hot else 0.0),
                zorder=2,
            )
        )
        if p >= label_min:
            ax.text(
                *on_arc(p0, p1, rad),
                move_label(p, units),
                fontsize=7.5,
                ha="center",
                va="center",
                color="#a01c1c" if mot else "#222",
                zorder=3,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
            )

    handles = [
        Line2D(
            [],
            [],
            color=MOVE,
            lw=2,
            label=f"move: share per {units.time_unit} "
            f"(under {share(min_probability, units)} not drawn)",
        ),
        Line2D([], [], color=MOMENT, lw=2, label="moment of truth: a move"),
        Patch(fc="white", ec=MOMENT, lw=2, label="moment of truth: a stage"),
    ]
    if changed:
        handles.append(Line2D([], [], color=CHANGED, lw=3, label="changed move"))
    if absorbing:
        handles.append(Patch(fc=OUTCOME_FACE, ec="#333", label="outcome (absorbing)"))
    ax.legend(
        handles=handles,
        loc="lower center",
        ncol=-(-len(handles) // legend_rows),
        fontsize=8,
        frameon=False,
        handlelength=1.8,
        borderaxespad=0.2,
    )
    ax.axis("off")
    ax.set_title(
        f"{journey.name or 'journey'}: share of customers moving in "
        f"{units.time_unit} {tenure + 1:,}",
        fontsize=11,
    )
    return ax
