"""Moments of truth: every transition ranked by the exact sensitivity of a
metric (net value, lifetime, retention) to one point of its probability."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._base.checks import stage_index
from .._base.conventions import ACCRUALS, MAX_PERIOD, accrual_of
from .._base.errors import InputError
from .._base.native import _core, core_errors

if TYPE_CHECKING:
    from .._base.resolved import JourneyLike

__all__ = ["rank_moments"]


def rank_moments(
    journey: JourneyLike,
    metric: str,
    horizon: int | None,
    *,
    to: str | Mapping | None,
    accrual: str,
) -> pd.DataFrame:
    """See :meth:`journeysim.Journey.moments_of_truth`."""
    metrics = {
        "clv": _core.Sensitivity.value,
        "lifetime": _core.Sensitivity.lifetime,
        "retention": _core.Sensitivity.retention,
    }
    if not isinstance(metric, str) or metric not in metrics:
        raise InputError(f"metric must be one of {sorted(metrics)}, got {metric!r}")
    if horizon is not None and (
        isinstance(horizon, bool)
        or not isinstance(horizon, numbers.Integral)
        or not 1 <= horizon <= MAX_PERIOD
    ):
        raise InputError(f"horizon must be an integer >= 1 or None, got {horizon!r}")
    if metric == "retention" and horizon is None:
        raise InputError("metric='retention' needs a horizon")
    accrual_of(accrual)
    n = len(journey.stages)
    dest = list(range(n))
    if isinstance(to, str):
        k = stage_index(journey.stages, to, "to")
        dest = [k] * n
    elif isinstance(to, Mapping):
        for frm, t in to.items():
            dest[stage_index(journey.stages, frm, "to")] = stage_index(
                journey.stages, t, "to"
            )
    elif to is not None:
        raise InputError(f"to must be a stage or a dict, got {to!r}")
    with core_errors():
        D = np.asarray(
            _core.sensitivities(
                journey.core,
                None if horizon is None else int(horizon),
                ACCRUALS[accrual],
                metrics[metric],
                dest,
            )
        )
    P = (
        journey.transition_matrices(journey.segments[0])
        if len(journey.segments) == 1
        else None
    )
    probs = (
        P[0].to_numpy()
        if P is not None
        else sum(
            journey.core.share(i) * np.asarray(journey.core.transitions(i)[0])
            for i in range(len(journey.segments))
        )
    )
    # Listed: every move possible in some tenure piece of some segment.
    possible = sum(
        np.asarray(m)
        for i in range(len(journey.segments))
        for m in journey.core.transitions(i)
    )
    flagged = set(m for m in journey.resolved.moments if isinstance(m, tuple))
    flagged_stages = set(m for m in journey.resolved.moments if isinstance(m, str))
    records = []
    absorbing = set(journey.absorbing)
    for i, frm in enumerate(journey.stages):
        if frm in absorbing:
            continue
        for j, t in enumerate(journey.stages):
            if j == dest[i] or possible[i, j] <= 0:
                continue
            s = float(D[i, j])
            records.append(
                {
                    "from": frm,
                    "to": t,
                    "probability": float(probs[i, j]),
                    "sensitivity": s,
                    "direction": (
                        "undefined"
                        if not np.isfinite(s)
                        else ("decrease" if s < 0 else "increase")
                    ),
                    "gain_per_point": abs(s) * 0.01,
                    "moment_of_truth": (frm, t) in flagged
                    or frm in flagged_stages
                    or t in flagged_stages,
                }
            )
    out = pd.DataFrame.from_records(
        records,
        columns=[
            "from",
            "to",
            "probability",
            "sensitivity",
            "direction",
            "gain_per_point",
            "moment_of_truth",
        ],
    )
    out = out.sort_values("gain_per_point", ascending=False, kind="stable")
    return out.set_index(["from", "to"])
