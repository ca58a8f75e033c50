"""A plan as a project: who does what when. The model turns plans into
:class:`TimelineRow` rows (one per intervention); here they become a table and
a Gantt-style chart with one lane per owner team: each bar runs from the plan's
start to the end of the intervention's effect, its lead time hatched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .._base.units import Units
from .numbers import number
from .plot import _axes, figure

__all__ = [
    "NO_OWNER",
    "TimelineRow",
    "draw_timeline",
    "timeline_figure",
    "timeline_table",
]

_PLAIN = Units()
#: The lane of interventions whose team nobody named.
NO_OWNER = "no owner named"
_COLUMNS = [
    "plan",
    "intervention",
    "owner",
    "start",
    "effect from",
    "effect until",
    "effort",
]


@dataclass(frozen=True)
class TimelineRow:
    """One intervention of a plan on the calendar: its owner team (None when
    nobody is named), the plan's start, the calendar periods its effect covers
    (``effect_from <= t < effect_until``; until None: open-ended) and its
    effort in person-days. The lead time is ``effect_from - start``."""

    plan: str
    intervention: str
    owner: str | None
    start: int
    effect_from: int
    effect_until: int | None
    effort: float


def timeline_table(rows: Sequence[TimelineRow]) -> pd.DataFrame:
    """The rows as a table; ``effect until`` is <NA> when open-ended."""
    df = pd.DataFrame(
        [
            [
                r.plan,
                r.intervention,
                r.owner,
                r.start,
                r.effect_from,
                r.effect_until,
                float(r.effort),
            ]
            for r in rows
        ],
        columns=_COLUMNS,
    )
    for col in ("start", "effect from", "effect until"):
        df[col] = df[col].astype("Int64")
    # None where nobody is named (not NaN: an owner is a name or nothing).
    df["owner"] = pd.Series([r.owner for r in rows], dtype=object, index=df.index)
    return df


def _horizon(rows: Sequence[TimelineRow]) -> int:
    """Where open-ended bars stop: a little past every date on the chart."""
    last = max(
        [r.effect_from for r in rows]
        + [r.effect_until for r in rows if r.effect_until is not None]
        + [1]
    )
    return last + max(3, last // 4)


def draw_timeline(
    rows: Sequence[TimelineRow],
    units: Units = _PLAIN,
    ax=None,
    *,
    horizon: int | None = None,
):
    """A Gantt-style chart of ``rows`` on ``ax`` (a new figure otherwise): one
    lane per owner team (in order of first appearance), one bar per
    intervention within its lane, coloured by plan; the lead time (plan start
    to effect) hatched, the effect solid, an open-ended effect running to
    ``horizon`` with an arrow. Calendar periods in the journey's time unit."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    rows = list(rows)
    owners = list(dict.fromkeys(r.owner or NO_OWNER for r in rows))
    ax = _axes(ax, 8, 0.8 * max(len(owners), 1) + 1.6)
    end = _horizon(rows) if horizon is None else horizon
    plans = list(dict.fromkeys(r.plan for r in rows))
    colour = {p: f"C{k % 10}" for k, p in enumerate(plans)}
    for lane, owner in enumerate(owners):
        mine = [r for r in rows if (r.owner or NO_OWNER) == owner]
        height = 0.8 / len(mine)
        for k, r in enumerate(mine):
            y = lane - 0.4 + k * height
            c = colour[r.plan]
            lead = r.effect_from - r.start
            if lead > 0:
                ax.barh(
                    y,
                    lead,
                    left=r.start,
                    height=height * 0.9,
                    align="edge",
                    color="white",
                    edgecolor=c,
                    hatch="//",
                    lw=1,
                )
            until = end if r.effect_until is None else r.effect_until
            ax.barh(
                y,
                max(until - r.effect_from, 0),
                left=r.effect_from,
                height=height * 0.9,
                align="edge",
                color=c,
                alpha=0.85,
            )
            label = r.intervention
            if r.effort:
                label += f" ({number(r.effort, units)} person-days)"
            if r.effect_until is None:
                label += " →"
            ax.text(
                r.start + 0.1,
                y + height * 0.45,
                label,
                va="center",
                fontsize="small",
                bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1},
            )
    ax.set_yticks(range(len(owners)), owners)
    ax.set_ylim(len(owners) - 0.5, -0.5)
    ax.set_xlim(0, end)
    ax.set_xlabel(f"calendar {units.plural}")
    ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color=colour[p], label=p) for p in plans]
    handles.append(
        Patch(facecolor="white", edgecolor="grey", hatch="//", label="lead time")
    )
    # Outside the lanes, right of the chart: bars fill the whole width.
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small"
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def timeline_figure(
    rows: Sequence[TimelineRow], units: Units = _PLAIN, *, horizon: int | None = None
):
    """The chart on a new Figure outside pyplot (for reports and scripts)."""
    owners = {r.owner for r in rows}
    fig, ax = figure(8, 0.8 * max(len(owners), 1) + 1.6)
    draw_timeline(rows, units, ax, horizon=horizon)
    fig.tight_layout()
    return fig
