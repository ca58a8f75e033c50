"""The plan studio's response to a change (issue 19 target: an exact update of
the demo journey with its three plans within 200 ms). Measured server side, in
one run: the studio's own update (a slider's new value -> the edit checked, the
exact comparison, the headline, the table and the charts' data refreshed in
place) against a naive full recompute (the whole page built again for each
change: comparison, figures and journey map), and js.compare alone. Writes its
section of RESULTS.md."""

from __future__ import annotations

import platform
import statistics
import time

import journeysim as js
from journeysim.apps.studio_state import Setup
from journeysim.apps.studio_view import StudioView
from results_file import cpu_model, write_section

SECTION = "## Plan studio (bench_studio.py)"
CHANGES = 30


def timed(fn, n: int) -> list[float]:
    out = []
    for k in range(n):
        t = time.perf_counter()
        fn(k)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    j, plans = js.default_journey(), js.default_plans()
    app = js.studio(j, plans)
    slider = app._inputs[("onboarding call", "effect")]
    values = [0.3 + 0.01 * (k % 20) for k in range(CHANGES)]

    def studio_update(k: int) -> None:
        slider.value = values[k] if values[k] != slider.value else values[k] + 0.005
        assert app.error is None

    setup = Setup.of(j, plans)

    def naive(k: int) -> None:
        s = setup.edit("onboarding call", "effect", values[k])
        StudioView(s).__panel__()

    def compare_only(k: int) -> None:
        setup.edit("onboarding call", "effect", values[k]).exact()

    studio_update(0)  # warm
    fast = timed(studio_update, CHANGES)
    slow = timed(naive, 5)
    bare = timed(compare_only, CHANGES)
    med = statistics.median
    p95 = sorted(fast)[int(0.95 * (len(fast) - 1))]
    text = (
        f"{SECTION}\n\n"
        f"Machine: {cpu_model()}, Python {platform.python_version()}. The demo "
        "journey (9 stages, tenure pieces for ten annual renewals) with its three "
        "plans, exact over 36 months; one change of the onboarding call's relative "
        f"risk, {CHANGES} changes (naive: 5), server-side time from the new value "
        "to the page's objects updated (the browser's redraw is not included).\n\n"
        "| what | median (ms) | 95th pct (ms) |\n|---|---|---|\n"
        f"| studio update (target 200 ms) | {med(fast):.0f} | {p95:.0f} |\n"
        f"| naive full recompute (page rebuilt) | {med(slow):.0f} | "
        f"{max(slow):.0f} |\n"
        f"| js.compare alone (3 plans) | {med(bare):.0f} | "
        f"{sorted(bare)[int(0.95 * (len(bare) - 1))]:.0f} |\n\n"
        f"Target {'met' if p95 < 200 else 'NOT met'}: the studio's update is "
        f"{med(slow) / med(fast):.1f}x faster than rebuilding the page.\n"
    )
    print(text)
    write_section(SECTION, text)


if __name__ == "__main__":
    main()
