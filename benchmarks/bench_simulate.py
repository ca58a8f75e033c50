"""Benchmark journeysim's Monte Carlo engine against numpy and pydtmc.

Builds two random absorbing journeys (10 and 30 stages), checks that
journeysim's individual simulation and an expert vectorized numpy simulation
of the same chain agree on the final retention and the discounted value (within
5 standard errors), then measures, in the same run:

- customer-steps per second of ``journey.simulate`` (1,000,000 customers x 120
  periods, ``record="totals"``) on 1 and 2 threads, and of the numpy version;
- pydtmc's ``MarkovChain.simulate`` (one trajectory; steps per second);
- ``method="aggregate"`` for 10**9 customers x 120 periods;
- peak RSS of 10,000,000 customers x 120 periods in a fresh subprocess, with
  per-customer arrays (``record=None``) and without (``record="totals"``);
- for the record, where journeysim's time goes: the C++ core called directly,
  the same journeys with everyone absorbed at t = 0 and with nobody absorbed,
  and a numpy variant that drops absorbed customers;

and writes the section "## Monte Carlo (bench_simulate.py)" of
benchmarks/RESULTS.md (other sections of that file are kept).

OPENBLAS_NUM_THREADS is set to 1 (unless already set) before numpy is imported,
so that no idle OpenBLAS thread pool competes with either side; neither
journeysim nor the numpy version calls BLAS in the timed code.

Run: .venv/bin/python benchmarks/bench_simulate.py
(--sticky: only the sojourn engine on sticky journeys, benchmarks/sticky.py,
its own section of RESULTS.md.)
(pydtmc is optional: from the environment, or from --deps DIR, by default
/tmp/benchdeps if present, appended to sys.path; skipped with a note if missing.)
"""

from __future__ import annotations

import os

OPENBLAS_SET_BY_SCRIPT = "OPENBLAS_NUM_THREADS" not in os.environ
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import journeysim as js  # noqa: E402
import sticky  # noqa: E402
from before_engine import BeforeEngine  # noqa: E402
from journeysim import _core  # noqa: E402
from results_file import RESULTS, cpu_model, write_section  # noqa: E402

SIZES = (10, 30)
CUSTOMERS = 1_000_000
PERIODS = 120
RATE = 0.01
SEED = 20240601
SIM_SEED = 12345
EXITS = 4  # per transient stage: churned and 3 other transient stages
REPEAT = 3
AGG_CUSTOMERS = 10**9
AGG_REPEAT = 5
RSS_CUSTOMERS = 10_000_000
PYDTMC_STEPS = 100_000
Z_MAX = 5.0
TARGETS = {
    "one_thread": 150e6,  # customer-steps/s
    "two_threads": 1.7,  # x one thread
    "vs_numpy": 7.0,  # x numpy
    "rss_mb": 300.0,  # 10 M x 120, record=None
    "aggregate_ms": 50.0,  # 10**9 x 120
}
SECTION = "## Monte Carlo (bench_simulate.py)"

# -- the journeys ---------------------------------------------------------------


def random_journey(n: int, rng_seed: int = SEED):
    """A journey of ``n`` stages: ``n - 1`` transient ones and "churned"
    (absorbing). Each transient stage leaves with probability ~U(0.13, 0.17)
    per period, split by a Dirichlet draw over 4 exits: "churned" and 3 random
    other transient stages; the rest stays. One stream "revenue" (10 to 100
    per period in a transient stage), discount rate 0.01; everyone starts in
    the first stage."""
    rng = np.random.default_rng([rng_seed, n])
    m = n - 1
    stages = [f"s{i:02d}" for i in range(m)] + ["churned"]
    P = np.zeros((n, n))
    for i in range(m):
        others = np.delete(np.arange(m), i)
        exits = rng.choice(others, size=EXITS - 1, replace=False)
        leave = rng.uniform(0.13, 0.17)
        w = rng.dirichlet(np.ones(EXITS)) * leave
        P[i, exits] = w[:-1]
        P[i, m] = w[-1]
        P[i, i] = 1.0 - P[i].sum()
    P[m, m] = 1.0
    revenue = np.zeros(n)
    revenue[:m] = rng.uniform(10.0, 100.0, m)
    values = {"revenue": dict(zip(stages[:m], revenue[:m].tolist()))}
    journey = js.Journey.from_matrix(
        P, stages=stages, values=values, discount_rate=RATE
    )
    absorbing = np.zeros(n, dtype=bool)
    absorbing[m] = True
    return journey, {"P": P, "v": revenue, "absorbing": absorbing}


