"""Monte Carlo simulation of a journey: running it, and its results."""

from __future__ import annotations

import numbers
import os
import secrets
import signal
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _core

if TYPE_CHECKING:
    from .journey import Journey

__all__ = ["Simulation", "run_simulation"]

METHODS = {"individual": _core.Method.individual, "aggregate": _core.Method.aggregate}
RECORDS = (None, "customers", "events", "totals")
# Runs expected to take longer than this many customer-steps get a progress bar.
PROGRESS_STEPS = 300_000_000
EVENT_BYTES = 8 + 4 + 4 + 4  # customer, period, from, to
#: Most customers (starting cohort plus arrivals) a simulation may hold: counts
#: are 64-bit integers, with room for sums.
MAX_CUSTOMERS = 2**62


# -- Ctrl-C in every thread ------------------------------------------------------
#
# Python delivers SIGINT to the main thread only. A simulation running in the
# main thread sees KeyboardInterrupt in its polling loop and cancels the core; one
# running in another thread (a ThreadPoolExecutor, a web server) would carry on.
# So every running simulation registers its control here, and journeysim's
# SIGINT handler cancels them all before doing what the handler it replaced did
# (Python's default handler: raise KeyboardInterrupt in the main thread). It is
# installed on import, and again by a simulation started in the main thread, in
# place of Python's default handler only: a handler of the program's own is left
# alone (then only main-thread simulations stop on Ctrl-C).

# id(control) -> [control, cancelled by Ctrl-C], for the running simulations
_running: dict[int, list] = {}
_running_lock = threading.Lock()


def _cancel_all() -> None:
    with _running_lock:
        for entry in _running.values():
            entry[1] = True
            entry[0].cancel()


def _on_sigint(signum: int, frame: Any) -> None:
    """Ctrl-C: cancel every running simulation, in every thread, then raise
    KeyboardInterrupt as Python's default handler does."""
    _cancel_all()
    signal.default_int_handler(signum, frame)


def _install_sigint_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # pragma: no cover - not the main interpreter
        pass


_install_sigint_handler()


