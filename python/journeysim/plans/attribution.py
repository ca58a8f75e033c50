"""Exact attribution of the difference between two journeys: Shapley values of
the changed inputs (or of groups of them), which add up to the total
difference by construction and do not depend on any order of the changes.

The value of a set S of changes is the metric of the journey that takes the
inputs in S from the optimised journey and every other input from the current
one (:meth:`~.alignment.Aligned.mixed`), analysed exactly. Change g receives

    phi_g = sum over S not holding g of |S|! (G - |S| - 1)! / G! * (v(S + g) - v(S))

the average, over every order of making the G changes one after another, of
what making g adds. The contributions sum to v(all) - v(none), the optimised
journey's metric less the current one's (checked to 1e-9 relative)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.units import Units
from ..model.journey import Journey
from ..results.analysis import Analysis
from ..view.display import table
from ..view.numbers import duration, money, number, percent, points
from ..view.waterfall import waterfall
from .alignment import Aligned

__all__ = ["MAX_GROUPS", "Attribution", "AttributionMetric", "attribute"]

#: Changes or groups valued exactly (2**G exact analyses).
MAX_GROUPS = 12
#: How closely the contributions must add up to the total (relative).
TOLERANCE = 1e-9

_ALIASES = {
    "clv": "CLV",
    "net": "CLV",
    "population clv": "population net value",
    "nrr": "first-year NRR",
    "grr": "first-year GRR",
}
_AT = re.compile(r"retention at (\d+)")


@dataclass(frozen=True)
class AttributionMetric:
    """A metric attribution can split: its ``column`` (a comparison's name
    for it), how it is written (``kind``: "money", "share", "duration"),
    whether it is a population figure, and the horizon of a figure "at h"."""

    column: str
    kind: str
    population: bool = False
    at: int | None = None
    stream: str | None = None


def metric_of(name: object, periods: int, streams: Sequence[str]) -> AttributionMetric:
    """The metric a name means ("clv", "retention at 12", "nrr", a stream ...)."""
    options = [
        "clv",
        "population net value",
        f"retention at <h <= {periods}>",
        "lifetime",
        "expected lifetime",
        "time to value",
        "nrr",
        "grr",
        *streams,
    ]
    if not isinstance(name, str):
        raise InputError(
            f"metric must be one of {options}, got {name!r}", key=("metric",)
        )
    col = _ALIASES.get(name.lower(), name)
    if col == "retention":
        col = f"retention at {periods}"
    m = _AT.fullmatch(col)
    if m is not None:
        h = int(m.group(1))
        if h > periods:
            raise InputError(
                f"metric {name!r} is beyond the comparison's {periods} periods",
                key=("metric",),
            )
        return AttributionMetric(col, "share", at=h)
    if col == "CLV":
        return AttributionMetric(col, "money")
    if col == "population net value":
        return AttributionMetric(col, "money", population=True)
    if col in ("lifetime", "expected lifetime", "time to value"):
        return AttributionMetric(col, "duration")
    if col in ("first-year NRR", "first-year GRR"):
        return AttributionMetric(col, "share")
    if col in streams:
        return AttributionMetric(col, "money", stream=col)
    raise InputError(
        f"unknown metric {name!r}; choose one of {options}", key=("metric",)
    )


def metric_value(a: Analysis, m: AttributionMetric) -> float:
    """The metric of one exact analysis."""
    if m.at is not None:
        return a.retention_at(m.at)
    if m.column == "CLV":
        return a.clv
    if m.column == "population net value":
        return float(a.population_value["net"])
    if m.column == "lifetime":
        return a.lifetime_within_horizon
    if m.column == "expected lifetime":
        return a.expected_lifetime
    if m.column == "time to value":
        if not a.journey.value_stages:
            raise InputError("time to value needs value stages", key=("metric",))
        return float(a.time_to_value["mean_periods"])
    if m.stream is not None:
        return float(a.value[m.stream])
    row = a.first_year_retention()
    if row is None:
        raise InputError(
            f"{m.column} needs a value stream and a horizon of at least a year",
            key=("metric",),
        )
    return float(row["nrr" if m.column.endswith("NRR") else "grr"])


class Attribution:
    """The difference in one metric between the current and optimised
    journeys, split among the changes (or groups of changes) that make it.

    Attributes
    ----------
    contributions : Series
        Each change's (or group's) exact Shapley contribution, in the metric's
        unit, largest in size first; they add up to ``total``.
    table : DataFrame
        ``contribution`` and ``share`` (of the total difference) per change,
        and ``changes`` (the inputs in a group).
    current, optimised, total : float
        The metric of each journey and the difference.
    residual : float
        ``total`` less the sum of the contributions (rounding only).
    metric : str
        The metric's name in the comparison ("CLV", "retention at 12", ...).
    per : str
        "per customer" or "population".
    """

    def __init__(
        self,
        contributions: pd.Series,
        members: dict[str, tuple[str, ...]],
        current: float,
        optimised: float,
        metric: AttributionMetric,
        units: Units,
        periods: int,
    ) -> None:
        self.contributions = contributions
        self.current = current
        self.optimised = optimised
        self.total = optimised - current
        self.residual = self.total - math.fsum(contributions)
        self.metric = metric.column
        self.per = "population" if metric.population else "per customer"
        self.units = units
        self.periods = periods
        self._metric = metric
        share = (
            contributions / self.total
            if self.total != 0
            else pd.Series(np.nan, index=contributions.index)
        )
        self.table = pd.DataFrame(
            {
                "contribution": contributions,
                "share": share,
                "changes": [", ".join(members[k]) for k in contributions.index],
            }
        )
        self.table.index.name = "change"

    def show(self, v: float) -> str:
        """A value of the metric for people."""
        k = self._metric.kind
        if k == "money":
            return money(v, self.units)
        if k == "share":
            return percent(v, self.units, decimals=2)
        if k == "duration":
            return duration(v, self.units, decimals=2)
        return number(v, self.units)

    def show_change(self, v: float) -> str:
        """A change in the metric for people, signed: money and durations as
        such ("+$948"), a change of a share in percentage points ("+3.03 pts",
        never "+3.03%", which reads as a relative change)."""
        if self._metric.kind == "share":
            return points(v, self.units, decimals=2)
        return _signed(self.show(v), v)

    def label(self) -> str:
        """The metric's axis label, with whose figure and its unit."""
        name = self.metric
        if self._metric.at is not None:
            name = f"retention at {self.units.periods(self._metric.at)}"
        unit = {
            "money": self.units.currency,
            "share": "%",
            "duration": self.units.plural,
        }[self._metric.kind]
        whose = f" ({self.per})" if self._metric.kind == "money" else ""
        return f"{name}{whose}" + (f", {unit}" if unit else "")

    def plot(self, ax=None):
        """A waterfall: the current journey's metric, each change's
        contribution, and the optimised journey's metric. Returns the Axes."""
        return waterfall(
            list(self.contributions.index),
            self.contributions.to_numpy(dtype=float),
            start=self.current,
            end=self.optimised,
            kind=self._metric.kind,
            units=self.units,
            label=self.label(),
            ax=ax,
            title=f"current to optimised: {self.metric}",
        )

    def _rows(self) -> list[list[str]]:
        rows = [["current journey", self.show(self.current), ""]]
        for k, v in self.contributions.items():
            s = self.table.at[k, "share"]
            rows.append([str(k), self.show_change(v), percent(s, self.units)])
        rows.append(["optimised journey", self.show(self.optimised), ""])
        rows.append(["difference", self.show_change(self.total), ""])
        return rows

    def to_text(self) -> str:
        """The waterfall as a table for people."""
        rows = self._rows()
        frame = pd.DataFrame(
            [r[1:] for r in rows],
            index=[r[0] for r in rows],
            columns=[self.metric, "share of the difference"],
        )
        return f"{self.metric} ({self.per}), current to optimised:\n" + (
            frame.to_string()
        )

    def _repr_html_(self) -> str:
        return table(
            ["", self.metric, "share of the difference"],
            self._rows(),
            f"{self.metric} ({self.per}): what each change contributes",
        )

    def __repr__(self) -> str:
        return f"<Attribution of {self.metric}>\n" + self.to_text()