# -- the numpy version ----------------------------------------------------------


def sampling_table(P: np.ndarray):
    """Row-offset cumulative probabilities, flattened: row i occupies
    [2i, 2i + 1] (offset 2i, so that 2i + u, rounded, never reaches the next
    row), and its entries from the last stage with positive probability on are
    2i + 1.5 (rounding of the cumulative sum never lets a draw past it)."""
    n = P.shape[0]
    cdf = np.cumsum(P, axis=1)
    for i in range(n):
        cdf[i, np.flatnonzero(P[i] > 0)[-1] :] = 1.5
    cum = (cdf + 2.0 * np.arange(n)[:, None]).ravel()
    col = np.tile(np.arange(n, dtype=np.intp), n)  # flat position -> stage
    return cum, col


def numpy_simulate(P, absorbing, customers, periods, seed, drop_absorbed=False):
    """Occupancy (periods + 1) x n of ``customers`` customers starting in stage
    0: per period one vector of PCG64 uniforms, one np.searchsorted over the
    row-offset cumulative table (inverse CDF), one np.take to map positions to
    stages, one np.bincount. Buffers are preallocated. ``drop_absorbed``
    removes absorbed customers from the arrays as they absorb (an extra
    variant, not the one the targets are stated against)."""
    n = P.shape[0]
    cum, col = sampling_table(P)
    rng = np.random.default_rng(seed)
    occ = np.zeros((periods + 1, n), dtype=np.int64)
    occ[0, 0] = customers
    if not drop_absorbed:
        state = np.zeros(customers, dtype=np.intp)
        u = np.empty(customers)
        x = np.empty(customers)
        for t in range(1, periods + 1):
            rng.random(out=u)
            np.multiply(state, 2.0, out=x)
            x += u
            idx = np.searchsorted(cum, x, side="right")
            np.take(col, idx, out=state)
            occ[t] = np.bincount(state, minlength=n)
        return occ
    state = np.zeros(customers, dtype=np.intp)
    gone = np.zeros(n, dtype=np.int64)  # absorbed customers, by stage
    for t in range(1, periods + 1):
        x = rng.random(state.size)
        x += 2.0 * state
        state = col[np.searchsorted(cum, x, side="right")]
        cnt = np.bincount(state, minlength=n)
        occ[t] = cnt + gone
        gone[absorbing] += cnt[absorbing]
        state = state[~absorbing[state]]
    return occ


def no_churn(P: np.ndarray, absorbing: np.ndarray) -> np.ndarray:
    """The same chain with every transient stage's probability of absorption
    moved to staying: nobody is ever absorbed."""
    P = P.copy()
    tr = np.flatnonzero(~absorbing)
    P[tr, tr] += P[np.ix_(tr, np.flatnonzero(absorbing))].sum(axis=1)
    P[np.ix_(tr, np.flatnonzero(absorbing))] = 0.0
    return P


def numpy_outcomes(occ, v, absorbing, customers):
    """Final retention and the mean discounted value per customer (accrual at
    the start of each period, like journeysim's default)."""
    periods = occ.shape[0] - 1
    d = (1.0 + RATE) ** -np.arange(periods)
    value = float((occ[:-1] @ v) @ d) / customers
    retention = 1.0 - occ[-1, absorbing].sum() / customers
    return float(retention), value


# -- checking -------------------------------------------------------------------


