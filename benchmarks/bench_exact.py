"""Benchmark journeysim's exact analytics against a plain numpy version.

Builds random absorbing journeys (10, 30, 100 and 1,000 stages), checks that a
straightforward numpy implementation of the same formulas gives the same
results as ``Journey.analyze`` (to 1e-9 relative), then times both, and writes
the section "## Exact analytics (bench_exact.py)" of benchmarks/RESULTS.md
(other sections of that file are kept).

Run: .venv/bin/python benchmarks/bench_exact.py
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import statistics
import sys
import timeit
from pathlib import Path

import numpy as np

import journeysim as js
from journeysim import _core
from results_file import RESULTS, cpu_model, write_section

SIZES = (10, 30, 100, 1000)
PERIODS = 120
RATE = 0.01
SEED = 20240601
RTOL = 1e-9
EXITS = 5
TARGET_MS = 1.0  # 30 stages over 120 periods, Python overhead included
SECTION = "## Exact analytics (bench_exact.py)"

# -- the journeys ---------------------------------------------------------------


def random_journey(n: int, rng: np.random.Generator):
    """A journey of ``n`` stages: ``n - 1`` transient ones, each with ``EXITS``
    random exits, a stay probability and a way to "churned" (absorbing)."""
    m = n - 1
    stages = [f"s{i:04d}" for i in range(m)] + ["churned"]
    P = np.zeros((n, n))
    for i in range(m):
        others = np.delete(np.arange(m), i)
        exits = rng.choice(others, size=min(EXITS, others.size), replace=False)
        stay = rng.uniform(0.5, 0.9)
        churn = rng.uniform(0.02, 0.1)
        P[i, exits] = rng.dirichlet(np.ones(exits.size)) * (1.0 - stay - churn)
        P[i, m] = churn
        P[i, i] = 0.0
        P[i, i] = 1.0 - P[i].sum()
    P[m, m] = 1.0
    revenue = rng.uniform(10.0, 100.0, m)
    cost = rng.uniform(1.0, 30.0, m)
    values = {
        "revenue": dict(zip(stages, revenue.tolist(), strict=False)),
        "cost": dict(zip(stages, cost.tolist(), strict=False)),
    }
    journey = js.Journey.from_matrix(
        P,
        stages=stages,
        values=values,
        discount_rate=RATE,
        net={"revenue": 1, "cost": -1},
    )
    # What the numpy version starts from: the same arrays, in the same order.
    x0 = np.zeros(n)
    x0[0] = 1.0  # the journey's default start: everyone in the first stage
    V = np.zeros((n, 2))
    V[:m, 0] = revenue
    V[:m, 1] = cost
    absorbing = np.zeros(n, dtype=bool)
    absorbing[m] = True
    inputs = {
        "P": P,
        "x0": x0,
        "V": V,
        "rate": RATE,
        "absorbing": absorbing,
        "weights": np.array([1.0, -1.0]),
    }
    return journey, inputs


# -- the numpy version ----------------------------------------------------------


def numpy_analyze(P, x0, V, rate, absorbing, weights, T):
    """The formulas of journeysim's exact analytics (accrual="start", one
    segment, stationary chain, every transient stage can be absorbed), written
    directly with numpy."""
    n, K = V.shape
    d = 1.0 / (1.0 + rate)
    # Occupancy: x_k = x_{k-1} P.
    occ = np.empty((T + 1, n))
    occ[0] = x0
    x = x0
    for k in range(1, T + 1):
        x = x @ P
        occ[k] = x
    retention = 1.0 - occ[:, absorbing].sum(axis=1)
    # Value of period k accrues at its start: d^(k-1) x_{k-1} . v.
    nominal = occ[:-1] @ V
    vbp = nominal * (d ** np.arange(T))[:, None]
    value_by_period = np.column_stack([vbp, vbp @ weights])
    value_by_period_nominal = np.column_stack([nominal, nominal @ weights])
    value = value_by_period.sum(axis=0)
    lifetime_horizon = retention[:-1].sum()
    # Fundamental matrix: (I - Q) t = 1, (I - Q) B = R.
    tr = ~absorbing
    m = int(tr.sum())
    Q = P[np.ix_(tr, tr)]
    R = P[np.ix_(tr, absorbing)]
    sol = np.linalg.solve(np.eye(m) - Q, np.column_stack([np.ones(m), R]))
    stage_lifetime = np.zeros(n)
    stage_lifetime[tr] = sol[:, 0]
    H = np.zeros((n, int(absorbing.sum())))
    H[tr] = sol[:, 1:]
    H[absorbing] = np.eye(H.shape[1])
    lifetime = x0 @ stage_lifetime
    absorption = x0 @ H
    # Whole-lifetime value: W = (I - dP)^-1 v.
    Winf = np.linalg.solve(np.eye(n) - d * P, V)
    stage_value_infinite = np.column_stack([Winf, Winf @ weights])
    value_infinite = x0 @ stage_value_infinite
    # Per stage within the horizon: W = a + d P W, T times (last column: alive).
    A = np.column_stack([V, tr.astype(float)])
    dv = np.append(np.full(K, d), 1.0)
    W = np.zeros((n, K + 1))
    for _ in range(T):
        W = A + (P @ W) * dv
    stage_value = np.column_stack([W[:, :K], W[:, :K] @ weights])
    return {
        "occupancy": occ,
        "retention": retention,
        "value_by_period": value_by_period,
        "value_by_period_nominal": value_by_period_nominal,
        "value": value,
        "lifetime_horizon": lifetime_horizon,
        "lifetime": lifetime,
        "absorption": absorption,
        "value_infinite": value_infinite,
        "stage_lifetime": stage_lifetime,
        "stage_lifetime_horizon": W[:, K],
        "stage_value": stage_value,
        "stage_value_infinite": stage_value_infinite,
    }


# -- checking -------------------------------------------------------------------


def rel_err(a, b) -> float:
    """max |a - b| / max |b| (plain |a - b| when b is all zeros)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    diff = float(np.max(np.abs(a - b))) if b.size else 0.0
    return diff / scale if scale > 0 else diff


