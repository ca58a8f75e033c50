"""The tables of a comparison: the rows split into per-customer and population
figures, and every figure written for people in the journey's units (money,
percentages, durations), never in scientific notation. A difference of two
shares (a paired "... diff" column, or a row of differences) is written in
percentage points ("+0.7 pts"), never "+0.7%", which reads as a relative
change."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import pandas as pd

from .._base.units import Units
from ..view.numbers import duration, money, number, percent, plain, points
from .evaluate import PER_CUSTOMER, POPULATION

__all__ = [
    "axis_label",
    "heading",
    "is_difference",
    "is_population",
    "kind",
    "show",
    "split",
]

_SHARES = ("retention at ", "reached value", "share reached", "first-year ")
_DURATIONS = ("lifetime", "expected lifetime", "time to value", "payback")
_COUNTS = ("customers", "customers reached", "hand-offs")


def is_population(column: str) -> bool:
    """Is this summary column a figure for the modelled population?"""
    if column.startswith("reached value"):  # per customer: a share
        return False
    return column in POPULATION or column.startswith(("workload ", "reached "))


_PER_ORDER = (
    "intervention cost per customer",
    "incremental net value per customer",
    "incremental net value per customer low",
    "incremental net value per customer high",
    "share reached",
    "hand-offs",
)
_POP_ORDER = (
    "customers",
    "population net value",
    "intervention cost",
    "incremental net value",
    "incremental net value low",
    "incremental net value high",
    "ROI",
    "payback",
    "customers reached",
)


def _ordered(columns: list[str], order: Sequence[str]) -> list[str]:
    """``columns`` with those of ``order`` together, in that order, where the
    first of them stands; paired differences ("... diff") last."""
    plain_ = [c for c in columns if " diff" not in c]
    diffs = [c for c in columns if " diff" in c]
    known = [c for c in order if c in plain_]
    if not known:
        return plain_ + diffs
    at = min(plain_.index(c) for c in known)
    rest = [c for c in plain_ if c not in known]
    at = sum(1 for c in plain_[:at] if c not in known)
    return rest[:at] + known + rest[at:] + diffs


def _reach_column(column: str) -> bool:
    return column.startswith("reached ") and is_population(column)


def split(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-customer and population tables of a summary, each under the
    names of :data:`~.evaluate.PER_CUSTOMER` and :data:`~.evaluate.POPULATION`
    ("reached <intervention>" columns are left to the reach table)."""
    cols = list(summary.columns)
    per = [c for c in cols if not is_population(c)]
    # Per customer: the figures, the cost and return block after CLV, then
    # the paired differences (Monte Carlo).
    block = [c for c in _PER_ORDER if c in per]
    rest = [c for c in per if c not in block and " diff" not in c]
    at = rest.index("CLV") + 1 if "CLV" in rest else len(rest)
    per = rest[:at] + block + rest[at:] + [c for c in per if " diff" in c]
    # Population: its size and money first, then workload and flags.
    pop = [c for c in cols if is_population(c) and not _reach_column(c)]
    pop = [c for c in _POP_ORDER if c in pop] + [c for c in pop if c not in _POP_ORDER]
    return (
        summary[per].rename(columns=PER_CUSTOMER),
        summary[pop].rename(columns=POPULATION),
    )


def _base(column: str) -> str:
    for suffix in (" low", " high", " diff"):
        column = column.removesuffix(suffix)
    return column


def is_difference(column: str) -> bool:
    """Is this summary column a paired difference to the baseline ("... diff",
    with its "low" and "high" bounds)?"""
    return column.removesuffix(" low").removesuffix(" high").endswith(" diff")


def kind(column: str, streams: Sequence[str]) -> str:
    """How a column is written: "money", "share", "duration", "count", "ratio"
    or "flag"."""
    c = _base(column)
    if c == "capacity limited":
        return "flag"
    if c == "ROI":
        return "ratio"
    if c.startswith(_SHARES):
        return "share"
    if c in _DURATIONS:
        return "duration"
    if c in _COUNTS or c.startswith("workload ") or _reach_column(c):
        return "count"
    if c in streams or c in ("CLV", "net value", "population net value"):
        return "money"
    if c.startswith(("intervention cost", "incremental net value", "cost")):
        return "money"
    return "count"


def show(
    value,
    column: str,
    units: Units,
    streams: Sequence[str],
    horizon: int,
    *,
    difference: bool = False,
):
    """One figure for people. A share that is a difference (a paired "...
    diff" column, or any column when ``difference``) is written in
    percentage points."""
    k = kind(column, streams)
    if k == "flag":
        return "yes" if value else ""
    v = plain(value)
    if v is None:
        return str(value)
    if k == "duration" and _base(column) == "payback" and math.isnan(v):
        return f"not within {units.periods(horizon)}"
    if k == "money":
        return money(v, units)
    if k == "share":
        if difference or is_difference(column):
            return points(v, units)
        return percent(v, units)
    if k == "duration":
        return duration(v, units)
    return number(v, units)


def axis_label(column: str, units: Units, streams: Sequence[str], customers: float):
    """An axis label that says whose figure it is and in what unit:
    "incremental net value, population of 1,000 customers (USD)", "CLV per
    customer (USD)"; a difference of shares is in "percentage points"."""
    k = kind(column, streams)
    unit = {
        "money": units.currency,
        "share": "percentage points" if is_difference(column) else "%",
        "duration": units.plural,
    }.get(k)
    if is_population(column):
        name = POPULATION.get(column, column)
        n = number(customers, units)
        whose = f", population of {n} customer" + ("" if n == "1" else "s")
    else:
        name = PER_CUSTOMER.get(column, column)
        whose = " per customer" if k in ("money", "count") else ""
    return f"{name}{whose}" + (f" ({unit})" if unit else "")


_AT = re.compile(r"(.+) at (\d+)")


def heading(column: str, units: Units) -> str:
    """A column's name for people: a figure at a horizon gets the unit
    ("retention at 36" -> "retention at 36 months"), a paired difference
    says so, and in percentage points when it is one of shares
    ("retention at 36 diff" -> "retention at 36 months: difference, pts")."""
    name = column.removesuffix(" diff")
    m = _AT.fullmatch(name)
    if m is not None:
        name = f"{m.group(1)} at {units.periods(int(m.group(2)))}"
    if not column.endswith(" diff"):
        return name
    pts = kind(column, ()) == "share"
    return f"{name}: difference" + (", pts" if pts else "")
