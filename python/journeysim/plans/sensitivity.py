"""One-way sensitivity of a plan on its uncertain inputs (a tornado: each
input at its low and high value, the others at base) and break-even
thresholds by root finding, every point an exact :func:`compare`.

Inputs are named by path: ``"<intervention>.<field>"`` for a field of one of
the plan's interventions, ``"transitions.<from>.<to>"`` for a move of the
journey."""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.resolved import Piece
from .._base.units import Units
from .._base.warnings import InfiniteLifetimeWarning
from ..model.intervention import MAX_COST, Plan
from ..model.journey import Journey
from ..view.numbers import money, number, percent
from .compare import compare
from .metrics import Metric, check_metric, metric_of, metric_options
from .tables import axis_label, kind

__all__ = ["FIELDS", "Tornado", "parameters", "threshold", "tornado"]

#: The fields of an intervention that can be varied.
FIELDS = (
    "relative_risk",
    "change",
    "probability",
    "reach",
    "cost_per_customer",
    "cost_per_period",
    "cost_fixed",
)
_COSTS = ("cost_per_customer", "cost_per_period", "cost_fixed")
_SHARES = ("relative_risk", "probability", "reach", "change")


@dataclass(frozen=True)
class _Input:
    """A parsed input path: an intervention's field, or a journey move."""

    path: str
    intervention: str | None = None
    field: str | None = None
    source: int | None = None
    target: int | None = None


def parameters(journey: Journey, plan: Plan) -> list[str]:
    """The input paths a plan and journey offer: each intervention's effect,
    reach and costs, and every move out of a transient stage."""
    out = [
        f"{iv.name}.{f}"
        for iv in plan.interventions
        for f in FIELDS
        if f not in ("relative_risk", "change", "probability") or f == iv.effect
    ]
    out += [
        f"transitions.{a}.{b}"
        for a in journey.transient
        for b in journey.stages
        if b != a
    ]
    return out


def _parse(journey: Journey, plan: Plan, path: object) -> _Input:
    if not isinstance(path, str):
        raise InputError(f"an input must be a path such as 'call.reach', got {path!r}")
    stages = journey.stages
    if path.startswith("transitions."):
        rest = path.removeprefix("transitions.")
        for k in range(len(rest)):
            if rest[k] == "." and rest[:k] in stages and rest[k + 1 :] in stages:
                a, b = rest[:k], rest[k + 1 :]
                if a == b:
                    break
                if a not in journey.transient:
                    raise InputError(
                        f"{path!r}: {a!r} is absorbing (customers never leave "
                        f"it); vary a move out of {journey.transient}"
                    )
                return _Input(path, source=stages.index(a), target=stages.index(b))
    else:
        name, _, field = path.rpartition(".")
        ivs = {iv.name: iv for iv in plan.interventions}
        if name in ivs and field in FIELDS:
            iv = ivs[name]
            if field in ("relative_risk", "change", "probability") and (
                field != iv.effect
            ):
                raise InputError(
                    f"{path!r}: intervention {name!r} acts by {iv.effect}, not "
                    f"{field}; vary '{name}.{iv.effect}'"
                )
            return _Input(path, intervention=name, field=field)
    raise InputError(
        f"unknown input {path!r}; valid inputs: {parameters(journey, plan)}"
    )


def _base_input(journey: Journey, plan: Plan, p: _Input) -> float:
    """The input's value as given (a move that differs between segments or
    tenures: nan)."""
    if p.intervention is not None:
        iv = next(i for i in plan.interventions if i.name == p.intervention)
        return float(iv.amount if p.field == iv.effect else getattr(iv, p.field))
    values = {
        float(piece.value[p.source, p.target])
        for seg in journey.resolved.segments
        for piece in seg.transitions
    }
    return values.pop() if len(values) == 1 else math.nan


