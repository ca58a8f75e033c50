"""The conventions every layer counts by: accruals, reserved names, bounds.

The time line (docs/concepts.md): x_0 is the start distribution; period
k = 1..T moves x_{k-1} to x_k with the matrix for tenure k - 1. A window
(a, b) covers the periods with tenure a <= k - 1 < b."""

from __future__ import annotations

from .errors import InputError
from .native import _core

__all__ = [
    "ACCRUALS",
    "COST_STREAM",
    "MAX_PERIOD",
    "STAGE_METADATA",
    "STAGE_METADATA_ORDER",
    "TOLERANCE",
    "accrual_of",
]

#: When the value of a period k accrues (docs/concepts.md, "Accrual conventions"):
#: "start" on x_{k-1} discounted by (1+r)^-(k-1); "end" on x_k by (1+r)^-k;
#: "half-cycle" on (x_{k-1}+x_k)/2 by (1+r)^-(k-1/2); "life-table" on the same
#: average by (1+r)^-(k-1), as heemod's method = "life-table" with discount(x, r).
ACCRUALS = {
    "start": _core.Accrual.start,
    "end": _core.Accrual.end,
    "half-cycle": _core.Accrual.half_cycle,
    "life-table": _core.Accrual.life_table,
}

#: Stage metadata a journey map carries (not used by the math).
STAGE_METADATA = ("description", "owner", "channels", "touchpoints", "kpis")

#: The value stream that carries per customer-period intervention costs in the
#: journey a plan produces (weight 0 in net value: costs are reported apart).
#: Reserved: a journey may not have a stream of this name.
COST_STREAM = "intervention_cost"

#: Tenure and calendar bounds at most (a million periods).
MAX_PERIOD = 1_000_000

#: How far a row, a start or the segment shares may be from summing to 1 (and a
#: probability above 1), in the spec reader, the constructor and the core.
TOLERANCE = 1e-9

#: The order a model file writes a stage's metadata in.
STAGE_METADATA_ORDER = ("owner", "description", "channels", "touchpoints", "kpis")


def accrual_of(accrual: object) -> _core.Accrual:
    """The core's accrual for ``"start"``, ``"end"``, ``"half-cycle"`` or
    ``"life-table"``; an InputError naming the choices otherwise."""
    if not isinstance(accrual, str) or accrual not in ACCRUALS:
        raise InputError(f"accrual must be one of {sorted(ACCRUALS)}, got {accrual!r}")
    return ACCRUALS[accrual]


#: The most journeys a posterior sample may hold (each is a journey with its
#: own core object: a million of them would take minutes and gigabytes).
MAX_SAMPLES = 100_000
