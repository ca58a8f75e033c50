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

__all__ = ["Reach", "intervention_period_costs", "joining", "reach"]


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
) -> Reach:
    """Customers reached and once-per-customer charges of ``plan`` on the
    plan's journey ``pj``, exactly, for a starting cohort of ``n0`` and (if
    ``arrivals``) the journey's arrivals.

    A customer of a touched sub-population is reached by an intervention the
    first time it starts a period in one of the intervention's stages within
    its tenure window (and pays ``cost_per_customer`` then, discounted like
    start-of-period value). ``distinct`` is the probability of meeting at least
    one of the plan's interventions so, summed over the population: for each
    sub-population, the first tenure at which the customer is in the stages of
    any intervention active at that tenure (``first_visits_any`` in the core).
    """
    d = 1.0 / (1.0 + rate)
    people = joining(pj, periods, n0, arrivals)
    disc = d ** np.arange(periods)
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
) -> tuple[float, ...]:
    """Each intervention's per customer-period charges over the population,
    discounted (paid at the start of a period): its ``cost_per_period`` for
    every customer of a sub-population it touches who starts a period in its
    stages within its window. ``occupancy`` is each sub-population's occupancy
    per customer by tenure (t = 0..T). They add up to the plan's cost stream."""
    per_period = {iv.name: iv.cost_per_period for iv in plan.interventions}
    people = joining(pj, periods, n0, arrivals)
    disc = (1.0 + rate) ** -np.arange(periods, dtype=float)
    out = dict.fromkeys(per_period, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        for entry in once:
            c = per_period[entry.intervention]
            if not c:
                continue
            a, until = _window(entry, periods)
            present = np.zeros(periods)
            occ = occupancy[entry.segment]
            present[a:until] = occ[a:until][:, list(entry.stages)].sum(axis=1)
            share = pj.core.share(entry.segment)
            out[entry.intervention] += float(
                (c * share * _calendar(present, people) * disc).sum()
            )
    return tuple(out[iv.name] for iv in plan.interventions)
