"""A self-contained HTML report of a plan comparison, for people who do not read
Python: one file with inline CSS and inline SVG charts, no script and nothing
fetched, so it opens in any browser, offline, and survives being e-mailed."""

from __future__ import annotations

import datetime as _dt
import html
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base.atomic import check_writable, write_text
from .._base.errors import InputError
from .._base.units import Units
from .._base.version import __version__
from ..model.intervention import Intervention, Plan
from ..model.journey import Journey
from ..model.timeline import timeline, timeline_figure_of
from ..plans.attribution import MAX_GROUPS
from ..plans.compare import Comparison, compare
from ..plans.information import ValueOfInformation, value_of_information
from ..plans.journeys import JourneyComparison, compare_journeys
from ..plans.tables import axis_label, heading, show
from ..results.analysis import Analysis
from ..view.numbers import duration, money, number, percent, points
from ..view.plot import figure, journey_diagram, occupancy_area, tornado
from .report_information import information_section
from .versus import by_stage, versus_section

__all__ = ["report"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;
max-width:70em;padding:0 1.5em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0.1em}h2{font-size:1.25em;margin-top:1.8em;
border-bottom:2px solid #e3e8ef;padding-bottom:0.2em}
.meta{color:#666;font-size:0.9em}
table{border-collapse:collapse;font-size:0.9em;margin:0.6em 0}
th,td{padding:0.25em 0.7em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f4f6f9}
tr.best td{background:#eef7ee}
.interval{color:#777;font-size:0.85em}
.findings li{margin:0.25em 0}
figure.chart{margin:1em 0;break-inside:avoid}
figure.chart svg{max-width:100%;height:auto}
figcaption{color:#555;font-size:0.9em}
.note{color:#666;font-size:0.85em}
"""


def report(
    journey: Journey,
    plans: Sequence[Plan],
    out: str | os.PathLike | None = None,
    *,
    periods: int = 36,
    customers: int | None = None,
    seed: int | None = None,
    replications: int = 1,
    uncertainty: Any = None,
    draws: int = 200,
    title: str | None = None,
    comparison: Comparison | None = None,
    progress: bool | None = None,
    versus: Journey | None = None,
    mapping: Mapping | None = None,
    information: ValueOfInformation | None = None,
) -> str:
    """Compare plans and write the result as one self-contained HTML file.

    The report holds the key findings in words, the comparison table (with
    95% intervals when simulated), the plans and their interventions, charts
    (incremental net value by plan, retention by plan, cost against return,
    the journey map, where customers are over time, the moments of truth) and,
    with ``uncertainty``, the distribution of each plan's incremental value over
    the estimates' uncertainty. Charts are inline SVG: the file needs no
    Python, no network and no script to read.

    Parameters
    ----------
    journey : Journey
    plans : list of Plan
        The plans to compare with the baseline (no intervention).
    out : path, optional
        Where to write the HTML (a name ending in ``.html`` or ``.htm``, in a
        folder that exists: both checked before the comparison runs); the file
        is replaced atomically. The HTML is returned either way.
    periods, customers, seed, replications, uncertainty, draws, progress
        As for :func:`journeysim.compare` (exact unless ``customers`` is given).
    title : str, optional
        Default: "Plan comparison: <journey name>".
    comparison : Comparison, optional
        A comparison already computed for these plans (then nothing is re-run).
    versus : Journey, optional
        An optimised journey: the report then has a section "Current versus
        optimised journey" (:func:`journeysim.compare_journeys` of ``journey``
        and ``versus``, by the same method): both journeys' outcomes and the
        difference, a waterfall of what each change contributes to CLV per
        customer (exact Shapley values; the changes of each stage together
        when there are more than 12), and both journey maps with the changed
        moves highlighted.
    mapping : dict, optional
        ``{optimised stage: current stage or None}`` when their stages differ.
    information : ValueOfInformation, optional
        Where better measurement pays (:func:`journeysim.value_of_information`),
        shown in a section "Where to listen". Computed from ``uncertainty``
        (``draws`` posterior draws, net value) when that is given and plans
        are; pass one to reuse it or to show it with a given ``comparison``.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> import os, tempfile
    >>> import journeysim as js
    >>> j = js.default_journey()
    >>> call = js.Intervention("onboarding call", at=("onboarding", "churned"),
    ...                        relative_risk=0.6, cost_per_customer=50)
    >>> path = os.path.join(tempfile.mkdtemp(), "report.html")
    >>> page = js.report(j, [js.Plan("call", [call])], path, periods=24)
    >>> page.startswith("<!DOCTYPE html>") and os.path.getsize(path) > 10_000
    True
    """
    if not isinstance(journey, Journey):
        raise InputError(f"report needs a Journey, got {journey!r}")
    if out is not None:  # before the comparison, which may take long
        check_html(out)
    if isinstance(plans, Plan):
        plans = [plans]
    plans = list(plans)
    pair = None
    if versus is not None:  # first: a pair that cannot be compared fails fast
        pair = compare_journeys(
            journey,
            versus,
            periods,
            mapping=mapping,
            method="exact" if customers is None else "simulate",
            customers=customers,
            seed=seed,
            replications=replications,
            progress=progress,
        )
    if comparison is None:
        comparison = compare(
            journey,
            plans,
            periods,
            customers=customers,
            seed=seed,
            replications=replications,
            uncertainty=uncertainty,
            draws=draws,
            progress=progress,
        )
    elif not isinstance(comparison, Comparison):
        raise InputError(f"comparison must be a Comparison, got {comparison!r}")
    if information is None and uncertainty is not None and plans:
        information = value_of_information(
            journey,
            plans,
            uncertainty=uncertainty,
            draws=draws,
            periods=periods,
            seed=seed,
        )
    elif information is not None and not isinstance(information, ValueOfInformation):
        raise InputError(
            f"information must be a ValueOfInformation, got {information!r}"
        )
    page = _page(journey, plans, comparison, title, seed, pair, information)
    if out is not None:
        write_text(out, page)  # atomic: an existing report survives a failure
    return page


#: What an HTML report's file name may end with.
HTML_SUFFIXES = (".html", ".htm")


def check_html(out: str | os.PathLike) -> None:
    """An InputError unless ``out`` is an HTML file name in a writable folder."""
    if os.path.splitext(os.fspath(out))[1].lower() not in HTML_SUFFIXES:
        raise InputError(
            f"{os.fspath(out)}: a report is HTML; its file name must end in "
            ".html or .htm"
        )
    check_writable(out)


# -- the page -----------------------------------------------------------------


def _versus(pair: JourneyComparison) -> str:
    groups = by_stage(pair)
    a = None
    if len(pair.changes) and (groups is None or len(groups) <= MAX_GROUPS):
        a = pair.attribution("clv", groups=groups)
    return versus_section(pair, a, _chart, _svg)


def _page(journey, plans, c: Comparison, title, seed, pair=None, info=None) -> str:
    baseline = _baseline_analysis(journey, c)
    name = journey.name or "journey"
    title = title or f"Plan comparison: {name}"
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    how = (
        "exact (linear algebra)"
        if c.method == "exact"
        else f"Monte Carlo, seed {seed}, common random numbers across plans"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{len(journey.stages)} stages, {len(plans)} plan(s) '
        f"against the baseline, over {_e(c.units.periods(c.periods))}, {_e(how)}. "
        f"Made {when} with journeysim {_e(__version__)}.</p>",
        '<section id="findings"><h2>Key findings</h2>',
        _findings(c, baseline),
        "</section>",
        '<section id="summary"><h2>What each plan costs and returns</h2>',
        "<h3>All customers</h3>",
        _population_table(c),
        '<p class="note">For the modelled population: '
        f"{_e(_customers(c))} (the "
        "starting cohort and those who join within the horizon; a simulation's "
        "customers are a sample scaled to it). Net gain = the change in net value "
        "less the plan's cost, against the baseline, discounted; ROI = net gain per "
        "dollar of cost; payback = the first period from which the cumulative net "
        "gain stays positive; reached = customers the plan touches, each once.</p>",
        "<h3>Per customer</h3>",
        _summary_table(c),
        '<p class="note">For one customer of the starting cohort. First-year NRR and '
        "GRR are exact rates of each plan's journey.</p>",
        _chart("incremental-value", "Net gain by plan", _value_bars(c)),
        _chart(
            "cost-return",
            "What each plan costs against what it returns",
            _cost_return(c),
        ),
        _chart("retention", "Retention by plan", _retention(c)),
        "</section>",
        *([_versus(pair)] if pair is not None else []),
        '<section id="revenue"><h2>Revenue retention and outcomes</h2>',
        _revenue_section(c, baseline),
        "</section>",
    ]
    if c.uncertainty is not None:
        parts += [
            '<section id="uncertainty"><h2>How sure are we?</h2>',
            _uncertainty_table(c),
            _chart(
                "uncertainty",
                "Incremental net value over the estimates' uncertainty",
                _uncertainty_plot(c),
            ),
            "</section>",
        ]
    if info is not None:
        parts.append(information_section(info, _chart, _svg))
    # A versus report may come without plans: no plans section then.
    if plans:
        parts += [
            '<section id="plans"><h2>The plans</h2>',
            _plans_table(plans, c.units),
            "<h3>Who does what when</h3>",
            _timeline_table(journey, plans, c),
            _chart(
                "timeline",
                f"The plans' interventions by owner team, in calendar {c.units.plural} "
                "(hatched: lead time before the effect starts)",
                _svg(
                    timeline_figure_of(
                        plans, c.units, journey=journey, horizon=c.periods
                    )
                ),
            ),
            "</section>",
        ]
    parts += [
        '<section id="journey"><h2>The journey</h2>',
        _stages_table(journey, c, baseline),
        _chart("journey-map", "The journey map", _journey_map(journey)),
        _chart("occupancy", "Where customers are (baseline)", _occupancy(c)),
        _chart(
            "moments",
            "Moments of truth: net value per customer gained by a one-point "
            "change of each move",
            _moments(journey, c.periods),
        ),
        "</section>",
        f'<p class="note">A {_e(c.units.time_unit)} k runs from t = k - 1 to t = k; '
        "value accrues at the start of a period unless stated; discounting per "
        "period from t = 0. See the journeysim documentation for the conventions.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _show(c: Comparison, value: Any, column: str) -> str:
    """One figure of the comparison written for people, in its units."""
    return show(value, column, c.units, c.streams, c.periods)


def _baseline_analysis(journey: Journey, c: Comparison):
    """The baseline's exact analysis (a simulated comparison's too: the
    journey's own rates, exact)."""
    base = c.results.get("baseline")
    if c.method == "exact" and base is not None:
        return base
    return journey.analyze(periods=c.periods)


def _findings(c: Comparison, a: Analysis) -> str:
    s, u = c.summary, c.units
    over = u.periods(c.periods)
    items = []
    year = u.year
    health = (
        f"Without a plan, {percent(a.retention_at(min(year, c.periods)), u)} of "
        f"customers are still customers after {u.periods(min(year, c.periods))}"
        f" and {percent(a.retention_at(c.periods), u)} after {over}; a customer "
        f"stays {duration(a.expected_lifetime, u)} on average and is worth "
        f"{money(a.clv, u)} over {over}"
    )
    if "first-year NRR" in s.columns:
        health += (
            f"; first-year net revenue retention is "
            f"{percent(s.iloc[0]['first-year NRR'], u)} and gross revenue retention "
            f"{percent(s.iloc[0]['first-year GRR'], u)}"
        )
    items.append(health + ".")
    if len(s) == 1:
        items.append("No plan to compare.")
        return _list(items)
    inc = s["incremental net value"].iloc[1:]
    best = inc.idxmax()
    n = number(s.loc[best, "customers"], u)
    if inc.max() > 0:
        row = s.loc[best]
        text = (
            f"<b>{_e(best)}</b> adds the most: "
            f"{_e(money(row['incremental net value per customer'], u))} of net value "
            f"per customer over {_e(over)} for "
            f"{_e(money(row['intervention cost per customer'], u))} per customer"
        )
        if n != "1":
            text += (
                f", or {_e(money(row['incremental net value'], u))} for all {_e(n)} "
                "customers"
            )
        text += _interval(c, "incremental net value", best)
        if np.isfinite(row["ROI"]):
            text += (
                f"; each unit spent returns {_e(number(row['ROI'], u, digits=3))} net"
            )
        text += f"; it pays back {_e(_payback(c, best))}."
        items.append(text)
    else:
        items.append(f"No plan adds net value over the baseline within {_e(over)}.")
    ret_col = next(col for col in s.columns if col.startswith("retention at "))
    at = u.periods(int(ret_col.removeprefix("retention at ")))
    for p in s.index[1:]:
        d = float(s.loc[p, ret_col] - s.iloc[0][ret_col])
        items.append(
            f"{_e(p)}: retention at {_e(at)} {_e(percent(s.loc[p, ret_col], u))} "
            f"({_e(points(d, u))} against the baseline), costs "
            f"{_e(money(s.loc[p, 'intervention cost per customer'], u))} per "
            f"customer, returns "
            f"{_e(money(s.loc[p, 'incremental net value per customer'], u))}"
            f" per customer, pays back {_e(_payback(c, p))}."
        )
    losing = [p for p in inc.index if inc[p] < 0]
    if losing:
        items.append(
            "Costs more than it returns: " + ", ".join(_e(p) for p in losing) + "."
        )
    if c.uncertainty is not None:
        items.append(
            f"Over the estimates' uncertainty, {_e(best)} beats the baseline with "
            "probability "
            f"{_e(percent(c.uncertainty.loc[best, 'P(beats baseline)'], u))}."
        )
    elif c.method == "exact":
        items.append(
            "These are exact expectations for the journey as modelled: no sampling "
            "error (the uncertainty of the rates themselves needs a fit's posterior)."
        )
    else:
        items.append(
            "Intervals are 95% Monte Carlo intervals from common random numbers "
            "across plans."
        )
    return _list(items)


def _customers(c: Comparison) -> str:
    n = number(c.summary.iloc[0]["customers"], c.units)
    return f"{n} customer" + ("" if n == "1" else "s")


def _list(items: list[str]) -> str:
    return "<ul class='findings'>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _payback(c: Comparison, plan: str) -> str:
    v = float(c.summary.loc[plan, "payback"])
    if not np.isfinite(v):
        return f"not within {c.units.periods(c.periods)}"
    return "in " + duration(v, c.units)


def _interval(c: Comparison, col: str, plan: str) -> str:
    s = c.summary
    lo, hi = f"{col} low", f"{col} high"
    if lo not in s.columns or not np.isfinite(s.loc[plan, lo]):
        return ""
    return (
        f" (95% interval {_e(_show(c, s.loc[plan, lo], col))} to "
        f"{_e(_show(c, s.loc[plan, hi], col))})"
    )


#: The per-customer table: one customer of the starting cohort.
PER_CUSTOMER_COLUMNS = (
    "first-year NRR",
    "first-year GRR",
    "lifetime",
    "time to value",
    "CLV",
    "intervention cost per customer",
    "incremental net value per customer",
)
#: The population table: the modelled population (cohort and arrivals).
POPULATION_COLUMNS = (
    "customers",
    "intervention cost",
    "incremental net value",
    "ROI",
    "payback",
    "customers reached",
)
_HEADERS = {
    "intervention cost per customer": "cost per customer",
    "incremental net value per customer": "net gain per customer",
    "intervention cost": "cost",
    "incremental net value": "net gain",
    "lifetime": "months retained",
    "customers reached": "reached",
}


def _plan_table(c: Comparison, cols: list[str], table_id: str) -> str:
    s = c.summary
    best = s["incremental net value"].iloc[1:].idxmax() if len(s) > 1 else None
    out = [f'<table id="{table_id}"><tr><th>plan</th>']
    for col in cols:
        head = _HEADERS.get(col, heading(col, c.units))
        if col == "lifetime":
            head = f"{c.units.plural} retained of {c.units.periods(c.periods)}"
        out.append(f"<th>{_e(head)}</th>")
    out.append("</tr>")
    for plan, row in s.iterrows():
        cls = ' class="best"' if plan == best else ""
        out.append(f"<tr{cls}><td>{_e(plan)}</td>")
        for col in cols:
            cell = _e(_show(c, row[col], col))
            lo = f"{col} diff low" if f"{col} diff low" in s.columns else f"{col} low"
            hi = lo.replace(" low", " high")
            if plan != s.index[0] and lo in s.columns and np.isfinite(row[lo]):
                base = 0.0 if lo == f"{col} low" else float(s.iloc[0][col])
                span = (
                    f"{_show(c, base + row[lo], col)} – {_show(c, base + row[hi], col)}"
                )
                cell += f'<br><span class="interval">{_e(span)}</span>'
            out.append(f"<td>{cell}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _summary_table(c: Comparison) -> str:
    s = c.summary
    cols = [col for col in s.columns if col.startswith("retention at ")]
    cols += [col for col in PER_CUSTOMER_COLUMNS if col in s.columns]
    return _plan_table(c, cols, "summary-table")


def _population_table(c: Comparison) -> str:
    cols = [col for col in POPULATION_COLUMNS if col in c.summary.columns]
    return _plan_table(c, cols, "population-table")


def _revenue_section(c: Comparison, a: Analysis) -> str:
    """The baseline's revenue retention by year and its outcomes."""
    u = c.units
    parts = []
    stream = a.headline_stream()
    if stream is not None and c.periods >= u.year:
        rr = a.revenue_retention(stream, every=u.year)
        cols = ["logo_retention", "nrr", "grr", "expansion", "contraction", "churned"]
        heads = ["logo retention", "NRR", "GRR", "expansion", "contraction", "churned"]
        rows = "".join(
            f"<tr><td>{_e(span)}</td>"
            + "".join(f"<td>{_e(percent(r[k], u))}</td>" for k in cols)
            + "</tr>"
            for span, r in rr.iterrows()
        )
        parts.append(
            '<table id="revenue-table"><tr><th>year</th>'
            + "".join(f"<th>{h}</th>" for h in heads)
            + f"</tr>{rows}</table>"
            f'<p class="note">Revenue retention of {_e(stream)!s} of the starting '
            "customers, without a plan. NRR: their revenue at the end of the year "
            "over their revenue at its start; GRR: the same with each customer's "
            "revenue capped at its starting level; expansion, contraction and "
            "churned revenue are shares of the starting revenue.</p>"
        )
    out = a.outcomes
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(percent(r['horizon'], u))}</td>"
        f"<td>{_e(percent(r['lifetime'], u))}</td></tr>"
        for k, r in out.iterrows()
    )
    parts.append(
        '<table id="outcomes-table"><tr><th>outcome</th>'
        f"<th>within {_e(u.periods(c.periods))}</th><th>eventually</th></tr>"
        f"{rows}</table>"
    )
    return "".join(parts)


def _uncertainty_table(c: Comparison) -> str:
    u = c.uncertainty
    out = ['<table id="uncertainty-table"><tr><th>plan</th>']
    out += [f"<th>{_e(col)}</th>" for col in u.columns]
    out.append("</tr>")
    for plan, row in u.iterrows():
        out.append(f"<tr><td>{_e(plan)}</td>")
        for col in u.columns:
            v = float(row[col])
            text = (
                percent(v, c.units)
                if col.startswith("P(")
                else _show(c, v, "incremental net value")
            )
            out.append(f"<td>{_e(text)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _plans_table(plans: Sequence[Plan], units: Units) -> str:
    out = [
        '<table id="plans-table"><tr><th>plan</th><th>intervention</th>'
        "<th>at</th><th>effect</th><th>reach</th><th>when</th><th>cost</th></tr>"
    ]
    for p in plans:
        if not p.interventions:
            out.append(f"<tr><td>{_e(p.name)}</td><td colspan=6>none</td></tr>")
        for k, iv in enumerate(p.interventions):
            out.append(
                f"<tr><td>{_e(p.name) if k == 0 else ''}</td><td>{_e(iv.name)}</td>"
                f"<td>{_e(_at(iv))}</td><td>{_e(_effect(iv))}</td>"
                f"<td>{_e(percent(iv.reach, units))}</td><td>{_e(_when(iv))}</td>"
                f"<td>{_e(_costs(iv, units))}</td></tr>"
            )
    out.append("</table>")
    return "".join(out)


def _timeline_table(journey: Journey, plans: Sequence[Plan], c: Comparison) -> str:
    u = c.units
    t = timeline(list(plans), journey)
    out = [
        '<table id="timeline-table"><tr><th>plan</th><th>intervention</th>'
        "<th>owner</th><th>starts</th><th>effect from</th><th>effect until</th>"
        "<th>effort (person-days)</th></tr>"
    ]
    for _, r in t.iterrows():
        until = r["effect until"]
        ends = "open-ended" if pd.isna(until) else f"{u.time_unit} {int(until)}"
        out.append(
            f"<tr><td>{_e(r['plan'])}</td><td>{_e(r['intervention'])}</td>"
            f"<td>{_e(r['owner'] if isinstance(r['owner'], str) else '')}</td>"
            f"<td>{_e(u.time_unit)} {int(r['start'])}</td>"
            f"<td>{_e(u.time_unit)} {int(r['effect from'])}</td>"
            f"<td>{_e(ends)}</td><td>{_e(number(r['effort'], u))}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _at(iv: Intervention) -> str:
    to = ", ".join(iv.targets)
    return f"{iv.source} → {to}"


def _effect(iv: Intervention) -> str:
    if iv.effect is None:
        return "costs only"
    sign = {"relative_risk": "× {:g}", "change": "{:+g}", "probability": "= {:g}"}
    steps = [sign[iv.effect].format(s.amount) for s in iv.schedule]
    if len(steps) == 1:
        text = steps[0]
    else:  # a tenure schedule
        text = ", ".join(
            f"{t} from tenure {s.tenure}" for t, s in zip(steps, iv.schedule)
        )
    if iv.reassign_to:
        text += f", freed to {iv.reassign_to}"
    return text


def _when(iv: Intervention) -> str:
    parts = []
    a, b = iv.window
    if (a, b) != (0, None):
        parts.append(f"tenure {a}–{'' if b is None else b - 1}")
    if iv.calendar is not None:
        ca, cb = iv.calendar
        parts.append(f"calendar {ca}–{'' if cb is None else cb - 1}")
    if iv.capacity:
        parts.append(f"up to {iv.capacity:,} per period")
    if iv.segments:
        parts.append("segments " + ", ".join(iv.segments))
    return "; ".join(parts) or "always"


def _costs(iv: Intervention, units: Units) -> str:
    parts = []
    if iv.cost_fixed:
        parts.append(f"{money(iv.cost_fixed, units)} fixed")
    if iv.cost_per_customer:
        parts.append(f"{money(iv.cost_per_customer, units)} per customer")
    if iv.cost_per_period:
        parts.append(
            f"{money(iv.cost_per_period, units)} per customer-{units.time_unit}"
        )
    return ", ".join(parts) or "none"


def _stages_table(journey: Journey, c: Comparison, a: Analysis) -> str:
    info = journey.stage_info
    health = a.stages  # exact, a simulated comparison's too
    u = journey.units
    scores = journey.scores
    out = [
        '<table id="stages-table"><tr><th>stage</th><th>owner</th>'
        "<th>touchpoints</th><th>moment of truth</th>"
        "<th>remaining lifetime</th><th>CLV from here</th>"
        + "".join(f"<th>{_e(k)}</th>" for k in scores.columns)
        + "</tr>"
    ]
    for s in journey.stages:
        meta = info.loc[s]
        touch = _listed(meta.get("touchpoints")) or _listed(meta.get("channels"))
        owner = meta["owner"] if isinstance(meta["owner"], str) else ""
        out.append(
            f"<tr><td>{_e(s)}{' (end)' if meta['absorbing'] else ''}</td>"
            f"<td>{_e(owner)}</td><td>{_e(touch)}</td>"
            f"<td>{'yes' if meta['moment_of_truth'] else ''}</td>"
            f"<td>{_e(duration(health.loc[s, 'remaining_lifetime'], u))}</td>"
            f"<td>{_e(money(health.loc[s, 'clv'], u))}</td>"
            + "".join(
                f"<td>{_e(number(scores.loc[s, k], u))}</td>" for k in scores.columns
            )
            + "</tr>"
        )
    out.append("</table>")
    return "".join(out)


def _listed(x: Any) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, list | tuple):
        return ", ".join(str(v) for v in x)
    return ""


# -- charts -------------------------------------------------------------------


def _chart(key: str, caption: str, svg: str) -> str:
    return (
        f'<figure class="chart" id="chart-{key}">{svg}'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _svg(fig) -> str:
    """The figure as inline SVG (without the XML prolog), then closed."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _value_bars(c: Comparison) -> str:
    fig, ax = figure(7.5, 0.55 * len(c.summary) + 1.6)
    c.plot(ax=ax)
    return _svg(fig)


def _cost_return(c: Comparison) -> str:
    from matplotlib.ticker import FuncFormatter  # loaded with the first plot

    s = c.summary.iloc[1:]
    fig, ax = figure(7.5, 4)
    cost = s["intervention cost per customer"].to_numpy(dtype=float)
    gain = (
        s["incremental net value per customer"] + s["intervention cost per customer"]
    ).to_numpy(dtype=float)
    ax.scatter(cost, gain, s=60, color="#1f77b4", zorder=3)
    for name, x, y in zip(s.index, cost, gain):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4))
    top = max([1.0, *np.abs(cost), *np.abs(gain)])
    ax.plot([0, top], [0, top], ls="--", color="#999", lw=1, label="break-even")
    streams = c.streams
    ax.set_xlabel(axis_label("intervention cost per customer", c.units, streams, 1))
    ax.set_ylabel(
        "value gained before cost per customer"
        + (f" ({c.units.currency})" if c.units.currency else "")
    )
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _: money(v, c.units, compact=True))
    )
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: money(v, c.units, compact=True))
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return _svg(fig)


def _retention(c: Comparison) -> str:
    from matplotlib.ticker import PercentFormatter  # loaded with the first plot

    fig, ax = figure(7.5, 4)
    for name, r in c.results.items():
        ret = r.retention
        ax.plot(
            np.arange(len(ret)),  # tenure, also when the index is calendar dates
            ret.to_numpy(),
            lw=2 if name == "baseline" else 1.5,
            ls="--" if name == "baseline" else "-",
            label=name,
        )
    ax.set_xlabel(f"tenure ({c.units.plural})")
    ax.set_ylabel("share of the starting customers retained")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return _svg(fig)


def _uncertainty_plot(c: Comparison) -> str:
    from matplotlib.ticker import FuncFormatter  # loaded with the first plot

    d = c.draws.iloc[:, 1:]
    fig, ax = figure(7.5, 0.6 * d.shape[1] + 1.8)
    # Drawn by hand (boxplot's keywords keep changing across matplotlib).
    names = list(d.columns)
    q = np.quantile(d.to_numpy(), [0.025, 0.25, 0.5, 0.75, 0.975], axis=0)
    y = np.arange(len(names))
    ax.hlines(y, q[0], q[4], color="#1f77b4", lw=1.5)
    ax.barh(y, q[3] - q[1], left=q[1], height=0.4, color="#aec7e8", ec="#1f77b4")
    ax.vlines(q[2], y - 0.2, y + 0.2, color="#08306b", lw=2)
    ax.set_yticks(y, names)
    ax.axvline(0, color="black", lw=0.8)
    ax.invert_yaxis()
    n = number(c.summary.iloc[0]["customers"], c.units)
    cur = f", {c.units.currency}" if c.units.currency else ""
    ax.set_xlabel(f"net gain, all {n} customers{cur} (box: quartiles, whiskers: 95%)")
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _: money(v, c.units, compact=True))
    )
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def _journey_map(journey: Journey) -> str:
    teams = len({journey.owner(s) for s in journey.stages})
    fig, ax = figure(1.5 * len(journey.stages) + 2, 1.1 * max(teams, 2) + 1)
    journey_diagram(journey, ax=ax)
    return _svg(fig)


def _occupancy(c: Comparison) -> str:
    fig, ax = figure(8, 4.5)
    base = c.results["baseline"]
    occ = base.occupancy
    if isinstance(occ.columns, pd.MultiIndex):  # per segment: add them up
        occ = occ.T.groupby(level=-1).sum().T[base.occupancy.columns.levels[-1]]
    occupancy_area(occ, ax=ax, units=c.units)
    return _svg(fig)


def _moments(journey: Journey, periods: int) -> str:
    m = journey.moments_of_truth(metric="clv", horizon=periods)
    m = m[np.isfinite(m["gain_per_point"].to_numpy(dtype=float))]
    fig, ax = figure(7.5, 0.35 * min(len(m), 12) + 1.4)
    if len(m):
        tornado(m, ax=ax, metric="clv", units=journey.units)
    else:
        ax.text(0.5, 0.5, "no transition to improve", ha="center")
        ax.axis("off")
    return _svg(fig)
