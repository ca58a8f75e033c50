"""Sub-journeys: one stage of a journey replaced by a whole journey
(:func:`expand`), and the stages of a sub-journey folded back into one stage
for display (:func:`collapse`). docs/sub_journeys.md states every rule.

Expanding stage ``S`` by a sub-journey ``J``: ``J``'s transient stages take
``S``'s place, named ``S/<stage>``; a move into ``S`` (and a start share of
``S``) is spread over them by ``J``'s start distribution; ``J``'s absorbing
stages are its exits, each attached to a stage of the parent (``exits=
{parent_stage: exit_stage}``): a move into an exit is a move into that parent
stage, in the same period. ``S``'s own row (its stay and exits) is replaced by
``J``'s moves.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from .._base.conventions import STAGE_METADATA
from .._base.errors import InputError
from .._base.resolved import JourneyLike, Piece, Segment
from .._base.units import Score


class _Journey(JourneyLike, Protocol):
    """What sub-journeys use of a :class:`~journeysim.Journey` (passed in:
    this module is imported by the journey's); a new one is made by the
    class's ``_from_resolved``."""

    @property
    def is_plan_journey(self) -> bool: ...
    @property
    def name(self) -> Any: ...


__all__ = ["SEPARATOR", "collapse", "expand"]

#: Between a stage's name and the name of a stage of its sub-journey.
SEPARATOR = "/"

#: Entries into a group of stages must split alike to fold them into one.
_SAME = 1e-9

#: Metadata keys whose values are lists: folded stages keep their union.
_LISTS = ("channels", "touchpoints", "kpis")


def _single(sub: _Journey, what: str) -> None:
    """A sub-journey is one segment, one tenure piece and no plan."""
    r = sub.resolved
    if sub.is_plan_journey:
        raise InputError(
            f"{what} is what a plan makes of a journey; expand the journey"
        )
    if len(r.segments) != 1:
        raise InputError(
            f"{what} has segments {sub.segments}: a sub-journey has one "
            "(the parent's segments each go through it)"
        )
    seg = r.segments[0]
    if len(seg.transitions) != 1 or any(len(p) != 1 for p in seg.values.values()):
        raise InputError(
            f"{what} is tenure-dependent: inside a parent its tenure would count "
            "from the customer's start, not from entering the sub-journey; give "
            "it one transition matrix and one amount per stage"
        )


def _exit_map(parent: _Journey, stage: str, sub: _Journey, exits) -> dict[int, int]:
    """``{sub exit index: parent stage index}``, checked."""
    stages, sub_stages = parent.stages, sub.stages
    ends = sub.absorbing
    if not ends:
        raise InputError(
            f"the sub-journey has no absorbing stage: customers could never "
            f"leave {stage!r}; give it exit stages"
        )
    if exits is None:
        exits = {e: e for e in ends}
    if not isinstance(exits, Mapping):
        raise InputError(
            "exits must be a dict {parent stage: sub-journey exit stage}, got "
            f"{exits!r}",
            key=("exits",),
        )
    out: dict[int, int] = {}
    for target, end in exits.items():
        if target not in stages or target == stage:
            raise InputError(
                f"exits: {target!r} is not a stage of the parent other than "
                f"{stage!r}; the stages are {stages} (an exit stage of the "
                "sub-journey with a parent stage's name is attached to it)",
                key=("exits", target),
            )
        if end not in ends:
            raise InputError(
                f"exits: {end!r} is not an exit (absorbing) stage of the "
                f"sub-journey; its exits are {ends}",
                key=("exits", target),
            )
        k = sub_stages.index(end)
        if k in out:
            raise InputError(
                f"exits: the sub-journey's exit {end!r} is attached to two parent "
                f"stages ({stages[out[k]]!r} and {target!r})",
                key=("exits", target),
            )
        out[k] = stages.index(target)
    missing = [e for e in ends if sub_stages.index(e) not in out]
    if missing:
        raise InputError(
            f"exits: the sub-journey's exit stage(s) {missing} are attached to no "
            "parent stage; name them: exits={parent_stage: exit_stage}",
            key=("exits",),
        )
    s = stages.index(stage)
    reached = set(out.values())
    for seg in parent.resolved.segments:
        for p in seg.transitions:
            for j in np.flatnonzero(p.value[s] > 0):
                if j != s and j not in reached:
                    raise InputError(
                        f"exits: customers leave {stage!r} for {stages[j]!r}, which "
                        "no exit of the sub-journey leads to; attach one: "
                        f"exits={{{stages[j]!r}: <exit stage>}}",
                        key=("exits",),
                    )
    return out


def expand(
    parent: _Journey, stage: str, sub: _Journey, exits: Mapping | None = None
) -> _Journey:
    """See :meth:`journeysim.Journey.expand`."""
    from_journey = type(parent)
    if not isinstance(sub, from_journey):
        raise InputError(
            f"sub_journey must be a Journey, got {type(sub).__name__}",
            key=("sub_journey",),
        )
    if parent.is_plan_journey:
        raise InputError("expand the journey, then apply the plan")
    stages = parent.stages
    if stage not in stages:
        raise InputError(
            f"expand: unknown stage {stage!r}; the stages are {stages}", key=("stage",)
        )
    if stage in parent.absorbing:
        raise InputError(
            f"expand: {stage!r} is absorbing (customers end there); expand a "
            "stage customers move through",
            key=("stage",),
        )
    _single(sub, "the sub-journey")
    r, q = parent.resolved, sub.resolved
    if q.units.time_unit not in ("period", r.units.time_unit):
        raise InputError(
            f"the sub-journey counts in {q.units.plural}, the journey in "
            f"{r.units.plural}: give them the same time unit",
            key=("sub_journey", "time_unit"),
        )
    if q.units.currency not in (None, r.units.currency):
        raise InputError(
            f"the sub-journey is in {q.units.currency}, the journey in "
            f"{r.units.currency}",
            key=("sub_journey", "currency"),
        )
    for what, theirs, ours in (
        ("value stream", q.streams, r.streams),
        ("score", [sc.name for sc in q.scores], [sc.name for sc in r.scores]),
    ):
        unknown = [x for x in theirs if x not in ours]
        if unknown:
            raise InputError(
                f"the sub-journey's {what}(s) {unknown} are not the journey's "
                f"({list(ours) or 'none'}); declare them in the journey",
                key=("sub_journey",),
            )
    ends = _exit_map(parent, stage, sub, exits)
    qseg = q.segments[0]
    inner = [k for k in range(len(q.stages)) if k not in ends]
    if not inner:
        raise InputError("the sub-journey has only exit stages", key=("sub_journey",))
    qstart = qseg.start
    if any(qstart[k] > 0 for k in ends):
        raise InputError(
            "the sub-journey starts customers in an exit stage "
            f"({[q.stages[k] for k in ends if qstart[k] > 0]}): start it in the "
            "stages customers go through",
            key=("sub_journey", "start"),
        )
    s = stages.index(stage)
    names = [f"{stage}{SEPARATOR}{q.stages[k]}" for k in inner]
    clash = [x for x in names if x in stages]
    if clash:
        raise InputError(f"expand: the journey already has stages named {clash}")
    new = [*stages[:s], *names, *stages[s + 1 :]]
    n = len(new)
    outer = [i for i in range(len(stages)) if i != s]
    pos = {i: (i if i < s else i + len(inner) - 1) for i in outer}
    mine = [s + a for a in range(len(inner))]
    Q = qseg.transitions[0].value
    entry = qstart[inner]

    def rows(P: np.ndarray) -> np.ndarray:
        out = np.zeros((n, n))
        idx = [pos[i] for i in outer]
        out[np.ix_(idx, idx)] = P[np.ix_(outer, outer)]
        out[np.ix_(idx, mine)] = np.outer(P[outer, s], entry)
        out[np.ix_(mine, mine)] = Q[np.ix_(inner, inner)]
        for k, t in ends.items():
            out[mine, pos[t]] += Q[inner, k]
        return out

    def start(x: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        out[[pos[i] for i in outer]] = x[outer]
        out[mine] = x[s] * entry
        return out

    def amounts(v: np.ndarray, theirs: np.ndarray | None) -> np.ndarray:
        out = np.zeros(n)
        out[[pos[i] for i in outer]] = v[outer]
        out[mine] = v[s] if theirs is None else theirs[inner]
        return out

    def moves(M: np.ndarray | None, theirs: np.ndarray | None) -> np.ndarray | None:
        if M is None and theirs is None:
            return None
        P = np.zeros((len(stages),) * 2) if M is None else M
        out = np.zeros((n, n))
        idx = [pos[i] for i in outer]
        out[np.ix_(idx, idx)] = P[np.ix_(outer, outer)]
        out[np.ix_(idx, mine)] = P[outer, s][:, None]
        if theirs is None:  # the parent's stay inside, its exits out
            out[np.ix_(mine, mine)] = P[s, s]
            for t in ends.values():
                out[mine, pos[t]] = P[s, t]
        else:
            out[np.ix_(mine, mine)] = theirs[np.ix_(inner, inner)]
            for k, t in ends.items():
                out[mine, pos[t]] = theirs[inner, k]
        return out

    def segment(seg: Segment) -> Segment:
        return Segment(
            name=seg.name,
            share=seg.share,
            transitions=[Piece(p.start, rows(p.value)) for p in seg.transitions],
            values={
                st: [
                    Piece(
                        p.start,
                        amounts(
                            p.value,
                            qseg.values[st][0].value if st in qseg.values else None,
                        ),
                    )
                    for p in pieces
                ]
                for st, pieces in seg.values.items()
            },
            moves={st: moves(M, qseg.moves.get(st)) for st, M in seg.moves.items()},
            start=start(seg.start),
        )

    segments = [segment(seg) for seg in r.segments]
    # The journey's own parts (what a model file writes segments against).
    base = None if r.base is None else segment(r.base)
    # Stage metadata: the sub-journey's own where it has it, else the stage's.
    theirs_s = r.metadata.get(stage, {})
    metadata = {x: m for x, m in r.metadata.items() if x != stage}
    for k, name in zip(inner, names):
        own = q.metadata.get(q.stages[k], {})
        meta = {
            key: own.get(key, theirs_s.get(key))
            for key in STAGE_METADATA
            if own.get(key, theirs_s.get(key)) is not None
        }
        if meta:
            metadata[name] = meta
    exits_of = {t: k for k, t in ends.items()}
    moments = _expand_moments(
        r.moments, q, stage, stages, inner, names, ends, exits_of, entry, Q
    )
    vs = [pos[i] for i in r.value_stages if i != s]
    if s in r.value_stages:
        theirs_v = [k for k in q.value_stages if k in inner] or inner
        vs += [mine[inner.index(k)] for k in theirs_v]
    scores = []
    for sc in r.scores:
        sub_sc = next((x for x in q.scores if x.name == sc.name), None)
        vals = np.full(n, np.nan)
        vals[[pos[i] for i in outer]] = np.asarray(sc.values)[outer]
        for a, k in enumerate(inner):
            v = sub_sc.values[k] if sub_sc is not None else math.nan
            vals[mine[a]] = sc.values[s] if math.isnan(v) else v
        scores.append(Score(sc.name, tuple(float(v) for v in vals)))
    resolved = dataclasses.replace(
        r,
        stages=tuple(new),
        segments=tuple(segments),
        absorbing=None if r.absorbing is None else tuple(pos[i] for i in r.absorbing),
        value_stages=tuple(sorted(vs)),
        base=base,
        metadata=metadata,
        moments=tuple(moments),
        scores=tuple(scores),
        normalize=False,
    )
    return from_journey._from_resolved(resolved, parent.name)


def _expand_moments(moments, q, stage, stages, inner, names, ends, exits_of, entry, Q):
    """The parent's moments of truth with ``stage`` replaced, then the
    sub-journey's own (exits written as the parent stages they lead to)."""
    out: list = []

    def add(m):
        if m not in out:
            out.append(m)

    into = [names[a] for a in range(len(inner)) if entry[a] > 0]
    for m in moments:
        if isinstance(m, str):
            for x in names if m == stage else [m]:
                add(x)
        elif m[1] == stage:
            for x in into:
                add((m[0], x))
        elif m[0] == stage:
            k = exits_of.get(stages.index(m[1]))
            for a, i in enumerate(inner):
                if k is not None and Q[i, k] > 0:
                    add((names[a], m[1]))
        else:
            add(m)

    def name_of(sub_stage: str) -> str:
        k = q.stages.index(sub_stage)
        return stages[ends[k]] if k in ends else names[inner.index(k)]

    for m in q.moments:
        if isinstance(m, str):
            k = q.stages.index(m)
            if k in ends:  # an exit flagged: the moves into it
                for a, i in enumerate(inner):
                    if Q[i, k] > 0:
                        add((names[a], stages[ends[k]]))
            else:
                add(names[inner.index(k)])
        else:
            add((name_of(m[0]), name_of(m[1])))
    return out


def collapse(journey: _Journey, prefix: str) -> _Journey:
    """See :meth:`journeysim.Journey.collapse`."""
    if not isinstance(prefix, str) or not prefix:
        raise InputError(f"collapse: prefix must be a stage name, got {prefix!r}")
    if journey.is_plan_journey:
        raise InputError("collapse the journey, then apply the plan")
    r = journey.resolved
    stages = journey.stages
    head = prefix + SEPARATOR
    group = [i for i, x in enumerate(stages) if x.startswith(head)]
    if not group:
        raise InputError(
            f"collapse: no stage is named {head}...; the stages are {stages}",
            key=("prefix",),
        )
    if prefix in stages:
        raise InputError(f"collapse: the journey already has a stage {prefix!r}")
    ends = [stages[i] for i in group if stages[i] in journey.absorbing]
    if ends:
        raise InputError(
            f"collapse: {ends} absorbing: customers end inside {prefix!r}, which "
            "one stage that customers leave cannot show"
        )
    outer = [i for i in range(len(stages)) if i not in group]
    c = group[0]
    new = [
        prefix if i == c else stages[i]
        for i in range(len(stages))
        if i in outer or i == c
    ]
    pos = {i: new.index(stages[i]) for i in outer}
    ci = new.index(prefix)
    n = len(new)
    folded = [_fold(seg, group, outer, prefix, stages) for seg in r.segments]

    idx = [pos[i] for i in outer]

    def segment(seg: Segment, f: _Folded) -> Segment:
        def rows(P: np.ndarray) -> np.ndarray:
            out = np.zeros((n, n))
            out[np.ix_(idx, idx)] = P[np.ix_(outer, outer)]
            out[idx, ci] = P[np.ix_(outer, group)].sum(axis=1)
            out[ci, ci] = f.stay
            out[ci, idx] = f.exits
            return out

        start = np.zeros(n)
        start[idx] = seg.start[outer]
        start[ci] = seg.start[group].sum()
        return dataclasses.replace(
            seg,
            transitions=[Piece(p.start, rows(p.value)) for p in seg.transitions],
            values={
                st: [
                    Piece(p.start, _amounts(p.value, f, idx, ci, n, outer, group))
                    for p in pieces
                ]
                for st, pieces in seg.values.items()
            },
            moves={
                st: None if M is None else _fold_moves(M, f, idx, ci, n, outer, group)
                for st, M in seg.moves.items()
            },
            start=start,
        )

    segments = [segment(seg, f) for seg, f in zip(r.segments, folded)]
    # The journey's own parts fold like a segment, when they can (else the
    # file form writes segments against the first one).
    base = None
    if r.base is not None:
        try:
            base = segment(r.base, _fold(r.base, group, outer, prefix, stages))
        except InputError:
            base = None
    metadata = {x: m for x, m in r.metadata.items() if x in new}
    meta = _fold_metadata([r.metadata.get(stages[i], {}) for i in group])
    if meta:
        metadata[prefix] = meta
    gnames = {stages[i] for i in group}

    def name(x: str) -> str:
        return prefix if x in gnames else x

    moments: list = []
    for m in r.moments:
        x = name(m) if isinstance(m, str) else (name(m[0]), name(m[1]))
        if isinstance(x, tuple) and x[0] == x[1]:
            continue  # a move inside the folded stages
        if x not in moments:
            moments.append(x)
    vs = sorted({ci if i in group else pos[i] for i in r.value_stages})
    # Scores: averages over the periods spent in the folded stages.
    visits = sum(seg.share * f.visits for seg, f in zip(r.segments, folded))
    scores = []
    for sc in r.scores:
        vals = np.full(n, np.nan)
        vals[[pos[i] for i in outer]] = np.asarray(sc.values)[outer]
        g = np.asarray(sc.values)[group]
        has = ~np.isnan(g)
        if has.any() and visits[has].sum() > 0:
            vals[ci] = float(visits[has] @ g[has] / visits[has].sum())
        scores.append(Score(sc.name, tuple(float(v) for v in vals)))
    resolved = dataclasses.replace(
        r,
        stages=tuple(new),
        segments=tuple(segments),
        absorbing=None if r.absorbing is None else tuple(pos[i] for i in r.absorbing),
        value_stages=tuple(vs),
        base=base,
        metadata=metadata,
        moments=tuple(moments),
        scores=tuple(scores),
        normalize=False,
    )
    return type(journey)._from_resolved(resolved, journey.name)


@dataclasses.dataclass(frozen=True)
class _Folded:
    """One segment's folded stages as one: the entry split, the expected
    periods in each stage per visit (``visits``, summing to ``periods``), and
    the equivalent stay and exit probabilities (to the outer stages)."""

    entry: np.ndarray
    visits: np.ndarray
    periods: float
    stay: float
    exits: np.ndarray
    Q: np.ndarray
    R: np.ndarray


def _fold(seg: Segment, group, outer, prefix: str, stages) -> _Folded:
    first = seg.transitions[0].value
    for p in seg.transitions[1:]:
        if not np.array_equal(p.value[group], first[group]):
            raise InputError(
                f"collapse: the moves out of the stages under {prefix!r} change "
                f"with tenure (from tenure {p.start}): one stage cannot hold them"
            )
    splits = []
    if seg.start[group].sum() > 0:
        splits.append(seg.start[group] / seg.start[group].sum())
    for p in seg.transitions:
        into = p.value[np.ix_(outer, group)]
        for row in into[into.sum(axis=1) > 0]:
            splits.append(row / row.sum())
    if not splits:
        raise InputError(
            f"collapse: no customer enters the stages under {prefix!r}"
            + (f" in segment {seg.name!r}" if seg.name != "all" else "")
        )
    entry = splits[0]
    if any(np.abs(x - entry).max() > _SAME for x in splits[1:]):
        raise InputError(
            f"collapse: customers enter the stages under {prefix!r} in different "
            "proportions from different stages (or at the start): one stage "
            "cannot show them (the sub-journey's own start split is what "
            "expand gives)"
        )
    Q = first[np.ix_(group, group)]
    R = first[np.ix_(group, outer)]
    try:
        visits = np.linalg.solve((np.eye(len(group)) - Q).T, entry)
    except np.linalg.LinAlgError:
        visits = np.full(len(group), np.inf)
    leave = visits @ R if np.isfinite(visits).all() else np.zeros(len(outer))
    if not np.isfinite(visits).all() or abs(leave.sum() - 1.0) > 1e-9:
        raise InputError(
            f"collapse: some customers never leave the stages under {prefix!r}: "
            "one stage cannot show them"
        )
    periods = float(visits.sum())
    return _Folded(
        entry=entry,
        visits=visits,
        periods=periods,
        stay=1.0 - 1.0 / periods,
        exits=leave / periods,
        Q=Q,
        R=R,
    )


def _amounts(v, f: _Folded, idx, ci, n, outer, group) -> np.ndarray:
    out = np.zeros(n)
    out[idx] = v[outer]
    out[ci] = float(f.visits @ v[group]) / f.periods
    return out


def _fold_moves(M, f: _Folded, idx, ci, n, outer, group) -> np.ndarray:
    """Amounts on moves: into the folded stage, the entry-weighted amount; out
    of it, the flow-weighted amount of each exit; staying, the flow-weighted
    amount of the moves inside (so expected totals per visit are kept)."""
    out = np.zeros((n, n))
    out[np.ix_(idx, idx)] = M[np.ix_(outer, outer)]
    out[idx, ci] = M[np.ix_(outer, group)] @ f.entry
    flow_out = f.visits[:, None] * f.R
    w = flow_out.sum(axis=0)
    amount = (flow_out * M[np.ix_(group, outer)]).sum(axis=0)
    out[ci, idx] = np.divide(amount, w, out=np.zeros_like(w), where=w > 0)
    flow_in = f.visits[:, None] * f.Q
    inside = flow_in.sum()
    if inside > 0:
        out[ci, ci] = float((flow_in * M[np.ix_(group, group)]).sum() / inside)
    return out


def _fold_metadata(metas: list[dict]) -> dict:
    """What the folded stages share: a key every stage gives alike, and the
    union of list keys (channels, touchpoints, KPIs)."""
    out: dict = {}
    for key in STAGE_METADATA:
        vals = [m.get(key) for m in metas]
        if key in _LISTS:
            union: list = []
            for v in vals:
                for x in [] if v is None else [v] if isinstance(v, str) else v:
                    if x not in union:
                        union.append(x)
            if union:
                same = all(v == vals[0] for v in vals)
                out[key] = vals[0] if same else union
        elif vals[0] is not None and all(v == vals[0] for v in vals):
            out[key] = vals[0]
    return out
