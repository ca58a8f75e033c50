"""Interventions at moments of truth, and plans made of them (what a plan does
to a journey is :mod:`journeysim.model.apply_plan`)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from .._base.checks import (
    check_keys,
    check_real,
    describe,
    spec_name,
)
from .._base.conventions import MAX_PERIOD
from .._base.errors import InputError, SpecError
from ..view.timeline import TimelineRow, timeline_table
from .effects import Step, effect_form, effect_schedule
from .intervention_spec import (
    COSTS,
    EFFECTS,
    INTERVENTION_KEYS,
    MAX_CAPACITY,
    MAX_COST,
    PLAN_KEYS,
    check_budgets,
    read_intervention,
    spec_whole,
    window_list,
)

__all__ = [
    "EFFECTS",
    "INTERVENTION_KEYS",
    "MAX_CAPACITY",
    "MAX_COST",
    "Intervention",
    "Plan",
]


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
        With a capacity: the order in which *from* stages are served among
        customers who have waited equally long (whoever has waited longest
        unserved is served first; then this priority; then customer number).
        Default: none (equal waits go by customer number). See
        docs/capacity.md.

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
        at: Any = None,
        *,
        relative_risk: float | Mapping[int, float] | Sequence[float] | None = None,
        change: float | Mapping[int, float] | Sequence[float] | None = None,
        probability: float | Mapping[int, float] | Sequence[float] | None = None,
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
        owner: str | None = None,
        effort: float = 0.0,
        lead_time: int = 0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InputError(
                f"an intervention needs a non-empty name, got {name!r}",
                key=("name",),
            )
        self.name = name
        who = f"intervention {name!r}"
        effects = {
            "relative_risk": relative_risk,
            "change": change,
            "probability": probability,
        }
        given = [k for k, v in effects.items() if v is not None]
        if len(given) > 1:
            raise InputError(
                f"{who}: give at most one of relative_risk, change, probability "
                f"(got {given}); with none it only costs"
            )
        if at is None:
            if given:
                raise InputError(
                    f"{who}: {given[0]} needs at= (the transitions it changes)",
                    key=("at",),
                )
            at = ("*", "*")  # costs only, counted wherever a customer is
        elif isinstance(at, str):
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
        if given and frm == "*" and "*" in to:
            raise InputError(f"{who}: at=('*', '*') names no stage", key=("at",))
        if not given and to != ["*"]:
            raise InputError(
                f"{who}: with no effect (relative_risk, change or probability) it "
                f"only costs, and changes no transition: give at= a stage (where "
                f"its costs count) or leave at= out (everywhere), not {at!r}",
                key=("at",),
            )
        self.source, self.targets = frm, to
        #: "relative_risk", "change", "probability", or None for costs only.
        self.effect: str | None = given[0] if given else None
        #: The effect by tenure (one step for a constant effect, none for costs
        #: only); ``amount`` is the constant amount (None for a schedule).
        self.schedule: tuple[Step, ...] = (
            ()
            if self.effect is None
            else effect_schedule(effects[self.effect], self.effect, who)
        )
        self.amount: float | None = (
            self.schedule[0].amount if len(self.schedule) == 1 else None
        )
        if self.effect is None and reassign_to is not None:
            raise InputError(
                f"{who}: reassign_to needs an effect that frees probability",
                key=("reassign_to",),
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
        if owner is not None and (not isinstance(owner, str) or not owner.strip()):
            raise InputError(
                f"{who}: owner must be a team's name (a non-empty string), got "
                f"{owner!r}",
                key=("owner",),
            )
        self.owner = owner
        self.effort = check_real(effort, f"{who}: effort", key=("effort",))
        if not 0 <= self.effort <= MAX_COST:
            raise InputError(
                f"{who}: effort must be a number of person-days in [0, "
                f"{MAX_COST:,.0f}], got {self.effort:g}",
                key=("effort",),
            )
        if (
            isinstance(lead_time, bool)
            or not isinstance(lead_time, numbers.Integral)
            or not 0 <= lead_time <= MAX_PERIOD
        ):
            raise InputError(
                f"{who}: lead_time must be a whole number of periods in [0, "
                f"{MAX_PERIOD:,}], got {lead_time!r}",
                key=("lead_time",),
            )
        self.lead_time = int(lead_time)

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
        everywhere = self.source == "*" and to == "*"
        kw: dict[str, Any] = {
            "at": None if everywhere else (self.source, to),
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
            "owner": self.owner,
            "effort": self.effort,
            "lead_time": self.lead_time,
        }
        if self.effect is not None and not any(k in EFFECTS for k in changes):
            kw[self.effect] = effect_form(self.schedule)
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
        d: dict[str, Any] = {"name": self.name}
        if self.targets == ["*"] and self.source == "*":
            pass  # costs only, everywhere: no at
        elif self.targets == ["*"]:
            d["at"] = self.source
        elif len(self.targets) == 1:
            d["at"] = [self.source, self.targets[0]]
        else:
            d["at"] = [self.source, list(self.targets)]
        if self.effect is not None:
            d[self.effect] = effect_form(self.schedule)
        if self.reassign_to is not None:
            d["reassign_to"] = self.reassign_to
        if self.reach != 1.0:
            d["reach"] = float(self.reach)
        if tuple(self.window) != (0, None):
            d["window"] = window_list(self.window)
        if self.calendar is not None:
            d["calendar"] = window_list(self.calendar)
        if self.segments is not None:
            d["segments"] = list(self.segments)
        for key in COSTS:
            if getattr(self, key) != 0:
                d[key] = float(getattr(self, key))
        if self.capacity is not None:
            d["capacity"] = int(self.capacity)
        if self.priority is not None:
            d["priority"] = list(self.priority)
        if self.owner is not None:
            d["owner"] = self.owner
        if self.effort:
            d["effort"] = float(self.effort)
        if self.lead_time:
            d["lead_time"] = int(self.lead_time)
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
        kw = read_intervention(d)
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
        if self.effect is None:
            effect = "costs only"
        elif self.amount is not None:
            effect = f"{self.effect}={self.amount:g}"
        else:
            steps = ", ".join(f"{s.tenure}: {s.amount:g}" for s in self.schedule)
            effect = f"{self.effect}={{{steps}}}"
        return (
            f"Intervention({self.name!r}, at=({self.source!r}, {to!r}), "
            f"{effect}, reach={self.reach:g})"
        )


class Plan:
    """A named set of interventions. ``Plan("baseline", [])`` changes nothing.

    Several interventions on the same transition apply in the plan's order:
    relative risks multiply, changes add, freed probability moves as each one
    says. Setting a probability together with any other effect on the same
    transition, or two interventions sending the same row's freed probability to
    different stages, is contradictory: a ValueError when the plan is applied.

    ``capacity={"Customer Success": 50}`` limits the customers each team
    handles per period, shared by every intervention the team runs (its
    ``owner``, else its stage's owner), each customer counted once per period;
    interventions of a team are served in the plan's order (the first listed
    first), and each intervention's own ``capacity`` still applies. A team
    capacity makes the plan simulation only (docs/capacity.md).

    Examples
    --------
    >>> import journeysim as js
    >>> call = js.Intervention("save call", at=("active", "churned"), change=-0.02)
    >>> plan = js.Plan("retention push", [call])
    >>> plan, plan.to_dict()["interventions"][0]["change"]
    (Plan('retention push', ['save call']), -0.02)
    """

    def __init__(
        self,
        name: str,
        interventions: Sequence[Intervention] = (),
        *,
        start: int = 0,
        capacity: Mapping[str, int] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InputError(f"a plan needs a non-empty name, got {name!r}")
        if (
            isinstance(start, bool)
            or not isinstance(start, numbers.Integral)
            or not 0 <= start <= MAX_PERIOD
        ):
            raise InputError(
                f"plan {name!r}: start must be a calendar period (a whole number "
                f"in [0, {MAX_PERIOD:,}]), got {start!r}",
                key=("start",),
            )
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
        #: The calendar period the plan starts; each intervention takes effect
        #: ``lead_time`` periods later.
        self.start = int(start)
        #: Customers each team can handle per period, shared by every
        #: intervention it runs (see docs/capacity.md); overrides the
        #: journey's ``team_capacity`` for those teams.
        self.capacity: dict[str, int] = check_budgets(
            capacity, f"plan {name!r}", "capacity"
        )
        for iv in interventions:
            self.effect_calendar(iv)  # an effect that never starts is an error

    @property
    def fixed_cost(self) -> float:
        return sum(i.cost_fixed for i in self.interventions)

    def effect_calendar(self, iv: Intervention) -> tuple[int, int | None] | None:
        """The calendar periods in which ``iv`` acts in this plan: from
        ``start + lead_time`` on, within its own ``calendar`` window if it has
        one (None: always, the plan starting at 0 with no lead time)."""
        begin = self.start + iv.lead_time
        if iv.calendar is None:
            return None if begin == 0 else (begin, None)
        a, b = iv.calendar
        if b is not None and b <= begin:
            raise InputError(
                f"plan {self.name!r}: intervention {iv.name!r} takes effect at "
                f"period {begin} (start {self.start} + lead time {iv.lead_time}), "
                f"after its calendar window {iv.calendar} has ended",
                key=("start",),
            )
        return (max(a, begin), b)

    @property
    def scheduled(self) -> list[Intervention]:
        """The interventions as they act: start and lead time folded into each
        one's calendar window (so analysis and simulation, which know calendar
        windows, both follow the plan's schedule)."""
        out = []
        for iv in self.interventions:
            cal = self.effect_calendar(iv)
            if cal == iv.calendar and iv.lead_time == 0:
                out.append(iv)
            else:
                out.append(iv.replace(calendar=cal, lead_time=0))
        return out

    def timeline_rows(self, journey: Any = None) -> list[TimelineRow]:
        """Who does what when, one row per intervention (see :meth:`timeline`)."""
        owners: dict[str, str | None] = {}
        if journey is not None:
            owners = dict(zip(journey.stages, journey.resolved.owners(), strict=True))
        rows = []
        for iv in self.interventions:
            cal = self.effect_calendar(iv)
            begin, until = (0, None) if cal is None else cal
            owner = iv.owner if iv.owner is not None else owners.get(iv.source)
            rows.append(
                TimelineRow(
                    plan=self.name,
                    intervention=iv.name,
                    owner=owner,
                    start=self.start,
                    effect_from=begin,
                    effect_until=until,
                    effort=iv.effort,
                )
            )
        return rows

    def timeline(self, journey: Any = None) -> pd.DataFrame:
        """Who does what when: per intervention its owner team (the
        intervention's ``owner``, else the owner of its stage in ``journey``'s
        map), the plan's start, the calendar period its effect begins (start +
        lead time, or its calendar window's start if later) and ends (its
        calendar window's end; <NA>: open-ended), and its effort in
        person-days.

        Examples
        --------
        >>> import journeysim as js
        >>> call = js.Intervention("call", at="at_risk", change=-0.05,
        ...                        owner="Customer Success", effort=10, lead_time=2)
        >>> t = js.Plan("save", [call], start=3).timeline()
        >>> print(t.to_string(index=False))
        plan intervention            owner  start  effect from  effect until  effort
        save         call Customer Success      3            5          <NA>    10.0
        """
        return timeline_table(self.timeline_rows(journey))

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
        d: dict[str, Any] = {"name": self.name}
        if self.start:
            d["start"] = self.start
        if self.capacity:
            d["capacity"] = dict(self.capacity)
        d["interventions"] = [i.to_dict() for i in self.interventions]
        return d

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
        check_keys(d, (), PLAN_KEYS, "a plan")
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
        start = spec_whole(d["start"], ("start",)) if "start" in d else 0
        try:
            capacity = check_budgets(d.get("capacity"), f"plan {name!r}", "capacity")
        except InputError as err:
            raise SpecError(err.key, str(err)) from None
        try:
            return cls(name, ivs, start=start, capacity=capacity)
        except InputError as err:  # an effect that starts after its window
            raise SpecError(("start",), str(err)) from None

    def __eq__(self, other: object) -> bool:
        """Equal when the names and the interventions, in order, are equal."""
        if not isinstance(other, Plan):
            return NotImplemented
        return self is other or (
            self.name == other.name
            and self.start == other.start
            and self.capacity == other.capacity
            and self.interventions == other.interventions
        )

    def __hash__(self) -> int:
        return hash(("Plan", self.name))

    def __reduce__(self):
        return (_plan_from_dict, (type(self), self.to_dict()))

    def __repr__(self) -> str:
        start = f", start={self.start}" if self.start else ""
        return f"Plan({self.name!r}, {[i.name for i in self.interventions]}{start})"


# -- the dict form (read in .intervention_spec) ---------------------------------


def _intervention_from_dict(cls, d: dict) -> Intervention:
    return cls(**read_intervention(d))


def _plan_from_dict(cls, d: dict) -> Plan:
    return cls.from_dict(d)
