"""The Monte Carlo engine of another copy of journeysim, timed beside this one.

bench_simulate.py (``--before-path DIR``) runs the same journeys on the engine
of the package in DIR (e.g. a checkout from before a change, built) in one
long-lived child process, so that its times sit in the same interleaved rounds
as this copy's. The child builds each journey with this directory's
``random_journey`` / ``sticky_journey`` against its own journeysim, and answers
one line per run: the wall time of ``journey.simulate`` (1 thread,
``record="totals"``, the engine's default) and the final retention.

Run as a script, it is that child (reads requests on stdin).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


class BeforeEngine:
    """A child process running journeysim from ``path``; ``time(kind, n)``
    simulates there and returns the child's wall time of the call."""

    def __init__(self, path: str, customers: int, periods: int, seed: int, label=None):
        env = os.environ.copy()
        env["PYTHONPATH"] = os.pathsep.join([str(Path(path).resolve()), str(HERE)])
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.args = {"customers": customers, "periods": periods, "seed": seed}
        self.version = self._ask({"what": "version"})["version"]
        if label:
            self.version = f"{self.version} ({label})"

    def _ask(self, request: dict) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the before-engine child stopped")
        return json.loads(line)

    def run(self, kind: str, n: int) -> dict:
        """kind: "random" (bench_simulate's journeys), "sticky", "sticky-floor"
        (the sticky journey with everyone starting absorbed)."""
        return self._ask({"what": kind, "n": n, **self.args})

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _journey(kind: str, n: int):
    import journeysim as js

    if kind == "random":
        from bench_simulate import random_journey

        return random_journey(n)[0]
    from sticky import RATE, sticky_journey

    j, P, _, _, values, stages = sticky_journey(n)
    if kind == "sticky":
        return j
    return js.Journey.from_matrix(
        P, stages=stages, values=values, discount_rate=RATE, start={"churned": 1}
    )


def _child() -> None:
    import journeysim as js

    cache = {}
    for line in sys.stdin:
        req = json.loads(line)
        if req["what"] == "version":
            out = {"version": f"{js.__version__} from {Path(js.__file__).parent}"}
        else:
            key = (req["what"], req["n"])
            if key not in cache:
                cache[key] = _journey(*key)
            t = time.perf_counter()
            sim = cache[key].simulate(
                req["customers"],
                req["periods"],
                seed=req["seed"],
                threads=1,
                record="totals",
                progress=False,
            )
            out = {
                "seconds": time.perf_counter() - t,
                "retention": float(sim.retention.iloc[-1]),
            }
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    _child()
