"""The child process of bench_simulate.py's peak-RSS measurement: a fresh
interpreter that imports numpy and pandas, then journeysim, builds the
10-stage journey and simulates RSS_CUSTOMERS customers, reading its own
memory after each step, so that the peak can be split into what pandas costs
(pandas 3 loads pyarrow itself), what ``import journeysim`` adds, and the
arrays of the result.

Run by bench_simulate.measure_rss: ``python rss_child.py none|totals
[--no-pyarrow]``; prints one JSON line. ``--no-pyarrow`` makes ``import
pyarrow`` fail, as for a user without journeysim's ``files`` extra (pandas then
runs without it).
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from pathlib import Path


def status_kb(key: str) -> int | None:
    """VmRSS (resident now) or VmHWM (peak) of this process, in kB."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{key}:\s*(\d+) kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def main(record: str, pyarrow: bool = True) -> None:
    rss = {"start": status_kb("VmRSS")}
    if not pyarrow:
        sys.modules["pyarrow"] = None  # import pyarrow raises ImportError
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    rss["numpy_pandas"] = status_kb("VmRSS")
    t = time.perf_counter()
    import journeysim  # noqa: F401

    import_s = time.perf_counter() - t
    rss["journeysim"] = status_kb("VmRSS")
    from bench_simulate import PERIODS, RSS_CUSTOMERS, SIM_SEED, SIZES, random_journey

    journey, _ = random_journey(SIZES[0])
    rss["journey"] = status_kb("VmRSS")
    base = status_kb("VmHWM")
    t = time.perf_counter()
    sim = journey.simulate(
        RSS_CUSTOMERS,
        PERIODS,
        seed=SIM_SEED,
        record=None if record == "none" else record,
        progress=False,
    )
    dt = time.perf_counter() - t
    _ = sim.retention  # use the result
    raw = sim.raw
    arrays = sum(getattr(raw, name).nbytes for name in raw.arrays)
    print(
        json.dumps(
            {
                "rss_kb": rss,
                "base_kb": base,
                "hwm_kb": status_kb("VmHWM"),
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "arrays_bytes": arrays,
                "import_s": import_s,
                "seconds": dt,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], pyarrow="--no-pyarrow" not in sys.argv[2:])