def _signed(text: str, v: float) -> str:
    return text if v < 0 or text.startswith(("+", "-", "−")) else "+" + text


def check_groups(
    groups: Mapping | None, changes: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """``{group: [change names or stage names]}`` as each group's changes;
    changes in no group are a group "other changes"; without groups each
    change is its own."""
    if groups is None:
        return {c: (c,) for c in changes}
    if not isinstance(groups, Mapping) or not groups:
        raise InputError(
            "groups must be a dict {group: [changes]} naming one or more groups, "
            f"got {groups!r}",
            key=("groups",),
        )
    out: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for g, members in groups.items():
        if not isinstance(g, str) or not g:
            raise InputError(f"a group's name must be a string, got {g!r}")
        if isinstance(members, str):
            members = [members]
        picked: list[str] = []
        for x in members:
            hits = [c for c in changes if c == x]
            if not hits:
                raise InputError(
                    f"group {g!r}: {x!r} is not one of the changes {list(changes)}",
                    key=("groups", g),
                )
            for c in hits:
                if c in owner:
                    raise InputError(
                        f"change {c!r} is in groups {owner[c]!r} and {g!r}",
                        key=("groups", g),
                    )
                owner[c] = g
                picked.append(c)
        out[g] = tuple(picked)
    rest = tuple(c for c in changes if c not in owner)
    if rest:
        name = "other changes"
        while name in out:
            name += " "
        out[name] = rest
    return out


def shapley(values: np.ndarray, G: int) -> np.ndarray:
    """Shapley values from the value of every coalition (``values[mask]``,
    bit g of mask set when player g is in)."""
    w = [
        math.factorial(s) * math.factorial(G - s - 1) / math.factorial(G)
        for s in range(G)
    ]
    masks = np.arange(1 << G)
    sizes = np.array([bin(m).count("1") for m in masks])
    phi = np.zeros(G)
    for g in range(G):
        bit = 1 << g
        without = masks[(masks & bit) == 0]
        gains = values[without | bit] - values[without]
        weights = np.array(w)[sizes[without]]
        phi[g] = math.fsum(weights * gains)
    return phi


def attribute(
    aligned: Aligned,
    metric: AttributionMetric,
    groups: dict[str, tuple[str, ...]],
    *,
    periods: int,
    accrual: str,
    units: Units,
    current_value: float,
    optimised_value: float,
) -> Attribution:
    """Shapley contributions of ``groups`` of the aligned journeys' changes
    to ``metric``."""
    names = [c.name for c in aligned.changes]
    G = len(groups)
    if G > MAX_GROUPS:
        raise InputError(
            f"{G} changes or groups to value exactly, more than {MAX_GROUPS} "
            f"(2**{G} analyses): gather them with groups={{name: [changes]}}; the "
            f"changes are {names}",
            key=("groups",),
        )
    index = [[names.index(c) for c in members] for members in groups.values()]
    values = np.empty(1 << G)
    for mask in range(1 << G):
        taken = [k for g in range(G) if mask >> g & 1 for k in index[g]]
        j: Journey = aligned.mixed(taken)
        values[mask] = metric_value(j.analyze(periods, accrual=accrual), metric)
    phi = shapley(values, G) if G else np.zeros(0)
    total = optimised_value - current_value
    # The coalition values at the ends are the journeys' own metrics (the
    # current journey written on the optimised stages gives its own numbers).
    scale = max(abs(total), abs(current_value), abs(optimised_value), 1e-300)
    ends = abs(values[0] - current_value) + abs(values[-1] - optimised_value)
    if G and (ends > 1e-9 * scale or abs(math.fsum(phi) - total) > TOLERANCE * scale):
        raise InputError(
            f"attribution of {metric.column} does not add up: contributions sum "
            f"to {math.fsum(phi)!r}, the difference is {total!r}; the journeys "
            "may be too ill-conditioned to compare exactly",
            key=("metric",),
        )
    contributions = pd.Series(phi, index=pd.Index(list(groups), name="change"))
    order = np.argsort(-np.abs(phi), kind="stable")
    contributions = contributions.iloc[order].rename(metric.column)
    return Attribution(
        contributions,
        groups,
        current_value,
        optimised_value,
        metric,
        units,
        periods,
    )
