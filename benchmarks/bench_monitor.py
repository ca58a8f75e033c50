"""Monitoring: a monthly monitor (3-month windows) over 36 months of a 10 M-event
log, reading the Parquet file included, against the by-hand way it is done
without js.monitor: cut each window's rows out of the log and refit it with
js.fit. Both give identical counts; writes its section of RESULTS.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import journeysim as js
from results_file import cpu_model, write_section

SECTION = "## Monitoring (bench_monitor.py)"
EVENTS = 10_000_000
MONTHS = 36
STAGES = ["onboarding", "adopting", "value", "at_risk", "churned"]
#: The monthly journey the log follows (rows: from; columns: to).
P = np.array(
    [
        [0.55, 0.30, 0.00, 0.10, 0.05],
        [0.00, 0.60, 0.25, 0.10, 0.05],
        [0.00, 0.05, 0.85, 0.08, 0.02],
        [0.00, 0.15, 0.10, 0.60, 0.15],
        [0.00, 0.00, 0.00, 0.00, 1.00],
    ]
)
#: Stage changes per customer over the 36 months (measured on this journey),
#: to size the monthly sign-ups for EVENTS rows.
ROWS_PER_CUSTOMER = 4.19
RUNS = 3


def event_log(events: int, months: int, seed: int = 11) -> pd.DataFrame:
    """Stage changes (customer, date, stage), in customer and date order: a
    cohort signs up every month in onboarding, on a random day; each later
    month every customer moves by ``P``; a change is dated on a random day of
    its month."""
    rng = np.random.default_rng(seed)
    per = round(events / ROWS_PER_CUSTOMER / months)
    cum = np.cumsum(P, axis=1)
    cust, month, stage = [], [], []
    alive = np.empty(0, np.int64)
    where = np.empty(0, np.int8)
    for m in range(months):
        if len(alive):
            u = rng.random(len(alive))
            new = (u[:, None] > cum[where]).sum(axis=1).astype(np.int8)
            moved = new != where
            cust.append(alive[moved])
            month.append(np.full(int(moved.sum()), m))
            stage.append(new[moved])
            keep = new != len(STAGES) - 1
            alive, where = alive[keep], new[keep]
        joined = np.arange(m * per, (m + 1) * per, dtype=np.int64)
        cust.append(joined)
        month.append(np.full(per, m))
        stage.append(np.zeros(per, np.int8))
        alive = np.r_[alive, joined]
        where = np.r_[where, np.zeros(per, np.int8)]
    c, mo, s = np.concatenate(cust), np.concatenate(month), np.concatenate(stage)
    first = np.datetime64("2023-01", "M") + mo.astype("timedelta64[M]")
    date = first.astype("datetime64[D]") + rng.integers(0, 28, len(c)).astype(
        "timedelta64[D]"
    )
    order = np.lexsort((date, c))
    return pd.DataFrame(
        {
            "customer": c[order],
            "date": date[order].astype("datetime64[ns]"),
            "stage": pd.Categorical.from_codes(s[order], STAGES),
        }
    )


CHILD = """
import resource, sys, time
t0 = time.perf_counter()
import journeysim as js
from journeysim.calibrate import counting, events, windows
t1 = time.perf_counter()
cpu = time.process_time()
m = js.monitor(sys.argv[1], time="date", window="3M", every="1M",
               absorbing=["churned"])
t2 = time.perf_counter()
cpu = time.process_time() - cpu
# The same steps one by one, for where the time goes.
o = counting.FitOptions(time="date", period="M", absorbing=("churned",))
a = time.perf_counter()
df = events.read_events(sys.argv[1], ["customer", "date", "stage"])
b = time.perf_counter()
log = counting.read_log(df, o)
c = time.perf_counter()
coded = counting.code_rows(log, o)
d = time.perf_counter()
origin = int(coded.data.period.min())
windows.count_by_period(coded.data, log.stages, ["churned"], origin)
e = time.perf_counter()
print(t1 - t0, t2 - t1, cpu, b - a, c - b, d - c, e - d, len(m.windows),
      int(m.windows["transitions"].sum()),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def by_hand(path: str) -> tuple[float, float, list[np.ndarray]]:
    """The monitor without js.monitor: read the file once, then for every
    window cut out its rows (each customer's last row up to the month before
    the window, restated then, unless churned; the rows of the window) and
    refit with js.fit (prior 0.5, end the window's last day). Seconds (wall
    and CPU) and the counts of each window."""
    import pyarrow.parquet as pq

    t, cpu = time.perf_counter(), time.process_time()
    log = pq.read_table(path).to_pandas()
    log["stage"] = log["stage"].astype(str)
    month = log["date"].dt.to_period("M")
    first_month = month.min()
    counts = []
    for w in range(MONTHS - 3):
        a = first_month + 1 + w  # the window's first and last months
        b = a + 2
        before = log[month <= a - 1]
        carried = before.groupby("customer", sort=False).tail(1)
        carried = carried[carried["stage"] != "churned"].assign(date=(a - 1).start_time)
        inside = log[(month >= a) & (month <= b)]
        rows = pd.concat([carried, inside])
        f = js.fit(
            rows,
            time="date",
            period="M",
            stages=STAGES,
            absorbing=["churned"],
            prior=0.5,
            end=b.end_time.normalize(),
        )
        counts.append(f.counts.loc[STAGES, STAGES].to_numpy())
    return time.perf_counter() - t, time.process_time() - cpu, counts


def machine() -> str:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python "
        f"{platform.python_version()}, numpy {np.__version__}, pandas "
        f"{pd.__version__}; load average before the run {load} (the machine is "
        "shared, so times vary between runs)."
    )


