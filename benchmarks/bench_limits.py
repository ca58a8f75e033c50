"""Limits and responsiveness: the timings the test suite used to assert, measured
here instead (docs/reliability.md states them; the tests check what happens, not
how long it takes).

In one run:

- big exact analyses: 2,000 tenure-expanded stages over 36 periods (the journey
  of ``test_two_thousand_tenure_expanded_stages``), and a two-stage journey with
  arrivals over 10,000, 20,000 and 40,000 periods side by side (running sums:
  the time should double with the periods, not quadruple);
- ``method="aggregate"`` for 10**9 customers x 36 periods of the demo journey;
- requests beyond memory: the time from the call to the MemoryError (they must
  be refused before any work);
- the GIL: the pace of a pure-Python counter in another thread while
  ``simulate`` and ``analyze`` run, against its pace alone;
- Ctrl-C: a child interpreter is sent SIGINT as soon as its core has started,
  and 1 s later; the time until KeyboardInterrupt reaches the caller with the
  worker thread joined, until the child has exited, and (two simulations and
  a ``compare`` in three worker threads) until the last thread has stopped;
  also a per-customer run (its arrays of 50 million customers are filled
  first) and a ``compare`` in a worker thread interrupted while it is in
  Python between two simulations (issue 13);
- the memory of ``compare(customers=...)``: its estimate (the refusal's) beside
  the peak resident memory a child process really reaches, at three sizes.

Writes the section "## Limits and responsiveness (bench_limits.py)" of
benchmarks/RESULTS.md (other sections of that file are kept).

Run: .venv/bin/python benchmarks/bench_limits.py [--no-write]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

import journeysim as js
from journeysim import _core
from results_file import RESULTS, cpu_model, write_section

SECTION = "## Limits and responsiveness (bench_limits.py)"
REPEAT = 3  # best of, for the analyses and the aggregate run
REFUSALS = 5  # calls per refusal (median and worst reported)
CTRL_C = 5  # children per Ctrl-C case and delay (the median is held to the target)
DELAYS = (0.0, 1.0)  # seconds from "running" to SIGINT: at the start, and well in
PERIODS = (10_000, 20_000, 40_000)
TARGETS = {  # seconds, except the GIL share
    "stages_2000": 5.0,
    "periods_10000": 2.0,
    "doubling": 3.0,  # time(2T) / time(T): linear is 2, quadratic 4
    "aggregate": 5.0,
    "refusal": 0.5,
    "gil_share": 0.1,  # of the counter's own pace
    "ctrl_c": 0.5,
    "ctrl_c_exit": 1.5,
    "memory_over": 1.5,  # compare's estimate / its real peak: never below 1
}

# -- timing ---------------------------------------------------------------------


def seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def best(fn, repeat: int = REPEAT) -> float:
    return min(seconds(fn) for _ in range(repeat))


# -- big exact analyses ----------------------------------------------------------


def churn_at(k):
    return 0.01 + 0.05 * np.exp(-k / 50.0)


def tenure_expanded(n: int = 2000) -> tuple[np.ndarray, list[str], dict]:
    """Stages "active at tenure k" for k < n - 1, the last stage absorbing: the
    expansion of a two-stage journey whose churn falls with tenure."""
    stages = [f"t{k}" for k in range(n - 1)] + ["churned"]
    P = np.zeros((n, n))
    for k in range(n - 2):
        P[k, k + 1] = 1 - churn_at(k)
        P[k, n - 1] = churn_at(k)
    P[n - 2, n - 2] = 1 - churn_at(n - 2)
    P[n - 2, n - 1] = churn_at(n - 2)
    P[n - 1, n - 1] = 1.0
    return P, stages, {"revenue": {s: 10.0 for s in stages[:-1]}}


def big_analyses() -> dict:
    P, stages, values = tenure_expanded()

    def expanded():
        j = js.Journey.from_matrix(P, stages=stages, values=values, discount_rate=0.01)
        return j.analyze(periods=36)

    arrivals = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.001}},
        values={"revenue": {"active": 1.0}},
        arrivals=1000.0,
    )
    runs = {"stages_2000": expanded}
    for T in PERIODS:
        runs[T] = lambda T=T: arrivals.analyze(periods=T)
    for f in runs.values():  # warm-up
        f()
    samples: dict = {k: [] for k in runs}
    for _ in range(REPEAT):  # alternately, so that drift hits them alike
        for k, f in runs.items():
            samples[k].append(seconds(f))
    return {k: min(v) for k, v in samples.items()}


def aggregate_billion() -> float:
    j = js.default_journey()

    def run():
        return j.simulate(10**9, 36, seed=5, method="aggregate", progress=False)

    run()
    return best(run)


# -- refusals --------------------------------------------------------------------


def refusal_cases() -> dict:
    churn = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.01}},
        values={"revenue": {"active": 1.0}, "cost": {"active": 0.2}},
    )
    flip_flop = js.Journey(
        ["x", "y", "end"], {"x": {"y": 0.5}, "y": {"x": 0.5, "end": 1e-6}}
    )
    n = 2000
    P = np.zeros((n, n))
    for k in range(n - 2):
        P[k, k + 1], P[k, n - 1] = 0.9, 0.1
    P[n - 2, n - 2], P[n - 2, n - 1] = 0.9, 0.1
    P[n - 1, n - 1] = 1.0
    wide = js.Journey.from_matrix(P, stages=[f"s{k}" for k in range(n)])
    # Tens of GB: run only where they are beyond memory (else they would run).
    wide_fits = _core.analysis_memory(wide._core, 10**6) < _core.available_memory()
    cases = {
        "10^12 customers, per-customer arrays": lambda: churn.simulate(
            10**12, 120, seed=1
        ),
        "10^15 customers with an event log": lambda: churn.simulate(
            10**15, 12, seed=1, record="events"
        ),
        "an event log of 10^7 customers x 10,000 periods": lambda: flip_flop.simulate(
            10**7, 10_000, seed=1, record="events"
        ),
        "aggregate, 10^7 periods x 1,000 replications": lambda: churn.simulate(
            100, 10_000_000, seed=1, replications=1000, method="aggregate"
        ),
        "analysis of 2,000 stages over 10^6 periods": lambda: wide.analyze(
            periods=1_000_000
        ),
        "sensitivities of 2,000 stages over 10^6 periods": lambda: (
            wide.moments_of_truth("lifetime", horizon=1_000_000)
        ),
    }
    if wide_fits:  # pragma: no cover - a very big machine
        for name in list(cases)[-2:]:
            cases[name] = None
    return cases


def refusals() -> dict:
    """Median and worst seconds from the call to the MemoryError; None where
    the call was not refused (a machine with the memory for it)."""
    out = {}
    for name, call in refusal_cases().items():
        times = []
        for _ in range(REFUSALS if call is not None else 0):
            t = time.perf_counter()
            try:
                call()
            except MemoryError:
                times.append(time.perf_counter() - t)
            else:
                break
        out[name] = (statistics.median(times), max(times)) if times else None
    return out


# -- the GIL ---------------------------------------------------------------------


def counter_share(call) -> tuple[float, float]:
    """The pace of a pure-Python counter in another thread while ``call`` runs,
    as a share of its pace with nothing else running; and the call's seconds."""
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
        time.sleep(0.2)
        alone = (count[0] - c0) / (time.perf_counter() - t0)
        c1, t1 = count[0], time.perf_counter()
        call()
        duration = time.perf_counter() - t1
        beside = (count[0] - c1) / duration
        return beside / alone, duration
    finally:
        stop.set()
        t.join()


