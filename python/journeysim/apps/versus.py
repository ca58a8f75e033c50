"""The current-versus-optimised section of the HTML report: both journeys'
outcomes side by side with the difference, what each change contributes
(a waterfall) and the two journey maps with the changed moves highlighted."""

from __future__ import annotations

import html

from ..plans.attribution import MAX_GROUPS, Attribution
from ..plans.journeys import JourneyComparison
from ..view.display import table
from ..view.plot import figure, journey_diagram

__all__ = ["by_stage", "versus_section"]


def _e(x) -> str:
    return html.escape(str(x))


def by_stage(d: JourneyComparison) -> dict[str, list[str]] | None:
    """Groups for a journey pair with too many changes to value one by one:
    the changes of each stage together (None when each can be its own)."""
    if len(d.changes) <= MAX_GROUPS:
        return None
    groups: dict[str, list[str]] = {}
    for name, row in d.changes.iterrows():
        key = f"changes at {row['stage']}" if row["stage"] is not None else name
        groups.setdefault(key, []).append(name)
    return groups


def _map(journey, highlight, svg) -> str:
    teams = len({journey.owner(s) for s in journey.stages})
    fig, ax = figure(1.5 * len(journey.stages) + 2, 1.1 * max(teams, 2) + 1)
    journey_diagram(journey, ax=ax, highlight=highlight)
    return svg(fig)


def versus_section(d: JourneyComparison, a: Attribution | None, chart, svg) -> str:
    """The section's HTML; ``chart(key, caption, svg)`` and ``svg(fig)`` are
    the report's own figure helpers."""
    per_title, pop_title = d._titles()
    parts = [
        '<section id="versus"><h2>Current versus optimised journey</h2>',
        f'<div id="versus-per-customer">'
        f"{table(['', *d.per_customer.index], d._shown(d.per_customer), per_title)}"
        "</div>",
        f'<div id="versus-population">'
        f"{table(['', *d.population.index], d._shown(d.population), pop_title)}"
        "</div>",
    ]
    if len(d.changes):
        items = "".join(f"<li>{_e(k)}</li>" for k in d.changes.index)
        parts.append(f"<h3>What differs</h3><ul id='versus-changes'>{items}</ul>")
    else:
        parts.append('<p class="note">The two journeys are the same.</p>')
    if a is not None:
        fig, ax = figure(8, 0.45 * (len(a.contributions) + 2) + 1.4)
        a.plot(ax=ax)
        parts.append(
            chart(
                "waterfall",
                f"What each change contributes to {a.metric} ({a.per}): exact "
                "Shapley values, adding up to the difference",
                svg(fig),
            )
        )
    elif len(d.changes):
        parts.append(
            '<p class="note">Too many changes to value one by one, even by '
            "stage: attribute them in Python with groups=.</p>"
        )
    changed = d.changed_transitions
    back = d.mapping
    old = [(back[x], back[y]) for x, y in changed if back[x] and back[y]]
    parts.append(
        chart(
            "map-current",
            "The current journey (changed moves in orange)",
            _map(d.current, old, svg),
        )
    )
    parts.append(
        chart(
            "map-optimised",
            "The optimised journey (changed moves in orange)",
            _map(d.optimised, changed, svg),
        )
    )
    parts.append("</section>")
    return "\n".join(parts)
