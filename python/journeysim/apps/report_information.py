"""The "where to listen" section of the HTML report: what better measurement
of each transition is worth to the plan decision (expected value of perfect
and partial perfect information, :func:`journeysim.value_of_information`),
in words, as a table and as bars."""

from __future__ import annotations

import html

from ..plans.information import ValueOfInformation
from ..view.numbers import money, percent
from ..view.plot import figure

__all__ = ["information_section"]

#: Transitions shown in the table and the chart, largest value first.
TOP = 10


def _e(x) -> str:
    return html.escape(str(x))


def information_section(v: ValueOfInformation, chart, svg) -> str:
    """The section's HTML; ``chart(key, caption, svg)`` and ``svg(fig)`` are
    the report's own figure helpers (passed in: this module sits beside the
    report, not under it)."""
    u = v.units
    words = "".join(f"<p>{_e(line)}</p>" for line in v.to_text().splitlines())
    rows = [
        f"<tr><td>{_e(name)}</td><td>{_e(money(r['value per customer'], u))}</td>"
        f"<td>{_e(money(r['value for the population'], u))}</td>"
        f"<td>{_e(percent(r['share of EVPI'], u, decimals=0))}</td></tr>"
        for name, r in v.table.head(TOP).iterrows()
    ]
    table = (
        '<table id="information-table"><tr><th>transition measured better</th>'
        "<th>worth, per customer</th><th>worth, all customers</th>"
        "<th>share of EVPI</th></tr>" + "".join(rows) + "</table>"
    )
    n = min(TOP, len(v.table))
    fig, ax = figure(7.5, 0.45 * max(n, 1) + 1.8)
    v.plot(ax=ax, top=TOP)
    return "".join(
        [
            '<section id="information"><h2>Where to listen: what better '
            "measurement is worth</h2>",
            words,
            table,
            '<p class="note">The most a perfect measurement could add to the '
            "plan decision, over the estimates' uncertainty "
            f"({_e(v.draws)} posterior draws): EVPI for every transition at once, "
            "and for each transition on its own (EVPPI, by regression; Strong, "
            "Oakley and Brennan 2014). A transition worth nothing here would not "
            "change the decision however well it were measured.</p>",
            chart(
                "information",
                "Value of measuring each transition better (EVPPI) against "
                "the value of perfect information (EVPI)",
                svg(fig),
            ),
            "</section>",
        ]
    )
