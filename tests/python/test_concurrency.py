"""Concurrency (docs/reliability.md, "Concurrency and resources"): analyze,
simulate and compare called from several Python threads at once give the same
results as sequential calls, bit for bit; the GIL is released during long work;
Ctrl-C stops the simulations of every thread within half a second."""

from __future__ import annotations

import signal
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import python_child

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
            np.asarray(getattr(a._r, f)), np.asarray(getattr(b._r, f)), equal_nan=True
        )
        for f in ANALYSIS_FIELDS
    ) and (a.expected_lifetime == b.expected_lifetime)


def same_simulation(a: js.Simulation, b: js.Simulation) -> bool:
    return a._raw.keys() == b._raw.keys() and all(
        np.array_equal(a._raw[k], b._raw[k]) for k in a._raw
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


def _count_while(call) -> tuple[int, float, float]:
    """Runs ``call`` in this thread while a pure-Python counter runs in another:
    (increments during the call, its duration, the counter's rate alone)."""
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=counter)
    t.start()
    try:
        time.sleep(0.05)
        c0, t0 = count[0], time.perf_counter()
        time.sleep(0.1)  # the rate with nothing else holding the GIL
        rate = (count[0] - c0) / (time.perf_counter() - t0)
        c1, t1 = count[0], time.perf_counter()
        call()
        return count[0] - c1, time.perf_counter() - t1, rate
    finally:
        stop.set()
        t.join()


def test_the_gil_is_released_while_simulating():
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.001}})
    n, duration, rate = _count_while(
        lambda: j.simulate(1_000_000, 100, seed=1, record="totals", threads=1)
    )
    assert duration > 0.1
    # With the GIL held the counter could not move at all; released, it runs at
    # a good part of its own pace (the machine's cores are shared).
    assert n > 0.1 * rate * duration, (n, rate, duration)


def test_the_gil_is_released_while_analysing():
    rng = np.random.default_rng(1)
    n = 400  # dense: LU, and (T+1) products with a 400 x 400 matrix
    P = rng.random((n, n)) * 0.001
    P[:, -1] = 0.05
    np.fill_diagonal(P, 0.0)
    np.fill_diagonal(P, 1.0 - P.sum(axis=1))
    P[-1] = 0.0
    P[-1, -1] = 1.0
    j = js.Journey.from_matrix(P, stages=[f"s{i}" for i in range(n)])
    count, duration, rate = _count_while(lambda: j.analyze(periods=3000))
    assert duration > 0.05
    assert count > 0.1 * rate * duration, (count, rate, duration)


# -- Ctrl-C ------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import concurrent.futures as cf
    import time
    import journeysim as js

    j = js.Journey(["active", "churned"], {"active": {"churned": 0.001}})
    plan = js.Plan("p", [js.Intervention("i", at=("active", "churned"),
                                         relative_risk=0.5)])

    def simulate(seed):
        return j.simulate(50_000_000, 500, seed=seed, record="totals", threads=1,
                          progress=False)

    def compare():
        return js.compare(j, [plan], periods=500, customers=20_000_000, seed=1,
                          threads=1, progress=False)

    ex = cf.ThreadPoolExecutor(3)
    futures = [ex.submit(simulate, 1), ex.submit(simulate, 2), ex.submit(compare)]
    print("ready", flush=True)
    try:
        cf.wait(futures)  # the main thread waits: Ctrl-C arrives here
        print("finished", flush=True)
    except KeyboardInterrupt:
        t0 = time.monotonic()
        done, pending = cf.wait(futures, timeout=10)
        elapsed = time.monotonic() - t0
        kinds = sorted(type(f.exception()).__name__ for f in done)
        print("stopped", len(done), len(pending), f"{elapsed:.3f}", *kinds, flush=True)
        ex.shutdown()
    """
)


def test_ctrl_c_stops_the_simulations_of_every_thread(record_property):
    proc = python_child(CHILD)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        assert proc.poll() is None, "the simulations ended before the signal"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    words = out.split()
    assert words[:3] == ["stopped", "3", "0"], (out, err)
    latency = float(words[3])
    record_property("ctrl_c_threads_latency_s", latency)
    # Every thread ends with KeyboardInterrupt, the compare() one included.
    assert words[4:] == ["KeyboardInterrupt"] * 3, (out, err)
    # Measured in the child from KeyboardInterrupt to the last thread stopped.
    assert latency < 0.5, f"the threads stopped {latency:.3f} s after Ctrl-C"


def test_a_handler_of_the_program_s_own_is_left_alone():
    # journeysim replaces Python's default SIGINT handler only.
    from journeysim import simulation

    def mine(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, mine)
    try:
        simulation._install_sigint_handler()
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("method", ["individual", "aggregate"])
def test_a_simulation_cancelled_elsewhere_does_not_disturb_the_next(method):
    # The registry of running simulations empties as they end.
    from journeysim import simulation

    j = js.default_journey()
    j.simulate(1000, 12, seed=1, method=method)
    assert simulation._running == {}