def check(journey, inputs) -> float:
    """Compares the public results of ``analyze`` with the numpy version; raises
    SystemExit if any differs by more than RTOL. Returns the largest error."""
    a = journey.analyze(periods=PERIODS)
    ref = numpy_analyze(**inputs, T=PERIODS)
    st = a.stages
    pairs = {
        "occupancy": (a.occupancy.to_numpy(), ref["occupancy"]),
        "retention": (a.retention.to_numpy(), ref["retention"]),
        "value_by_period": (a.value_by_period.to_numpy(), ref["value_by_period"]),
        "value_by_period_nominal": (
            a.value_by_period_nominal.to_numpy(),
            ref["value_by_period_nominal"],
        ),
        "value": (a.value.to_numpy(), ref["value"]),
        "lifetime_value": (a.lifetime_value.to_numpy(), ref["value_infinite"]),
        "expected_lifetime": (a.expected_lifetime, ref["lifetime"]),
        "lifetime_within_horizon": (
            a.lifetime_within_horizon,
            ref["lifetime_horizon"],
        ),
        "absorption": (a.absorption.to_numpy(), ref["absorption"]),
        "stages.remaining_lifetime": (
            st["remaining_lifetime"].to_numpy(),
            ref["stage_lifetime"],
        ),
        "stages.remaining_lifetime_within_horizon": (
            st["remaining_lifetime_within_horizon"].to_numpy(),
            ref["stage_lifetime_horizon"],
        ),
        "stages.values": (
            st[["revenue", "cost", "clv"]].to_numpy(),
            ref["stage_value"],
        ),
        "stages.lifetime_clv": (
            st["lifetime_clv"].to_numpy(),
            ref["stage_value_infinite"][:, -1],
        ),
    }
    worst = 0.0
    bad = []
    for name, (got, want) in pairs.items():
        err = rel_err(got, want)
        worst = max(worst, err)
        if not err <= RTOL:
            bad.append(f"{name}: relative error {err:.3g}")
    if bad:
        n = len(journey.stages)
        raise SystemExit(
            f"MISMATCH for {n} stages (tolerance {RTOL:g}):\n  " + "\n  ".join(bad)
        )
    return worst