def gil() -> dict:
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.001}})
    rng = np.random.default_rng(1)
    n = 400
    P = rng.random((n, n)) * 0.001
    P[:, -1] = 0.05
    np.fill_diagonal(P, 0.0)
    np.fill_diagonal(P, 1.0 - P.sum(axis=1))
    P[-1] = 0.0
    P[-1, -1] = 1.0
    dense = js.Journey.from_matrix(P, stages=[f"s{i}" for i in range(n)])
    return {
        "simulate, 10^6 customers x 100 periods, 1 thread": counter_share(
            lambda: j.simulate(
                1_000_000, 100, seed=1, record="totals", threads=1, progress=False
            )
        ),
        "analyze, 400 dense stages x 3,000 periods": counter_share(
            lambda: dense.analyze(periods=3000)
        ),
    }


# -- Ctrl-C ----------------------------------------------------------------------

# Both children print "running" once their cores have started and the main
# thread waits where Ctrl-C is caught, and, on KeyboardInterrupt, the monotonic
# clock (system-wide on Linux, so comparable with this process's) once
# everything has stopped.
ONE = textwrap.dedent(
    """
    import threading, time
    import tqdm.auto
    import journeysim as js
    from journeysim import _core

    # "running" once the core has started and the calling thread waits in its
    # polling loop (where it refreshes the progress bar).
    started = threading.Event()
    core_simulate = _core.simulate

    def simulate(*args):
        started.set()
        return core_simulate(*args)

    class Bar:
        def __init__(self, *args, **kwargs):
            self.n, self.said = 0, False

        def refresh(self):
            if started.is_set() and not self.said:
                self.said = True
                print("running", flush=True)

        def close(self):
            pass

    _core.simulate = simulate
    tqdm.auto.tqdm = Bar
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.01}})
    try:
        j.simulate(50_000_000, 120, seed=1, record="totals", threads=2, progress=True)
    except KeyboardInterrupt:
        print("stopped", time.monotonic(), threading.active_count(), flush=True)
        raise
    print("finished", flush=True)
    """
)