def _at(journey: Journey, plan: Plan, p: _Input, x: float) -> tuple[Journey, Plan]:
    """The journey and plan with the input set to ``x``."""
    if p.intervention is not None:
        try:
            ivs = [
                iv.replace(**{p.field: x}) if iv.name == p.intervention else iv
                for iv in plan.interventions
            ]
        except InputError as e:
            raise InputError(f"{p.path} = {x:g}: {e}") from e
        return journey, Plan(plan.name, ivs)
    a, b = p.source, p.target
    stage, to = journey.stages[a], journey.stages[b]
    segments = []
    for seg in journey.resolved.segments:
        pieces = []
        for piece in seg.transitions:
            m = np.array(piece.value, dtype=float)
            stay = m[a, a] + m[a, b] - x
            if not 0 <= x <= 1 or stay < -1e-12:
                most = m[a, a] + m[a, b]
                raise InputError(
                    f"{p.path} = {x:g}: the move {stage} -> {to} can be 0 to "
                    f"{most:g} (the stay in {stage!r} gives up the difference)"
                )
            m[a, b], m[a, a] = x, max(stay, 0.0)
            pieces.append(Piece(piece.start, m))
        segments.append(dataclasses.replace(seg, transitions=pieces))
    return journey.derive(segments=segments), plan


def _number(x: object, what: str) -> float:
    if (
        isinstance(x, bool)
        or not isinstance(x, numbers.Real)
        or not math.isfinite(float(x))
    ):
        raise InputError(f"{what} must be a finite number, got {x!r}")
    return float(x)


class _Runner:
    """The metric of a plan at inputs, by exact comparison."""

    def __init__(self, journey, plan, metric, periods, accrual, discount_rate):
        if not isinstance(journey, Journey):
            raise InputError(f"a Journey is needed, got {journey!r}")
        if not isinstance(plan, Plan):
            raise InputError(f"a Plan is needed, got {plan!r}")
        self.journey, self.plan = journey, plan
        self.metric: Metric = metric_of(metric, periods)
        self.periods, self.accrual, self.rate = periods, accrual, discount_rate
        c = self.compare(journey, plan)
        s = c.summary
        check_metric(self.metric, s, metric_options(s, ("net",)))
        self.base = float(s.loc[plan.name, self.metric.column])
        self.customers = float(s["customers"].iloc[0])
        self.units: Units = journey.units
        self.streams = journey.streams

    def compare(self, journey, plan):
        return compare(
            journey,
            [plan],
            self.periods,
            horizons=list(self.metric.horizons),
            accrual=self.accrual,
            discount_rate=self.rate,
        )

    def at(self, p: _Input, x: float, *, quiet: bool = False) -> float:
        """The metric with input ``p`` at ``x``; ``quiet``: without the
        warning that a lifetime is infinite (a relative risk of 0 at the
        default bracket's end), which figures within the horizon ignore."""
        j, plan = _at(self.journey, self.plan, p, x)
        with warnings.catch_warnings():
            if quiet and self.metric.column != "expected lifetime":
                warnings.simplefilter("ignore", InfiniteLifetimeWarning)
            s = self.compare(j, plan).summary
        return float(s.loc[plan.name, self.metric.column])


