"""What a plan does to a journey: each segment split into the sub-populations
its partial-reach interventions touch, transitions changed within each
intervention's window, a value stream carrying per customer-period costs, and
the rules the simulation engine applies period by period (capacities and
calendar windows)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .._base.conventions import COST_STREAM
from .._base.errors import InputError
from .._base.resolved import CapacityRule, Piece, Segment, recut
from .effects import amount_at, step_tenures
from .intervention import Intervention, Plan
from .journey import Journey
from .team_capacity import intervention_team, plan_budgets

__all__ = ["MAX_PARTIAL_REACH", "AppliedPlan", "OnceCharge", "apply_plan"]

#: Interventions with partial reach in one segment, at most: 2**n sub-populations.
MAX_PARTIAL_REACH = 10
_TOL = 1e-12


@dataclass(frozen=True)
class OnceCharge:
    """A once-per-customer charge of a plan: customers of sub-population
    ``segment`` pay ``cost`` the first time they start a period in one of
    ``stages`` within the tenure ``window``."""

    intervention: str
    segment: int
    stages: tuple[int, ...]
    window: tuple[int, int | None]
    cost: float


@dataclass(frozen=True)
class AppliedPlan:
    """A plan applied to a journey: the journey its customers face, and the
    once-per-customer charges to add to its costs."""

    journey: Journey
    once: tuple[OnceCharge, ...]


class _Acting:
    """An intervention with stage indices for one journey, acting at the
    tenures of ``window`` ((0, 0): never)."""

    def __init__(
        self, iv: Intervention, journey: Journey, window: tuple[int, int | None]
    ) -> None:
        stages = journey.stages
        who = f"intervention {iv.name!r}"

        def index(s: str) -> int:
            if s not in stages:
                raise InputError(f"{who}: unknown stage {s!r}; the stages are {stages}")
            return stages.index(s)

        absorbing = set(journey.absorbing)
        if iv.source == "*":
            self.rows = [i for i, s in enumerate(stages) if s not in absorbing]
        else:
            self.rows = [index(iv.source)]
            if iv.source in absorbing:
                raise InputError(
                    f"{who}: {iv.source!r} is absorbing: it has no moves to change"
                )
        self.targets = None if "*" in iv.targets else [index(t) for t in iv.targets]
        if iv.source != "*" and iv.source in iv.targets:
            raise InputError(
                f"{who}: targets its own stay ({iv.source!r} -> {iv.source!r}); "
                "name the moves it changes"
            )
        self.dest = None if iv.reassign_to is None else index(iv.reassign_to)
        self.rank: list[int | None] = [None] * len(stages)
        for i in self.rows:
            self.rank[i] = 0
        if iv.priority is not None:
            for k, s in enumerate(iv.priority):
                i = index(s)
                if i not in self.rows:
                    raise InputError(f"{who}: priority stage {s!r} is not a from-stage")
                self.rank[i] = k
            for i in self.rows:
                if stages[i] not in iv.priority:
                    self.rank[i] = len(iv.priority)
        if iv.segments is not None:
            for s in iv.segments:
                if s not in journey.segments:
                    raise InputError(
                        f"{who}: unknown segment {s!r}; the segments are "
                        f"{journey.segments}"
                    )
        self.iv = iv
        self.window = window
        # Named targets met with a positive probability, and whether it acted
        # at all: a relative risk on a move that never happens changes nothing.
        self.met: set[int] = set()
        self.acted = False

    def active_in(self, start: int, end: int | None) -> bool:
        """Is it active over the whole tenure piece [start, end)?"""
        a, b = self.window
        return start >= a and (b is None or (end is not None and end <= b))

    def targets_in(self, i: int, row: np.ndarray) -> list[int]:
        if self.targets is None:
            return [j for j in range(len(row)) if j != i and row[j] > 0]
        return [j for j in self.targets if j != i]

    def apply(self, P: np.ndarray, stages: list[str], tenure: int) -> None:
        """Change ``P``, the matrix of a tenure piece starting at ``tenure``
        (cut at the schedule's steps, so one amount holds over the piece)."""
        iv = self.iv
        if iv.effect is None:
            return  # costs only
        amount = amount_at(iv.schedule, tenure)
        for i in self.rows:
            row = P[i]
            t = self.targets_in(i, row)
            if not t:
                continue
            old = row[t].copy()
            self.acted = True
            self.met.update(j for j, p in zip(t, old, strict=True) if p > 0)
            if iv.effect == "relative_risk":
                new = old * amount
            elif iv.effect == "change":
                new = old + amount
            else:
                new = np.full(len(t), amount)
            for j, p in zip(t, new, strict=True):
                if not -_TOL <= p <= 1 + _TOL:
                    raise InputError(
                        f"intervention {iv.name!r}: transition {stages[i]!r} -> "
                        f"{stages[j]!r} would become {p:.6g}, outside [0, 1]"
                    )
            new = np.clip(new, 0.0, 1.0)
            freed = float(old.sum() - new.sum())
            row[t] = new
            if self.dest is not None:
                row[self.dest] += freed
                if not -_TOL <= row[self.dest] <= 1 + _TOL:
                    raise InputError(
                        f"intervention {iv.name!r}: transition {stages[i]!r} -> "
                        f"{stages[self.dest]!r} would become {row[self.dest]:.6g}, "
                        "outside [0, 1]"
                    )
            else:
                rest = [j for j in range(len(row)) if j not in t]
                w = row[rest]
                if w.sum() > 0:
                    row[rest] += freed * w / w.sum()
                elif i not in t:
                    row[i] += freed
                if (row < -_TOL).any() or (row > 1 + _TOL).any():
                    raise InputError(
                        f"intervention {iv.name!r}: row {stages[i]!r} would leave "
                        "[0, 1] when its freed probability is shared out"
                    )
            P[i] = np.clip(row, 0.0, 1.0)

    def check_acted(self, stages: list[str]) -> None:
        """A relative risk multiplies: on a move of probability 0 wherever it
        acts (every segment, tenure and sub-population it touches), it changes
        nothing, and a plan that looks like it does something would be compared
        as if it did. (Adding to or setting a zero probability opens a move:
        that is what change= and probability= are for.)"""
        iv = self.iv
        if iv.effect != "relative_risk" or self.targets is None or not self.acted:
            return
        never = [j for j in self.targets if j not in self.met]
        if not never:
            return
        frm = "any stage" if iv.source == "*" else repr(iv.source)
        moves = ", ".join(f"{frm} -> {stages[j]!r}" for j in never)
        amount = "a schedule" if iv.amount is None else f"{iv.amount:g}"
        raise InputError(
            f"intervention {iv.name!r}: relative_risk={amount} multiplies "
            f"{moves}, a transition of probability 0 wherever it acts (segments "
            "and tenures in its window): it would change nothing; target a move "
            "that happens, or open one with change= or probability="
        )


def _overlap(a: Intervention, b: Intervention) -> bool:
    """Can two interventions act on the same customer in the same period?"""
    (a0, a1), (b0, b1) = a.window, b.window
    if a.calendar is not None and b.calendar is not None:
        (c0, c1), (e0, e1) = a.calendar, b.calendar
        if (c1 is not None and c1 <= e0) or (e1 is not None and e1 <= c0):
            return False
    if (a1 is not None and a1 <= b0) or (b1 is not None and b1 <= a0):
        return False
    if a.segments is None or b.segments is None:
        return True
    return bool(set(a.segments) & set(b.segments))


def _check_contradictions(plan: Plan, resolved: list[_Acting], n: int) -> None:
    effects = [r for r in resolved if r.iv.effect is not None]  # costs clash with none
    for x, y in itertools.combinations(effects, 2):
        if not _overlap(x.iv, y.iv):
            continue
        for i in set(x.rows) & set(y.rows):
            tx = set(x.targets if x.targets is not None else range(n)) - {i}
            ty = set(y.targets if y.targets is not None else range(n)) - {i}
            if tx & ty and "probability" in (x.iv.effect, y.iv.effect):
                raise InputError(
                    f"plan {plan.name!r}: interventions {x.iv.name!r} and "
                    f"{y.iv.name!r} contradict each other on the same transition "
                    "(one sets its probability)"
                )
            if x.dest != y.dest:
                raise InputError(
                    f"plan {plan.name!r}: interventions {x.iv.name!r} and "
                    f"{y.iv.name!r} send row {i}'s freed probability to different "
                    "places"
                )


def _breaks(active: list[_Acting], effects: bool = True) -> set[int]:
    """Tenures where a piece must start: window bounds and (for transitions)
    where a scheduled effect changes within its window."""
    out = set()
    for r in active:
        a, b = r.window
        out.add(a)
        if b is not None:
            out.add(b)
        if effects:
            out.update(
                t for t in step_tenures(r.iv.schedule) if a < t and (b is None or t < b)
            )
    return out


def apply_plan(
    journey: Journey,
    plan: Plan,
    *,
    cost_rate: float,
    joined: int = 0,
    simulate: bool = False,
) -> AppliedPlan:
    """The journey customers face under ``plan``: each segment split into
    sub-populations by which partial-reach interventions touch them (shares are
    the exact mixture), transitions changed within each intervention's window,
    and a value stream carrying per customer-period costs.

    For analysis, calendar windows are turned into the tenures at which
    customers who joined at ``joined`` meet them. For simulation
    (``simulate=True``) interventions with a calendar window or a capacity are
    kept as rules the engine applies period by period (the journey's
    ``resolved.capacity``): touched customers outside the calendar window, or beyond
    the capacity, move as the same sub-population without the intervention.
    With a team capacity in force (the plan's ``capacity``, else the journey's
    ``team_capacity``: :func:`~.team_capacity.plan_budgets`) every intervention
    that has a team is such a rule, carrying its team and the team's budget;
    rules keep the plan's order, the order the engine serves them in.

    Returns the journey and, for every touched sub-population and intervention,
    where its customers are reached and charged once.
    """
    stages = journey.stages
    n = len(stages)
    if journey.is_plan_journey:
        raise InputError(
            f"the journey already has a stream named {COST_STREAM!r} (a plan's "
            "journey?): plans apply to the journey without interventions"
        )

    def window(iv: Intervention) -> tuple[int, int | None]:
        w = iv.window if simulate else iv.tenure_window(joined)
        return w if w is not None else (0, 0)

    # Start and lead times act as calendar windows (plan.scheduled), which
    # analysis turns into tenures and simulation applies period by period.
    resolved = [_Acting(iv, journey, window(iv)) for iv in plan.scheduled]
    _check_contradictions(plan, resolved, n)
    base = journey.resolved
    streams = [*base.streams, COST_STREAM]
    rates = {**base.rates, COST_STREAM: cost_rate}
    weights = [*base.weights, 0.0]
    segments: list[Segment] = []
    once: list[OnceCharge] = []
    # With a team capacity in force every intervention that has a team is a
    # rule (the engine counts each team's customers, limited or not).
    budgets = plan_budgets(journey, plan)
    owners = dict(zip(stages, base.owners(), strict=True))
    team_of = {r.iv.name: intervention_team(r.iv, owners) for r in resolved}
    ruled = [
        r
        for r in resolved
        if simulate
        and (
            r.iv.capacity is not None
            or r.iv.calendar is not None
            or (budgets and team_of[r.iv.name] is not None)
        )
    ]
    index_of: dict[tuple[str, frozenset], int] = {}
    touched_sets: list[tuple[str, frozenset]] = []
    for seg in base.segments:
        gname, share, pieces = seg.name, seg.share, seg.transitions
        applies = [
            r
            for r in resolved
            if (r.iv.segments is None or gname in r.iv.segments)
            and r.iv.reach > 0
            and r.window != (0, 0)
        ]
        full = [r for r in applies if r.iv.reach >= 1 and r not in ruled]
        partial = [r for r in applies if r.iv.reach < 1 or r in ruled]
        if len(partial) > MAX_PARTIAL_REACH:
            raise InputError(
                f"plan {plan.name!r}: {len(partial)} interventions with partial "
                f"reach in segment {gname!r}; at most {MAX_PARTIAL_REACH} can be "
                "mixed exactly"
            )
        for touched in itertools.product([True, False], repeat=len(partial)):
            active = full + [r for r, t in zip(partial, touched, strict=True) if t]
            weight = share
            for r, t in zip(partial, touched, strict=True):
                weight *= r.iv.reach if t else 1 - r.iv.reach
            if weight <= 0 and not ruled:
                continue
            cut = recut(pieces, _breaks(active))
            new_pieces = []
            for k, (t0, m) in enumerate(cut):
                t1 = cut[k + 1][0] if k + 1 < len(cut) else None
                for r in active:
                    if r.active_in(t0, t1):
                        r.apply(m, stages, t0)
                new_pieces.append(Piece(t0, m))
            new_vals = dict(seg.values)
            cost_pieces = recut([Piece(0, np.zeros(n))], _breaks(active, False))
            for k, (t0, v) in enumerate(cost_pieces):
                t1 = cost_pieces[k + 1][0] if k + 1 < len(cost_pieces) else None
                for r in active:
                    if r.iv.cost_per_period and r.active_in(t0, t1):
                        v[r.rows] += r.iv.cost_per_period
            new_vals[COST_STREAM] = cost_pieces
            new_moves = dict(seg.moves)
            new_moves[COST_STREAM] = None
            label = gname
            if partial:
                names = [r.iv.name for r, t in zip(partial, touched, strict=True) if t]
                label = f"{gname} | touched: {', '.join(names) or 'none'}"
            index = len(segments)
            key = (gname, frozenset(r.iv.name for r in active))
            index_of[key] = index
            touched_sets.append(key)
            segments.append(
                Segment(label, weight, new_pieces, new_vals, new_moves, seg.start)
            )
            for r in active:
                once.append(
                    OnceCharge(
                        intervention=r.iv.name,
                        segment=index,
                        stages=tuple(r.rows),
                        window=r.window,
                        cost=r.iv.cost_per_customer,
                    )
                )
    for r in resolved:
        r.check_acted(stages)
    rules = []
    for r in ruled:
        touched = [r.iv.name in names for _, names in touched_sets]
        fallback = [index_of[(g, names - {r.iv.name})] for g, names in touched_sets]
        rules.append(
            CapacityRule(
                intervention=r.iv.name,
                capacity=r.iv.capacity,
                rank=tuple(r.rank),
                window=r.window,
                calendar=r.iv.calendar or (0, None),
                touched=tuple(touched),
                fallback=tuple(fallback),
                team=team_of[r.iv.name] if budgets else None,
                team_capacity=budgets.get(team_of[r.iv.name]),
            )
        )
    absorbing = [stages.index(s) for s in journey.absorbing]
    derived = journey.derive(
        segments=segments,
        absorbing=absorbing,
        streams=streams,
        rates=rates,
        weights=weights,
        capacity=rules,
        name=f"{journey.name or 'journey'} under {plan.name!r}",
    )
    return AppliedPlan(derived, tuple(once))