# The same run keeping per-customer arrays (record=None): the core first fills
# 650 MB of them, which used to take most of a second without a check.
PER_CUSTOMER = ONE.replace('record="totals", threads=2', "threads=2")

# A compare in a worker thread, SIGINT while it is in Python between its two
# simulations ("running" is said as the first one has ended): nothing was
# running to cancel, so the next simulation used to run to its end.
BETWEEN = textwrap.dedent(
    """
    import concurrent.futures as cf, time
    import journeysim as js
    from journeysim.plans import evaluate

    paired = evaluate._paired_units
    said = [False]

    def hooked(*args, **kwargs):
        if not said[0]:
            said[0] = True
            print("running", flush=True)
        return paired(*args, **kwargs)

    evaluate._paired_units = hooked
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.001}})
    plan = js.Plan("p", [js.Intervention("i", at=("active", "churned"),
                                         relative_risk=0.5)])
    ex = cf.ThreadPoolExecutor(1)
    with js.cancel_on_interrupt():
        future = ex.submit(js.compare, j, [plan], periods=200, customers=2_000_000,
                           seed=1, threads=1, progress=False)
        try:
            cf.wait([future])
            print("finished", flush=True)
        except KeyboardInterrupt:
            done, pending = cf.wait([future], timeout=60)
            print("stopped", time.monotonic(), len(pending), flush=True)
            ex.shutdown()
    """
)

THREE = textwrap.dedent(
    """
    import concurrent.futures as cf, threading, time
    import journeysim as js
    from journeysim import _core

    core_simulate = _core.simulate
    started = [0]
    lock = threading.Lock()
    running = threading.Event()

    def simulate_core(*args):
        with lock:
            started[0] += 1
            if started[0] == 3:
                running.set()
        return core_simulate(*args)

    _core.simulate = simulate_core
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
    with js.cancel_on_interrupt():  # Ctrl-C reaches the worker threads' runs
        futures = [ex.submit(simulate, 1), ex.submit(simulate, 2), ex.submit(compare)]
        try:
            running.wait()
            print("running", flush=True)
            cf.wait(futures)
            print("finished", flush=True)
        except KeyboardInterrupt:
            done, pending = cf.wait(futures, timeout=60)
            print("stopped", time.monotonic(), len(pending), flush=True)
            ex.shutdown()
    """
)


def interrupt(code: str, last: str, delay: float) -> tuple[float, float]:
    """Seconds from SIGINT (sent ``delay`` seconds after the child said
    "running") to "stopped" in the child, and to the child's exit; the child's
    last word after "stopped <time>" must be ``last`` (threads left, or futures
    pending)."""
    package = os.path.dirname(os.path.dirname(js.__file__))
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package, path) if p)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline().strip()
        if line != "running":
            raise SystemExit(f"the child said {line!r}: {proc.stderr.read()[-500:]}")
        time.sleep(delay)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        exited = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    words = out.split()
    if len(words) != 3 or words[0] != "stopped" or words[2] != last:
        raise SystemExit(f"the child did not stop as expected: {out!r} {err[-500:]!r}")
    return float(words[1]) - t0, exited


def ctrl_c() -> dict:
    """(case, delay) -> {"stopped": [...], "exited": [...]} seconds; the
    delays take turns."""
    out = {}
    for name, code, last in (
        ("one", ONE, "1"),
        ("per-customer", PER_CUSTOMER, "1"),
        ("three", THREE, "0"),
        ("between", BETWEEN, "0"),
    ):
        delays = (0.0,) if name == "between" else DELAYS
        for d in delays:
            out[name, d] = {"stopped": [], "exited": []}
        for _ in range(CTRL_C):
            for d in delays:
                stopped, exited = interrupt(code, last, d)
                out[name, d]["stopped"].append(stopped)
                out[name, d]["exited"].append(exited)
    return out


# -- the report ------------------------------------------------------------------


