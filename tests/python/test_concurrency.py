"""Concurrency (docs/reliability.md, "Concurrency and resources"): analyze,
simulate and compare called from several Python threads at once give the same
results as sequential calls, bit for bit; the GIL is released during long work;
Ctrl-C stops the simulations of every thread within half a second."""

from __future__ import annotations

import signal
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import python_child
from journeysim import _core

ANALYSIS_FIELDS = [
    "occupancy",
    "population",
    "value_by_period",
    "population_value_by_period",
    "value",
    "value_infinite",
    "stage_value",
    "stage_value_infinite",
    "stage_lifetime",
    "absorption",
    "value_reached",
]


def journeys() -> list[js.Journey]:
    """Three different journeys: the demo (segments, tenure, arrivals), a
    chain with moves and values, and a small geometric one."""
    chain = js.Journey(
        ["new", "active", "at_risk", "churned"],
        {
            "new": {"active": 0.5, "churned": 0.1},
            "active": {"at_risk": 0.1},
            "at_risk": {"active": 0.3, "churned": 0.2},
        },
        values={"revenue": {"active": 100.0, "at_risk": 80.0}},
        transition_values={"revenue": {("*", "active"): -20.0}},
        discount_rate=0.01,
        arrivals=[50.0, 20.0, 10.0],
        value_stages="active",
    )
    geometric = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.05}},
        values={"revenue": {"active": 10.0}},
        arrivals=5.0,
    )
    return [js.default_journey(), chain, geometric]


def same_analysis(a: js.Analysis, b: js.Analysis) -> bool:
    return all(
        np.array_equal(
            np.asarray(getattr(a.raw, f)), np.asarray(getattr(b.raw, f)), equal_nan=True
        )
        for f in ANALYSIS_FIELDS
    ) and (a.expected_lifetime == b.expected_lifetime)


def same_simulation(a: js.Simulation, b: js.Simulation) -> bool:
    return all(
        np.array_equal(getattr(a._raw, k), getattr(b._raw, k)) for k in a._raw.arrays
    )


def test_analyze_from_several_threads_equals_sequential_calls():
    tasks = [
        (j, T, acc) for j in journeys() for T in (12, 36) for acc in ("start", "end")
    ]
    sequential = [j.analyze(T, accrual=acc) for j, T, acc in tasks]
    with ThreadPoolExecutor(4) as ex:
        # Every task three times, interleaved: the same journey in several threads.
        parallel = list(ex.map(lambda t: t[0].analyze(t[1], accrual=t[2]), tasks * 3))
    for k, result in enumerate(parallel):
        assert same_analysis(sequential[k % len(tasks)], result), tasks[k % len(tasks)]


def test_simulate_from_several_threads_equals_sequential_calls():
    tasks = [(j, seed, th) for j in journeys() for seed in (1, 2) for th in (1, 2)]

    def run(task):
        j, seed, th = task
        return j.simulate(20_000, 24, seed=seed, threads=th, replications=2)

    sequential = [run(t) for t in tasks]
    with ThreadPoolExecutor(4) as ex:
        parallel = list(ex.map(run, tasks * 2))
    for k, result in enumerate(parallel):
        assert same_simulation(sequential[k % len(tasks)], result), tasks[
            k % len(tasks)
        ]


def test_compare_from_several_threads_equals_sequential_calls():
    j = js.default_journey()
    first = j.stages[0]
    exits = [
        s for s in j.stages if j.transition_matrix.loc[first, s] > 0 and s != first
    ]
    plans = [
        js.Plan(
            "call", [js.Intervention("call", at=(first, exits[0]), relative_risk=0.7)]
        ),
        js.Plan(
            "reach",
            [
                js.Intervention(
                    "half", at=(first, exits[-1]), relative_risk=0.5, reach=0.5
                )
            ],
        ),
    ]
    kinds = [{}, {"customers": 5_000, "seed": 3}]

    def run(kw):
        return js.compare(j, plans, periods=24, **kw).summary

    sequential = [run(kw) for kw in kinds]
    with ThreadPoolExecutor(4) as ex:
        parallel = list(ex.map(run, kinds * 3))
    for k, summary in enumerate(parallel):
        pd.testing.assert_frame_equal(
            summary, sequential[k % len(kinds)], check_exact=True
        )


