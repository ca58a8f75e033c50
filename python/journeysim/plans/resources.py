"""The memory a Monte Carlo comparison needs, sized before anything is
allocated: each plan's simulation is checked on its own by ``simulate``, but a
comparison keeps every plan's per-customer arrays and works on them in Python,
so its peak is several times any one simulation's."""

from __future__ import annotations

from dataclasses import dataclass

from .._base import system
from .._base.native import _core, core_errors
from ..model.apply_plan import AppliedPlan
from ..model.core_journey import core_capacity

__all__ = ["CompareMemory", "check_compare_memory", "compare_memory"]

#: Share of the available memory a comparison may plan to use (as simulate).
SHARE = 0.8
#: Bytes per customer that every plan's Simulation keeps besides the core's
#: arrays (the cached join period, int32).
KEPT_PER_CUSTOMER = 4


@dataclass(frozen=True)
class CompareMemory:
    """Bytes a comparison needs at its peak, by what for."""

    kept: float  # every plan's simulation: per-customer arrays, per-period tables
    engine: float  # one simulation's working memory at a time
    paired: float  # the per-customer figures paired between plans (Python)

    @property
    def total(self) -> float:
        return self.kept + self.engine + self.paired


def _per_customer_figures(streams: int, horizons: int) -> int:
    """Bytes per customer of one plan's paired figures (evaluate._paired_units):
    the values with net (streams + cost + net), retention at each horizon,
    lifetime, population value, the absorbed mask."""
    return 8 * (streams + 2) + 8 * horizons + 8 * 2 + 1


def compare_memory(
    applied: dict[str, AppliedPlan],
    *,
    customers: int,
    periods: int,
    replications: int,
    threads: int | None,
    horizons: int,
) -> CompareMemory:
    """The peak of ``compare(customers=...)``: every plan's simulation kept
    (the core's own estimate of its arrays and tables), the largest engine
    working set, and with one replication the per-customer figures paired
    between plans (a set per plan and the baseline's). Measured against this estimate in
    docs/reliability.md (1.13 times the real peak at three sizes)."""
    kept = engine = 0.0
    people = customers
    for a in applied.values():
        pj = a.journey
        with core_errors():
            need = dict(
                _core.simulation_memory(
                    pj.core,
                    customers,
                    periods,
                    replications,
                    threads or 0,
                    _core.Method.individual,
                    True,
                    len(core_capacity(pj.resolved.capacity)),
                )
            )
        people = customers + pj.resolved.arrivals.total(periods)
        kept += need.pop("per-customer arrays", 0.0) + need.pop(
            "per-period tables", 0.0
        )
        kept += KEPT_PER_CUSTOMER * people
        engine = max(engine, sum(need.values()))
    paired = 0.0
    if replications == 1:
        streams = len(next(iter(applied.values())).journey.streams) - 1
        # A set per plan (one plan's is freed before the next, but the memory
        # of freed arrays of a few MiB stays in the allocator's heap: the peak
        # grows with the plans, as measured) and one more, the baseline's,
        # kept for the pairing.
        per = _per_customer_figures(streams, horizons)
        paired = per * people * (len(applied) + 1)
    return CompareMemory(kept=kept, engine=engine, paired=paired)


def check_compare_memory(
    applied: dict[str, AppliedPlan],
    *,
    customers: int,
    periods: int,
    replications: int,
    threads: int | None,
    horizons: int,
) -> None:
    """MemoryError, before anything is allocated, when the comparison would
    need more than 80% of the memory available: the customers, the plans, the
    GiB needed and available, and how many customers would fit."""
    m = compare_memory(
        applied,
        customers=customers,
        periods=periods,
        replications=replications,
        threads=threads,
        horizons=horizons,
    )
    need = m.total
    if need < 2**28:  # 256 MiB: not worth reading /proc/meminfo
        return
    avail = system.available_memory()
    if need <= SHARE * avail:
        return
    fit = int(customers * 0.5 * avail / need)
    gib = 2**30
    plans = len(applied)
    advice = (
        f"at most {fit:,} customers per call (different seeds, adding up the totals)"
        if fit >= 1
        else "fewer periods or replications"
    )
    raise MemoryError(
        f"compare: {customers:,} customers x {plans} plans (baseline included) "
        f"would need about {need / gib:.1f} GiB at its peak (every plan's "
        f"simulation kept {m.kept / gib:.1f} GiB, per-customer figures paired "
        f"between plans {m.paired / gib:.1f} GiB, the engine {m.engine / gib:.1f} "
        f"GiB), more than the {avail / gib:.1f} GiB of memory available; use "
        f"{advice}, fewer plans per call, or the exact comparison (leave "
        "customers= out)"
    )