CASES = {
    "one": "`simulate` on 2 core threads, in the main thread",
    "per-customer": "`simulate` keeping per-customer arrays (50 million customers)",
    "three": "two `simulate` and a `compare` in 3 worker threads",
    "between": "a `compare` in a worker thread, between its simulations",
}


def when(delay: float, name: str = "") -> str:
    if name == "between":
        return "as the first simulation ends"
    return "as the cores start" if delay == 0 else f"{delay:g} s in"


# -- the memory of compare ----------------------------------------------------------

# (customers, plans besides the baseline): arrays below and above glibc's
# largest mmap threshold (32 MiB), two to five plans.
COMPARE_SIZES = ((1_000_000, 1), (2_000_000, 3), (8_000_000, 1))

COMPARE_MEMORY = textwrap.dedent(
    """
    import os, resource, sys
    import psutil
    import journeysim as js
    from journeysim.model.apply_plan import apply_plan
    from journeysim.plans.resources import compare_memory

    n, k = int(sys.argv[1]), int(sys.argv[2])
    j = js.default_journey()
    plans = [js.Plan(f"p{i}", [js.Intervention(f"i{i}", at=j.stages[0],
             relative_risk=0.5 + 0.1 * i, cost_per_customer=10)]) for i in range(k)]
    applied = {p.name: apply_plan(j, p, cost_rate=0.0, simulate=True)
               for p in [js.Plan("baseline", []), *plans]}
    estimate = compare_memory(applied, customers=n, periods=36, replications=1,
                              threads=2, horizons=1).total
    js.compare(j, plans, 36, customers=1000, seed=1, progress=False)  # warm
    start = psutil.Process(os.getpid()).memory_info().rss
    js.compare(j, plans, 36, customers=n, seed=1, threads=2, progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(estimate, peak - start)
    """
)


def compare_memory() -> dict:
    """(customers, plans with the baseline) -> (estimate, measured peak over
    the memory before the call), bytes; each in a fresh child process (the
    peak resident memory of a process only grows)."""
    package = os.path.dirname(os.path.dirname(js.__file__))
    env = {**os.environ, "PYTHONPATH": package}
    out = {}
    for n, k in COMPARE_SIZES:
        run = subprocess.run(
            [sys.executable, "-c", COMPARE_MEMORY, str(n), str(k)],
            env=env,
            text=True,
            capture_output=True,
            check=True,
        )
        estimate, peak = map(float, run.stdout.split())
        out[n, k + 1] = (estimate, peak)
    return out


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def ms(x: float) -> str:
    """Seconds, written in µs, ms or s."""
    if x < 1e-3:
        return f"{x * 1e6:,.0f} µs"
    return f"{x * 1e3:,.1f} ms" if x < 10 else f"{x:,.1f} s"


