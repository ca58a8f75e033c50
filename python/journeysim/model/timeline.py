"""Plans as projects: the table and the Gantt-style chart of who does what
when over several plans (one plan's own is :meth:`Plan.timeline`). The rows are
built here; the drawing is :mod:`journeysim.view.timeline`'s."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .._base.errors import InputError
from .._base.units import Units
from ..view.timeline import TimelineRow, draw_timeline, timeline_figure, timeline_table
from .intervention import Plan
from .journey import Journey

__all__ = ["plot_timeline", "timeline", "timeline_figure_of", "timeline_rows"]


def timeline_rows(
    plans: Plan | Iterable[Plan], journey: Any = None
) -> list[TimelineRow]:
    """One row per intervention of each plan, in order."""
    if isinstance(plans, Plan):
        plans = [plans]
    plans = list(plans)
    for p in plans:
        if not isinstance(p, Plan):
            raise InputError(f"plans must be Plan objects, got {p!r}", key=("plans",))
    if journey is not None and not isinstance(journey, Journey):
        raise InputError(
            f"journey must be a Journey (for its stage owners and units), got "
            f"{type(journey).__name__}",
            key=("journey",),
        )
    return [row for p in plans for row in p.timeline_rows(journey)]


def _units(journey: Journey | None, units: Units | None) -> Units:
    if units is not None:
        if not isinstance(units, Units):
            raise InputError(
                f"units must be a journeysim Units (journey.units), got {units!r}",
                key=("units",),
            )
        return units
    return journey.units if journey is not None else Units()


def timeline(
    plans: Plan | Iterable[Plan], journey: Journey | None = None
) -> pd.DataFrame:
    """Who does what when in ``plans``: per intervention the plan, its owner
    team (its ``owner``, else the owner of its stage in ``journey``'s map), the
    plan's start, the calendar period its effect begins (start + lead time)
    and ends (<NA>: open-ended) and its effort in person-days.

    Examples
    --------
    >>> import journeysim as js
    >>> call = js.Intervention("call", at="at_risk", change=-0.05,
    ...                        owner="Customer Success", effort=10, lead_time=2)
    >>> kit = js.Intervention("kit", at="onboarding", cost_per_customer=5,
    ...                       owner="Marketing", calendar=(0, 12))
    >>> t = js.timeline([js.Plan("save", [call], start=3), js.Plan("welcome", [kit])])
    >>> print(t.to_string(index=False))
       plan intervention            owner  start  effect from  effect until  effort
       save         call Customer Success      3            5          <NA>    10.0
    welcome          kit        Marketing      0            0            12     0.0
    """
    return timeline_table(timeline_rows(plans, journey))


def plot_timeline(
    plans: Plan | Iterable[Plan],
    journey: Journey | None = None,
    ax=None,
    *,
    units: Units | None = None,
    horizon: int | None = None,
):
    """A Gantt-style chart of ``plans`` by owner team: one lane per team, a
    bar per intervention from the plan's start to the end of its effect (open
    ended: to ``horizon``, by default a little past the last date), the lead
    time hatched, labelled in ``units`` (default: ``journey.units``). Returns
    the Axes.

    Examples
    --------
    >>> import journeysim as js
    >>> call = js.Intervention("call", at="at_risk", change=-0.05,
    ...                        owner="Customer Success", effort=10, lead_time=2)
    >>> ax = js.plot_timeline(js.Plan("save", [call], start=3),
    ...                       units=js.default_journey().units)
    >>> [t.get_text() for t in ax.get_yticklabels()], ax.get_xlabel()
    (['Customer Success'], 'calendar months')
    """
    rows = timeline_rows(plans, journey)
    return draw_timeline(rows, _units(journey, units), ax, horizon=horizon)


def timeline_figure_of(
    plans: Plan | Iterable[Plan],
    units: Units | None = None,
    *,
    journey: Journey | None = None,
    horizon: int | None = None,
):
    """The chart of :func:`plot_timeline` on a new matplotlib Figure made
    outside pyplot (for the HTML report and scripts)."""
    rows = timeline_rows(plans, journey)
    return timeline_figure(rows, _units(journey, units), horizon=horizon)
