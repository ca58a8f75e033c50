"""Checks of user input shared by every layer: numbers, integers, names, stage
names and the key-path-aware checks of spec documents (journeys, interventions,
plans, model files). Each raises an :class:`~journeysim._base.errors.InputError`
(a ValueError) or a :class:`~journeysim._base.errors.SpecError` that says what
is wrong and where."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from .conventions import MAX_SAMPLES
from .errors import FitError, InputError, SpecError

__all__ = [
    "check_integer",
    "check_keys",
    "check_real",
    "check_sample_size",
    "describe",
    "finite_number",
    "known_stage",
    "spec_mapping",
    "spec_name",
    "spec_names",
    "spec_number",
    "stage_index",
]


def describe(x: Any) -> str:
    """A short description of a value for an error message."""
    if isinstance(x, bool):
        return f"{x} (a boolean)"
    if x is None:
        return "nothing (null)"
    if isinstance(x, str):
        r = repr(x)
        return "the string " + (r if len(r) <= 60 else r[:56] + "...'")
    if isinstance(x, Mapping):
        return "a mapping"
    if isinstance(x, (list, tuple)):
        return "a list"
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."


def check_keys(d: Mapping, path: tuple, known: Sequence[str], what: str) -> None:
    """Every key of ``d`` is one of ``known``, or a SpecError at that key."""
    for k in d:
        if k not in known:
            near = difflib.get_close_matches(str(k), list(known), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise SpecError(
                (*path, k),
                f"unknown key {k!r} in {what}{hint} (known: {', '.join(known)})",
            )


def spec_number(
    x: Any,
    path: tuple,
    *,
    low: float | None = None,
    above: float | None = None,
    what: str = "a number",
) -> float:
    """A finite number (not a boolean) as a float, at least ``low``, more than
    ``above``; otherwise a SpecError at ``path``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise SpecError(path, f"expected {what}, got {describe(x)}")
    try:
        v = float(x)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise SpecError(path, f"expected {what} (finite), got {describe(x)}")
    if low is not None and v < low:
        raise SpecError(path, f"expected {what} >= {low:g}, got {v!r}")
    if above is not None and not v > above:
        raise SpecError(path, f"expected {what} > {above:g}, got {v!r}")
    return v


def spec_name(x: Any, path: tuple, what: str = "a name") -> str:
    if not isinstance(x, str) or not x:
        raise SpecError(
            path, f"expected {what} (a non-empty string), got {describe(x)}"
        )
    return x


def spec_names(x: Any, path: tuple, what: str = "names") -> list[str]:
    """A name or a list of names."""
    if isinstance(x, str):
        return [spec_name(x, path)]
    if not isinstance(x, (list, tuple)):
        raise SpecError(path, f"expected {what} (a name or a list), got {describe(x)}")
    return [spec_name(v, (*path, i)) for i, v in enumerate(x)]


def spec_mapping(x: Any, path: tuple, what: str) -> Mapping:
    if not isinstance(x, Mapping):
        raise SpecError(path, f"expected {what}, got {describe(x)}")
    return x


def known_stage(name: Any, path: tuple, stages: list[str], wildcard=False) -> str:
    if wildcard and name == "*":
        return name
    if not isinstance(name, str) or name not in stages:
        near = difflib.get_close_matches(str(name), stages, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise SpecError(
            path, f"unknown stage {name!r}; {hint}the stages are {', '.join(stages)}"
        )
    return name


def stage_index(stages: Sequence[str], name: Any, what: str) -> int:
    """The position of stage ``name``, or a ValueError naming ``what``."""
    try:
        return stages.index(name)  # type: ignore[union-attr]
    except ValueError:
        raise InputError(
            f"{what}: unknown stage {name!r}; the stages are {list(stages)}"
        ) from None


def check_integer(value: Any, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, or an InputError naming ``name``.
    Every integer handed to the compiled core is checked so: the bindings turn
    one that does not fit a C int into a TypeError with a full signature."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low:
        raise InputError(f"{name} must be >= {low}, got {value:,}")
    if high is not None and value > high:
        raise InputError(f"{name} must be in [{low}, {high:,}], got {value:,}")
    return value


def check_real(x: Any, what: str, key: tuple = ()) -> float:
    """A finite number (not a boolean) as a float; ``key``: the argument's key
    path, for the error."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not finite_number(x):
        raise InputError(f"{what} must be a finite number, got {x!r}", key=key)
    return float(x)


def finite_number(x: Any) -> bool:
    """A real number that is finite as a double (an int too large for one is
    not: ``np.isfinite(2**64)`` raises instead of answering)."""
    try:
        return math.isfinite(float(x))
    except (OverflowError, TypeError, ValueError):
        return False


def check_sample_size(n: Any) -> int:
    """How many journeys to draw from a posterior: a whole number in
    [1, MAX_SAMPLES] (each is a whole journey in memory)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise FitError(f"n must be a positive integer, got {n!r}")
    if n > MAX_SAMPLES:
        raise FitError(
            f"n must be at most {MAX_SAMPLES:,} journeys (each is a whole "
            f"journey in memory), got {n:,}"
        )
    return int(n)


def check_horizons(periods: Any, horizons: Sequence | None) -> list[int]:
    """A comparison's ``periods`` (a whole number >= 1) and its ``horizons``
    (whole numbers in [0, periods]; default: ``[periods]``), checked."""
    if isinstance(periods, bool) or not isinstance(periods, numbers.Integral):
        raise InputError(f"periods must be an integer, got {periods!r}")
    if periods < 1:
        raise InputError(f"periods must be >= 1, got {periods}")
    out = [periods] if horizons is None else list(horizons)
    for h in out:
        if (
            isinstance(h, bool)
            or not isinstance(h, numbers.Integral)
            or not (0 <= h <= periods)
        ):
            raise InputError(f"horizons must be integers in [0, {periods}], got {h!r}")
    return out
