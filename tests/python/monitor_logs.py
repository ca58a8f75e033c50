"""Event logs in calendar time for the monitoring tests: a cohort joins
every month; from month ``change`` on, the matrix ``after`` applies."""

from __future__ import annotations

import numpy as np
import pandas as pd

import journeysim as js

STAGES = ["onboarding", "adopting", "value", "churned"]


def matrix(churn: float) -> np.ndarray:
    """The test journey, onboarding -> churned at ``churn`` a month."""
    return np.array(
        [
            [0.65 - churn, 0.35, 0.0, churn],
            [0.0, 0.75, 0.20, 0.05],
            [0.0, 0.05, 0.93, 0.02],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def calendar_log(
    months: int,
    per_month: int,
    seed: int,
    before: float = 0.05,
    after: float | None = None,
    change: int | None = None,
) -> pd.DataFrame:
    """A log of stage changes (customer, period, stage) over ``months``
    months: ``per_month`` customers join in onboarding each month."""
    if after is None or change is None:  # stationary: one run with arrivals
        j = js.Journey.from_matrix(
            matrix(before),
            stages=STAGES,
            start={"onboarding": 1.0},
            arrivals=per_month,
        )
        log = j.simulate(per_month, months, seed=seed, record="events").stage_log()
        log["stage"] = log["stage"].astype(str)
        return log
    frames, offset = [], 0
    for s in range(months):
        if after is None or change is None or change > months:
            P = matrix(before)
        elif s >= change:
            P = matrix(after)
        else:  # tenure-dependent: the change reaches this cohort at tenure change - s
            P = {0: matrix(before), change - s: matrix(after)}
        j = js.Journey.from_matrix(P, stages=STAGES, start={"onboarding": 1.0})
        sim = j.simulate(per_month, months - s, seed=seed * 1000 + s, record="events")
        log = sim.stage_log()
        log["customer"] += offset
        log["period"] += s
        offset += per_month
        frames.append(log)
    out = pd.concat(frames, ignore_index=True)
    out["stage"] = out["stage"].astype(str)
    return out
