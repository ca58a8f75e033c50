"""Interventions at moments of truth, and plans made of them (what a plan does
to a journey is :mod:`journeysim.model.apply_plan`)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._base.checks import (
    check_keys,
    check_real,
    describe,
    spec_name,
    spec_names,
    spec_number,
)
from .._base.conventions import MAX_PERIOD
from .._base.errors import InputError, SpecError

__all__ = ["EFFECTS", "MAX_CAPACITY", "MAX_COST", "Intervention", "Plan"]

#: Customers per period a capacity may name at most (counts are 64-bit).
MAX_CAPACITY = 2**62
#: Each cost of an intervention at most: a quadrillion in the journey's
#: currency. Beyond it a cost is a slip of the keyboard, and times 2**62
#: customers over a million periods it still leaves a factor of 1e250 before
#: double precision overflows (what is left is checked where costs are added up).
MAX_COST = 1e15


def _window(window: Any, what: str, key: str) -> tuple[int, int | None]:
    """A half-open period range (a, b), b None for open-ended."""
    if window is None:
        return (0, None)
    if not (isinstance(window, tuple | list) and len(window) == 2):
        raise InputError(f"{what} must be (a, b), got {window!r}", key=(key,))
    a, b = window
    for x in (a, b):
        if x is not None and (
            isinstance(x, bool) or not isinstance(x, numbers.Integral)
        ):
            raise InputError(
                f"{what} bounds must be integers, got {window!r}", key=(key,)
            )
    if a is None or a < 0:
        raise InputError(f"{what} must start at a tenure >= 0, got {a!r}", key=(key,))
    if a > MAX_PERIOD or (b is not None and b > MAX_PERIOD):
        raise InputError(
            f"{what} bounds must be at most {MAX_PERIOD:,}, got {window!r}", key=(key,)
        )
    if b is not None and b <= a:
        raise InputError(
            f"{what} {tuple(window)!r} is empty or reversed (need a < b)", key=(key,)
        )
    return (int(a), None if b is None else int(b))


class Intervention:
    """A change at a moment of truth.

    Parameters
    ----------
    name : str
    at : (from, to) or str
        The transitions it acts on: ``("onboarding", "churned")``; several
        targets ``("at_risk", ["churned", "downgraded"])``; every exit of a
        stage ``"onboarding"`` (same as ``("onboarding", "*")``); or every move
        into a stage from anywhere ``("*", "churned")``. The *from* stages are
        where the customer meets the moment of truth: costs and reach count there.
    relative_risk, change, probability : float
        Exactly one effect on each targeted probability: multiply it
        (``relative_risk=0.6``), add to it (``change=-0.05``, in probability
        units), or set it (``probability=0.1``).
    reassign_to : str, optional
        Where probability freed (or taken) goes: a stage of the same row. By
        default, proportionally to the rest of the row (its other exits and the
        stay). A probability pushed outside [0, 1] is a ValueError.
    reach : float, default 1
        Share of eligible customers touched. Each customer is touched or not for
        the whole journey (a draw per customer in simulation, an exact mixture of
        the two sub-populations in analysis).
    window : (a, b), optional
        Tenure periods when it is active: periods with tenure ``a <= k-1 < b``
        (``b=None`` for open-ended). Default: always.
    calendar : (a, b), optional
        Calendar periods when it is active (periods starting at calendar times
        ``a <= t < b``), combined with ``window``: a customer who joined at
        ``s`` meets it at tenures in ``window`` and in ``[a - s, b - s)``.
    segments : list of str, optional
        The segments it applies to (default: all).
    cost_fixed : float
        Paid once, at t = 0, for the plan. Each cost is in ``[0, 1e15]``
        (:data:`MAX_COST`).
    cost_per_customer : float
        Paid once per touched customer, the first time the customer is at a
        *from* stage at the start of a period within the window; discounted
        from that period.
    cost_per_period : float
        Paid for every period a touched customer starts at a *from* stage within
        the window (a customer-period of the team's time), discounted like
        start-of-period value.
    capacity : int, optional
        Customers per period the team can treat. Those who meet the moment
        beyond it that period move as if untouched (and cost nothing). This
        makes the effect nonlinear: plans with a capacity can only be simulated.
    priority : list of str, optional
        With a capacity: the order in which *from* stages are served (first
        come, first served within a stage, by customer number). Default: first
        come, first served.

    Interventions are equal when every field is; they pickle, and
    :meth:`to_dict` / :meth:`from_dict` give the form model files use.

    Examples
    --------
    >>> import journeysim as js
    >>> call = js.Intervention(
    ...     "save call", at=("active", "churned"), relative_risk=0.5, reach=0.8,
    ...     cost_per_customer=20, window=(0, 6),
    ... )
    >>> call
    Intervention('save call', at=('active', 'churned'), relative_risk=0.5, reach=0.8)
    >>> call.tenure_window(joined=0)
    (0, 6)
    """

    def __init__(
        self,
        name: str,
        at: Any,
        *,
        relative_risk: float | None = None,
        change: float | None = None,
        probability: float | None = None,
        reassign_to: str | None = None,
        reach: float = 1.0,
        window: tuple[int, int | None] | None = None,
        calendar: tuple[int, int | None] | None = None,
        segments: Iterable[str] | None = None,
        cost_fixed: float = 0.0,
        cost_per_customer: float = 0.0,
        cost_per_period: float = 0.0,
        capacity: int | None = None,
        priority: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InputError(
                f"an intervention needs a non-empty name, got {name!r}",
                key=("name",),
            )
        self.name = name
        who = f"intervention {name!r}"
        if isinstance(at, str):
            at = (at, "*")
        if not (isinstance(at, tuple | list) and len(at) == 2):
            raise InputError(
                f"{who}: at must be (from, to) or a stage, got {at!r}",
                key=("at",),
            )
        frm, to = at
        if not isinstance(frm, str):
            raise InputError(
                f"{who}: the from stage must be a name or '*', got {frm!r}", key=("at",)
            )
        if isinstance(to, str):
            to = [to]
        elif isinstance(to, Iterable):
            to = list(to)
            if not to or not all(isinstance(t, str) for t in to):
                raise InputError(
                    f"{who}: targets must be stage names, got {at[1]!r}",
                    key=("at",),
                )
        else:
            raise InputError(
                f"{who}: the target must be a stage or a list, got {to!r}",
                key=("at",),
            )
        if frm == "*" and "*" in to:
            raise InputError(f"{who}: at=('*', '*') names no stage", key=("at",))
        self.source, self.targets = frm, to

        effects = {
            "relative_risk": relative_risk,
            "change": change,
            "probability": probability,
        }
        given = [k for k, v in effects.items() if v is not None]
        if len(given) != 1:
            raise InputError(
                f"{who}: give exactly one of relative_risk, change, probability "
                f"(got {given or 'none'})"
            )
        self.effect = given[0]
        self.amount = check_real(
            effects[self.effect], f"{who}: {self.effect}", key=(self.effect,)
        )
        if self.effect == "relative_risk" and self.amount < 0:
            raise InputError(
                f"{who}: relative_risk must be >= 0, got {self.amount}",
                key=("relative_risk",),
            )
        if self.effect == "probability" and not 0 <= self.amount <= 1:
            raise InputError(
                f"{who}: probability must be in [0, 1], got {self.amount}",
                key=("probability",),
            )
        if reassign_to is not None and not isinstance(reassign_to, str):
            raise InputError(
                f"{who}: reassign_to must be a stage name, got {reassign_to!r}",
                key=("reassign_to",),
            )
        if reassign_to is not None and reassign_to in to:
            raise InputError(
                f"{who}: reassign_to {reassign_to!r} is also a target",
                key=("reassign_to",),
            )
        self.reassign_to = reassign_to
        self.reach = check_real(reach, f"{who}: reach", key=("reach",))
        if not 0 <= self.reach <= 1:
            raise InputError(
                f"{who}: reach must be in [0, 1], got {self.reach}",
                key=("reach",),
            )
        self.window: tuple[int, int | None] = _window(
            window, f"{who}: window", "window"
        )
        self.calendar = (
            None
            if calendar is None
            else _window(calendar, f"{who}: calendar", "calendar")
        )
        if self.calendar is not None and self.calendar[1] is not None:
            if self.calendar[1] <= self.window[0]:
                raise InputError(
                    f"{who}: window {self.window} and calendar {self.calendar} "
                    "never overlap: the calendar window ends before any customer "
                    "reaches the tenure window",
                    key=("calendar",),
                )
        if segments is not None:
            segments = [segments] if isinstance(segments, str) else list(segments)
            if not segments:
                raise InputError(
                    f"{who}: segments, when given, must name one or more",
                    key=("segments",),
                )
        self.segments = segments
        self.cost_fixed = check_real(
            cost_fixed, f"{who}: cost_fixed", key=("cost_fixed",)
        )
        self.cost_per_customer = check_real(
            cost_per_customer, f"{who}: cost_per_customer", key=("cost_per_customer",)
        )
        self.cost_per_period = check_real(
            cost_per_period, f"{who}: cost_per_period", key=("cost_per_period",)
        )
        if capacity is not None and (
            isinstance(capacity, bool)
            or not isinstance(capacity, numbers.Integral)
            or not 0 < capacity <= MAX_CAPACITY
        ):
            raise InputError(
                f"{who}: capacity must be a whole number of customers in (0, 2**62], "
                f"got {capacity!r}",
                key=("capacity",),
            )
        self.capacity = None if capacity is None else int(capacity)
        if priority is not None:
            if isinstance(priority, str):
                priority = [priority]
            if not isinstance(priority, (list, tuple)) or not all(
                isinstance(p, str) for p in priority
            ):
                raise InputError(
                    f"{who}: priority must be a segment name or a list of them, "
                    f"got {priority!r}",
                    key=("priority",),
                )
            priority = list(priority)
            if capacity is None:
                raise InputError(
                    f"{who}: priority only matters with a capacity",
                    key=("priority",),
                )
        self.priority = priority
        for label, c in (
            ("cost_fixed", self.cost_fixed),
            ("cost_per_customer", self.cost_per_customer),
            ("cost_per_period", self.cost_per_period),
        ):
            if c < 0:
                raise InputError(f"{who}: {label} must be >= 0, got {c}", key=(label,))
            if c > MAX_COST:
                raise InputError(
                    f"{who}: {label} must be at most {MAX_COST:.0e} (a quadrillion "
                    f"in the journey's currency), got {c:g}; state costs in larger "
                    "units (thousands) if they are really this large",
                    key=(label,),
                )

    def replace(self, **changes: Any) -> Intervention:
        """A new intervention like this one with ``changes`` (the constructor's
        keyword arguments), checked as the constructor checks them; setting
        an effect (``relative_risk``, ``change``, ``probability``) replaces the
        effect. This one is left as it is.

        Examples
        --------
        >>> import journeysim as js
        >>> call = js.Intervention("call", at=("active", "churned"),
        ...                        relative_risk=0.5, reach=0.8)
        >>> call.replace(reach=0.5)
        Intervention('call', at=('active', 'churned'), relative_risk=0.5, reach=0.5)
        >>> call.replace(change=-0.02).effect
        'change'
        """
        to = self.targets[0] if len(self.targets) == 1 else list(self.targets)
        kw: dict[str, Any] = {
            "at": (self.source, to),
            "reassign_to": self.reassign_to,
            "reach": self.reach,
            "window": self.window,
            "calendar": self.calendar,
            "segments": None if self.segments is None else list(self.segments),
            "cost_fixed": self.cost_fixed,
            "cost_per_customer": self.cost_per_customer,
            "cost_per_period": self.cost_per_period,
            "capacity": self.capacity,
            "priority": None if self.priority is None else list(self.priority),
        }
        if not any(k in EFFECTS for k in changes):
            kw[self.effect] = self.amount
        kw.update(changes)
        return Intervention(kw.pop("name", self.name), **kw)

    def tenure_window(self, joined: int = 0) -> tuple[int, int | None] | None:
        """The tenures at which a customer who joined at ``joined`` meets it (the
        window and the calendar window together); None if at none."""
        a, b = self.window
        if self.calendar is not None:
            ca, cb = self.calendar
            a = max(a, ca - joined)
            if cb is not None:
                b = cb - joined if b is None else min(b, cb - joined)
        a = max(a, 0)
        if b is not None and b <= a:
            return None
        return (a, b)

    # -- the dict form: files and pickling ---------------------------------------

    def to_dict(self) -> dict:
        """The intervention as a dict of plain values, the form model files use.

        Keys in a fixed order: ``name``; ``at`` (a stage for every exit of it,
        ``[from, to]``, or ``[from, [to, ...]]``); the effect
        (``relative_risk``, ``change`` or ``probability``) with its amount; then
        only what differs from the defaults: ``reassign_to``, ``reach``,
        ``window`` and ``calendar`` as ``[a, b]`` (``b`` None for open-ended),
        ``segments``, ``cost_fixed``, ``cost_per_customer``,
        ``cost_per_period``, ``capacity``, ``priority``.
        ``Intervention.from_dict(iv.to_dict())`` is an equal intervention.

        Examples
        --------
        >>> import journeysim as js
        >>> call = js.Intervention(
        ...     "onboarding call", at=("onboarding", "churned"), relative_risk=0.6,
        ...     reassign_to="adopting", reach=0.8, cost_per_customer=50,
        ...     window=(0, 3),
        ... )
        >>> call.to_dict()  # doctest: +NORMALIZE_WHITESPACE
        {'name': 'onboarding call', 'at': ['onboarding', 'churned'],
         'relative_risk': 0.6, 'reassign_to': 'adopting', 'reach': 0.8,
         'window': [0, 3], 'cost_per_customer': 50.0}
        >>> js.Intervention.from_dict(call.to_dict()) == call
        True
        """
        if self.targets == ["*"] and self.source != "*":
            at: Any = self.source
        elif len(self.targets) == 1:
            at = [self.source, self.targets[0]]
        else:
            at = [self.source, list(self.targets)]
        d: dict[str, Any] = {"name": self.name, "at": at}
        d[self.effect] = float(self.amount)
        if self.reassign_to is not None:
            d["reassign_to"] = self.reassign_to
        if self.reach != 1.0:
            d["reach"] = float(self.reach)
        if tuple(self.window) != (0, None):
            d["window"] = _window_list(self.window)
        if self.calendar is not None:
            d["calendar"] = _window_list(self.calendar)
        if self.segments is not None:
            d["segments"] = list(self.segments)
        for key in _COSTS:
            if getattr(self, key) != 0:
                d[key] = float(getattr(self, key))
        if self.capacity is not None:
            d["capacity"] = int(self.capacity)
        if self.priority is not None:
            d["priority"] = list(self.priority)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> Intervention:
        """An intervention from its dict form (see :meth:`to_dict`; the keys are
        the constructor's, with ``at`` and windows as lists).

        Every field is checked first: a problem is a ValueError naming its key,
        e.g. ``reach: expected a number, got the string 'most'``.

        Examples
        --------
        >>> import journeysim as js
        >>> iv = js.Intervention.from_dict({
        ...     "name": "save desk", "at": ["at_risk", "churned"],
        ...     "relative_risk": 0.7, "capacity": 40, "cost_per_period": 20,
        ... })
        >>> iv
        Intervention('save desk', at=('at_risk', 'churned'), relative_risk=0.7, reach=1)
        >>> try:
        ...     js.Intervention.from_dict({"name": "x", "at": "a", "change": "big"})
        ... except ValueError as err:
        ...     print(err)
        change: expected a number, got the string 'big'
        """
        kw = _read_intervention(d)
        try:
            return cls(**kw)
        except SpecError:
            raise
        except InputError as err:  # the constructor names the key it is about
            raise SpecError(err.key, str(err)) from None

    def __eq__(self, other: object) -> bool:
        """Equal when every field is (their :meth:`to_dict` forms are equal)."""
        if not isinstance(other, Intervention):
            return NotImplemented
        return self is other or self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        # By name: consistent with __eq__, which compares the name among the rest.
        return hash(("Intervention", self.name))

    def __reduce__(self):
        return (_intervention_from_dict, (type(self), self.to_dict()))

    def __repr__(self) -> str:
        to = self.targets[0] if len(self.targets) == 1 else self.targets
        return (
            f"Intervention({self.name!r}, at=({self.source!r}, {to!r}), "
            f"{self.effect}={self.amount:g}, reach={self.reach:g})"
        )


class Plan:
    """A named set of interventions. ``Plan("baseline", [])`` changes nothing.

    Several interventions on the same transition apply in the plan's order:
    relative risks multiply, changes add, freed probability moves as each one
    says. Setting a probability together with any other effect on the same
    transition, or two interventions sending the same row's freed probability to
    different stages, is contradictory: a ValueError when the plan is applied.

    Examples
    --------
    >>> import journeysim as js
    >>> call = js.Intervention("save call", at=("active", "churned"), change=-0.02)
    >>> plan = js.Plan("retention push", [call])
    >>> plan, plan.to_dict()["interventions"][0]["change"]
    (Plan('retention push', ['save call']), -0.02)
    """

    def __init__(self, name: str, interventions: Sequence[Intervention] = ()) -> None:
        if not isinstance(name, str) or not name:
            raise InputError(f"a plan needs a non-empty name, got {name!r}")
        interventions = list(interventions)
        for i in interventions:
            if not isinstance(i, Intervention):
                raise InputError(f"plan {name!r}: {i!r} is not an Intervention")
        names = [i.name for i in interventions]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(f"plan {name!r}: intervention names repeat: {dup}")
        self.name = name
        self.interventions = interventions

    @property
    def fixed_cost(self) -> float:
        return sum(i.cost_fixed for i in self.interventions)

    def to_dict(self) -> dict:
        """``{"name": ..., "interventions": [intervention dicts]}``: the plan as
        plain values, the interventions inline (see :meth:`Intervention.to_dict`).

        Examples
        --------
        >>> import journeysim as js
        >>> call = js.Intervention("call", at="at_risk", change=-0.05)
        >>> plan = js.Plan("save", [call])
        >>> plan.to_dict()  # doctest: +NORMALIZE_WHITESPACE
        {'name': 'save',
         'interventions': [{'name': 'call', 'at': 'at_risk', 'change': -0.05}]}
        >>> js.Plan.from_dict(plan.to_dict()) == plan
        True
        """
        return {
            "name": self.name,
            "interventions": [i.to_dict() for i in self.interventions],
        }

    @classmethod
    def from_dict(
        cls,
        d: Mapping,
        interventions: Mapping[str, Intervention] | Iterable[Intervention] = (),
    ) -> Plan:
        """A plan from its dict form. Its ``interventions`` list holds
        intervention dicts, or names of interventions from ``interventions``
        (a library: ``{name: Intervention}`` or a list of them).

        Examples
        --------
        >>> import journeysim as js
        >>> call = js.Intervention("call", at="at_risk", change=-0.05)
        >>> plan = js.Plan.from_dict(
        ...     {"name": "save", "interventions": [
        ...         "call", {"name": "gift", "at": "renewal_decision", "change": -0.02},
        ...     ]},
        ...     [call],
        ... )
        >>> [i.name for i in plan.interventions]
        ['call', 'gift']
        """
        library = (
            dict(interventions)
            if isinstance(interventions, Mapping)
            else {i.name: i for i in interventions}
        )
        if not isinstance(d, Mapping):
            raise SpecError(
                (), f"a plan must be a mapping (name, interventions), got {describe(d)}"
            )
        check_keys(d, (), _PLAN_KEYS, "a plan")
        if "name" not in d:
            raise SpecError((), "a plan needs a name")
        name = spec_name(d["name"], ("name",), "the plan's name")
        items = d.get("interventions", [])
        if not isinstance(items, (list, tuple)):
            raise SpecError(
                ("interventions",),
                "expected a list of interventions (or their names), got "
                + describe(items),
            )
        ivs = []
        seen: dict[str, int] = {}
        for k, item in enumerate(items):
            p = ("interventions", k)
            if isinstance(item, str):
                if item not in library:
                    known = ", ".join(library) or "none"
                    raise SpecError(
                        p,
                        f"unknown intervention {item!r}; the interventions defined "
                        f"in the file are: {known}",
                    )
                iv = library[item]
            elif isinstance(item, Mapping):
                try:
                    iv = Intervention.from_dict(item)
                except SpecError as err:
                    raise err.within(*p) from None
            else:
                raise SpecError(
                    p, f"expected an intervention or its name, got {describe(item)}"
                )
            if iv.name in seen:
                raise SpecError(
                    p,
                    f"intervention {iv.name!r} is in the plan twice (also "
                    f"interventions[{seen[iv.name]}])",
                )
            seen[iv.name] = k
            ivs.append(iv)
        return cls(name, ivs)

    def __eq__(self, other: object) -> bool:
        """Equal when the names and the interventions, in order, are equal."""
        if not isinstance(other, Plan):
            return NotImplemented
        return self is other or (
            self.name == other.name and self.interventions == other.interventions
        )

    def __hash__(self) -> int:
        return hash(("Plan", self.name))

    def __reduce__(self):
        return (_plan_from_dict, (type(self), self.to_dict()))

    def __repr__(self) -> str:
        return f"Plan({self.name!r}, {[i.name for i in self.interventions]})"


# -- the dict form --------------------------------------------------------------

_COSTS = ("cost_fixed", "cost_per_customer", "cost_per_period")
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
    *_COSTS,
    "capacity",
    "priority",
)
_PLAN_KEYS = ("name", "interventions")


def _window_list(w: tuple) -> list:
    return [int(w[0]), None if w[1] is None else int(w[1])]


def _read_window(x: Any, path: tuple) -> tuple:
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


def _read_intervention(d: Any) -> dict:
    """The constructor's arguments from an intervention dict, checked."""
    if not isinstance(d, Mapping):
        raise SpecError(
            (), f"an intervention must be a mapping (name, at, ...), got {describe(d)}"
        )
    check_keys(d, (), INTERVENTION_KEYS, "an intervention")
    for key in ("name", "at"):
        if key not in d:
            raise SpecError((), f"an intervention needs {key!r}")
    kw: dict[str, Any] = {
        "name": spec_name(d["name"], ("name",), "the intervention's name")
    }
    at = d["at"]
    if isinstance(at, str):
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
    if not given:
        raise SpecError(
            (), "an intervention needs one effect: relative_risk, change or probability"
        )
    if len(given) > 1:
        raise SpecError(
            (given[1],), f"give one effect only, not both {given[0]!r} and {given[1]!r}"
        )
    kw[given[0]] = spec_number(d[given[0]], (given[0],))
    if d.get("reassign_to") is not None:
        kw["reassign_to"] = spec_name(d["reassign_to"], ("reassign_to",), "a stage")
    if "reach" in d:
        kw["reach"] = spec_number(d["reach"], ("reach",), what="a share in [0, 1]")
    for key in ("window", "calendar"):
        if d.get(key) is not None:
            kw[key] = _read_window(d[key], (key,))
    if d.get("segments") is not None:
        kw["segments"] = spec_names(d["segments"], ("segments",), "segment names")
    for key in _COSTS:
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
    return kw


def _intervention_from_dict(cls, d: dict) -> Intervention:
    return cls(**_read_intervention(d))


def _plan_from_dict(cls, d: dict) -> Plan:
    return cls.from_dict(d)