def _integer(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def run_simulation(
    journey: Journey,
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
) -> Simulation:
    """Validate the arguments, run the core in a worker thread (so that Ctrl-C
    and the progress bar stay responsive), and wrap the result."""
    from .journey import ACCRUALS

    customers = _integer(customers, "customers", 1, MAX_CUSTOMERS)
    periods = _integer(periods, "periods", 1, 10_000_000)
    replications = _integer(replications, "replications", 1)
    if threads is not None:
        threads = _integer(threads, "threads", 1, 4096)
    if seed is None:
        seed = secrets.randbits(64)
    seed = _integer(seed, "seed", 0, 2**64 - 1)
    if record not in RECORDS:
        raise ValueError(f"record must be one of {list(RECORDS)}, got {record!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if accrual not in ACCRUALS:
        raise ValueError(f"accrual must be one of {sorted(ACCRUALS)}, got {accrual!r}")
    if method == "aggregate" and record in ("customers", "events"):
        raise ValueError(
            f"record={record!r} needs individual customers: use method='individual'"
        )
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or None, got {progress!r}")

    per_customer = method == "individual" and record != "totals"
    arrivals = journey._arrivals_total(periods)
    people = customers + arrivals
    if people > MAX_CUSTOMERS:
        raise ValueError(
            f"{customers:,} customers plus {arrivals:,} arrivals over {periods} "
            f"periods exceed 2**62: counts are 64-bit integers"
        )
    capacity = getattr(journey, "_capacity", None) or []
    needs = dict(
        _core.simulation_memory(
            journey._core,
            customers,
            periods,
            replications,
            threads or 0,
            METHODS[method],
            per_customer,
            len(capacity),
        )
    )
    if record == "events":
        moves = _core.expected_moves(journey._core, periods)
        # per-block vectors, the merged arrays, the DataFrame
        needs[f"an event log of about {moves * people:,.0f} events"] = (
            moves * people * EVENT_BYTES * 2.5
        )
    _check_memory(needs, customers, method, record, bool(capacity))

    steps = people * periods * replications if method == "individual" else 0
    show = progress if progress is not None else steps >= PROGRESS_STEPS
    control = _core.SimulationControl()
    entry = [control, False]
    _install_sigint_handler()
    box: dict[str, Any] = {}
    # Waiting on an Event rather than on Thread.join: a join interrupted by Ctrl-C
    # can leave the thread looking finished while the core still runs.
    done = threading.Event()

    def work() -> None:
        try:
            box["result"] = _core.simulate(
                journey._core,
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
                getattr(journey, "_capacity", None) or [],
            )
        except BaseException as err:  # handed to the calling thread
            box["error"] = err
        finally:
            done.set()

    worker = threading.Thread(target=work, name="journeysim-simulate", daemon=True)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=max(steps, replications),
            unit="step",
            unit_scale=True,
            desc="simulate",
            leave=False,
        )
    with _running_lock:
        _running[id(control)] = entry
    worker.start()
    try:
        while not done.wait(0.05):
            if bar is not None:
                bar.n = control.steps_done if steps else bar.n
                bar.refresh()
    except KeyboardInterrupt:
        control.cancel()  # the core stops at its next block, within milliseconds
        while not done.wait(0.05):
            pass
        worker.join()
        raise
    finally:
        with _running_lock:
            _running.pop(id(control), None)
        if bar is not None:
            bar.close()
    if "error" in box:
        if entry[1]:
            # Ctrl-C, delivered to the main thread, stopped this one too.
            raise KeyboardInterrupt("simulation cancelled by Ctrl-C") from None
        raise box["error"]
    worker.join()
    return Simulation(
        box["result"],
        journey,
        seed=seed,
        method=method,
        accrual=accrual,
        customers=customers,
        events=record == "events",
    )


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
    avail = _available_memory()
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


class Simulation:
    """Results of :meth:`Journey.simulate`.

    Population figures (``occupancy``, ``value_by_period``) count everyone: the
    starting cohort and the customers who arrived. Per-customer figures
    (``value``, ``lifetime_within_horizon``, ``retention``) are for the starting
    cohort, so they estimate the same quantities as :meth:`Journey.analyze`.
    With several replications the tables are means over replications and
    :meth:`band` gives percentile bands; per-customer arrays and the event log
    are those of the first replication.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> s = j.simulate(10_000, periods=12, seed=1)
    >>> round(float(s.retention[12]), 3)  # exact: 0.9**12 = 0.282
    0.291
    >>> s.customers, s.periods
    (10000, 12)
    """

    def __init__(
        self,
        raw: dict,
        journey: Journey,
        *,
        seed: int,
        method: str,
        accrual: str,
        customers: int,
        events: bool = False,
    ) -> None:
        self._has_events = events
        self._raw = raw
        self._journey = journey
        self.seed = seed
        self.method = method
        self.accrual = accrual
        self.customers = customers
        self.replications, t1, _ = raw["occupancy"].shape
        self.periods = t1 - 1

    # -- labels -----------------------------------------------------------------

    @cached_property
    def _weights(self) -> np.ndarray:
        return np.asarray(self._journey._core.net_weights, dtype=float)

    def _with_net(self, a: np.ndarray) -> np.ndarray:
        """Append the net column (weighted sum of streams) on the last axis."""
        net = a @ self._weights if a.shape[-1] else np.zeros(a.shape[:-1])
        return np.concatenate([a, net[..., None]], axis=-1)

    @cached_property
    def _columns(self) -> pd.Index:
        return pd.Index([*self._journey.streams, "net"], name="stream")

    @cached_property
    def _stages(self) -> pd.Index:
        return pd.Index(self._journey.stages, name="stage")

    def _times(self) -> pd.RangeIndex:
        return pd.RangeIndex(self.periods + 1, name="period")

    def _periods(self) -> pd.RangeIndex:
        return pd.RangeIndex(1, self.periods + 1, name="period")

    # -- per replication arrays -------------------------------------------------

    @cached_property
    def _retention(self) -> np.ndarray:
        """R x (T+1) share of the starting cohort not absorbed."""
        coh = self._raw["cohort_occupancy"]
        mask = np.asarray(self._journey._core.absorbing)
        return 1.0 - coh[:, :, mask].sum(axis=2) / self.customers

    @cached_property
    def _values(self) -> np.ndarray:
        return self._with_net(self._raw["value_by_period"])

    # -- tables -----------------------------------------------------------------

    @cached_property
    def occupancy(self) -> pd.DataFrame:
        """Customers in each stage at t = 0..periods (everyone; mean over
        replications)."""
        occ = self._raw["occupancy"]
        data = occ[0] if self.replications == 1 else occ.mean(axis=0)
        return pd.DataFrame(data, index=self._times(), columns=self._stages)

    @cached_property
    def cohort_occupancy(self) -> pd.DataFrame:
        """Customers of the starting cohort in each stage at t = 0..periods."""
        occ = self._raw["cohort_occupancy"]
        data = occ[0] if self.replications == 1 else occ.mean(axis=0)
        return pd.DataFrame(data, index=self._times(), columns=self._stages)

    @cached_property
    def retention(self) -> pd.Series:
        """Share of the starting cohort not in an absorbing stage."""
        return pd.Series(
            self._retention.mean(axis=0), index=self._times(), name="retention"
        )

    @cached_property
    def value_by_period(self) -> pd.DataFrame:
        """Discounted value of everyone by calendar period (streams and net)."""
        return pd.DataFrame(
            self._values.mean(axis=0), index=self._periods(), columns=self._columns
        )

    @cached_property
    def value_by_period_nominal(self) -> pd.DataFrame:
        """Undiscounted value of everyone by calendar period."""
        v = self._with_net(self._raw["value_by_period_nominal"]).mean(axis=0)
        return pd.DataFrame(v, index=self._periods(), columns=self._columns)

    @cached_property
    def capacity(self) -> pd.DataFrame:
        """Per period (first replication) and capacity-limited intervention:
        customers who met it (``eligible``), were treated, and were treated for
        the first time. Empty without capacity limits."""
        names = getattr(self._journey, "_capacity_names", [])
        frames = {}
        for x, name in enumerate(names):
            frames[name] = pd.DataFrame(
                {
                    "eligible": self._raw["capacity_eligible"][0, :, x],
                    "treated": self._raw["capacity_treated"][0, :, x],
                    "first treated": self._raw["capacity_first_treated"][0, :, x],
                },
                index=self._periods(),
            )
        if not frames:
            return pd.DataFrame(index=self._periods())
        return pd.concat(frames, axis=1, names=["intervention", "count"])

    @cached_property
    def arrivals(self) -> pd.Series:
        """Customers who joined at t = 1..periods (first replication)."""
        return pd.Series(
            self._raw["arrivals"][0], index=self._periods(), name="arrivals"
        )

    @cached_property
    def value(self) -> pd.Series:
        """Mean discounted value per customer of the starting cohort over the
        horizon (streams and net): estimates ``analyze().value``."""
        v = self._with_net(self._raw["cohort_value"]).mean(axis=0) / self.customers
        return pd.Series(v, index=self._columns, name="value")

    @property
    def clv(self) -> float:
        return float(self.value["net"])

    @property
    def lifetime_within_horizon(self) -> float:
        """Mean periods the starting cohort spent in transient stages."""
        return float(self._raw["cohort_lifetime"].mean() / self.customers)

    @cached_property
    def standard_errors(self) -> pd.Series:
        """Monte Carlo standard errors of ``value`` (per stream and net),
        ``lifetime_within_horizon`` and the final ``retention``; individual
        method only (per-customer variances pooled over replications)."""
        n = self.customers * self.replications
        out: dict[str, float] = {}
        if self.method == "individual":
            s1 = self._with_net(self._raw["cohort_value"]).sum(axis=0)
            s2 = self._raw["cohort_value_sq"].sum(axis=0)
            for k, s in enumerate(self._columns):
                var = s2[k] / n - (s1[k] / n) ** 2
                out[s] = float(np.sqrt(max(var, 0.0) / n))
            l1 = self._raw["cohort_lifetime"].sum()
            l2 = self._raw["cohort_lifetime_sq"].sum()
            var = l2 / n - (l1 / n) ** 2
            out["lifetime_within_horizon"] = float(np.sqrt(max(var, 0.0) / n))
        r = float(self._retention[:, -1].mean())
        out["retention"] = float(np.sqrt(r * (1 - r) / n))
        return pd.Series(out, name="standard_error")

    # -- per customer -----------------------------------------------------------

    def _per_customer(self, key: str) -> np.ndarray:
        a = self._raw[key]
        if self.method != "individual" or (a.size == 0 and self.customers > 0):
            raise ValueError(
                "per-customer arrays need method='individual' and record other "
                "than 'totals'"
            )
        return a

    @property
    def lifetime(self) -> np.ndarray:
        """Periods each customer spent in transient stages within the horizon."""
        return self._per_customer("lifetime")

    @property
    def outcome(self) -> np.ndarray:
        """Absorbing stage index per customer, -1 if still active at the end."""
        return self._per_customer("outcome")

    @property
    def start_stage(self) -> np.ndarray:
        """Stage index each customer started in."""
        return self._per_customer("start_stage")

    def stage_log(self) -> pd.DataFrame:
        """The event log as stage changes, the start included: one row per
        customer joining (its start stage) and per move (the new stage), with
        the period from which the customer is there: what :func:`fit` reads
        (``kind="changes"``, censored at ``periods``)."""
        ev = self.events
        cats = pd.CategoricalDtype(self._journey.stages)
        start = pd.DataFrame(
            {
                "customer": np.arange(len(self.joined), dtype=np.int64),
                "period": self.joined,
                "stage": pd.Categorical.from_codes(self.start_stage, dtype=cats),
            }
        )
        moves = pd.DataFrame(
            {"customer": ev["customer"], "period": ev["period"], "stage": ev["to"]}
        )
        log = pd.concat([start, moves], ignore_index=True)
        return log.sort_values(["customer", "period"], kind="stable").reset_index(
            drop=True
        )

    @property
    def first_value(self) -> np.ndarray:
        """First period (from the customer's own start) in a value stage, -1 if
        never within the horizon."""
        return self._per_customer("first_value")

    @property
    def segment(self) -> np.ndarray:
        """Segment index per customer."""
        return self._per_customer("segment")

    @cached_property
    def customer_value(self) -> np.ndarray:
        """Discounted value per customer (customers x streams+net), discounted to
        the customer's own start."""
        return self._with_net(self._per_customer("customer_value"))

    @cached_property
    def joined(self) -> np.ndarray:
        """Period at which each customer joined (0 for the starting cohort)."""
        counts = np.concatenate([[self.customers], self._raw["arrivals"][0]])
        return np.repeat(np.arange(self.periods + 1, dtype=np.int32), counts)

    @cached_property
    def customers_table(self) -> pd.DataFrame:
        """One row per customer: joined, segment, lifetime, outcome, first
        value period and value per stream."""
        stages = np.array([*self._journey.stages, "active"], dtype=object)
        df = pd.DataFrame(
            {
                "joined": self.joined,
                "segment": pd.Categorical.from_codes(
                    self.segment.astype(int), self._journey.segments
                ),
                "lifetime": self.lifetime,
                "outcome": stages[self.outcome],
                "first_value": self.first_value,
            }
        )
        for k, s in enumerate(self._columns):
            df[s] = self.customer_value[:, k]
        df.index.name = "customer"
        return df

    @cached_property
    def events(self) -> pd.DataFrame:
        """The event log (first replication): one row per change of stage, with
        the period at which the customer is in the new stage."""
        raw = self._raw
        if not self._has_events:
            raise ValueError("no event log: simulate with record='events'")
        cats = pd.CategoricalDtype(self._journey.stages)
        return pd.DataFrame(
            {
                "customer": raw["event_customer"],
                "period": raw["event_period"],
                "from": pd.Categorical.from_codes(raw["event_from"], dtype=cats),
                "to": pd.Categorical.from_codes(raw["event_to"], dtype=cats),
            }
        )

    # -- spread over replications -----------------------------------------------

    def band(self, lo: float = 0.05, hi: float = 0.95, of: str = "retention"):
        """Mean and percentile band over replications, by period.

        ``of`` is ``"retention"`` (starting cohort), a stage name (customers in
        that stage), or a stream name or ``"net"`` (discounted value of everyone
        by period). Returns a DataFrame with columns ``mean``, ``lo`` quantile
        and ``hi`` quantile.
        """
        if not (0.0 <= lo < hi <= 1.0):
            raise ValueError(f"need 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")
        if of == "retention":
            data, index = self._retention, self._times()
        elif of in self._journey.stages:
            data = self._raw["occupancy"][:, :, self._journey.stages.index(of)]
            index = self._times()
        elif of in self._columns:
            data, index = (
                self._values[:, :, list(self._columns).index(of)],
                self._periods(),
            )
        else:
            raise ValueError(f"of must be 'retention', a stage or a stream, got {of!r}")
        data = np.asarray(data, dtype=float)
        return pd.DataFrame(
            {
                "mean": data.mean(axis=0),
                f"q{lo:g}": np.quantile(data, lo, axis=0),
                f"q{hi:g}": np.quantile(data, hi, axis=0),
            },
            index=index,
        )

    def plot_band(
        self, lo: float = 0.05, hi: float = 0.95, of: str = "retention", ax=None
    ):
        """The mean and the [lo, hi] band over replications; returns the Axes."""
        from .plot import band_plot

        return band_plot(self.band(lo, hi, of), ax=ax, ylabel=of)

    def summary(self) -> pd.Series:
        out = {
            f"retention at {self.periods}": float(self.retention.iloc[-1]),
            f"lifetime within {self.periods}": self.lifetime_within_horizon,
        }
        for s, v in self.value.items():
            out[f"value {s}"] = float(v)
        return pd.Series(out, name="simulated")

    def _repr_html_(self) -> str:
        from .display import table

        rows = list(self.summary().items())
        if self.method == "individual":
            for k, v in self.standard_errors.items():
                rows.append((f"standard error {k}", v))
        title = (
            f"Simulation ({self.method}): {self.customers:,} customers x "
            f"{self.periods} periods x {self.replications} replication(s), "
            f"seed {self.seed}"
        )
        return table(["figure", "value"], rows, title)

    def __repr__(self) -> str:
        return (
            f"<Simulation {self.method}: {self.customers:,} customers x "
            f"{self.periods} periods x {self.replications} replication(s), "
            f"seed={self.seed}>"
        )
