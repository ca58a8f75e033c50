"""Payback time of a plan: when its cumulative incremental net value, against
the baseline and over the modelled population, turns positive for good."""

from __future__ import annotations

import numpy as np

__all__ = ["payback"]


def payback(gain_by_period: np.ndarray) -> float:
    """The payback time in periods of the journey's time unit, or nan when the
    plan does not pay back within the horizon.

    ``gain_by_period[k - 1]`` is the plan's incremental net value in period
    ``k`` (discounted, as the comparison's totals are): the change in the
    population's net value less the change in intervention costs, the fixed
    costs falling in period 1. The payback time is the first period ``k`` from
    which the cumulative sum over periods ``1..k`` is positive and stays
    positive to the horizon (a plan that pays back, dips below zero again and
    recovers pays back at the recovery). So it exists exactly when the
    incremental net value over the horizon is positive. Sums within
    ``1e-9`` of the largest movement are taken as zero, so that a plan that
    changes nothing never "pays back" on rounding.
    """
    gain = np.asarray(gain_by_period, dtype=float)
    if gain.size == 0:
        return float("nan")
    cum = np.cumsum(gain)
    scale = float(np.abs(gain).sum())
    tol = 1e-9 * scale
    if not cum[-1] > tol:
        return float("nan")
    below = np.flatnonzero(cum <= tol)
    # Index i is period i + 1: positive from the period after the last one
    # that was not.
    return float(below[-1] + 2) if below.size else 1.0
