"""Removal effects: what each stage, touchpoint or channel is worth to a
metric, judged by taking it out of the journey (ChannelAttribution's "removal
effect", for a lifecycle instead of a marketing path).

Taking out a set of stages S means: every customer who would move into a stage
of S moves to the ``redirect`` stage instead, in the same period (the
probability ``P[i, s]`` is added to ``P[i, redirect]`` in every row outside S,
tenure piece and segment), and the start share of S (for the starting cohort
and for arrivals) starts in ``redirect``. The rows of S are left as they are:
nobody reaches them any more. Values, transition values and everything else
are the journey's; a redirected move carries the amount of the move it became
(``i -> redirect``). Each removal is analysed exactly (:meth:`Journey.analyze`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from .._base.checks import check_integer
from .._base.conventions import MAX_PERIOD
from .._base.errors import InputError
from .._base.resolved import JourneyLike, Piece, Segment
from .._base.units import Units
from ..results.figures import Kind
from ..view.numbers import duration, money, number, percent, points
from ..view.removal_chart import removal_bars

if TYPE_CHECKING:
    from ..results.analysis import Analysis


class _Journey(JourneyLike, Protocol):
    """What removal effects use of a :class:`~journeysim.Journey` (passed in:
    this module is imported by the journey's)."""

    @property
    def units(self) -> Units: ...
    def derive(self, *, segments: Sequence[Segment]) -> _Journey: ...


__all__ = ["KINDS", "RemovalEffects", "removal_effects", "without_stages"]

#: What can be removed: a stage, or every stage carrying a touchpoint or a
#: channel (the stage metadata ``touchpoints`` / ``channels``).
KINDS = ("stages", "touchpoints", "channels")

_AT = re.compile(r"retention at (\d+)")


@dataclass(frozen=True)
class _Metric:
    """A metric by name: its label in the journey's units, what kind of figure
    it is, and the horizon its analysis needs."""

    name: str
    label: str
    kind: Kind
    periods: int

    def of(self, a: Analysis) -> float:
        if self.name == "clv":
            return a.clv
        if self.name == "lifetime clv":
            return a.lifetime_clv
        if self.name == "lifetime":
            return a.expected_lifetime
        if self.name == "population value":
            return float(a.population_value.iloc[-1])
        return a.retention_at(self.periods)


_METRICS = ("clv", "lifetime clv", "lifetime", "population value", "retention at <h>")


def _metric(name: object, periods: object, units: Units) -> _Metric:
    T = check_integer(periods, "periods", 1, MAX_PERIOD)
    if not isinstance(name, str):
        raise InputError(f"metric must be one of {list(_METRICS)}, got {name!r}")
    m = _AT.fullmatch(name)
    if m is not None:
        h = int(m.group(1))
        if not 0 < h <= MAX_PERIOD:
            raise InputError(
                f"metric {name!r}: the period must be in [1, {MAX_PERIOD}]"
            )
        return _Metric(name, f"retention at {units.periods(h)}", Kind.SHARE, h)
    labels = {
        "clv": (f"CLV over {units.periods(T)} (per customer)", Kind.MONEY),
        "lifetime clv": ("CLV over the lifetime (per customer)", Kind.MONEY),
        "lifetime": (f"expected lifetime ({units.plural})", Kind.TIME),
        "population value": (
            f"net value over {units.periods(T)} (population)",
            Kind.MONEY,
        ),
    }
    if name not in labels:
        raise InputError(
            f"unknown metric {name!r}; choose one of {list(_METRICS)}", key=("metric",)
        )
    label, kind = labels[name]
    return _Metric(name, label, kind, T)


def _items(journey: _Journey, of: str) -> dict[str, tuple[str, ...]]:
    """``{item: stages it removes}`` for every stage, touchpoint or channel."""
    if of == "stages":
        return {s: (s,) for s in journey.stages}
    key = of  # "touchpoints" or "channels"
    out: dict[str, list[str]] = {}
    for s in journey.stages:
        names = journey.resolved.metadata.get(s, {}).get(key)
        if names is None:
            continue
        for n in [names] if isinstance(names, str) else names:
            out.setdefault(str(n), []).append(s)
    return {n: tuple(ss) for n, ss in out.items()}


def without_stages(
    journey: _Journey, removed: Iterable[str], redirect: str
) -> _Journey:
    """The journey with ``removed`` taken out: entries into them (moves and
    start shares) go to ``redirect`` instead (see the module docstring)."""
    stages = journey.stages
    gone = sorted(stages.index(s) for s in set(removed))
    to = stages.index(redirect)
    keep = np.ones(len(stages), dtype=bool)
    keep[gone] = False

    def rows(m: np.ndarray) -> np.ndarray:
        m = np.array(m, dtype=float)
        moved = m[keep][:, gone].sum(axis=1)
        m[np.ix_(keep, gone)] = 0.0
        m[keep, to] += moved
        return m

    def start(x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=float)
        x[to] += x[gone].sum()
        x[gone] = 0.0
        return x

    segments = [
        dataclasses.replace(
            seg,
            transitions=[Piece(p.start, rows(p.value)) for p in seg.transitions],
            start=start(seg.start),
        )
        for seg in journey.resolved.segments
    ]
    return journey.derive(segments=segments)


@dataclass(frozen=True)
class RemovalEffects:
    """What taking each stage, touchpoint or channel out of a journey does to
    a metric (from :meth:`Journey.removal_effects`).

    Attributes
    ----------
    table : DataFrame
        One row per item removed, largest share first: ``stages`` (those it
        takes out), ``without`` (the metric without it), ``change``
        (``without - baseline``, in the metric's units: money, periods or a
        share), ``removal_effect`` (``1 - without / baseline``), ``share``
        (the removal effect over the sum of all removal effects; the shares
        add up to 1) and ``attributed`` (``share * baseline``: the metric
        credited to the item, ChannelAttribution's attributed conversions).
    baseline : float
        The metric of the journey as it is.
    metric, label : str
        The metric's name, and its label in the journey's units.
    of : {"stages", "touchpoints", "channels"}
    redirect : str
        Where the customers who would enter a removed stage go instead.
    periods : int
    units : Units
    """

    table: pd.DataFrame
    baseline: float
    metric: str
    label: str
    kind: Kind
    of: str
    redirect: str
    periods: int
    units: Units

    def _fmt(self, x: float) -> str:
        if self.kind is Kind.MONEY:
            return money(x, self.units)
        if self.kind is Kind.TIME:
            return duration(x, self.units)
        if self.kind is Kind.SHARE:
            return percent(x, self.units)
        return number(x, self.units)

    def to_text(self) -> str:
        """The table written for people, one line per item.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["trial", "paid", "churned"],
        ...     {"trial": {"paid": 0.5, "churned": 0.5}, "paid": {"churned": 0.1}},
        ...     values={"revenue": {"paid": 100}}, currency="USD")
        >>> print(j.removal_effects(metric="lifetime clv").to_text())
        Removal effects on CLV over the lifetime (per customer): $500 as it is;
        customers who would enter a removed stage go to churned instead.
          trial  without: $0  change: -$500  removal effect: 100.0%  share: 50.0%
          paid   without: $0  change: -$500  removal effect: 100.0%  share: 50.0%
        """
        head = (
            f"Removal effects on {self.label}: {self._fmt(self.baseline)} as it is;\n"
            f"customers who would enter a removed stage go to {self.redirect} instead."
        )
        t = self.table
        if t.empty:
            return head + "\n  (nothing to remove)"
        cells = [
            (
                str(item),
                self._fmt(r["without"]),
                # A change of a share (retention) in percentage points.
                points(r["change"], self.units)
                if self.kind is Kind.SHARE
                else self._fmt(r["change"]),
                percent(r["removal_effect"], self.units),
                percent(r["share"], self.units),
            )
            for item, r in t.iterrows()
        ]
        w = [max(len(c[k]) for c in cells) for k in range(5)]
        lines = [
            f"  {a:<{w[0]}}  without: {b:<{w[1]}}  change: {c:<{w[2]}}  "
            f"removal effect: {d:<{w[3]}}  share: {e}".rstrip()
            for a, b, c, d, e in cells
        ]
        return "\n".join([head, *lines])

    def plot(self, ax=None, *, value: str = "share"):
        """Bars of ``share`` (default), ``change`` or ``attributed`` per item,
        labelled in the journey's units; returns the Axes."""
        if value not in ("share", "change", "attributed"):
            raise InputError(
                f"value must be 'share', 'change' or 'attributed', got {value!r}"
            )
        kind = Kind.SHARE if value == "share" else self.kind
        return removal_bars(
            self.table[value],
            what=value,
            label=self.label,
            of=self.of,
            share=kind is Kind.SHARE,
            difference=value == "change",
            money_axis=kind is Kind.MONEY,
            time_axis=kind is Kind.TIME,
            units=self.units,
            ax=ax,
        )

    def _repr_html_(self) -> str:
        return (
            "<pre>"
            + self.to_text().replace("&", "&amp;").replace("<", "&lt;")
            + ("</pre>")
        )


def removal_effects(
    journey: _Journey,
    of: str = "stages",
    metric: str = "clv",
    periods: int = 36,
    *,
    redirect: str | None = None,
    only: Sequence[str] | None = None,
    accrual: str = "start",
) -> RemovalEffects:
    """See :meth:`journeysim.Journey.removal_effects`."""
    if of not in KINDS:
        raise InputError(f"of must be one of {list(KINDS)}, got {of!r}", key=("of",))
    units = journey.units
    m = _metric(metric, periods, units)
    stages = journey.stages
    absorbing = set(journey.absorbing)
    if redirect is None:
        if len(absorbing) != 1:
            raise InputError(
                "redirect: name the stage customers go to instead of a removed one "
                f"(the journey has {len(absorbing)} absorbing stages: "
                f"{sorted(absorbing)})",
                key=("redirect",),
            )
        redirect = next(iter(absorbing))
    if not isinstance(redirect, str) or redirect not in stages:
        raise InputError(
            f"redirect: unknown stage {redirect!r}; the stages are {stages}",
            key=("redirect",),
        )
    items = _items(journey, of)
    if only is None:
        # Every item that can be taken out: for stages, the transient ones
        # other than the redirect target.
        if of == "stages":
            items = {
                s: ss for s, ss in items.items() if s not in absorbing and s != redirect
            }
        chosen = list(items)
    else:
        chosen = [only] if isinstance(only, str) else list(only)
        for name in chosen:
            if name not in items:
                what = of[:-1]
                raise InputError(
                    f"only: unknown {what} {name!r}; the journey's {of} are "
                    f"{sorted(items) or 'none'}",
                    key=("only",),
                )
        if len(set(chosen)) != len(chosen):
            raise InputError(f"only: an item is named twice in {chosen}", key=("only",))
    for name in chosen:
        ss = items[name]
        taken = [s for s in ss if s in absorbing]
        if taken:
            raise InputError(
                f"cannot remove {of[:-1]} {name!r}: it takes out the absorbing "
                f"stage(s) {taken}, where customers end; redirect from the "
                "stages before them instead",
                key=("only",),
            )
        if redirect in ss:
            raise InputError(
                f"redirect: {redirect!r} would be removed with {of[:-1]} {name!r} "
                "(customers cannot be sent to a stage that is taken out); choose "
                "another redirect",
                key=("redirect",),
            )
    base = m.of(journey.analyze(m.periods, accrual=accrual))
    if chosen and base == 0:
        raise InputError(
            f"the {m.label} of the journey is 0: the removal effect "
            "(1 - without / baseline) is undefined; choose another metric",
            key=("metric",),
        )
    without = [
        m.of(
            without_stages(journey, items[name], redirect).analyze(
                m.periods, accrual=accrual
            )
        )
        for name in chosen
    ]
    w = np.asarray(without, dtype=float)
    effect = 1.0 - w / base
    total = math.fsum(effect)
    # Shares are the removal effects normalised to add up to 1 (undefined when
    # they cancel out: NaN, written "–").
    share = effect / total if total != 0 else np.full(len(effect), np.nan)
    table = pd.DataFrame(
        {
            "stages": [", ".join(items[n]) for n in chosen],
            "without": w,
            "change": w - base,
            "removal_effect": effect,
            "share": share,
            "attributed": share * base,
        },
        index=pd.Index(chosen, name=of[:-1]),
    )
    table = table.sort_values("share", ascending=False, kind="stable")
    return RemovalEffects(
        table=table,
        baseline=float(base),
        metric=m.name,
        label=m.label,
        kind=m.kind,
        of=of,
        redirect=redirect,
        periods=m.periods,
        units=units,
    )
