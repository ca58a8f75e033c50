"""A self-contained HTML report of a fit, for people who do not read Python:
how the stage rules covered the export, the fitted monthly (per period) rates
with their 95% intervals and the transitions counted, the values and scores
per stage measured from the data (when the fit has them), observed against
fitted retention, and the fitted journey's map. Inline CSS and SVG, no script."""

from __future__ import annotations

import datetime as _dt
import os

import numpy as np
import pandas as pd

from .._base.atomic import write_text
from .._base.errors import FitError, InputError
from .._base.version import __version__
from ..calibrate.fitted import Fit
from ..calibrate.rules import StageRules
from ..view.numbers import money, number, percent
from ..view.plot import figure
from .report import CSS, _chart, _e, _journey_map, _svg, check_html

__all__ = ["fit_report"]


def fit_report(
    f: Fit,
    out: str | os.PathLike | None = None,
    *,
    rules: StageRules | None = None,
    title: str | None = None,
    source: str = "",
) -> str:
    """Write a fit as one self-contained HTML file.

    Parameters
    ----------
    f : Fit
        A discrete fit (:func:`journeysim.fit`).
    out : path, optional
        Where to write the HTML (replaced atomically). Returned either way.
    rules : StageRules, optional
        The stage rules the log came from: their coverage is shown.
    title : str, optional
    source : str
        Where the data came from, shown under the title.

    Returns
    -------
    str
        The HTML document.
    """
    if not isinstance(f, Fit):
        raise InputError(f"fit_report needs a discrete Fit, got {type(f).__name__}")
    if out is not None:
        check_html(out)
    units = f.journey.units
    title = title or "Fitted journey"
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    transitions = int(f.counts.to_numpy().sum())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(source) + ": " if source else ""}'
        f"{number(f.customers, units)} accounts, {number(transitions, units)} "
        f"transitions between consecutive {_e(units.plural)}, "
        f"{len(f.stages)} stages. Made {when} with journeysim "
        f"{_e(__version__)}.</p>",
    ]
    if rules is not None:
        parts += ['<section id="coverage"><h2>How the rules covered the data</h2>']
        parts.append(_coverage(rules, units))
        parts.append("</section>")
    parts += [
        '<section id="rates"><h2>Fitted rates</h2>',
        f"<p>The chance that an account in a stage is in another stage one "
        f"{_e(units.time_unit)} later, with a 95% interval (the posterior of "
        "the counts below). Stays are left out; a stage's moves and its stay "
        "add up to 100%.</p>",
        _rates(f, units),
        "<h3>Transitions counted</h3>",
        _counts(f, units),
        "</section>",
        *_values_section(f, units),
        '<section id="check"><h2>Observed against fitted</h2>',
        _chart(
            "retention",
            "Share of accounts not yet in a terminal stage: observed and fitted",
            _check(f),
        ),
        "</section>",
        '<section id="journey"><h2>The fitted journey</h2>',
        _chart("journey-map", "The journey map", _journey_map(f.journey)),
        "</section>",
        "</body></html>",
    ]
    page = "\n".join(parts)
    if out is not None:
        write_text(out, page)
    return page


def _table(df: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in [df.index.name or "", *df.columns])
    body = "".join(
        "<tr>"
        + f"<td>{_e(i)}</td>"
        + "".join(f"<td>{_e(v)}</td>" for v in row)
        + "</tr>"
        for i, row in zip(df.index, df.itertuples(index=False))
    )
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def _coverage(r: StageRules, units) -> str:
    c = r.coverage
    shown = pd.DataFrame(
        {
            "rule": c["rule"],
            "stage": c["stage"],
            f"account-{units.plural} matched": [
                number(v, units) for v in c["account_periods"]
            ],
            "share": [percent(v, units) for v in c["share"]],
        },
        index=c.index,
    )
    notes = [
        f"{number(len(r.log), units)} account-{_e(units.plural)} of "
        f"{number(r.log[r.account].nunique(), units)} accounts; a row is in the "
        "stage of the first rule it matches."
    ]
    if len(r.unmatched):
        notes.append(
            f"{number(len(r.unmatched), units)} matched no rule and are in the "
            "catch-all stage."
        )
    if r.censored:
        notes.append(
            f"{number(r.censored, units)} rows after the export date were left "
            "out; each account's last period is censored (it may go on), not churn."
        )
    if r.after_terminal:
        notes.append(
            f"{number(r.after_terminal, units)} rows after an account's terminal "
            "stage were left out."
        )
    return _table(shown, "coverage") + f'<p class="note">{" ".join(notes)}</p>'


