"""Two journeys on one footing: the current journey written on the optimised
journey's stages (through a stage mapping), the inputs that differ between
them (transition rows, values, moves, starts, shares, arrivals, cohort size),
and the journey that takes some of those inputs from the optimised journey and
the rest from the current one (what attribution evaluates).

How a stage of the optimised journey corresponds to the current one
(``mapping={new_stage: old_stage or None}``):

- each current stage is represented by the first optimised stage mapped to it
  (in the optimised journey's order): customers who were in the old stage are
  in its representative, with the old stage's row, values and start share;
- every other optimised stage (a new stage, mapped to None, or a second stage
  split from the same old stage) is one nobody reaches in the current journey:
  it takes its row, values and moves from the optimised journey in both, so it
  is no change of its own; its effect is that of the changed rows that lead
  into it.

The current journey so written gives the same results as the current journey
itself (tested)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._base.errors import InputError
from .._base.resolved import Arrivals, Piece, ResolvedJourney, Segment, recut
from ..model.journey import Journey

__all__ = ["Aligned", "Change", "align"]


@dataclass(frozen=True)
class Change:
    """One input that differs between the two journeys: ``kind`` is
    "transitions" (a row), "value" (one stream in one stage), "moves" (a
    stream's amounts on moves), "start", "shares", "arrivals" or "cohort
    size"; ``segment`` and ``tenure`` (piece start) where they apply,
    ``stage`` (the row's or value's stage) and ``stream``."""

    name: str
    kind: str
    segment: int | None = None
    tenure: int | None = None
    stage: int | None = None
    stream: str | None = None


@dataclass(frozen=True)
class Aligned:
    """The current and optimised journeys on the optimised journey's stages,
    tenure pieces cut alike, and the inputs that differ."""

    current: ResolvedJourney
    optimised: ResolvedJourney
    template: Journey
    mapping: dict[str, str | None]
    changes: tuple[Change, ...]

    def mixed(self, taken: Sequence[int]) -> Journey:
        """The journey with the changes numbered ``taken`` from the optimised
        journey and every other input from the current one."""
        return self.journey(_mix(self, set(taken)))

    def journey(self, r: ResolvedJourney) -> Journey:
        return self.template._from_resolved(r, self.template.name)

    @property
    def current_journey(self) -> Journey:
        """The current journey written on the optimised journey's stages."""
        return self.journey(self.current)


def _check_same(current: Journey, optimised: Journey) -> None:
    for j, who in ((current, "current"), (optimised, "optimised")):
        if not isinstance(j, Journey):
            raise InputError(f"the {who} journey must be a Journey, got {j!r}")
        if j.is_plan_journey or j.resolved.capacity:
            raise InputError(
                f"the {who} journey is what a plan makes of a journey: compare "
                "journeys without interventions (or use compare for plans)"
            )
    cu, ou = current.units, optimised.units
    if cu.time_unit != ou.time_unit:
        raise InputError(
            f"the journeys count in different time units ({cu.time_unit!r} and "
            f"{ou.time_unit!r}): their periods are not comparable",
            key=("time_unit",),
        )
    if cu.currency != ou.currency:
        raise InputError(
            f"the journeys count money in different currencies ({cu.currency!r} "
            f"and {ou.currency!r})",
            key=("currency",),
        )
    cs, os_ = set(current.streams), set(optimised.streams)
    if cs != os_:
        raise InputError(
            "the journeys have different value streams: only in the current "
            f"{sorted(cs - os_)}, only in the optimised {sorted(os_ - cs)}; give "
            "both the same streams (a stream a journey lacks earns 0 there)",
            key=("values",),
        )
    rc, ro = current.resolved, optimised.resolved
    for s in optimised.streams:
        wc = rc.weights[rc.streams.index(s)]
        wo = ro.weights[ro.streams.index(s)]
        if wc != wo:
            raise InputError(
                f"stream {s!r} counts {wc:g} in the current journey's net value and "
                f"{wo:g} in the optimised one's: give both the same net weights",
                key=("net",),
            )
        if rc.rates[s] != ro.rates[s]:
            raise InputError(
                f"stream {s!r} is discounted at {rc.rates[s]:g} per period in the "
                f"current journey and {ro.rates[s]:g} in the optimised one: a "
                "difference in valuation is not a change of the journey",
                key=("discount_rate",),
            )
    if set(current.segments) != set(optimised.segments):
        raise InputError(
            f"the journeys have different segments ({current.segments} and "
            f"{optimised.segments}): give both the same segments",
            key=("segments",),
        )


def _check_mapping(
    current: Journey, optimised: Journey, mapping: Mapping | None
) -> dict[str, str | None]:
    old, new = current.stages, optimised.stages
    if mapping is None:
        if set(old) != set(new):
            raise InputError(
                "the journeys have different stages: only in the current "
                f"{[s for s in old if s not in new]}, only in the optimised "
                f"{[s for s in new if s not in old]}; pass mapping={{new_stage: "
                "old_stage or None}} to say how they correspond",
                key=("mapping",),
            )
        return _check_correspond(current, optimised, {s: s for s in new})
    if not isinstance(mapping, Mapping):
        raise InputError(
            f"mapping must be a dict {{new_stage: old_stage or None}}, got {mapping!r}",
            key=("mapping",),
        )
    out: dict[str, str | None] = {}
    for k, v in mapping.items():
        if k not in new:
            raise InputError(
                f"mapping: {k!r} is not a stage of the optimised journey; its "
                f"stages are {new}",
                key=("mapping", str(k)),
            )
        if v is not None and v not in old:
            raise InputError(
                f"mapping: {k!r} maps to {v!r}, not a stage of the current journey; "
                f"its stages are {old}",
                key=("mapping", str(k)),
            )
        out[k] = v
    for s in new:
        if s not in out:
            if s not in old:
                raise InputError(
                    f"mapping: the optimised stage {s!r} is not in the current "
                    f"journey: map it to a current stage or to None (a new stage)",
                    key=("mapping", s),
                )
            out[s] = s
    lost = [s for s in old if s not in out.values()]
    if lost:
        raise InputError(
            f"mapping: the current stages {lost} correspond to no optimised stage; "
            "removing or merging stages cannot be compared: keep them in the "
            "optimised journey (unreached if need be) or map a stage to each",
            key=("mapping",),
        )
    return _check_correspond(current, optimised, out)


def _check_correspond(
    current: Journey, optimised: Journey, out: dict[str, str | None]
) -> dict[str, str | None]:
    """Corresponding stages are both absorbing or both not, and both value
    stages or both not."""
    new = optimised.stages
    c_abs, o_abs = set(current.absorbing), set(optimised.absorbing)
    for s in new:
        o = out[s]
        if o is not None and (s in o_abs) != (o in c_abs):
            raise InputError(
                f"mapping: {s!r} is {'' if s in o_abs else 'not '}absorbing in the "
                f"optimised journey and {o!r} is {'' if o in c_abs else 'not '}"
                "absorbing in the current one: retention would mean different "
                "things",
                key=("mapping", s),
            )
    reps = _representatives(new, out)
    c_val, o_val = set(current.value_stages), set(optimised.value_stages)
    for o, a in reps.items():
        if (a in o_val) != (o in c_val):
            raise InputError(
                f"{a!r} is {'' if a in o_val else 'not '}a value stage of the "
                f"optimised journey and {o!r} is {'' if o in c_val else 'not '}one "
                "of the current journey: time to value would mean different things",
                key=("value_stages",),
            )
    return out


def _representatives(new: Sequence[str], mapping: Mapping) -> dict[str, str]:
    """Each current stage's representative: the first optimised stage mapped
    to it."""
    reps: dict[str, str] = {}
    for s in new:
        o = mapping[s]
        if o is not None and o not in reps:
            reps[o] = s
    return reps


def _pieces(a: list[Piece], b: list[Piece]) -> tuple[list[Piece], list[Piece]]:
    breaks = {p.start for p in a} | {p.start for p in b}
    return recut(a, breaks), recut(b, breaks)


def align(
    current: Journey, optimised: Journey, mapping: Mapping | None = None
) -> Aligned:
    """The two journeys on the optimised journey's stages, and what differs
    (an InputError says why two journeys cannot be compared)."""
    _check_same(current, optimised)
    m = _check_mapping(current, optimised, mapping)
    old, new = current.stages, optimised.stages
    reps = _representatives(new, m)
    # Current stage index -> optimised index of its representative.
    to_new = np.array([new.index(reps[o]) for o in old])
    rep_rows = np.array(sorted(to_new))
    rep_old = np.array([old.index(m[new[i]]) for i in rep_rows], dtype=int)
    rc, ro = current.resolved, optimised.resolved
    n = len(new)
    c_segs = {s.name: s for s in rc.segments}
    cur_segments, opt_segments = [], []
    for so in ro.segments:
        sc = c_segs[so.name]
        ct, ot = _pieces(sc.transitions, so.transitions)
        trans = []
        for pc, po in zip(ct, ot, strict=True):
            P = po.value.copy()
            P[rep_rows] = 0.0
            # Old row o, column o' -> representative row, representative column.
            np.add.at(P, (rep_rows[:, None], to_new[None, :]), pc.value[rep_old][:, :])
            trans.append(Piece(pc.start, P))
        values, o_values = {}, {}
        for s in ro.streams:
            cv, ov = _pieces(sc.values[s], so.values[s])
            pieces = []
            for pc, po in zip(cv, ov, strict=True):
                v = po.value.copy()
                v[rep_rows] = pc.value[rep_old]
                pieces.append(Piece(pc.start, v))
            values[s], o_values[s] = pieces, ov
        moves: dict[str, np.ndarray | None] = {}
        o_moves: dict[str, np.ndarray | None] = {}
        for s in ro.streams:
            mc, mo = sc.moves.get(s), so.moves.get(s)
            if mc is None and mo is None:
                moves[s] = o_moves[s] = None
                continue
            mo = np.zeros((n, n)) if mo is None else np.array(mo)
            mc = np.zeros((len(old), len(old))) if mc is None else np.asarray(mc)
            M = mo.copy()
            M[np.ix_(rep_rows, to_new)] = mc[rep_old]
            moves[s], o_moves[s] = M, mo
        start = np.zeros(n)
        start[to_new] = sc.start
        cur_segments.append(Segment(so.name, sc.share, trans, values, moves, start))
        opt_segments.append(
            Segment(so.name, so.share, ot, o_values, o_moves, so.start.copy())
        )
    absorbing = tuple(new.index(s) for s in optimised.absorbing)
    common = dict(absorbing=absorbing, normalize=False, base=None)
    cur = dataclasses.replace(
        ro,
        segments=tuple(cur_segments),
        arrivals=rc.arrivals,
        cohort_size=rc.cohort_size,
        **common,
    )
    opt = dataclasses.replace(ro, segments=tuple(opt_segments), **common)
    changes = _changes(cur, opt, list(new))
    return Aligned(cur, opt, optimised, m, changes)


def _changes(c: ResolvedJourney, o: ResolvedJourney, stages: list[str]):
    out: list[Change] = []
    many = len(o.segments) > 1

    def where(seg: str, tenure: int | None, pieces: int) -> str:
        parts = []
        if many:
            parts.append(seg)
        if tenure is not None and pieces > 1:
            parts.append(f"tenure {tenure}+")
        return f" ({', '.join(parts)})" if parts else ""

    for k, (sc, so) in enumerate(zip(c.segments, o.segments, strict=True)):
        for pc, po in zip(sc.transitions, so.transitions, strict=True):
            at = where(so.name, pc.start, len(so.transitions))
            for i in np.flatnonzero((pc.value != po.value).any(axis=1)):
                name = f"transitions from {stages[i]}{at}"
                out.append(Change(name, "transitions", k, pc.start, int(i)))
        for s in o.streams:
            for pc, po in zip(sc.values[s], so.values[s], strict=True):
                at = where(so.name, pc.start, len(so.values[s]))
                for i in np.flatnonzero(pc.value != po.value):
                    name = f"{s} in {stages[i]}{at}"
                    out.append(Change(name, "value", k, pc.start, int(i), s))
            mc, mo = sc.moves[s], so.moves[s]
            if mc is not None and not np.array_equal(mc, mo):
                name = f"{s} on moves{where(so.name, None, 1)}"
                out.append(Change(name, "moves", k, stream=s))
        if not np.array_equal(sc.start, so.start):
            out.append(Change(f"start{where(so.name, None, 1)}", "start", k))
    if [s.share for s in c.segments] != [s.share for s in o.segments]:
        out.append(Change("segment shares", "shares"))
    if c.arrivals != o.arrivals:
        out.append(Change("arrivals", "arrivals"))
    if c.cohort_size != o.cohort_size:
        out.append(Change("cohort size", "cohort size"))
    return tuple(out)


def _mix(a: Aligned, taken: set[int]) -> ResolvedJourney:
    """The resolved journey with the changes in ``taken`` from the optimised
    journey."""
    c, o = a.current, a.optimised
    if not taken:
        return c
    if len(taken) == len(a.changes):
        return o
    segs = []
    picked = [a.changes[k] for k in sorted(taken)]
    for k, (sc, so) in enumerate(zip(c.segments, o.segments, strict=True)):
        mine = [ch for ch in picked if ch.segment == k]
        trans = [Piece(p.start, p.value.copy()) for p in sc.transitions]
        values = {
            s: [Piece(p.start, p.value.copy()) for p in v] for s, v in sc.values.items()
        }
        moves = dict(sc.moves)
        start = sc.start
        for ch in mine:
            if ch.kind == "transitions":
                x = [p.start for p in trans].index(ch.tenure)
                trans[x].value[ch.stage] = so.transitions[x].value[ch.stage]
            elif ch.kind == "value":
                pieces = values[ch.stream]
                x = [p.start for p in pieces].index(ch.tenure)
                pieces[x].value[ch.stage] = so.values[ch.stream][x].value[ch.stage]
            elif ch.kind == "moves":
                moves[ch.stream] = so.moves[ch.stream]
            elif ch.kind == "start":
                start = so.start
        share = sc.share
        if any(ch.kind == "shares" for ch in picked):
            share = so.share
        segs.append(Segment(sc.name, share, trans, values, moves, start))
    arrivals: Arrivals = c.arrivals
    if any(ch.kind == "arrivals" for ch in picked):
        arrivals = o.arrivals
    cohort = c.cohort_size
    if any(ch.kind == "cohort size" for ch in picked):
        cohort = o.cohort_size
    return dataclasses.replace(
        c, segments=tuple(segs), arrivals=arrivals, cohort_size=cohort
    )