def main() -> None:
    load = machine()
    t = time.perf_counter()
    log = event_log(EVENTS, MONTHS)
    made = time.perf_counter() - t
    n, customers = len(log), int(log["customer"].nunique())
    print(f"log: {n:,} events, {customers:,} customers ({made:.1f} s to make)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.parquet")
        log.to_parquet(path, index=False)
        by_date = os.path.join(tmp, "events-by-date.parquet")
        log.sort_values("date", kind="stable").to_parquet(by_date, index=False)
        del log
        size = os.path.getsize(path) / 2**20
        runs = []
        for _ in range(RUNS):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, path],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            runs.append([float(x) for x in out])
            print("js.monitor:", out)
        dated = [
            float(x)
            for x in subprocess.run(
                [sys.executable, "-c", CHILD, by_date],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
        ]
        print("js.monitor, rows in date order:", dated)
        m = js.monitor(
            path, time="date", window="3M", every="1M", absorbing=["churned"]
        )
        hand_s, hand_cpu, hand_counts = by_hand(path)
        print(f"by hand: {hand_s:.1f} s")
    same = len(hand_counts) == len(m.windows) and all(
        (m.fit(w).counts.loc[STAGES, STAGES].to_numpy() == c).all()
        for w, c in enumerate(hand_counts)
    )
    assert same, "js.monitor and the by-hand refits count differently"
    best = min(runs, key=lambda r: r[1])
    monitor_s = best[1]
    median = float(np.median([r[1] for r in runs]))
    ok = monitor_s < 5
    text = "\n".join(
        [
            SECTION,
            "",
            f"A log of {n:,} stage changes ({customers:,} customers, 5 stages, "
            f"{MONTHS} months of dates; a cohort signs up every month and moves "
            f"monthly by a fixed journey), written to one Parquet file "
            f'({size:,.0f} MB) by the script. `js.monitor(path, time="date", '
            'window="3M", every="1M", absorbing=["churned"])`: '
            f"{len(m.windows)} rolling 3-month windows, each with its posterior, "
            "measured in a fresh process (import excluded, reading included), "
            f"best of {RUNS}. By hand: the same file read once with pyarrow, then "
            "for every window its rows cut out with pandas (each customer's last "
            "row before the window, restated at the month before it, and the "
            "window's rows) and refitted with `js.fit` (what a user does without "
            "`js.monitor`). Both give identical counts in every window (checked).",
            "",
            load,
            "",
            "| implementation | wall s | CPU s | vs js.monitor (wall) |",
            "|---|---:|---:|---:|",
            f"| js.monitor (best of {RUNS}) | {monitor_s:.2f} | {best[2]:.2f} | 1x |",
            f"| js.monitor (median of {RUNS}) | {median:.2f} | | |",
            f"| js.monitor, the file's rows in date order (one run) | "
            f"{dated[1]:.2f} | {dated[2]:.2f} | |",
            f"| by hand: one js.fit per window | {hand_s:.1f} | {hand_cpu:.1f} | "
            f"{hand_s / monitor_s:.0f}x slower |",
            "",
            "Where js.monitor's time goes (the best run, the steps timed again "
            "one by one):",
            "",
            "| step | seconds |",
            "|---|---:|",
            f"| read the Parquet file and check it | {best[3]:.2f} |",
            f"| code customers and stages | {best[4]:.2f} |",
            f"| months, sort by customer and time, one row a month | {best[5]:.2f} |",
            f"| count moves by calendar month (core, one pass) | {best[6]:.2f} |",
            f"| import journeysim (not in the total) | {best[0]:.2f} |",
            "",
            f"Peak RSS of the monitoring process: {best[9] / 1024:,.0f} MB.",
            "",
            f"- Target: under 5 s on 2 cores including reading: "
            f"**{'PASS' if ok else 'FAIL'}** ({monitor_s:.2f} s wall, "
            f"{best[2]:.2f} s of CPU over both cores: the Parquet reader uses "
            "threads, the rest runs on one core). The log is written in "
            "customer and date order, as exports by account usually are; rows "
            "in date order cost one stable sort by customer (row above).",
            "",
            "What changed after profiling (first run: 11.3 s on a 12.7 M-event "
            "log): 7 s went to a four-key `np.lexsort` that put the rows in "
            "customer and time order. Rows are now checked first (one pass) and "
            "not sorted when in order; a log in time order takes one stable sort "
            "by customer; only a customer's rows out of time order take the "
            "two-key sort (`counting.customer_time_order`). Sorted integer ids "
            "are coded in one pass and a Parquet dictionary's codes are used "
            "as they are (no hashing of 10 M values), and a checked frame is no "
            "longer copied when its times are already dates.",
            "",
        ]
    )
    write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