# -- timing ---------------------------------------------------------------------


def calibrate(fn, min_time: float) -> int:
    """Calls per measurement so that one measurement takes >= min_time s."""
    number = 1
    while True:
        t = timeit.timeit(fn, number=number)
        if t >= min_time:
            return number
        number *= 2 if t > min_time / 10 else 10


def time_many(fns: dict, repeat: int, min_time: float) -> dict:
    """Per-call seconds of each function, measured ``repeat`` times, the
    functions interleaved so that drift affects them alike."""
    numbers = {k: calibrate(f, min_time) for k, f in fns.items()}
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            samples[k].append(timeit.timeit(f, number=numbers[k]) / numbers[k])
    return {
        k: {
            "median": statistics.median(s),
            "best": min(s),
            "number": numbers[k],
            "repeat": repeat,
        }
        for k, s in samples.items()
    }


# -- the machine ----------------------------------------------------------------


def openblas_runtime() -> str | None:
    """Core type and threads of the OpenBLAS numpy has loaded (what threadpoolctl
    reports), read through ctypes."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = sorted({ln.split()[-1] for ln in maps.splitlines() if "openblas" in ln})
    for path in paths:
        if "numpy" not in path:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("64_", ""):
            try:
                corename = getattr(lib, f"scipy_openblas_get_corename{suffix}")
                threads = getattr(lib, f"scipy_openblas_get_num_threads{suffix}")
            except AttributeError:
                continue
            corename.restype = ctypes.c_char_p
            return (
                f"OpenBLAS core {corename().decode()}, {threads()} threads "
                f"({Path(path).name})"
            )
    return None


def blas_info() -> str:
    parts = []
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            if info.get("user_api") == "blas":
                parts.append(
                    f"{info.get('internal_api')} {info.get('version')}, core "
                    f"{info.get('architecture')}, {info.get('num_threads')} threads "
                    "(threadpoolctl)"
                )
    except ImportError:
        pass
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        parts.append(
            f"{cfg.get('name')} {cfg.get('version')} "
            f"[{cfg.get('openblas configuration', '').strip()}] (numpy config)"
        )
    except Exception:  # older numpy: no dict mode
        pass
    if not any("threadpoolctl" in p for p in parts):
        rt = openblas_runtime()
        if rt:
            parts.append(rt + " (ctypes; threadpoolctl not installed)")
    return "; ".join(parts) or "unknown"


def machine() -> dict:
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    threads = {
        k: os.environ[k]
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
        if k in os.environ
    }
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "journeysim": js.__version__,
        "blas": blas_info(),
        "coretype": "not set" if coretype is None else f"`{coretype}`",
        "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "threads_env": threads,
    }


# -- the report -----------------------------------------------------------------


def ms(seconds: float) -> str:
    v = seconds * 1e3
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def render(mach: dict, rows: list[dict], verdict: list[str]) -> str:
    env = ", ".join(f"{k}={v}" for k, v in mach["threads_env"].items()) or "none"
    load = " / ".join(f"{x:.2f}" for x in mach["load"]) if mach["load"] else "n/a"
    lines = [
        SECTION,
        "",
        f"`journey.analyze(periods={PERIODS})` (as a user calls it: the Python "
        "wrapper, the C++ core and building the lazy `Analysis`) against a "
        "straightforward numpy version of the same formulas: occupancy by "
        f"repeated `x @ P`, discounted value per stream and net (start-of-period "
        f"accrual, discount_rate {RATE}), retention, expected lifetime and "
        "absorption through `np.linalg.solve(I - Q, ...)`, lifetime value "
        "through `np.linalg.solve(I - dP, V)`, and the per-stage table "
        f"(backward recursion `W = a + d P W` over {PERIODS} periods for both "
        "streams and lifetime, plus the infinite-horizon solves). Random "
        f"journeys (numpy seed {SEED}): every transient stage has {EXITS} random "
        "exits, a stay probability and an exit to the absorbing `churned`; two "
        "streams `revenue` and `cost`, net = revenue - cost. Before timing, every "
        "output (occupancy, retention, value by period, value, lifetime value, "
        "expected lifetime, absorption and the per-stage table) was checked to "
        f"agree to {RTOL:g} relative (max |a - b| / max |b|).",
        "",
        "Machine:",
        "",
        f"- nproc: {mach['nproc']} (usable: {mach['affinity']}); CPU: {mach['cpu']}",
        f"- Python {mach['python']}, numpy {mach['numpy']}, journeysim "
        f"{mach['journeysim']}",
        f"- BLAS: {mach['blas']}",
        f"- OPENBLAS_CORETYPE: {mach['coretype']}; thread variables: {env}",
        f"- journeysim's C++ core runs single-threaded; load average before the "
        f"run: {load}",
        "",
        "Median time per call (timeit; calls per measurement chosen so that one "
        "measurement takes >= 0.2 s, the two implementations measured "
        "alternately):",
        "",
        "| stages | journeysim ms | numpy ms | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {ms(r['js']['median'])} | {ms(r['np']['median'])} | "
            f"{r['np']['median'] / r['js']['median']:.1f}x |"
        )
    lines += [
        "",
        "Details: best-of times, the C++ core called directly "
        f"(`_core.analyze(j._core, {PERIODS}, Accrual.start)`), the Python wrapper's "
        "share, and the core with `periods=0` (only the solves of the lifetime "
        "figures; the difference to the full core time is the propagation over "
        f"{PERIODS} periods). Largest relative difference to numpy in the check.",
        "",
        "| stages | journeysim best ms | numpy best ms | core ms | wrapper ms "
        "| core, periods=0, ms | max rel. diff | measurements |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        wrapper = r["js"]["median"] - r["core"]["median"]
        lines.append(
            f"| {r['n']:,} | {ms(r['js']['best'])} | {ms(r['np']['best'])} | "
            f"{ms(r['core']['median'])} | {wrapper * 1e3:.3f} | "
            f"{ms(r['core0']['median'])} | {r['err']:.1e} | "
            f"{r['js']['repeat']} x {r['js']['number']} / "
            f"{r['np']['repeat']} x {r['np']['number']} |"
        )
    lines += ["", *verdict, ""]
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--min-time", type=float, default=0.2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    mach = machine()
    rng = np.random.default_rng(SEED)
    accrual = _core.Accrual.start
    rows = []
    for n in SIZES:
        journey, inputs = random_journey(n, rng)
        err = check(journey, inputs)
        core = journey._core
        fns = {
            "js": lambda j=journey: j.analyze(periods=PERIODS),
            "np": lambda i=inputs: numpy_analyze(**i, T=PERIODS),
            "core": lambda c=core: _core.analyze(c, PERIODS, accrual),
            "core0": lambda c=core: _core.analyze(c, 0, accrual),
        }
        repeat = args.repeat if n < 1000 else max(5, args.repeat // 2)
        t = time_many(fns, repeat, args.min_time)
        rows.append({"n": n, "err": err, **t})
        print(
            f"{n:>5} stages: journeysim {ms(t['js']['median'])} ms "
            f"(core {ms(t['core']['median'])}, core periods=0 "
            f"{ms(t['core0']['median'])}), numpy {ms(t['np']['median'])} ms, "
            f"speed-up {t['np']['median'] / t['js']['median']:.1f}x, "
            f"max rel. diff {err:.1e}",
            flush=True,
        )

    t30 = next(r for r in rows if r["n"] == 30)["js"]["median"] * 1e3
    slower = [r["n"] for r in rows if r["js"]["median"] > r["np"]["median"]]
    ok_1ms = t30 < TARGET_MS
    verdict = [
        f"Targets: 30 stages over {PERIODS} periods in under {TARGET_MS:g} ms "
        f"including Python overhead: **{'met' if ok_1ms else 'NOT met'}** "
        f"({t30:.3f} ms median). No size slower than numpy: "
        + (
            "**met**."
            if not slower
            else "**NOT met** (slower at "
            + ", ".join(f"{n:,}" for n in slower)
            + " stages)."
        )
    ]
    for line in verdict:
        print(line)
    if not args.no_write:
        write_section(SECTION, render(mach, rows, verdict))
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
