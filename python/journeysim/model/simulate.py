"""Running a Monte Carlo simulation of a journey: the arguments checked, the
memory it needs checked before anything is allocated, the core run in a worker
thread (so that Ctrl-C and the progress bar stay responsive), the result
wrapped as a :class:`~journeysim.results.simulation.Simulation`."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

from .._base import interrupt, system
from .._base.checks import check_integer
from .._base.conventions import ACCRUALS, accrual_of
from .._base.errors import InputError
from .._base.native import _core, core_errors
from ..results.simulation import Simulation
from .core_journey import core_capacity

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .._base.resolved import JourneyLike

__all__ = [
    "MAX_CUSTOMERS",
    "MAX_REPLICATIONS",
    "MAX_SEED",
    "MAX_SIMULATED_PERIODS",
    "MAX_THREADS",
    "paired_engine",
    "run_simulation",
]


METHODS = {"individual": _core.Method.individual, "aggregate": _core.Method.aggregate}
#: How the individual method draws paths: per stay (default) or per period.
ENGINES = {"sojourn": _core.Engine.sojourn, "period": _core.Engine.period}
RECORDS = (None, "customers", "events", "totals")
# Runs expected to take longer than this many customer-steps get a progress bar.
PROGRESS_STEPS = 300_000_000
EVENT_BYTES = 8 + 4 + 4 + 4  # customer, period, from, to
#: Most customers (starting cohort plus arrivals) a simulation may hold: counts
#: are 64-bit integers, with room for sums.
MAX_CUSTOMERS = 2**62
#: The core counts replications, periods and threads in C ints: bounds checked
#: here, so that a larger number is an InputError naming the argument rather
#: than the bindings' TypeError.
MAX_REPLICATIONS = 2**31 - 1
MAX_SIMULATED_PERIODS = 10_000_000
MAX_THREADS = 4096
MAX_SEED = 2**64 - 1


def run_simulation(
    journey: JourneyLike,
    customers: int,
    periods: int,
    *,
    seed: int | None,
    replications: int,
    threads: int | None,
    record: str | None,
    progress: bool | None,
    method: str,
    accrual: str,
    engine: str = "sojourn",
) -> Simulation:
    """Validate the arguments, run the core in a worker thread (so that Ctrl-C
    and the progress bar stay responsive), and wrap the result."""
    customers = check_integer(customers, "customers", 1, MAX_CUSTOMERS)
    periods = check_integer(periods, "periods", 1, MAX_SIMULATED_PERIODS)
    replications = check_integer(replications, "replications", 1, MAX_REPLICATIONS)
    if threads is not None:
        threads = check_integer(threads, "threads", 1, MAX_THREADS)
    if seed is None:
        seed = secrets.randbits(64)
    seed = check_integer(seed, "seed", 0, MAX_SEED)
    if record not in RECORDS:
        raise InputError(f"record must be one of {list(RECORDS)}, got {record!r}")
    if method not in METHODS:
        raise InputError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if not isinstance(engine, str) or engine not in ENGINES:
        raise InputError(
            f"engine must be one of {sorted(ENGINES)}, got {engine!r}",
            key=("engine",),
        )
    accrual_of(accrual)
    if method == "aggregate" and record in ("customers", "events"):
        raise InputError(
            f"record={record!r} needs individual customers: use method='individual'"
        )
    if progress is not None and not isinstance(progress, bool):
        raise InputError(f"progress must be True, False or None, got {progress!r}")

    per_customer = method == "individual" and record != "totals"
    arrivals = journey.resolved.arrivals.total(periods)
    people = customers + arrivals
    if people > MAX_CUSTOMERS:
        raise InputError(
            f"{customers:,} customers plus {arrivals:,} arrivals over {periods} "
            f"periods exceed 2**62: counts are 64-bit integers"
        )
    capacity = core_capacity(journey.resolved.capacity)
    with core_errors():
        memory = _core.simulation_memory(
            journey.core,
            customers,
            periods,
            replications,
            threads or 0,
            METHODS[method],
            per_customer,
            len(capacity),
        )
    needs = dict(memory)
    if record == "events":
        with core_errors():
            moves = _core.expected_moves(journey.core, periods)
        # per-block vectors, the merged arrays, the DataFrame
        needs[f"an event log of about {moves * people:,.0f} events"] = (
            moves * people * EVENT_BYTES * 2.5
        )
    _check_memory(needs, customers, method, record, bool(capacity))

    steps = people * periods * replications if method == "individual" else 0
    show = progress if progress is not None else steps >= PROGRESS_STEPS
    control = _core.SimulationControl()
    # What the worker thread hands back: the core's result or its error.
    outcome: Future = Future()
    # Waiting on an Event rather than on Thread.join: a join interrupted by Ctrl-C
    # can leave the thread looking finished while the core still runs.
    done = threading.Event()

    def work() -> None:
        try:
            result = _core.simulate(
                journey.core,
                customers,
                periods,
                seed,
                replications,
                threads or 0,
                ACCRUALS[accrual],
                METHODS[method],
                per_customer,
                record == "events",
                control,
                capacity,
                ENGINES[engine],
            )
            outcome.set_result(result)
        except BaseException as err:  # handed to the calling thread
            outcome.set_exception(err)
        finally:
            done.set()

    worker = threading.Thread(target=work, name="journeysim-simulate", daemon=True)
    bar = None
    if show:
        from tqdm.auto import tqdm  # loaded only when a bar is shown

        bar = tqdm(
            total=max(steps, replications),
            unit="step",
            unit_scale=True,
            desc="simulate",
            leave=False,
        )
    with interrupt.running(control) as entry:
        try:
            # Started inside the try: a Ctrl-C arriving while the thread
            # starts still cancels and joins it.
            worker.start()
            while not done.wait(0.05):
                if bar is not None:
                    bar.n = control.steps_done if steps else bar.n
                    bar.refresh()
        except KeyboardInterrupt:
            control.cancel()  # the core stops at its next block, within milliseconds
            if worker.ident is not None:  # the thread was started: wait for it
                while not done.wait(0.05):
                    pass
                worker.join()
            raise
        finally:
            if bar is not None:
                bar.close()
    error = outcome.exception()
    if error is not None:
        if entry.cancelled_by_ctrl_c:
            # Ctrl-C, delivered to the main thread, stopped this one too.
            raise KeyboardInterrupt("simulation cancelled by Ctrl-C") from None
        if isinstance(error, ValueError):  # the core's: bad input
            with core_errors():
                raise error
        raise error
    worker.join()
    return Simulation(
        outcome.result(),
        journey,
        seed=seed,
        method=method,
        accrual=accrual,
        customers=customers,
        events=record == "events",
    )


def paired_engine(journeys: Iterable[JourneyLike]) -> str:
    """The engine for simulations compared customer by customer (plans of one
    comparison): "period" when any journey has capacity or calendar rules
    (they run period by period on the per-period engine's random numbers), so
    that every plan meets the same numbers; else "sojourn"."""
    return "period" if any(j.resolved.capacity for j in journeys) else "sojourn"


def _check_memory(
    needs: dict[str, float],
    customers: int,
    method: str,
    record: str | None,
    capacity: bool = False,
) -> None:
    """MemoryError, before anything is allocated, when the simulation would need
    more than 80% of the memory available: what for, and what to do instead."""
    need = sum(needs.values())
    if need < 2**28:  # 256 MiB: not worth reading /proc/meminfo
        return
    avail = system.available_memory()
    if need <= 0.8 * avail:
        return
    parts = ", ".join(
        f"{what} {n / 2**30:.1f} GiB"
        for what, n in sorted(needs.items(), key=lambda kv: -kv[1])
        if n >= 0.01 * need
    )
    # Customers that would fit, everything else equal (per-customer costs scale).
    fixed = needs.get("per-period tables", 0.0)
    fit = int(customers * max(0.5 * avail - fixed, 0.0) / max(need - fixed, 1.0))
    advice = []
    if method == "individual" and record == "events":
        advice.append("record=None or 'totals' (no event log)")
    elif method == "individual" and record != "totals":
        advice.append("record='totals' (no per-customer arrays)")
    if method == "individual" and not capacity:
        advice.append(
            "method='aggregate' (cohort counts: memory does not grow with customers)"
        )
    if fit >= 1:
        advice.append(
            f"fewer customers per call: chunks of at most {fit:,} customers with "
            "different seeds, adding up their totals"
        )
    else:
        advice.append("fewer periods or replications")
    raise MemoryError(
        f"this simulation would need about {need / 2**30:.1f} GiB ({parts}), more "
        f"than the {avail / 2**30:.1f} GiB of memory available; use "
        + ", or ".join(advice)
    )