#: Most calls of a core function a GIL test makes before it gives up: a bound on
#: the test's length, reached only when the GIL is held.
ROUNDS = 100


@dataclass
class CoreWatch:
    """What ``watched_core`` saw: how often the core function was called, and
    whether another Python thread ran while it was running."""

    calls: int = 0
    seen: bool = False


@contextmanager
def watched_core(monkeypatch, name: str) -> Iterator[CoreWatch]:
    """Wraps ``_core.<name>`` for the duration of the block. A second Python
    thread waits until the core function has been entered and then checks, in
    Python, that it is still running. Forced GIL hand-overs are switched off
    meanwhile, so a thread waiting for the GIL gets it only when the holder
    blocks or runs C++ code that released it: with the GIL held, the second
    thread can run only after the core function has returned. The wrapper calls
    the core function again (at most ROUNDS times) until the second thread has
    had its turn: a thread the scheduler wakes late costs a round, not the test
    (a held GIL fails every round)."""
    core = getattr(_core, name)
    entered, seen = threading.Event(), threading.Event()
    running = [False]
    watch = CoreWatch()

    def wrapped(*args, **kwargs):
        for _ in range(ROUNDS):
            watch.calls += 1
            running[0] = True
            entered.set()
            try:
                result = core(*args, **kwargs)
            finally:
                running[0] = False
            if seen.is_set():
                break
        return result

    def observer():
        entered.wait()
        if running[0]:
            seen.set()

    monkeypatch.setattr(_core, name, wrapped)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    thread = threading.Thread(target=observer, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        sys.setswitchinterval(interval)
        entered.set()  # if the core function was never called
        thread.join(timeout=60)  # only against a hang
        watch.seen = seen.is_set()


def test_the_gil_is_released_while_simulating(monkeypatch):
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.001}})
    with watched_core(monkeypatch, "simulate") as watch:
        j.simulate(100_000, 100, seed=1, record="totals", threads=1, progress=False)
    assert watch.calls >= 1, "journeysim no longer calls _core.simulate"
    # With the GIL held, no other thread could run while the core simulated.
    assert watch.seen, f"no other thread ran during {watch.calls} simulations"


def test_the_gil_is_released_while_analysing(monkeypatch):
    rng = np.random.default_rng(1)
    n = 400  # dense: LU, and (T+1) products with a 400 x 400 matrix
    P = rng.random((n, n)) * 0.001
    P[:, -1] = 0.05
    np.fill_diagonal(P, 0.0)
    np.fill_diagonal(P, 1.0 - P.sum(axis=1))
    P[-1] = 0.0
    P[-1, -1] = 1.0
    j = js.Journey.from_matrix(P, stages=[f"s{i}" for i in range(n)])
    with watched_core(monkeypatch, "analyze") as watch:
        j.analyze(periods=100)
    assert watch.calls >= 1, "journeysim no longer calls _core.analyze"
    assert watch.seen, f"no other thread ran during {watch.calls} analyses"