def _rates(f: Fit, units) -> str:
    iv = f.interval(0.95).reset_index()
    moves = iv[(iv["from"] != iv["to"]) & (iv["high"] > 0)]
    # Segments and tenure pieces (when fitted) as columns before "from".
    keys = [
        c
        for c in moves.columns
        if c in ("from", "to")
        or (c not in ("estimate", "low", "high") and iv[c].nunique() > 1)
    ]
    shown = (
        moves[keys]
        .astype(str)
        .assign(
            rate=[percent(v, units) for v in moves["estimate"]],
            interval=[
                f"{percent(lo, units)} to {percent(hi, units)}"
                for lo, hi in zip(moves["low"], moves["high"])
            ],
        )
    )
    shown = shown.rename(columns={"interval": "95% interval"})
    return _table(shown.set_index(keys[0]), "rates")


def _values_section(f: Fit, units) -> list[str]:
    """Values and scores per stage with their 95% intervals, when the fit
    measured them (``fit(value_columns=...)``); nothing otherwise."""
    try:
        v = f.value_summary(0.95)
    except FitError:
        return []
    per = f"per account per {_e(units.time_unit)}"
    parts = [
        '<section id="values"><h2>Values per stage</h2>',
        f"<p>What an account in each stage brings or costs {per}, measured on "
        "the same accounts (the mean over the account-"
        f"{_e(units.plural)} spent in the stage), and the scores it gives, "
        "with a 95% interval (accounts as clusters: an account's "
        f"{_e(units.plural)} are not independent). A stage without rows has "
        "none to measure (fixed).</p>",
    ]
    by_segment = "segment" in v.index.names
    if by_segment:
        parts.append(
            '<p class="note">Value streams are measured for all accounts and '
            "for each segment on its own accounts; a segment's stage without "
            "rows takes the figure for all accounts (marked pooled). Scores are "
            "for all accounts.</p>"
        )
    for kind, shows in (("value", "money"), ("score", "number")):
        rows = v[v["kind"] == kind]
        if not len(rows):
            continue

        def fmt(x, shows=shows):
            if not np.isfinite(x):
                return "—"
            return money(x, units) if shows == "money" else number(x, units)

        segment = (
            {"segment": rows.index.get_level_values("segment").astype(str)}
            if by_segment and kind == "value"
            else {}
        )
        shown = pd.DataFrame(
            {
                **segment,
                "stage": rows.index.get_level_values("stage").astype(str),
                "column": rows["column"].to_numpy(),
                "estimate": [fmt(x) for x in rows["estimate"]],
                "95% interval": [
                    "fixed"
                    if fixed
                    else ("—" if not np.isfinite(lo) else f"{fmt(lo)} to {fmt(hi)}")
                    + (" (pooled)" if pooled else "")
                    for lo, hi, fixed, pooled in zip(
                        rows["low"],
                        rows["high"],
                        rows["fixed"],
                        rows.get("pooled", np.zeros(len(rows), dtype=bool)),
                    )
                ],
                "accounts": [number(x, units) for x in rows["accounts"]],
                f"account-{units.plural}": [number(x, units) for x in rows["periods"]],
            },
            index=pd.Index(rows.index.get_level_values("name"), name=kind),
        )
        title = "Value streams" if kind == "value" else "Scores"
        parts += [f"<h3>{title}</h3>", _table(shown, f"{kind}s")]
    parts.append("</section>")
    return parts


def _counts(f: Fit, units) -> str:
    c = f.counts
    if c.index.nlevels > 1:
        c = c.groupby(level=-1).sum()
    c = c.map(lambda v: number(v, units))
    c.index.name = "from \\ to"
    return _table(c, "counts")


def _check(f: Fit) -> str:
    fig, ax = figure(7.5, 4)
    try:
        f.check().plot(ax=ax)
    except InputError:  # nothing to compare (no terminal stage)
        ax.text(0.5, 0.5, "no terminal stage to compare", ha="center")
        ax.axis("off")
    if not np.isfinite(ax.get_ylim()).all():  # pragma: no cover - defensive
        ax.set_ylim(0, 1)
    return _svg(fig)
