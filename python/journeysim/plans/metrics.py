"""Which figure of a comparison a caller means by a metric name ("net",
"retention at 12", "first-year NRR"), for choosing plans (:mod:`.budget`) and
for one-way sensitivity (:mod:`.sensitivity`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from .._base.errors import InputError

__all__ = [
    "ALIASES",
    "NOT_MAXIMISED",
    "Metric",
    "check_metric",
    "metric_of",
    "metric_options",
]

#: Short names for a comparison's summary columns.
ALIASES = {
    "net": "incremental net value",
    "value": "incremental value",
    "roi": "ROI",
}

#: Columns no plan is chosen to make larger: costs, lower-is-better figures,
#: population size and flags.
NOT_MAXIMISED = (
    "intervention cost",
    "intervention cost per customer",
    "customers",
    "payback",
    "time to value",
    "capacity limited",
)

_AT = re.compile(r".+ at (\d+)")


@dataclass(frozen=True)
class Metric:
    """A metric as asked for (``name``), the summary column that holds it
    (``column``) and the horizons the comparison must cover for it (a figure
    "at 12" needs horizon 12, besides the comparison's own)."""

    name: str
    column: str
    horizons: tuple[int, ...]


def metric_of(name: object, periods: int, what: str = "metric") -> Metric:
    """The column and horizons of a metric name (checked against the columns
    by :func:`check_metric` once a comparison has run)."""
    if not isinstance(name, str) or not name:
        raise InputError(
            f"{what} must be a name such as 'net' or 'retention at 12', got {name!r}",
            key=(what,),
        )
    column = ALIASES.get(name, name)
    horizons = [periods]
    m = _AT.fullmatch(column)
    if m is not None:
        h = int(m.group(1))
        if h > periods:
            raise InputError(
                f"{what} {name!r} is at period {h}, beyond the horizon of "
                f"{periods} periods: use periods >= {h}",
                key=(what,),
            )
        if h != periods:
            horizons.append(h)
    return Metric(name, column, tuple(horizons))


def metric_options(summary: pd.DataFrame, extra: tuple[str, ...] = ()) -> list[str]:
    """The metric names a comparison's ``summary`` offers: the short names,
    then every numeric column (``extra`` names are offered first)."""
    numeric = [
        c
        for c in summary.columns
        if pd.api.types.is_numeric_dtype(summary[c])
        and not pd.api.types.is_bool_dtype(summary[c])
    ]
    return [*extra, *numeric]


def check_metric(
    metric: Metric, summary: pd.DataFrame, options: list[str], what: str = "metric"
) -> None:
    """An InputError listing the options when the metric is not among them."""
    if metric.name in options or (
        metric.column in options and metric.column in summary.columns
    ):
        return
    raise InputError(
        f"unknown {what} {metric.name!r}; choose one of {options} "
        "(a figure 'at <h>' for any horizon h up to the periods)",
        key=(what,),
    )