def render(load, analyses, agg, refused, shares, cc, memory, rows) -> str:
    lines = [
        SECTION,
        "",
        "The timings the test suite no longer asserts (tests check what happens; "
        "these numbers say how long it takes). Machine: "
        f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, journeysim {js.__version__}; load average before "
        f"the run {' / '.join(f'{x:.2f}' for x in load)} (the machine is shared).",
        "",
        "| what | measured | target | |",
        "|---|---:|---:|---|",
        *rows,
        "",
        f"Exact analyses: best of {REPEAT}, the cases taking turns; the "
        "2,000-stage one includes building the journey. A two-stage journey "
        "with 1,000 arrivals a period over "
        + ", ".join(f"{T:,}" for T in PERIODS)
        + " periods: "
        + ", ".join(ms(analyses[T]) for T in PERIODS)
        + f". Aggregate 10^9 customers x 36 periods (demo journey): {ms(agg)}.",
        "",
        f"Refusals (MemoryError; median and worst of {REFUSALS} calls):",
        "",
        "| request | median | worst |",
        "|---|---:|---:|",
    ]
    for name, r in refused.items():
        if r is None:
            lines.append(f"| {name} | not refused: this machine has the memory | |")
        else:
            lines.append(f"| {name} | {ms(r[0])} | {ms(r[1])} |")
    lines += [
        "",
        "The GIL: a pure-Python counter's pace in another thread while the call "
        "runs, as a share of its pace alone (the 2 cores are shared, so 100% is "
        "not to be expected):",
        "",
        "| call | counter's pace | call took |",
        "|---|---:|---:|",
        *(f"| {k} | {v[0]:.0%} | {ms(v[1])} |" for k, v in shares.items()),
        "",
        f"Ctrl-C ({CTRL_C} children per row, the rows taking turns; seconds from "
        "SIGINT, sent as soon as the child's cores have started and its main "
        "thread waits where Ctrl-C is caught, or 1 s later; the child's "
        "timestamp read against this process's monotonic clock; the targets are "
        "held to the medians):",
        "",
        "| case | SIGINT | to KeyboardInterrupt, all stopped | to the child's exit |",
        "|---|---|---|---|",
        *(
            f"| {CASES[name]} | {when(d, name)} | "
            + " / ".join(f"{x:.3f}" for x in r["stopped"])
            + " | "
            + " / ".join(f"{x:.3f}" for x in r["exited"])
            + " |"
            for (name, d), r in cc.items()
        ),
        "",
        "The memory of `compare(customers=...)` (demo journey, 36 periods, one "
        "replication): the estimate it refuses by, against the peak resident "
        "memory of a fresh process over its memory before the call:",
        "",
        "| customers | plans (with baseline) | estimate | measured peak | "
        "estimate / peak |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {n:,} | {p} | {e / 2**30:.3f} GiB | {m / 2**30:.3f} GiB | {e / m:.2f} |"
            for (n, p), (e, m) in memory.items()
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    analyses = big_analyses()
    print("analyses:", {k: f"{v:.4f}" for k, v in analyses.items()}, flush=True)
    agg = aggregate_billion()
    print(f"aggregate 10^9 x 36: {agg:.4f} s", flush=True)
    refused = refusals()
    print("refusals:", refused, flush=True)
    shares = gil()
    print("GIL:", shares, flush=True)
    cc = ctrl_c()
    print("Ctrl-C:", cc, flush=True)
    memory = compare_memory()
    print("compare memory (estimate, peak):", memory, flush=True)

    doubling = [analyses[b] / analyses[a] for a, b in itertools.pairwise(PERIODS)]
    worst_refusal = max(r[1] for r in refused.values() if r is not None)

    def median(name, d, key="stopped"):
        return statistics.median(cc[name, d][key])

    t = TARGETS
    checks = [
        (
            "2,000 tenure-expanded stages, 36 periods",
            ms(analyses["stages_2000"]),
            f"< {t['stages_2000']:g} s",
            analyses["stages_2000"] < t["stages_2000"],
        ),
        (
            "two stages with arrivals, 10,000 periods",
            ms(analyses[PERIODS[0]]),
            f"< {t['periods_10000']:g} s",
            analyses[PERIODS[0]] < t["periods_10000"],
        ),
        (
            "time for twice the periods ("
            + " -> ".join(f"{T:,}" for T in PERIODS)
            + ")",
            " / ".join(f"{x:.2f}x" for x in doubling),
            f"< {t['doubling']:g}x",
            max(doubling) < t["doubling"],
        ),
        (
            "aggregate, 10^9 customers x 36 periods",
            ms(agg),
            f"< {t['aggregate']:g} s",
            agg < t["aggregate"],
        ),
        (
            "a request beyond memory refused (worst case)",
            ms(worst_refusal),
            f"< {t['refusal'] * 1e3:g} ms",
            worst_refusal < t["refusal"],
        ),
        (
            "a Python thread's pace while the core runs (least)",
            f"{min(v[0] for v in shares.values()):.0%}",
            f">= {t['gil_share']:.0%}",
            min(v[0] for v in shares.values()) >= t["gil_share"],
        ),
        *(
            (
                f"Ctrl-C to KeyboardInterrupt, every thread stopped: {CASES[name]}, "
                f"SIGINT {when(d, name)} (median)",
                f"{median(name, d):.3f} s",
                f"< {t['ctrl_c']:g} s",
                median(name, d) < t["ctrl_c"],
            )
            for name, d in cc
        ),
        (
            "Ctrl-C to the exit of a process running `simulate` (median)",
            f"{max(median('one', d, 'exited') for d in DELAYS):.3f} s",
            f"< {t['ctrl_c_exit']:g} s",
            max(median("one", d, "exited") for d in DELAYS) < t["ctrl_c_exit"],
        ),
        (
            "compare's memory estimate over its measured peak (least / most)",
            f"{min(e / m for e, m in memory.values()):.2f} / "
            f"{max(e / m for e, m in memory.values()):.2f}",
            f"in [1, {t['memory_over']:g}]",
            all(1 <= e / m <= t["memory_over"] for e, m in memory.values()),
        ),
    ]
    rows = [f"| {w} | {m} | {g} | {verdict(ok)} |" for w, m, g, ok in checks]
    for w, m, g, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {w}: {m} (target {g})")
    if not args.no_write:
        write_section(
            SECTION, render(load, analyses, agg, refused, shares, cc, memory, rows)
        )
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