def check(journey, inputs) -> dict:
    """journeysim and numpy must agree (and both match the exact analytics)
    within Z_MAX standard errors; raises SystemExit otherwise."""
    sim = journey.simulate(
        CUSTOMERS, PERIODS, seed=SIM_SEED, threads=1, record="totals", progress=False
    )
    occ = numpy_simulate(inputs["P"], inputs["absorbing"], CUSTOMERS, PERIODS, SEED)
    r_np, v_np = numpy_outcomes(occ, inputs["v"], inputs["absorbing"], CUSTOMERS)
    r_js = float(sim.retention.iloc[-1])
    v_js = float(sim.value["revenue"])
    se = sim.standard_errors
    exact = journey.analyze(periods=PERIODS)
    r_ex = float(exact.retention.iloc[-1])
    v_ex = float(exact.value["revenue"])
    se_r = math.sqrt(r_ex * (1 - r_ex) / CUSTOMERS)
    se_v = float(se["revenue"])  # per-customer spread; numpy's is the same law
    z = {
        "retention js-np": (r_js - r_np) / (math.sqrt(2) * se_r),
        "value js-np": (v_js - v_np) / (math.sqrt(2) * se_v),
        "retention js-exact": (r_js - r_ex) / se_r,
        "retention np-exact": (r_np - r_ex) / se_r,
        "value js-exact": (v_js - v_ex) / se_v,
        "value np-exact": (v_np - v_ex) / se_v,
    }
    bad = {k: f"{z_:.2f}" for k, z_ in z.items() if not abs(z_) <= Z_MAX}
    if bad:
        raise SystemExit(
            f"MISMATCH for {len(journey.stages)} stages (|z| > {Z_MAX:g}): {bad}"
        )
    return {
        "r_js": r_js,
        "r_np": r_np,
        "r_exact": r_ex,
        "v_js": v_js,
        "v_np": v_np,
        "v_exact": v_ex,
        "alive": float(exact.lifetime_within_horizon) / PERIODS,
        "zmax": max(abs(x) for x in z.values()),
        "z_r": z["retention js-np"],
        "z_v": z["value js-np"],
    }


# -- timing ---------------------------------------------------------------------


def seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def best_interleaved(fns: dict, repeat: int) -> dict:
    """Best wall time of each function over ``repeat`` rounds, the functions
    run alternately within a round so that drift affects them alike."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            samples[k].append(seconds(f))
    return {k: {"best": min(s), "all": s} for k, s in samples.items()}


def load_pydtmc(deps: str | None):
    """pydtmc from the environment, else from ``deps`` appended to sys.path
    (appended: the environment's numpy still wins). None if unavailable."""
    try:
        return importlib.import_module("pydtmc")
    except ImportError:
        pass
    if deps and Path(deps).is_dir():
        sys.path.append(deps)
        try:
            return importlib.import_module("pydtmc")
        except ImportError:
            pass
    return None


def time_pydtmc(pydtmc, journey, P) -> dict:
    mc = pydtmc.MarkovChain(P, journey.stages)
    first = journey.stages[0]

    def run(k=[0]):  # noqa: B006 - a different seed per call
        k[0] += 1
        mc.simulate(PYDTMC_STEPS, initial_state=first, output_indices=True, seed=k[0])

    run()  # warm-up
    return best_interleaved({"pydtmc": run}, REPEAT)["pydtmc"]


def core_simulate(journey, threads: int) -> dict:
    """The C++ core as journey.simulate calls it for record="totals" (no
    Python wrapper, worker thread or Simulation object)."""
    return _core.simulate(
        journey._core,
        CUSTOMERS,
        PERIODS,
        SIM_SEED,
        1,
        threads,
        _core.Accrual.start,
        _core.Method.individual,
        False,
        False,
    )


# -- peak memory in a fresh process --------------------------------------------


def measure_rss(record: str, pyarrow: bool = True) -> dict:
    """Peak RSS (MB) of a fresh interpreter (rss_child.py) that imports numpy
    and pandas, then journeysim, builds the journey and simulates; with the
    resident memory after each step and the bytes of the result's arrays.
    Two readings of the peak: getrusage(RUSAGE_CHILDREN).ru_maxrss
    here (a running maximum over the children, and on Linux a child's
    ru_maxrss starts from the RSS of the process that spawned it, because it
    survives fork and exec: so this runs before the benchmark allocates
    anything), and the child's own VmHWM (its address space only).
    ``pyarrow=False``: the child runs as if pyarrow were not installed."""
    script = Path(__file__).resolve().with_name("rss_child.py")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, str(script), record, *([] if pyarrow else ["--no-pyarrow"])],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    child = json.loads(out.stdout.strip().splitlines()[-1])
    hwm = child["hwm_kb"] or child["maxrss_kb"]
    steps = {k: (v or 0) / 1024 for k, v in child["rss_kb"].items()}
    return {
        "base_mb": (child["base_kb"] or 0) / 1024,
        "hwm_mb": hwm / 1024,
        "python_mb": steps["start"],
        "pandas_mb": steps["numpy_pandas"] - steps["start"],
        "journeysim_mb": steps["journeysim"] - steps["numpy_pandas"],
        "arrays_mb": child["arrays_bytes"] / 2**20,
        "import_s": child["import_s"],
        # None when this child set no new maximum of RUSAGE_CHILDREN
        "children_mb": after / 1024 if after > before else None,
        "seconds": child["seconds"],
    }


