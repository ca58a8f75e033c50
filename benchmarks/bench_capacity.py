"""Benchmark the capacity-limited engine (issue 18 item 2).

The default "small_business" journey (9 stages) with one intervention at the
at_risk moment (relative risk 0.5 on churn) run by a team, 1,000,000 customers
x 120 periods, ``record="totals"``:

- "capacity": the intervention with a capacity of 10,000 customers per period
  (it binds: about 3 times as many customers are at risk in the first months),
  on 1 and 2 threads, and with ``record=None`` (per-customer arrays kept);
- "no capacity": the same plan without a capacity (the customer-by-customer
  engine: sojourn, the default), 1 thread: the time the capacity run is
  compared with; also on 2 threads (what a second thread gives an engine with
  no serial step, on this machine at that moment) and with
  ``engine="period"`` (a period-by-period engine, like the capacity one).

Each run is a fresh subprocess (so its peak RSS is its own: VmHWM of the
child, cross-checked by ``getrusage(RUSAGE_CHILDREN)`` in this process, read
before anything large is allocated here). ``--python-path DIR`` runs the
children against another copy of the package (the engine before a change),
``--save FILE`` writes the raw figures as JSON, ``--before FILE`` puts a saved
run's figures beside this one's in the table. Writes the section
"## Capacity-limited simulation (bench_capacity.py)" of benchmarks/RESULTS.md
unless ``--save`` is given.

Run: .venv/bin/python benchmarks/bench_capacity.py [--before FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CUSTOMERS = 1_000_000
PERIODS = 120
CAPACITY = 10_000
SEED = 20261203
REPEAT = 3  # rounds; each run's best time is reported
TARGETS = {"rss_mb": 300.0, "vs_no_capacity": 3.0}
SECTION = "## Capacity-limited simulation (bench_capacity.py)"
# (name, capacity?, threads, record, engine of the no-capacity plan)
RUNS = (
    ("capacity, 1 thread", True, 1, "totals", None),
    ("capacity, 2 threads", True, 2, "totals", None),
    ("capacity, 1 thread, record=None", True, 1, "none", None),
    ("no capacity, 1 thread", False, 1, "totals", None),
    ("no capacity, 2 threads", False, 2, "totals", None),
    ('no capacity, 1 thread, engine="period"', False, 1, "totals", "period"),
)


def vm_hwm_kb() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def child(capacity: bool, threads: int, record: str, engine: str | None) -> None:
    """Runs in a subprocess: builds the plan, simulates once, prints JSON."""
    import journeysim as js
    from journeysim.model.apply_plan import apply_plan

    j = js.default_journey("small_business")
    iv = js.Intervention(
        "outreach",
        at=("at_risk", "churned"),
        relative_risk=0.5,
        capacity=CAPACITY if capacity else None,
    )
    pj = apply_plan(j, js.Plan("p", [iv]), cost_rate=0.0, simulate=True).journey
    base = vm_hwm_kb()
    t = time.perf_counter()
    sim = pj.simulate(
        CUSTOMERS,
        PERIODS,
        seed=SEED,
        threads=threads,
        record=None if record == "none" else record,
        progress=False,
        **({"engine": engine} if engine else {}),
    )
    dt = time.perf_counter() - t
    print(
        json.dumps(
            {
                "seconds": dt,
                "base_kb": base,
                "hwm_kb": vm_hwm_kb(),
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "retention_end": float(sim.retention.iloc[-1]),
            }
        )
    )


def run_child(
    capacity: bool,
    threads: int,
    record: str,
    engine: str | None,
    python_path: str | None,
):
    env = os.environ.copy()
    if python_path:
        env["PYTHONPATH"] = python_path
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            json.dumps([capacity, threads, record, engine]),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["hwm_mb"] = (r["hwm_kb"] or r["maxrss_kb"]) / 1024
    r["children_mb"] = after / 1024 if after > before else None
    return r


def measure(python_path: str | None) -> dict:
    """Best time of REPEAT rounds (the runs take turns within a round, so that
    the load of a shared machine falls on them alike); peak RSS the largest."""
    best: dict = {}
    for _ in range(REPEAT):
        for name, cap, threads, record, engine in RUNS:
            r = run_child(cap, threads, record, engine, python_path)
            b = best.setdefault(name, r)
            if r["seconds"] < b["seconds"]:
                r["hwm_mb"] = max(r["hwm_mb"], b["hwm_mb"])
                best[name] = r
            else:
                b["hwm_mb"] = max(r["hwm_mb"], b["hwm_mb"])
    return best


def fmt_run(r: dict | None) -> str:
    if r is None:
        return "not measured | |"
    return f"{r['seconds']:.2f} s | {r['hwm_mb']:.0f} MB |"


def section(now: dict, before: dict | None, machine: str, before_label: str) -> str:
    lines = [
        SECTION,
        "",
        f"{machine}. Journey 'small_business' (9 stages), one intervention at "
        f"at_risk (relative risk 0.5 on churn), {CUSTOMERS:,} customers x "
        f"{PERIODS} periods, one replication; capacity {CAPACITY:,} customers a "
        "period (binding). Each run in a fresh subprocess, best time of "
        f"{REPEAT} rounds run in turn; peak RSS is the child's VmHWM (whole "
        "interpreter, journeysim and numpy imported; the largest of the rounds).",
        "",
    ]
    head = "| run | time | peak RSS |"
    rule = "|---|---:|---:|"
    if before:
        head += " before: time | before: peak RSS |"
        rule += "---:|---:|"
    lines += [head, rule]
    for name, *_ in RUNS:
        row = f"| {name} | {fmt_run(now[name])}"
        if before:
            row += " " + fmt_run(before.get(name))
        lines.append(row)
    cap1 = now["capacity, 1 thread"]
    cap2 = now["capacity, 2 threads"]
    free = now["no capacity, 1 thread"]
    free2 = now["no capacity, 2 threads"]
    free_p = now['no capacity, 1 thread, engine="period"']
    ratio = cap1["seconds"] / free["seconds"]
    speed = cap1["seconds"] / cap2["seconds"]
    speed_free = free["seconds"] / free2["seconds"]
    rss = max(r["hwm_mb"] for name, r in now.items() if name.startswith("capacity"))
    ok = "met" if rss < TARGETS["rss_mb"] else "NOT met"
    ok2 = "met" if ratio <= TARGETS["vs_no_capacity"] else "NOT met"
    lines += [
        "",
        f"- Peak RSS of the capacity runs: {rss:.0f} MB (target under "
        f"{TARGETS['rss_mb']:.0f} MB: {ok}).",
        f"- Capacity versus no capacity, 1 thread: {ratio:.2f}x the time (target "
        f"at most {TARGETS['vs_no_capacity']:.0f}x: {ok2}).",
        f"- Capacity versus no capacity with the per-period engine "
        f'(`engine="period"`), 1 thread: {cap1["seconds"] / free_p["seconds"]:.2f}x '
        "the time.",
        f"- Capacity, 2 threads versus 1: {speed:.2f}x faster (no capacity, "
        f"whose threads never wait for each other: {speed_free:.2f}x; the "
        "machine's second core is shared with other jobs).",
        f"- Retention at {PERIODS} periods: capacity "
        f"{cap1['retention_end']:.4f}, no capacity {free['retention_end']:.4f}.",
    ]
    if before and "capacity, 1 thread" in before:
        b1 = before["capacity, 1 thread"]
        lines.append(
            f"- Before ({before_label}): {b1['seconds']:.2f} s and "
            f"{b1['hwm_mb']:.0f} MB for "
            f"'capacity, 1 thread'; now {cap1['seconds'] / b1['seconds']:.2f}x "
            f"the time and {cap1['hwm_mb'] / b1['hwm_mb']:.2f}x the memory."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--python-path", help="PYTHONPATH of the measured children")
    ap.add_argument("--save", type=Path, help="write raw figures here (no RESULTS)")
    ap.add_argument("--before", type=Path, help="a saved run to show beside")
    ap.add_argument(
        "--before-label",
        default="a saved earlier run",
        help="what the --before run measured, for the text",
    )
    args = ap.parse_args()
    if args.child:
        child(*json.loads(args.child))
        return
    now = measure(args.python_path)
    for name, r in now.items():
        print(f"{name}: {r['seconds']:.2f} s, {r['hwm_mb']:.0f} MB", flush=True)
    if args.save:
        args.save.write_text(json.dumps(now, indent=1))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from results_file import cpu_model, write_section

    before = json.loads(args.before.read_text()) if args.before else None
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    machine = f"{cpu_model()}, {os.cpu_count()} cores, load average {load} at the end"
    write_section(SECTION, section(now, before, machine, args.before_label))


if __name__ == "__main__":
    main()