# -- Ctrl-C ------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import concurrent.futures as cf
    import threading
    import journeysim as js
    from journeysim import _core

    core_simulate = _core.simulate
    started = [0]
    lock = threading.Lock()
    running = threading.Event()

    def simulate_core(*args):  # in journeysim's worker threads
        with lock:
            started[0] += 1
            if started[0] == 3:  # both simulations and compare's first
                running.set()
        return core_simulate(*args)

    _core.simulate = simulate_core
    # Customers move every period (a <-> b): minutes of work for either engine
    # (the sojourn engine's cost is per move).
    j = js.Journey(["a", "b", "churned"], {"a": {"b": 0.999, "churned": 0.001},
                                           "b": {"a": 0.999, "churned": 0.001}})
    plan = js.Plan("p", [js.Intervention("i", at=("a", "churned"),
                                         relative_risk=0.5)])

    def simulate(seed):
        return j.simulate(50_000_000, 500, seed=seed, record="totals", threads=1,
                          progress=False)

    def compare():
        return js.compare(j, [plan], periods=500, customers=20_000_000, seed=1,
                          threads=1, progress=False)

    ex = cf.ThreadPoolExecutor(3)
    # The main thread only waits: it asks for Ctrl-C to reach the runs of the
    # worker threads too (nothing is installed on import).
    with js.cancel_on_interrupt():
        futures = [ex.submit(simulate, 1), ex.submit(simulate, 2), ex.submit(compare)]
        try:
            running.wait()
            print("running", flush=True)  # from here on, Ctrl-C is caught below
            cf.wait(futures)  # the main thread waits: Ctrl-C arrives here
            print("finished", flush=True)
        except KeyboardInterrupt:
            done, pending = cf.wait(futures, timeout=60)  # only against a hang
            kinds = sorted(type(f.exception()).__name__ for f in done)
            print("stopped", len(done), len(pending), *kinds, flush=True)
            ex.shutdown()
    """
)


def test_ctrl_c_stops_the_simulations_of_every_thread():
    # Uninterrupted, each thread runs for minutes; the time from Ctrl-C to the
    # last thread stopped is measured by benchmarks/bench_limits.py.
    proc = python_child(CHILD)
    try:
        assert proc.stdout.readline().strip() == "running"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)  # only against a hang
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    words = out.split()
    assert words[:3] == ["stopped", "3", "0"], (out, err)
    # Every thread ends with KeyboardInterrupt, the compare() one included.
    assert words[3:] == ["KeyboardInterrupt"] * 3, (out, err)


def test_a_handler_of_the_program_s_own_is_left_alone():
    # journeysim replaces Python's default SIGINT handler only.
    def mine(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, mine)
    try:
        with js.cancel_on_interrupt():
            assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)


def test_importing_installs_no_handler_and_a_call_restores_it():
    # Nothing on import; a long call installs the handler for its duration
    # only, and Python's default handler is back afterwards.
    code = (
        "import signal, journeysim as js\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "j = js.default_journey()\n"
        "j.simulate(1000, 12, seed=1)\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "with js.cancel_on_interrupt():\n"
        "    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "print('ok')\n"
    )
    proc = python_child(code)
    out, err = proc.communicate(timeout=120)
    assert out.strip() == "ok", err


@pytest.mark.parametrize("method", ["individual", "aggregate"])
def test_a_simulation_cancelled_elsewhere_does_not_disturb_the_next(method):
    # The registry of running simulations empties as they end.
    from journeysim._base import interrupt

    j = js.default_journey()
    j.simulate(1000, 12, seed=1, method=method)
    assert interrupt._running == {}


def test_ctrl_c_between_the_simulations_of_a_compare_stops_it(monkeypatch):
    # Issue 13: Ctrl-C that reached a compare() in a worker thread while it was
    # in Python, between two simulations, found no simulation to cancel: the
    # next one ran to its end. Now the compare is cancelled as a whole: the
    # next simulation stops at once, with KeyboardInterrupt.
    from journeysim._base import interrupt
    from journeysim.plans import simulated

    ended = []
    paired = simulated._paired_units

    def paired_then_ctrl_c(*args, **kwargs):
        ended.append(1)  # a simulation has ended; Ctrl-C arrives now
        interrupt.cancel_all()
        return paired(*args, **kwargs)

    monkeypatch.setattr(simulated, "_paired_units", paired_then_ctrl_c)
    j = js.default_journey()
    plan = js.Plan(
        "p", [js.Intervention("i", at=("onboarding", "churned"), relative_risk=0.5)]
    )
    with ThreadPoolExecutor(1) as ex:
        run = ex.submit(
            js.compare, j, [plan, js.Plan("q", [])], 12, customers=1000, seed=1
        )
        with pytest.raises(KeyboardInterrupt):
            run.result(timeout=60)
    assert ended == [1]  # no simulation ended after Ctrl-C
    # The session ended with the compare: the next one runs.
    monkeypatch.undo()
    assert js.compare(j, [plan], 12, customers=1000, seed=1).method == "monte carlo"
