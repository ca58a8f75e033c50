"""An intervention's effect as a tenure schedule: ``relative_risk=0.6`` (one
amount at every tenure), ``{0: 0.5, 3: 0.7, 6: 1.0}`` (from tenure 0, 3 and 6
on) or ``[0.5, 0.6, 0.7]`` (tenure 0, 1, 2, the last amount from then on).

A plan's journey is cut at the schedule's tenures, so a scheduled effect is the
same chain as a journey built by hand with those tenure pieces."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._base.checks import check_real
from .._base.conventions import MAX_PERIOD
from .._base.errors import InputError

__all__ = ["Step", "amount_at", "effect_form", "effect_schedule", "step_tenures"]


@dataclass(frozen=True)
class Step:
    """From tenure ``tenure`` on (until the next step), the effect's amount."""

    tenure: int
    amount: float


def _tenure(k: Any, who: str, key: str) -> int:
    # Digit strings are tenures too: JSON keys are strings ({"0": 0.5, "3": 0.7}).
    if isinstance(k, str) and k.isdigit():
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise InputError(
            f"{who}: a schedule's keys are tenures (whole numbers of periods), "
            f"got {k!r}",
            key=(key,),
        )
    if not 0 <= k <= MAX_PERIOD:
        raise InputError(
            f"{who}: schedule tenure {k} is outside [0, {MAX_PERIOD:,}]", key=(key,)
        )
    return int(k)


def _check_amount(x: Any, effect: str, who: str) -> float:
    what = f"{who}: {effect}"
    v = check_real(x, what, key=(effect,))
    if effect == "relative_risk" and v < 0:
        raise InputError(f"{what} must be >= 0, got {v}", key=(effect,))
    if effect == "probability" and not 0 <= v <= 1:
        raise InputError(f"{what} must be in [0, 1], got {v}", key=(effect,))
    return v


def effect_schedule(value: Any, effect: str, who: str) -> tuple[Step, ...]:
    """The effect's steps, checked, in tenure order, equal neighbours merged
    (so ``{0: 0.5}`` and ``0.5`` are the same effect)."""
    if isinstance(value, Mapping):
        if not value:
            raise InputError(f"{who}: {effect} schedule is empty", key=(effect,))
        steps = [
            Step(_tenure(k, who, effect), _check_amount(v, effect, who))
            for k, v in value.items()
        ]
        tenures = [s.tenure for s in steps]
        if len(set(tenures)) != len(tenures):
            raise InputError(
                f"{who}: {effect} schedule names a tenure twice: {list(value)!r}",
                key=(effect,),
            )
        steps.sort(key=lambda s: s.tenure)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            raise InputError(f"{who}: {effect} schedule is empty", key=(effect,))
        if len(value) > MAX_PERIOD:
            raise InputError(
                f"{who}: {effect} schedule is longer than {MAX_PERIOD:,} periods",
                key=(effect,),
            )
        steps = [Step(k, _check_amount(v, effect, who)) for k, v in enumerate(value)]
    else:
        steps = [Step(0, _check_amount(value, effect, who))]
    if steps[0].tenure != 0:
        raise InputError(
            f"{who}: a {effect} schedule starts at tenure 0 (it says what happens "
            f"from tenure 0 on), got its first tenure {steps[0].tenure}; to start "
            f"later, give window=({steps[0].tenure}, None)",
            key=(effect,),
        )
    merged = [steps[0]]
    for s in steps[1:]:
        if s.amount != merged[-1].amount:
            merged.append(s)
    return tuple(merged)


def amount_at(steps: Sequence[Step], tenure: int) -> float:
    """The amount in force at ``tenure``."""
    out = steps[0].amount
    for s in steps:
        if s.tenure > tenure:
            break
        out = s.amount
    return out


def step_tenures(steps: Sequence[Step]) -> list[int]:
    """The tenures where the amount changes (where a plan's journey is cut)."""
    return [s.tenure for s in steps[1:]]


def effect_form(steps: Sequence[Step]) -> float | dict[int, float]:
    """The plain form files use: one number, or ``{tenure: amount}``."""
    if len(steps) == 1:
        return float(steps[0].amount)
    return {int(s.tenure): float(s.amount) for s in steps}