@dataclass(frozen=True)
class Tornado:
    """The result of :func:`tornado`: ``table`` has one row per input
    (index: its path), sorted by swing: its "low input", "base input" and
    "high input" values, the metric at each ("low", "base", "high") and the
    "swing" (``abs(high - low)``).

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}}, currency="USD")
    >>> save = js.Intervention("save", at=("active", "churned"),
    ...                        relative_risk=0.6, cost_per_customer=40)
    >>> t = js.tornado(j, js.Plan("p", [save]),
    ...                {"transitions.active.churned": (0.05, 0.15)}, periods=12)
    >>> t.table.iloc[0][["low", "base", "high"]].round(2).tolist()
    [61.25, 115.9, 140.97]
    >>> t.plot().get_xlabel()
    'incremental net value, population of 1 customer (USD)'
    """

    table: pd.DataFrame
    metric: str
    column: str
    base: float
    periods: int
    units: Units
    customers: float
    streams: tuple[str, ...]

    def _input(self, path: str, x: float) -> str:
        field = path.rpartition(".")[2]
        if field in _COSTS:
            return money(x, self.units)
        if path.startswith("transitions.") or field in ("reach", "probability"):
            return percent(x, self.units, decimals=1)
        return number(x, self.units)

    def plot(self, ax=None):
        """Bars from the base result to the result at each input's low and
        high value, the widest swing on top; the axis says whose figure
        (per customer or all customers) in the journey's units. Returns the
        Axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(8, 0.5 * len(self.table) + 1.8))
        t = self.table
        y = np.arange(len(t))
        ax.barh(
            y, t["low"] - self.base, left=self.base, color="#1f77b4", label="low input"
        )
        ax.barh(
            y,
            t["high"] - self.base,
            left=self.base,
            color="#ff7f0e",
            label="high input",
        )
        ax.axvline(self.base, color="black", lw=0.8)
        ax.set_yticks(
            y,
            [
                f"{path} ({self._input(path, r['low input'])} to "
                f"{self._input(path, r['high input'])})"
                for path, r in t.iterrows()
            ],
        )
        ax.invert_yaxis()
        units = self.units
        ax.set_xlabel(axis_label(self.column, units, self.streams, self.customers))
        k = kind(self.column, self.streams)
        if k == "money":
            ax.xaxis.set_major_formatter(lambda v, _: money(v, units, compact=True))
        elif k == "share":
            ax.xaxis.set_major_formatter(lambda v, _: percent(v, units, decimals=1))
        else:
            ax.xaxis.set_major_formatter(lambda v, _: number(v, units))
        ax.set_title(
            f"one-way sensitivity of {self.metric} over {units.periods(self.periods)}"
            f" (base {self._shown(self.base)})"
        )
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right")
        return ax

    def _shown(self, v: float) -> str:
        k = kind(self.column, self.streams)
        if k == "money":
            return money(v, self.units)
        if k == "share":
            return percent(v, self.units)
        return number(v, self.units)


def tornado(
    journey: Journey,
    plan: Plan,
    ranges: Mapping[str, Sequence[float]],
    metric: str = "net",
    periods: int = 36,
    *,
    accrual: str = "start",
    discount_rate: float | None = None,
) -> Tornado:
    """One-way sensitivity: the plan's ``metric`` with each input at its low
    and at its high value (every other input at base), each an exact
    :func:`compare`, sorted by swing.

    ``ranges`` maps input paths to ``(low, high)``:

    - ``"<intervention>.<field>"``: a field of one of the plan's
      interventions: its effect (``relative_risk``, ``change`` or
      ``probability``, whichever it has), ``reach``, ``cost_per_customer``,
      ``cost_per_period``, ``cost_fixed``;
    - ``"transitions.<from>.<to>"``: the probability of a move of the
      journey, set to the value in every segment and tenure piece; the stay
      in ``<from>`` gives up (or takes) the difference, so the other moves out
      of it keep their probabilities. The baseline moves with it.

    ``metric``: ``"net"`` (the plan's incremental net value for the modelled
    population against the baseline, what :func:`compare` calls "incremental
    net value") or any column of the comparison's summary (the plan's row:
    "retention at 12", "ROI", "CLV", ...).

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> save = js.Intervention("save", at=("active", "churned"),
    ...                        relative_risk=0.6, cost_per_customer=40)
    >>> t = js.tornado(j, js.Plan("p", [save]), {"save.relative_risk": (0.5, 0.8),
    ...                "save.cost_per_customer": (30, 60)}, periods=12)
    >>> list(t.table.index)
    ['save.relative_risk', 'save.cost_per_customer']
    """
    run = _Runner(journey, plan, metric, periods, accrual, discount_rate)
    if not isinstance(ranges, Mapping) or not ranges:
        raise InputError(
            "ranges must map inputs to (low, high), e.g. "
            f"{{'call.relative_risk': (0.5, 0.8)}}, got {ranges!r}"
        )
    rows = []
    for path, rng in ranges.items():
        p = _parse(journey, plan, path)
        if isinstance(rng, str | bytes) or not (
            isinstance(rng, Sequence) and len(rng) == 2
        ):
            raise InputError(f"ranges[{path!r}] must be (low, high), got {rng!r}")
        lo = _number(rng[0], f"ranges[{path!r}] low")
        hi = _number(rng[1], f"ranges[{path!r}] high")
        if lo > hi:
            raise InputError(f"ranges[{path!r}]: low {lo:g} is above high {hi:g}")
        low, high = run.at(p, lo), run.at(p, hi)
        rows.append(
            {
                "input": path,
                "low input": lo,
                "base input": _base_input(journey, plan, p),
                "high input": hi,
                "low": low,
                "base": run.base,
                "high": high,
                "swing": abs(high - low),
            }
        )
    table = (
        pd.DataFrame(rows)
        .set_index("input")
        .sort_values("swing", ascending=False, kind="stable")
    )
    return Tornado(
        table,
        metric,
        run.metric.column,
        run.base,
        periods,
        run.units,
        run.customers,
        tuple(run.streams),
    )


def _bracket(journey: Journey, plan: Plan, p: _Input, f, target: float):
    """The natural range of an input: shares in [0, 1], a move in [0, the
    most its stay allows], a cost from 0 up (doubling until the metric
    crosses the target, up to MAX_COST)."""
    if p.intervention is None:
        most = min(
            float(piece.value[p.source, p.source] + piece.value[p.source, p.target])
            for seg in journey.resolved.segments
            for piece in seg.transitions
        )
        return 0.0, most
    if p.field in ("relative_risk", "probability", "reach"):
        return 0.0, 1.0
    if p.field == "change":
        raise InputError(f"{p.path}: give bracket=(low, high) for a change")
    hi = max(1.0, 2 * _base_input(journey, plan, p))
    f0 = f(0.0) - target
    while hi < MAX_COST and np.sign(f(hi) - target) == np.sign(f0):
        hi *= 4
    return 0.0, min(hi, MAX_COST)


def threshold(
    journey: Journey,
    plan: Plan,
    parameter: str,
    metric: str = "net",
    target: float = 0.0,
    bracket: Sequence[float] | None = None,
    periods: int = 36,
    *,
    accrual: str = "start",
    discount_rate: float | None = None,
) -> float:
    """The value of ``parameter`` (an input path as in :func:`tornado`) at
    which the plan's ``metric`` equals ``target`` (by default: where the plan
    breaks even), by Brent's root finding (``scipy.optimize.brentq``) on
    exact comparisons, to about 1e-14 in the parameter.

    ``bracket`` is the (low, high) range searched; by default the input's
    natural range (shares and relative risks 0 to 1, a move 0 to what its
    stay allows, a cost from 0 up to where the metric crosses the target);
    a ``change`` needs one. The metric must be above the target at one end and
    below at the other (an InputError gives both values otherwise).

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> save = js.Intervention("save", at=("active", "churned"),
    ...                        relative_risk=0.6, cost_per_customer=40)
    >>> rr = js.threshold(j, js.Plan("p", [save]), "save.relative_risk", periods=12)
    >>> round(rr, 4)  # the save pays for itself below this relative risk
    0.887
    """
    run = _Runner(journey, plan, metric, periods, accrual, discount_rate)
    p = _parse(journey, plan, parameter)
    t = _number(target, "target")
    if bracket is None:
        lo, hi = _bracket(journey, plan, p, lambda x: run.at(p, x, quiet=True), t)
    else:
        if isinstance(bracket, str | bytes) or not (
            isinstance(bracket, Sequence) and len(bracket) == 2
        ):
            raise InputError(f"bracket must be (low, high), got {bracket!r}")
        lo, hi = (_number(b, "bracket") for b in bracket)
        if not lo < hi:
            raise InputError(f"bracket low {lo:g} must be below high {hi:g}")

    def gap(x: float) -> float:
        return run.at(p, x, quiet=bracket is None) - t

    f_lo, f_hi = gap(lo), gap(hi)
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    if np.sign(f_lo) == np.sign(f_hi):
        col = run.metric.column
        raise InputError(
            f"{parameter}: the plan's {col} is {f_lo + t:.6g} at {lo:g} and "
            f"{f_hi + t:.6g} at {hi:g}, both on one side of the target {t:g}: "
            "no break-even in that range; give another bracket="
        )
    # Loaded here, not with journeysim: scipy.optimize costs ~0.3 s to import.
    from scipy.optimize import brentq

    return float(brentq(gap, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps))