# -- the machine ----------------------------------------------------------------


def machine() -> dict:
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "journeysim": js.__version__,
        "coretype": "not set" if coretype is None else f"`{coretype}`",
        "openblas_threads": os.environ["OPENBLAS_NUM_THREADS"],
        "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


# -- the report -----------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def render(mach, rows, agg, rss, pyd_note, targets, extra) -> str:
    load = " / ".join(f"{x:.2f}" for x in mach["load"]) if mach["load"] else "n/a"
    blas = (
        "set to 1 by the script"
        if OPENBLAS_SET_BY_SCRIPT
        else f"{mach['openblas_threads']} (from the environment)"
    )
    steps = CUSTOMERS * PERIODS
    lines = [
        SECTION,
        "",
        f"Individual simulation of {CUSTOMERS:,} customers x {PERIODS} periods "
        "(customer-steps = customers x periods over wall time, best of "
        f"{REPEAT}, the implementations run alternately): "
        f'`journey.simulate({CUSTOMERS:_}, {PERIODS}, record="totals", '
        "progress=False, threads=1 or 2)` as a user calls it (the sojourn "
        'engine, the default; also `engine="period"`, and, where measured, the '
        "engine before issue 18 from an older build in a child process, "
        "before_engine.py), against an expert "
        "vectorized numpy version (per period: PCG64 uniforms from "
        "`np.random.default_rng`, one `np.searchsorted` of `2*state + u` over "
        "the flattened row-offset cumulative probabilities, one `np.take` from "
        "positions to stages, one `np.bincount` for occupancy; preallocated "
        "buffers) and pydtmc's `MarkovChain.simulate` (one trajectory of "
        f"{PYDTMC_STEPS:,} steps, rated per step). journeysim computes more "
        "than the numpy version in the same time: occupancy of everyone and of "
        "the cohort, per-customer discounted value and lifetime with their "
        "squares (standard errors), value by period.",
        "",
        f"Journeys (numpy seed {SEED}): n - 1 transient stages and `churned` "
        "(absorbing); every transient stage leaves with probability "
        f"U(0.13, 0.17) per period over {EXITS} exits (churned and "
        f"{EXITS - 1} random transient stages, Dirichlet split), else stays; "
        f"one stream `revenue`, discount rate {RATE}; all start in the first "
        f"stage. Checked before timing: final retention and mean discounted "
        "revenue of journeysim and numpy agree, and each agrees with "
        f"`journey.analyze`, within {Z_MAX:g} standard errors.",
        "",
        "Machine:",
        "",
        f"- nproc: {mach['nproc']} (usable: {mach['affinity']}); CPU: {mach['cpu']}",
        f"- Python {mach['python']}, numpy {mach['numpy']}, journeysim "
        f"{mach['journeysim']}, pydtmc {pyd_note}",
        f"- OPENBLAS_CORETYPE: {mach['coretype']}; OPENBLAS_NUM_THREADS: {blas} "
        "(for both sides; no BLAS call in the timed code)",
        f"- load average before the run: {load}",
        "",
        "| stages | implementation | best s | M customer-steps/s "
        "| vs journeysim, 1 thread |",
        "|---:|---|---:|---:|---:|",
    ]

    def versus(speed: float) -> str:
        """This implementation's speed relative to journeysim on 1 thread."""
        if abs(speed - 1.0) < 5e-3:
            return "1x"
        if speed > 1.0:
            return f"{speed:.2f}x faster"
        inv = 1.0 / speed
        return f"{inv:,.2f}x slower" if inv < 100 else f"{inv:,.0f}x slower"

    for r in rows:
        n = r["n"]
        base = r["t"]["js1"]["best"]
        items = [
            ("journeysim, 1 thread", "js1"),
            ("journeysim, 2 threads", "js2"),
            ('journeysim, `engine="period"`, 1 thread', "jsper"),
            ("journeysim before issue 18 (per-period, mt19937_64), 1 thread", "before"),
            ("numpy (searchsorted)", "np"),
            ("numpy, absorbed customers dropped (extra)", "npdrop"),
        ]
        for name, key in items:
            if key not in r["t"]:
                continue
            t = r["t"][key]["best"]
            lines.append(
                f"| {n} | {name} | {t:.3f} | {steps / t / 1e6:,.1f} | "
                f"{versus(base / t)} |"
            )
        if r["pydtmc"] is not None:
            t = r["pydtmc"]["best"]
            rate = PYDTMC_STEPS / t
            lines.append(
                f"| {n} | pydtmc `MarkovChain.simulate` ({PYDTMC_STEPS:,} steps, "
                f"one chain) | {t:.3f} | {rate / 1e6:.3f} (steps of one chain) | "
                f"{versus(rate * base / steps)} |"
            )
    lines += [
        "",
        "Correctness check (the untimed warm-up run; z = difference over its "
        "standard error):",
        "",
        "| stages | retention js / numpy / exact | z | revenue js / numpy / exact "
        "| z | max abs z (incl. vs exact) |",
        "|---:|---|---:|---|---:|---:|",
    ]
    for r in rows:
        c = r["check"]
        lines.append(
            f"| {r['n']} | {c['r_js']:.5f} / {c['r_np']:.5f} / {c['r_exact']:.5f} "
            f"| {c['z_r']:+.2f} | {c['v_js']:.3f} / {c['v_np']:.3f} / "
            f"{c['v_exact']:.3f} | {c['z_v']:+.2f} | {c['zmax']:.2f} |"
        )
    lines += [
        "",
        f"Aggregate mode, `journey.simulate(10**{round(math.log10(AGG_CUSTOMERS))}, "
        f"{PERIODS}, "
        f'method="aggregate", progress=False)`, best of {AGG_REPEAT}: '
        + "; ".join(
            f"{a['n']} stages {a['best'] * 1e3:.2f} ms (final retention "
            f"{a['retention']:.6f}, exact {a['exact']:.6f})"
            for a in agg
        )
        + ".",
        "",
        f"Peak RSS of a fresh interpreter (imports, 10-stage journey, "
        f"`simulate({RSS_CUSTOMERS:_}, {PERIODS}, record=...)`, default "
        "threads), run before anything else; peak RSS is the child's VmHWM, "
        "cross-checked by `getrusage(RUSAGE_CHILDREN).ru_maxrss` in the parent "
        "(a running maximum, so shown only where that child raised it; on Linux "
        "a child's ru_maxrss also starts from its parent's RSS at the spawn):",
        "",
        "| record | peak RSS MB (VmHWM) | RUSAGE_CHILDREN MB "
        "| after imports and journey MB | simulate s |",
        "|---|---:|---:|---:|---:|",
    ]
    for rec, m in rss.items():
        ch = m["children_mb"]
        lines.append(
            f"| {rec} | {m['hwm_mb']:.0f} | "
            + ("-" if ch is None else f"{ch:.0f}")
            + f" | {m['base_mb']:.0f} | {m['seconds']:.2f} |"
        )
    lines += [
        "",
        "Where the peak goes (MB = MiB; resident memory read in the child after "
        "each step): the interpreter, `import numpy, pandas` (pandas 3 loads "
        "pyarrow itself when it is installed), what `import journeysim` adds "
        "(time of that import in the child; the last row runs as if pyarrow "
        "were not installed, journeysim's optional `files` extra: pandas runs "
        "without it), and the bytes of the result's "
        "arrays (with record=None the per-customer arrays: lifetime int32, "
        "outcome int16, start_stage int16, first_value int32, segment uint8, "
        "customer_value float64 per stream: 21 bytes a customer with one "
        "stream):",
        "",
        "| record | interpreter | numpy + pandas | journeysim | import s "
        "| result arrays | peak - after journey |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for rec, m in rss.items():
        lines.append(
            f"| {rec} | {m['python_mb']:.0f} | {m['pandas_mb']:.0f} | "
            f"{m['journeysim_mb']:.0f} | {m['import_s']:.2f} | "
            f"{m['arrays_mb']:.1f} | {m['hwm_mb'] - m['base_mb']:.1f} |"
        )
    lines += [
        "",
        "Targets:",
        "",
        "| target | measured | result |",
        "|---|---|---|",
        *[f"| {name} | {meas} | {verdict(ok)} |" for name, meas, ok in targets],
        "",
        *extra,
        "",
    ]
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--deps",
        default=os.environ.get("BENCH_DEPS", "/tmp/benchdeps"),
        help="directory appended to sys.path if pydtmc is not importable",
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--sticky",
        action="store_true",
        help="only the sojourn engine on sticky journeys (benchmarks/sticky.py)",
    )
    parser.add_argument(
        "--before-path",
        help="PYTHONPATH of a build from before issue 18: its per-period engine "
        "is timed in the same rounds (before_engine.py)",
    )
    parser.add_argument(
        "--before-label",
        help="what --before-path holds (e.g. its commit), for the text",
    )
    args = parser.parse_args(argv)
    before = (
        BeforeEngine(
            args.before_path, CUSTOMERS, PERIODS, SIM_SEED, label=args.before_label
        )
        if args.before_path
        else None
    )
    if args.sticky:
        return sticky.run(
            numpy_simulate, numpy_outcomes, best_interleaved, not args.no_write, before
        )

    mach = machine()
    # Memory first, while this process is small (see measure_rss); "totals"
    # before None, so that each child sets a new maximum of RUSAGE_CHILDREN.
    rss = {
        '"totals"': measure_rss("totals"),
        "None": measure_rss("none"),
        # For the record: pandas 3 loads pyarrow when it is installed; without
        # it (no `files` extra), the same run.
        "None, without pyarrow": measure_rss("none", pyarrow=False),
    }
    for k, m in rss.items():
        print(
            f"record={k}: peak RSS {m['hwm_mb']:.0f} MB (VmHWM; RUSAGE_CHILDREN "
            f"{m['children_mb']}), {m['base_mb']:.0f} MB before simulating",
            flush=True,
        )
    pydtmc = load_pydtmc(args.deps)
    pyd_note = (
        pydtmc.__version__
        if pydtmc is not None
        else "not installed (skipped: `pip install pydtmc` to include it)"
    )
    print(f"load average {mach['load']}; pydtmc: {pyd_note}", flush=True)
    steps = CUSTOMERS * PERIODS
    rows, agg = [], []
    for n in SIZES:
        journey, inputs = random_journey(n)
        chk = check(journey, inputs)  # also the warm-up of both sides
        P, ab = inputs["P"], inputs["absorbing"]

        def sim(threads, j=journey, engine="sojourn"):
            return j.simulate(
                CUSTOMERS,
                PERIODS,
                seed=SIM_SEED,
                threads=threads,
                record="totals",
                progress=False,
                engine=engine,
            )

        extra_fns = {"jsper": lambda: sim(1, engine="period")}
        if before is not None:
            extra_fns["before"] = lambda n=n: before.run("random", n)
        t = best_interleaved(
            {
                **extra_fns,
                "js1": lambda: sim(1),
                "js2": lambda: sim(2),
                "np": lambda P=P, ab=ab: numpy_simulate(
                    P, ab, CUSTOMERS, PERIODS, SEED
                ),
                "npdrop": lambda P=P, ab=ab: numpy_simulate(
                    P, ab, CUSTOMERS, PERIODS, SEED, drop_absorbed=True
                ),
            },
            REPEAT,
        )
        # Where the time goes (1 thread): the core without the Python wrapper;
        # everyone absorbed at t = 0 (the engine still draws, and discards, one
        # number per customer-step); nobody ever absorbed (churn moved to stay).
        values = {"revenue": dict(zip(journey.stages, inputs["v"].tolist()))}
        floor_j = js.Journey.from_matrix(
            P,
            stages=journey.stages,
            values=values,
            discount_rate=RATE,
            start={"churned": 1.0},
        )
        P_live = no_churn(P, ab)
        live_j = js.Journey.from_matrix(
            P_live,
            stages=journey.stages,
            values=values,
            discount_rate=RATE,
            absorbing=["churned"],
        )

        def totals1(j):
            return j.simulate(
                CUSTOMERS,
                PERIODS,
                seed=SIM_SEED,
                threads=1,
                record="totals",
                progress=False,
            )

        t.update(
            best_interleaved(
                {
                    "core1": lambda j=journey: core_simulate(j, threads=1),
                    "rng1": lambda j=floor_j: totals1(j),
                    "live1": lambda j=live_j: totals1(j),
                    "live_np": lambda P=P_live, ab=ab: numpy_simulate(
                        P, ab, CUSTOMERS, PERIODS, SEED
                    ),
                },
                REPEAT,
            )
        )
        pyd = time_pydtmc(pydtmc, journey, P) if pydtmc is not None else None
        rows.append({"n": n, "t": t, "pydtmc": pyd, "check": chk})
        print(
            f"{n} stages: journeysim 1 thread {steps / t['js1']['best'] / 1e6:.0f} "
            f"M/s, 2 threads {steps / t['js2']['best'] / 1e6:.0f} M/s, numpy "
            f"{steps / t['np']['best'] / 1e6:.1f} M/s (dropping absorbed "
            f"{steps / t['npdrop']['best'] / 1e6:.1f}), core only "
            f"{steps / t['core1']['best'] / 1e6:.0f} M/s, random stream only "
            f"{steps / t['rng1']['best'] / 1e6:.0f} M/s, nobody absorbed "
            f"{steps / t['live1']['best'] / 1e6:.0f} M/s (numpy "
            f"{steps / t['live_np']['best'] / 1e6:.1f})"
            + f", per-period engine {steps / t['jsper']['best'] / 1e6:.0f} M/s"
            + (
                f", before issue 18 {steps / t['before']['best'] / 1e6:.0f} M/s"
                if before is not None
                else ""
            )
            + (f", pydtmc {PYDTMC_STEPS / pyd['best']:,.0f} steps/s" if pyd else "")
            + f"; check max |z| {chk['zmax']:.2f}",
            flush=True,
        )
        print(
            "  all runs (s): "
            + ", ".join(
                f"{k} " + "/".join(f"{x:.3f}" for x in v["all"]) for k, v in t.items()
            ),
            flush=True,
        )

        def aggregate(j=journey):
            return j.simulate(
                AGG_CUSTOMERS,
                PERIODS,
                seed=SIM_SEED,
                method="aggregate",
                progress=False,
            )

        a = aggregate()
        ta = best_interleaved({"agg": aggregate}, AGG_REPEAT)["agg"]
        agg.append(
            {
                "n": n,
                "best": ta["best"],
                "retention": float(a.retention.iloc[-1]),
                "exact": chk["r_exact"],
            }
        )
        print(f"{n} stages: aggregate 1e9 x {PERIODS} {ta['best'] * 1e3:.2f} ms")

    def rate(r, k):
        return steps / r["t"][k]["best"]

    one = [rate(r, "js1") for r in rows]
    two = [rate(r, "js2") / rate(r, "js1") for r in rows]
    vs_np = [rate(r, "js1") / rate(r, "np") for r in rows]
    rss_none = max(rss["None"]["hwm_mb"], rss["None"]["children_mb"] or 0.0)
    agg_ms = [a["best"] * 1e3 for a in agg]
    per = " / ".join(f"{n}" for n in SIZES) + " stages"
    targets = [
        (
            f">= {TARGETS['one_thread'] / 1e6:.0f} M customer-steps/s on 1 thread",
            " / ".join(f"{x / 1e6:.0f}" for x in one) + f" M/s ({per})",
            min(one) >= TARGETS["one_thread"],
        ),
        (
            f">= {TARGETS['two_threads']:g}x that on 2 threads",
            " / ".join(f"{x:.2f}x" for x in two),
            min(two) >= TARGETS["two_threads"],
        ),
        (
            f">= {TARGETS['vs_numpy']:g}x the numpy version (1 thread, same run)",
            " / ".join(f"{x:.2f}x" for x in vs_np),
            min(vs_np) >= TARGETS["vs_numpy"],
        ),
        (
            f"peak RSS <= {TARGETS['rss_mb']:g} MB, {RSS_CUSTOMERS / 1e6:g} M x "
            f"{PERIODS}, no event log (record=None)",
            f"{rss_none:.0f} MB",
            rss_none <= TARGETS["rss_mb"],
        ),
        (
            f"aggregate 10^9 x {PERIODS} in < {TARGETS['aggregate_ms']:g} ms",
            " / ".join(f"{x:.2f} ms" for x in agg_ms),
            max(agg_ms) < TARGETS["aggregate_ms"],
        ),
    ]
    if before is not None:
        # Issue 18: these (fast-churn) journeys no slower than before it.
        for key, name in (
            ("js1", "the sojourn engine (default)"),
            ("jsper", 'the per-period engine (`engine="period"`)'),
        ):
            x = [rate(r, key) / rate(r, "before") for r in rows]
            targets.append(
                (
                    f"{name}, 1 thread, no slower than the engine before issue 18 "
                    "(same rounds)",
                    " / ".join(f"{v:.2f}x its speed" for v in x),
                    min(x) >= 1.0,
                )
            )

    def split_ns(r):
        """ns per customer-step (core, 1 thread) for steps of customers still
        in a transient stage and for absorbed ones (the all-absorbed run),
        given the expected share of transient steps."""
        absorbed = 1e9 * r["t"]["rng1"]["best"] / steps
        alive = r["check"]["alive"]
        total = 1e9 * r["t"]["core1"]["best"] / steps
        return total, (total - (1 - alive) * absorbed) / alive, absorbed, alive

    parts = []
    for r in rows:
        total, alive_ns, absorbed_ns, alive = split_ns(r)
        parts.append(
            f"| {r['n']} | {rate(r, 'js1') / 1e6:.0f} | "
            f"{rate(r, 'core1') / 1e6:.0f} | {total:.2f} | {alive:.0%} | "
            f"{alive_ns:.1f} | {absorbed_ns:.2f} | {rate(r, 'live1') / 1e6:.0f} | "
            f"{rate(r, 'live_np') / 1e6:.1f} | "
            f"{rate(r, 'live1') / rate(r, 'live_np'):.1f}x |"
        )
    extra = [
        "Where journeysim's time goes (1 thread, best of "
        f"{REPEAT}): the C++ core called directly vs `journey.simulate`; "
        "ns per customer-step split between customers still in a transient "
        "stage (share = exact expected lifetime within the horizon / "
        f"{PERIODS}) and absorbed ones, whose cost is measured with everyone "
        "absorbed at t = 0 (the default sojourn engine draws nothing for an "
        "absorbed customer: that run is the per-customer cost, spread over its "
        "steps); "
        "and the same journeys with the churn probability moved to staying "
        "(nobody absorbed), journeysim and numpy:",
        "",
        "| stages | simulate M/s | core M/s | core ns/step | steps alive "
        "| ns per alive step | ns per absorbed step | nobody absorbed: M/s "
        "| numpy M/s | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *parts,
        "",
        "So the rates above rest on most customer-steps being absorbed ones, "
        "which journeysim skips and the numpy version does "
        "not; dropping absorbed customers from numpy's arrays (extra variant, "
        "not the target) brings journeysim's lead down to "
        + " / ".join(f"{rate(r, 'js1') / rate(r, 'npdrop'):.1f}x" for r in rows)
        + ".",
    ]
    for name, meas, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}: {name}: {meas}")
    if not args.no_write:
        write_section(SECTION, render(mach, rows, agg, rss, pyd_note, targets, extra))
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
