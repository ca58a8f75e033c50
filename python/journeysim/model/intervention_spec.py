"""The dict form of interventions and plans (what model files hold): their
keys, the limits on their numbers, and reading an intervention's constructor
arguments from a dict with errors that name the key."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from .._base.checks import check_keys, describe, spec_name, spec_names, spec_number
from .._base.errors import InputError, SpecError

__all__ = [
    "COSTS",
    "EFFECTS",
    "INTERVENTION_KEYS",
    "MAX_CAPACITY",
    "MAX_COST",
    "PLAN_KEYS",
    "check_budgets",
    "read_intervention",
    "read_window",
    "spec_whole",
    "window_list",
]

#: Customers per period a capacity may name at most (counts are 64-bit).
MAX_CAPACITY = 2**62
#: Each cost of an intervention at most: a quadrillion in the journey's
#: currency. Beyond it a cost is a slip of the keyboard, and times 2**62
#: customers over a million periods it still leaves a factor of 1e250 before
#: double precision overflows (what is left is checked where costs are added up).
MAX_COST = 1e15


COSTS = ("cost_fixed", "cost_per_customer", "cost_per_period")
#: The effects an intervention can have on the probabilities it targets.
EFFECTS = ("relative_risk", "change", "probability")
#: The keys of an intervention dict, in the order to_dict() writes them.
INTERVENTION_KEYS = (
    "name",
    "at",
    *EFFECTS,
    "reassign_to",
    "reach",
    "window",
    "calendar",
    "segments",
    *COSTS,
    "capacity",
    "priority",
    "owner",
    "effort",
    "lead_time",
)
PLAN_KEYS = ("name", "start", "capacity", "interventions")


def window_list(w: tuple) -> list:
    return [int(w[0]), None if w[1] is None else int(w[1])]


def read_window(x: Any, path: tuple) -> tuple:
    if not isinstance(x, (list, tuple)) or len(x) != 2:
        raise SpecError(
            path, f"expected [a, b] (b null for open-ended), got {describe(x)}"
        )
    for i, v in enumerate(x):
        if v is None and i == 1:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise SpecError(
                (*path, i), f"expected a whole number of periods, got {describe(v)}"
            )
    return (int(x[0]), None if x[1] is None else int(x[1]))


def read_intervention(d: Any) -> dict:
    """The constructor's arguments from an intervention dict, checked."""
    if not isinstance(d, Mapping):
        raise SpecError(
            (), f"an intervention must be a mapping (name, at, ...), got {describe(d)}"
        )
    check_keys(d, (), INTERVENTION_KEYS, "an intervention")
    if "name" not in d:
        raise SpecError((), "an intervention needs 'name'")
    kw: dict[str, Any] = {
        "name": spec_name(d["name"], ("name",), "the intervention's name")
    }
    at = d.get("at")
    if at is None:
        pass  # costs only, everywhere (the constructor says if an effect needs it)
    elif isinstance(at, str):
        kw["at"] = at
    elif isinstance(at, (list, tuple)) and len(at) == 2:
        frm = spec_name(at[0], ("at", 0), "the from stage (or '*')")
        to = at[1]
        if isinstance(to, (list, tuple)):
            if not to:
                raise SpecError(("at", 1), "expected one or more target stages")
            to = spec_names(to, ("at", 1), "target stages")
        else:
            to = spec_name(to, ("at", 1), "the target stage (or '*', or a list)")
        kw["at"] = (frm, to)
    else:
        raise SpecError(("at",), f"expected a stage or [from, to], got {describe(at)}")
    given = [k for k in EFFECTS if k in d]
    if len(given) > 1:
        raise SpecError(
            (given[1],), f"give one effect only, not both {given[0]!r} and {given[1]!r}"
        )
    if given:
        x = d[given[0]]
        # A schedule {tenure: amount} or [amount per tenure]; the constructor
        # checks its keys and amounts.
        kw[given[0]] = (
            x if isinstance(x, (Mapping, list, tuple)) else spec_number(x, (given[0],))
        )
    if d.get("reassign_to") is not None:
        kw["reassign_to"] = spec_name(d["reassign_to"], ("reassign_to",), "a stage")
    if "reach" in d:
        kw["reach"] = spec_number(d["reach"], ("reach",), what="a share in [0, 1]")
    for key in ("window", "calendar"):
        if d.get(key) is not None:
            kw[key] = read_window(d[key], (key,))
    if d.get("segments") is not None:
        kw["segments"] = spec_names(d["segments"], ("segments",), "segment names")
    for key in COSTS:
        if key in d:
            kw[key] = spec_number(d[key], (key,), what="an amount of money")
    if d.get("capacity") is not None:
        c = d["capacity"]
        if isinstance(c, bool) or not isinstance(c, numbers.Integral):
            raise SpecError(
                ("capacity",),
                f"expected a whole number of customers, got {describe(c)}",
            )
        if not 0 < c <= MAX_CAPACITY:
            raise SpecError(
                ("capacity",), f"expected a number of customers > 0, got {c}"
            )
        kw["capacity"] = int(c)
    if d.get("priority") is not None:
        kw["priority"] = spec_names(d["priority"], ("priority",), "stage names")
    if d.get("owner") is not None:
        kw["owner"] = spec_name(d["owner"], ("owner",), "a team's name")
    if "effort" in d:
        kw["effort"] = spec_number(d["effort"], ("effort",), what="person-days")
    if "lead_time" in d:
        kw["lead_time"] = spec_whole(d["lead_time"], ("lead_time",))
    return kw


def spec_whole(x: Any, path: tuple) -> int:
    """A whole number of periods >= 0 from a file."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < 0:
        raise SpecError(path, f"expected a whole number of periods, got {describe(x)}")
    return int(x)


def check_budgets(value: Any, who: str, key: str) -> dict[str, int]:
    """``{team: customers per period}`` checked: team names are non-empty
    strings, capacities whole numbers in (0, 2**62]; InputError naming the
    team otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(
            f"{who}: {key} must be {{team: customers per period}}, got {value!r}",
            key=(key,),
        )
    out: dict[str, int] = {}
    for team, c in value.items():
        if not isinstance(team, str) or not team.strip():
            raise InputError(
                f"{who}: {key} names teams (non-empty strings), got {team!r}",
                key=(key,),
            )
        if (
            isinstance(c, bool)
            or not isinstance(c, numbers.Integral)
            or not 0 < c <= MAX_CAPACITY
        ):
            raise InputError(
                f"{who}: {key} of team {team!r} must be a whole number of customers "
                f"per period in (0, 2**62], got {c!r}",
                key=(key, team),
            )
        out[team] = int(c)
    return out
