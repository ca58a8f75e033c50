"""Who a plan touches and what each intervention costs, exactly: customers
reached per intervention and in all (each customer counted once, however many
interventions touch it), the once-per-customer charges by calendar period, and
each intervention's own share of the plan's cost."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._base.errors import InputError
from .._base.native import _core, core_errors
from ..model.apply_plan import OnceCharge
from ..model.intervention import Plan
from ..model.journey import Journey

__all__ = [
    "Reach",
    "charge_discounts",
    "intervention_period_costs",
    "joining",
    "reach",
]

#: Where in period k = t + 1 a charge is booked, in periods after its start,
#: by accrual convention (docs/concepts.md, "Accrual conventions"): "start" at
#: its start, "end" at its end, "half-cycle" mid-period, and "life-table" as
#: heemod discounts cycle k, by (1 + r)^-(k - 1).
_BOOKED = {"start": 0.0, "end": 1.0, "half-cycle": 0.5, "life-table": 0.0}


@dataclass(frozen=True)
class Reach:
    """A plan's reach over a population (a starting cohort and, if counted,
    arrivals).

    ``reached`` and ``once_cost`` have one entry per intervention, in the
    plan's order (0 for one that touches nobody); ``distinct`` counts every
    customer touched by at least one intervention once; ``once_by_period`` is
    the discounted once-per-customer charge of each calendar period 1..T."""

    names: tuple[str, ...]
    reached: tuple[float, ...]
    once_cost: tuple[float, ...]
    distinct: float
    once_by_period: np.ndarray

    @property
    def once_total(self) -> float:
        return float(sum(self.once_cost))


def joining(pj: Journey, periods: int, n0: float, arrivals: bool = True) -> np.ndarray:
    """Customers starting their journey at t = 0..periods - 1: the cohort, then
    the arrivals (an arrival at t starts at tenure 0 in period t + 1)."""
    arr = pj.resolved.arrivals.per_period(periods) if arrivals else np.zeros(periods)
    return np.concatenate([[n0], arr[: periods - 1]])


def charge_discounts(accrual: str, rate: float, periods: int) -> np.ndarray:
    """The discount factor of a charge made in calendar period k = 1..T under
    ``accrual``, like every value of that period: (1 + r)^-(k - 1) for "start"
    and "life-table", (1 + r)^-k for "end", (1 + r)^-(k - 1/2) for
    "half-cycle"."""
    at = np.arange(periods, dtype=float) + _BOOKED[accrual]
    return (1.0 + rate) ** -at


def _calendar(per_tenure: np.ndarray, people: np.ndarray) -> np.ndarray:
    """What happens at each tenure of one customer, summed over everyone by
    calendar period 1..T: the cohort meets tenure tau in period tau + 1, an
    arrival at t in period t + tau + 1 (the truncated convolution)."""
    return np.convolve(people, per_tenure)[: len(per_tenure)]


def _window(entry: OnceCharge, periods: int) -> tuple[int, int]:
    a, b = entry.window
    until = periods if b is None else min(b, periods)
    return min(a, until), until


def _overflow(what: str) -> InputError:
    return InputError(
        f"{what} overflows double precision (about 1.8e308); state costs in "
        "larger units (thousands) or the cohort per thousand customers"
    )


def reach(
    pj: Journey,
    plan: Plan,
    once: tuple[OnceCharge, ...] | list[OnceCharge],
    periods: int,
    rate: float,
    n0: float,
    *,
    arrivals: bool = True,
    who: str = "",
    accrual: str = "start",
) -> Reach:
    """Customers reached and once-per-customer charges of ``plan`` on the
    plan's journey ``pj``, exactly, for a starting cohort of ``n0`` and (if
    ``arrivals``) the journey's arrivals.

    A customer of a touched sub-population is reached by an intervention the
    first time it starts a period in one of the intervention's stages within
    its tenure window, and pays ``cost_per_customer`` in that period,
    discounted like the period's values under ``accrual``
    (:func:`charge_discounts`). ``distinct`` is the probability of meeting at least
    one of the plan's interventions so, summed over the population: for each
    sub-population, the first tenure at which the customer is in the stages of
    any intervention active at that tenure (``first_visits_any`` in the core).
    """
    people = joining(pj, periods, n0, arrivals)
    disc = charge_discounts(accrual, rate, periods)
    names = tuple(iv.name for iv in plan.interventions)
    reached = dict.fromkeys(names, 0.0)
    cost = dict.fromkeys(names, 0.0)
    by_period = np.zeros(periods)
    distinct = 0.0
    by_segment: dict[int, list[OnceCharge]] = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for entry in once:
            by_segment.setdefault(entry.segment, []).append(entry)
            a, until = _window(entry, periods)
            g = np.zeros(periods)
            if until > a:
                with core_errors():
                    g[a:until] = _core.first_visits(
                        pj.core, entry.segment, list(entry.stages), a, until
                    )
            share = pj.core.share(entry.segment)
            count = share * _calendar(g, people)
            charge = entry.cost * count * disc
            total = float(charge.sum())
            if not (math.isfinite(total) and math.isfinite(by_period.sum() + total)):
                raise _overflow(
                    f"intervention {entry.intervention!r}: cost_per_customer "
                    f"{entry.cost:g} x about {float(count.sum()):.3g} customers "
                    f"reached ({who or f'a cohort of {n0:g}'}), discounted at "
                    f"{rate:g} a period,"
                )
            by_period += charge
            cost[entry.intervention] += total
            reached[entry.intervention] += float(count.sum())
        for segment, entries in by_segment.items():
            windows = [_window(e, periods) for e in entries]
            with core_errors():
                g = _core.first_visits_any(
                    pj.core,
                    segment,
                    [list(e.stages) for e in entries],
                    [w[0] for w in windows],
                    [w[1] for w in windows],
                    periods,
                )
            distinct += pj.core.share(segment) * float(_calendar(g, people).sum())
    return Reach(
        names=names,
        reached=tuple(reached[n] for n in names),
        once_cost=tuple(cost[n] for n in names),
        distinct=distinct,
        once_by_period=by_period,
    )


def intervention_period_costs(
    pj: Journey,
    plan: Plan,
    once: tuple[OnceCharge, ...] | list[OnceCharge],
    occupancy: list[np.ndarray],
    periods: int,
    rate: float,
    n0: float,
    *,
    arrivals: bool = True,
    accrual: str = "start",
) -> tuple[float, ...]:
    """Each intervention's per customer-period charges over the population,
    discounted: its ``cost_per_period`` for every customer of a sub-population
    it touches who is in its stages in a period of its window, counted and
    discounted like any value under ``accrual`` (the occupancy at the start of
    the period, at its end, or their average). ``occupancy`` is each
    sub-population's occupancy per customer by tenure (t = 0..T). They add up
    to the plan's cost stream."""
    per_period = {iv.name: iv.cost_per_period for iv in plan.interventions}
    people = joining(pj, periods, n0, arrivals)
    disc = charge_discounts(accrual, rate, periods)
    # Weights of the occupancy at the start and at the end of each period.
    w_start, w_end = {"start": (1.0, 0.0), "end": (0.0, 1.0)}.get(accrual, (0.5, 0.5))
    out = dict.fromkeys(per_period, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        for entry in once:
            c = per_period[entry.intervention]
            if not c:
                continue
            a, until = _window(entry, periods)
            present = np.zeros(periods)
            occ = occupancy[entry.segment][:, list(entry.stages)].sum(axis=1)
            # Period k = t + 1 runs at tenure t: the charge is the window's.
            present[a:until] = w_start * occ[a:until] + w_end * occ[a + 1 : until + 1]
            share = pj.core.share(entry.segment)
            out[entry.intervention] += float(
                (c * share * _calendar(present, people) * disc).sum()
            )
    return tuple(out[iv.name] for iv in plan.interventions)
